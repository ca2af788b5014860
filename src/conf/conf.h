/* conf: the configuration snapshot and its loaders.
 *
 * A struct conf is built once (from YAML, from command-line listener URLs,
 * or the embedded default), validated, and then never changed: workers
 * hold a reference and read it without locks.  Reload (a later issue)
 * builds a new snapshot and swaps the pointer.
 *
 * YAML schema (docs/configuration.md is the user's reference):
 *
 *   workers: 0                 # 0 = one per core
 *   log:
 *     level: info              # error | warn | info | debug
 *     access: stderr           # stderr | stdout | off | /path/to/file
 *   timeouts:                  # durations: 500ms, 10s, 5m, 1h
 *     connect: 10s             # TCP connect to the target
 *     handshake: 15s           # from accept until the request head is read
 *     idle: 5m                 # no bytes either way on an open relay
 *     dns: 5s                  # one name lookup
 *     shutdown: 10s            # grace period on SIGTERM/SIGINT
 *   dns:
 *     servers: [127.0.0.1:53]  # default: /etc/resolv.conf
 *     cache_size: 1024         # entries per worker; 0 disables
 *   listeners:
 *     - name: main             # optional; default "<type>@<listen>"
 *       type: mixed            # http | socks | mixed
 *       listen: 127.0.0.1:7890 # host:port, [v6]:port; host defaults to
 *                              #   127.0.0.1 when only ":port" is given
 *       users:                 # optional; when present auth is required
 *         - name: alice
 *           password: secret
 *       open: false            # required true for a non-loopback
 *                              #   listener without users
 *
 * Unknown keys are errors.  Every error message starts with
 * "FILE:LINE:COLUMN: " (1-based) and says what is wrong. */
#ifndef FERRY_CONF_H
#define FERRY_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"

enum conf_listener_type {
    CONF_LISTENER_HTTP,
    CONF_LISTENER_SOCKS, /* SOCKS 4, 4a and 5 */
    CONF_LISTENER_MIXED, /* HTTP and SOCKS, by the first byte */
};

enum conf_log_level {
    CONF_LOG_ERROR,
    CONF_LOG_WARN,
    CONF_LOG_INFO,
    CONF_LOG_DEBUG,
};

struct conf_user {
    char *name;     /* owned by the snapshot */
    char *password; /* owned by the snapshot; never logged */
};

struct conf_listener {
    char *name; /* owned */
    enum conf_listener_type type;
    struct addr addr; /* the resolved listen address (numeric only) */
    struct conf_user *users; /* owned array of n_users */
    unsigned n_users;
    bool open; /* serve without users on a non-loopback address */
};

struct conf_timeouts {
    uint32_t connect_ms;
    uint32_t handshake_ms;
    uint32_t idle_ms;
    uint32_t dns_ms;
    uint32_t shutdown_ms;
};

struct conf_dns {
    struct addr *servers; /* owned array; n_servers == 0 = system default */
    unsigned n_servers;
    uint32_t cache_size;
};

struct conf {
    unsigned workers; /* 0 = one per online CPU */
    enum conf_log_level log_level;
    char *access_log; /* owned: "stderr", "stdout", "off" or a path */
    struct conf_timeouts timeouts;
    struct conf_dns dns;
    struct conf_listener *listeners; /* owned array of n_listeners */
    unsigned n_listeners;
};

/* A snapshot with every default set and no listeners.  NULL on ENOMEM. */
struct conf *conf_new(void);
void conf_free(struct conf *c);

/* Load YAML from a file / from memory (name is used in error messages).
 * On success *out gives a new snapshot and 0 is returned; on failure a
 * negative errno is returned, *out is NULL and err holds one line
 * "NAME:LINE:COL: reason" (or "NAME: reason" when there is no position). */
int conf_load_file(const char *path, struct conf **out, char *err,
                   size_t errlen);
int conf_load_string(const char *yaml, size_t len, const char *name,
                     struct conf **out, char *err, size_t errlen);

/* Append a listener given as a URL, as on the command line:
 *   mixed://127.0.0.1:7890   socks5://user:pass@0.0.0.0:1080
 *   http://127.0.0.1:3128    socks://[::1]:1080   socks4://...
 * user and pass are percent-decoded.  -EINVAL with err set if malformed. */
int conf_add_listener_url(struct conf *c, const char *url, char *err,
                          size_t errlen);

/* Add a DNS server "HOST[:PORT]" (numeric; port defaults to 53). */
int conf_add_dns_server(struct conf *c, const char *server, char *err,
                        size_t errlen);

/* The embedded default configuration (YAML text), used by `ferry` with
 * no arguments: one mixed listener on 127.0.0.1:7890. */
extern const char conf_default_yaml[];

const char *conf_listener_type_name(enum conf_listener_type t);

/* True for a listener that would serve anyone who can reach a
 * non-loopback address: no users and not marked open.  Such a listener
 * is refused (security by default). */
bool conf_listener_exposed(const struct conf_listener *l);

#endif
