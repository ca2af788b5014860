/* auth: checking a client's user name and password against a listener's
 * users.  Passwords are compared in constant time (over digests, so the
 * time does not depend on their lengths either) and never logged. */
#ifndef FERRY_AUTH_H
#define FERRY_AUTH_H

#include <stdbool.h>

#include "conf/conf.h"

/* True when the listener has users, i.e. clients must authenticate. */
bool auth_required(const struct conf_listener *l);
/* True when user/pass match one of the listener's users. */
bool auth_check(const struct conf_listener *l, const char *user,
                const char *pass);

#endif
