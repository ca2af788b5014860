/* duration: the text form of a time span in the configuration.
 *
 * "500ms", "10s", "5m", "1h", or a plain integer meaning seconds.  No
 * sign, no spaces, no fractions and no compound forms ("1m30s"). */
#ifndef FERRY_DURATION_H
#define FERRY_DURATION_H

#include <stdint.h>

/* Parse the NUL-terminated s into milliseconds.  0 on success; -EINVAL if
 * malformed, -ERANGE if zero or above UINT32_MAX ms (about 49 days). */
int duration_parse(const char *s, uint32_t *ms);

#endif
