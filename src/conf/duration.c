/* duration: parses the time spans of the timeouts: section (conf.c) into
 * milliseconds, the unit every timer in ferry takes. */
#include "conf/duration.h"

#include <errno.h>
#include <string.h>

/* Milliseconds per unit; 0 when the suffix is not a unit we know. */
static uint64_t unit_ms(const char *u)
{
    if (*u == '\0' || strcmp(u, "s") == 0)
        return 1000; /* a plain number is seconds */
    if (strcmp(u, "ms") == 0)
        return 1;
    if (strcmp(u, "m") == 0)
        return 60 * 1000;
    if (strcmp(u, "h") == 0)
        return 60 * 60 * 1000;
    return 0;
}

int duration_parse(const char *s, uint32_t *ms)
{
    uint64_t n = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++)
        if (n <= UINT32_MAX) /* past it the value is out of range anyway */
            n = n * 10 + (uint64_t)(*p - '0');
    if (p == s)
        return -EINVAL;
    uint64_t unit = unit_ms(p);
    if (unit == 0)
        return -EINVAL;
    if (n == 0 || n > UINT32_MAX || n * unit > UINT32_MAX)
        return -ERANGE;
    *ms = (uint32_t)(n * unit);
    return 0;
}
