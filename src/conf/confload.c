/* confload: placing load errors, and the small checks the parts of the
 * loader share (see confload.h). */
#include "conf/confload.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <crypt.h>

#include "conf/duration.h"

/* err is one line: values echoed from the file may hold any byte. */
void confload_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    for (char *p = err; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

int confload_vfail(const struct confload *ld, const char *path,
                   const char *key, const char *fmt, va_list ap)
{
    struct yamlpos_node nd = {0};
    char why[512];
    vsnprintf(why, sizeof(why), fmt, ap);
    if (ld->pos)
        yamlpos_find(ld->pos, path, key, &nd);
    if (key && nd.key_at.line)
        nd.at = nd.key_at;
    if (nd.at.line)
        confload_err(ld->err, ld->errlen, "%s:%lu:%lu: %s", ld->name,
                     nd.at.line, nd.at.col, why);
    else
        confload_err(ld->err, ld->errlen, "%s: %s", ld->name, why);
    return -EINVAL;
}

bool confload_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

bool confload_user_ok(const char *s)
{
    return s[0] != '\0' && !strchr(s, ':') && confload_printable(s);
}

bool confload_id_ok(const char *s)
{
    size_t n = strspn(s, CONFLOAD_ID_CHARS);
    return n > 0 && n <= CONFLOAD_ID_MAX && s[n] == '\0';
}

bool confload_secret_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= CONFLOAD_SECRET_MAX && confload_printable(s);
}

void confload_free_secret(char *s)
{
    if (s)
        explicit_bzero(s, strlen(s));
    free(s);
}

int confload_fail(const struct confload *ld, const char *path,
                  const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = confload_vfail(ld, path, key, fmt, ap);
    va_end(ap);
    return rc;
}

const char *confload_parse_listen(const char *s, struct addr *a)
{
    char buf[TARGET_HOST_MAX + 16];
    struct target t;
    if (s[0] == ':') { /* the safe default: only this host can connect */
        if (snprintf(buf, sizeof(buf), "127.0.0.1%s", s) >=
            (int)sizeof(buf))
            return "too long";
        s = buf;
    }
    if (!strchr(s, ':'))
        return "it needs a port: IP:PORT or :PORT";
    if (s[0] != '[' && strchr(s, ':') != strrchr(s, ':'))
        return "an IPv6 address needs brackets: [::1]:PORT";
    if (target_parse(&t, s, strlen(s), 0) < 0)
        return "use IP:PORT, [IPv6]:PORT or :PORT with a port 1-65535";
    if (t.kind != TARGET_IP)
        return "the host must be a numeric IP address, not a name";
    *a = t.ip;
    return NULL;
}

/* Only the form is checked: computing a hash costs what the text says it
 * costs (a yescrypt takes milliseconds), which a loader should not pay. */
const char *confload_hash_check(const char *h)
{
    static const struct {
        const char *id;
        size_t sum; /* the length of the part after the last '$' */
    } sums[] = {
        {"$y$", 43},  {"$gy$", 43}, {"$7$", 43},  {"$6$", 86},
        {"$2b$", 53}, {"$2y$", 53}, {"$2a$", 53},
    };
    const char *last = strrchr(h, '$');
    if (h[0] != '$' || !confload_printable(h) || strchr(h, ' '))
        return "not a crypt(3) hash such as \"$y$...\"; ferry passwd "
               "makes one";
    switch (crypt_checksalt(h)) {
    case CRYPT_SALT_OK:
    case CRYPT_SALT_TOO_CHEAP:
        break;
    case CRYPT_SALT_METHOD_DISABLED:
        return "this libcrypt has the hash method disabled";
    case CRYPT_SALT_METHOD_LEGACY:
        return "a weak legacy method: use yescrypt ($y$), SHA-512 ($6$) "
               "or bcrypt ($2b$)";
    default:
        return "not a crypt(3) hash such as \"$y$...\"; ferry passwd "
               "makes one";
    }
    for (size_t i = 0; i < sizeof(sums) / sizeof(sums[0]); i++)
        if (strncmp(h, sums[i].id, strlen(sums[i].id)) == 0 &&
            strlen(last + 1) != sums[i].sum)
            return "incomplete: the part after the last '$' has the wrong "
                   "length";
    return last[1] ? NULL : "incomplete: nothing after the last '$'";
}

int confload_bool(const struct confload *ld, const char *path,
                  const char *s, bool *out)
{
    static const char *const words[] = {"false", "no", "off",
                                        "true",  "yes", "on"};
    for (unsigned i = 0; s && i < 6; i++)
        if (strcasecmp(s, words[i]) == 0) {
            *out = i >= 3;
            return 0;
        }
    return s ? confload_fail(ld, path, NULL,
                             "invalid value \"%.60s\" for %s (use true or "
                             "false)",
                             s, path)
             : 0;
}

int confload_duration(const struct confload *ld, const char *path,
                      const char *s, uint32_t *ms)
{
    int rc;
    if (!s)
        return 0; /* keep the default */
    rc = duration_parse(s, ms);
    if (rc == -ERANGE)
        return confload_fail(ld, path, NULL,
                    "duration \"%.60s\" for %s is out of range "
                    "(more than 0, at most 49 days)",
                    s, path);
    if (rc < 0)
        return confload_fail(ld, path, NULL,
                    "invalid duration \"%.60s\" for %s "
                    "(use 500ms, 10s, 5m, 1h)",
                    s, path);
    return 0;
}
