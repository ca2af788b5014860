/* log: leveled diagnostic lines and the access log.
 *
 * Configured once by log_setup() before any worker starts and read-only
 * after that, so workers log without locks: each line is formatted into a
 * stack buffer and written with one write(2), which keeps lines whole.
 * Nothing secret is ever passed here: callers log user names, never
 * passwords or credentials. */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include "conf/conf.h"

/* Set the level and the access-log destination ("stderr", "stdout",
 * "off" or a file path opened for append).  Returns 0 or -errno. */
int log_setup(enum conf_log_level level, const char *access);
void log_teardown(void);

bool log_enabled(enum conf_log_level level);
void log_msg(enum conf_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* One access-log line (fmt without timestamp or newline). */
void log_access(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_error(...) log_msg(CONF_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(CONF_LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(CONF_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                      \
    do {                                                                    \
        if (log_enabled(CONF_LOG_DEBUG))                                    \
            log_msg(CONF_LOG_DEBUG, __VA_ARGS__);                           \
    } while (0)

#endif
