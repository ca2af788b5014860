/* log: see log.h.  The only process-wide state in ferry: a level and an
 * access-log fd, set once at start-up before threads exist. */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum conf_log_level log_level = CONF_LOG_INFO;
static int access_fd = STDERR_FILENO; /* -1 = off */
static bool access_owned;

int log_setup(enum conf_log_level level, const char *access)
{
    log_teardown();
    log_level = level;
    if (!access || strcmp(access, "stderr") == 0) {
        access_fd = STDERR_FILENO;
    } else if (strcmp(access, "stdout") == 0) {
        access_fd = STDOUT_FILENO;
    } else if (strcmp(access, "off") == 0) {
        access_fd = -1;
    } else {
        int fd = open(access, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                      0640);
        if (fd < 0)
            return -errno;
        access_fd = fd;
        access_owned = true;
    }
    return 0;
}

void log_teardown(void)
{
    if (access_owned)
        close(access_fd);
    access_owned = false;
    access_fd = STDERR_FILENO;
}

bool log_enabled(enum conf_log_level level) { return level <= log_level; }

static size_t stamp(char *out, size_t cap)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    int m = snprintf(out + n, cap - n, ".%03ldZ ", (long)tv.tv_usec / 1000);
    return n + (m > 0 ? (size_t)m : 0);
}

static void emit(int fd, const char *prefix, const char *fmt, va_list ap)
{
    char line[2048];
    size_t n = stamp(line, sizeof(line));
    n += (size_t)snprintf(line + n, sizeof(line) - n, "%s", prefix);
    int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    if (m < 0)
        return;
    n += (size_t)m;
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    /* A failed log write has nowhere to be reported; dropping the line is
     * the only option that keeps the proxy serving. */
    if (write(fd, line, n) < 0)
        return;
}

void log_msg(enum conf_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"ERROR ", "WARN ", "INFO ",
                                        "DEBUG "};
    if (!log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(STDERR_FILENO, names[level], fmt, ap);
    va_end(ap);
}

void log_access(const char *fmt, ...)
{
    if (access_fd < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(access_fd, "access ", fmt, ap);
    va_end(ap);
}
