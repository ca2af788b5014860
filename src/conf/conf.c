/* conf: builds the configuration snapshot that main hands to the workers.
 *
 * YAML goes through three steps: yamlpos indexes where every node is
 * (and rejects bad YAML), libcyaml loads the text into the raw_* structs
 * below (and rejects unknown keys and wrong shapes, cyerr reading its
 * log), then this file checks and converts the raw values into a struct
 * conf.  Every error is placed with yamlpos (confload).  egresses: and
 * rules: are converted in confrule.c, gateway: and agent: in conftun.c.
 * Command-line listener URLs and DNS servers take the same checks
 * without the YAML. */
#include "conf/conf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cyaml/cyaml.h>

#include "conf/confload.h"
#include "conf/confrule.h"
#include "conf/conftun.h"
#include "conf/cyerr.h"
#include "conf/listenurl.h"
#include "conf/yamlpos.h"

#define CONF_MAX_BYTES (1024 * 1024) /* a config file, not a data file */
#define CONF_WORKERS_MAX 256 /* as main caps -w */
#define DNS_PORT 53

const char conf_default_yaml[] =
    "# ferry's built-in configuration: what `ferry` with no arguments\n"
    "# runs.  docs/configuration.md describes every key.\n"
    "workers: 0             # one worker per CPU\n"
    "log:\n"
    "  level: info          # error | warn | info | debug\n"
    "  access: stderr       # stderr | stdout | off | /path/to/file\n"
    "timeouts:\n"
    "  connect: 10s         # TCP connect to the target\n"
    "  handshake: 15s       # accept until the request head is read\n"
    "  idle: 5m             # no bytes either way on an open relay\n"
    "  dns: 5s              # one name lookup\n"
    "  shutdown: 10s        # grace period on SIGTERM/SIGINT\n"
    "listeners:\n"
    "  - name: default\n"
    "    type: mixed        # HTTP proxy and SOCKS on one port\n"
    "    listen: 127.0.0.1:7890\n";

/* ---- What libcyaml loads: every leaf a string, checked below. ---- */

struct raw_user {
    char *name;
    char *password;
    char *password_hash;
};

struct raw_listener {
    char *name;
    char *type;
    char *listen;
    struct raw_user *users;
    unsigned users_count;
    char *open;
    char *udp_announce;
    char *via;
    char *target;
};

struct raw_limits {
    char *max_head;
};

struct raw_log {
    char *level;
    char *access;
};

struct raw_timeouts {
    char *connect, *handshake, *idle, *dns, *shutdown;
};

struct raw_dns {
    char **servers;
    unsigned servers_count;
    int64_t *cache_size; /* NULL when absent: the default is not 0 */
};

struct raw_conf {
    int64_t *workers;
    struct raw_log *log;
    struct raw_timeouts *timeouts;
    struct raw_dns *dns;
    struct raw_limits *limits;
    struct raw_listener *listeners;
    unsigned listeners_count;
    struct raw_egress *egresses;
    unsigned egresses_count;
    struct raw_rule *rules;
    unsigned rules_count;
    struct raw_gateway *gateway;
    struct raw_agent *agent;
    char *mark;
};

#define OPT (CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL)
#define STR(key, flags, type, member)                                      \
    CYAML_FIELD_STRING_PTR(key, flags, type, member, 0, CYAML_UNLIMITED)

static const cyaml_schema_value_t string_schema = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};

#define STRS(key, type, member)                                            \
    CYAML_FIELD_SEQUENCE(key, OPT, type, member, &string_schema, 0,       \
                         CYAML_UNLIMITED)

static const cyaml_schema_field_t user_fields[] = {
    STR("name", CYAML_FLAG_POINTER, struct raw_user, name),
    STR("password", OPT, struct raw_user, password),
    STR("password_hash", OPT, struct raw_user, password_hash),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t user_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_user, user_fields),
};

static const cyaml_schema_field_t listener_fields[] = {
    STR("name", OPT, struct raw_listener, name),
    STR("type", CYAML_FLAG_POINTER, struct raw_listener, type),
    STR("listen", CYAML_FLAG_POINTER, struct raw_listener, listen),
    CYAML_FIELD_SEQUENCE("users", OPT, struct raw_listener, users,
                         &user_schema, 0, CYAML_UNLIMITED),
    STR("open", OPT, struct raw_listener, open),
    STR("udp_announce", OPT, struct raw_listener, udp_announce),
    STR("via", OPT, struct raw_listener, via),
    STR("target", OPT, struct raw_listener, target),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t listener_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_listener,
                        listener_fields),
};

static const cyaml_schema_field_t log_fields[] = {
    STR("level", OPT, struct raw_log, level),
    STR("access", OPT, struct raw_log, access),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t timeout_fields[] = {
    STR("connect", OPT, struct raw_timeouts, connect),
    STR("handshake", OPT, struct raw_timeouts, handshake),
    STR("idle", OPT, struct raw_timeouts, idle),
    STR("dns", OPT, struct raw_timeouts, dns),
    STR("shutdown", OPT, struct raw_timeouts, shutdown),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t dns_fields[] = {
    STRS("servers", struct raw_dns, servers),
    CYAML_FIELD_INT_PTR("cache_size", OPT, struct raw_dns, cache_size),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t limit_fields[] = {
    STR("max_head", OPT, struct raw_limits, max_head),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t top_fields[] = {
    CYAML_FIELD_INT_PTR("workers", OPT, struct raw_conf, workers),
    CYAML_FIELD_MAPPING_PTR("log", OPT, struct raw_conf, log, log_fields),
    CYAML_FIELD_MAPPING_PTR("timeouts", OPT, struct raw_conf, timeouts,
                            timeout_fields),
    CYAML_FIELD_MAPPING_PTR("dns", OPT, struct raw_conf, dns, dns_fields),
    CYAML_FIELD_MAPPING_PTR("limits", OPT, struct raw_conf, limits,
                            limit_fields),
    CYAML_FIELD_SEQUENCE("listeners", OPT, struct raw_conf, listeners,
                         &listener_schema, 0, CYAML_UNLIMITED),
    CYAML_FIELD_SEQUENCE("egresses", OPT, struct raw_conf, egresses,
                         &confrule_egress_schema, 0, CYAML_UNLIMITED),
    CYAML_FIELD_SEQUENCE("rules", OPT, struct raw_conf, rules,
                         &confrule_rule_schema, 0, CYAML_UNLIMITED),
    CYAML_FIELD_MAPPING_PTR("gateway", OPT, struct raw_conf, gateway,
                            conftun_gateway_fields),
    CYAML_FIELD_MAPPING_PTR("agent", OPT, struct raw_conf, agent,
                            conftun_agent_fields),
    STR("mark", OPT, struct raw_conf, mark),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t top_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct raw_conf, top_fields),
};

/* ---- Checks shared by YAML, URLs and the command line ---- */

static bool parse_type(const char *s, enum conf_listener_type *t)
{
    if (strcmp(s, "http") == 0)
        *t = CONF_LISTENER_HTTP;
    else if (strcmp(s, "socks") == 0 || strcmp(s, "socks5") == 0 ||
             strcmp(s, "socks4") == 0 || strcmp(s, "socks4a") == 0)
        *t = CONF_LISTENER_SOCKS;
    else if (strcmp(s, "mixed") == 0)
        *t = CONF_LISTENER_MIXED;
    else if (strcmp(s, "forward") == 0)
        *t = CONF_LISTENER_FORWARD;
    else if (strcmp(s, "tproxy") == 0)
        *t = CONF_LISTENER_TPROXY;
    else if (strcmp(s, "redirect") == 0)
        *t = CONF_LISTENER_REDIRECT;
    else
        return false;
    return true;
}

/* "IP", "IP:PORT" or "[IPv6]:PORT"; the port defaults to 53. */
static const char *parse_dns_server(const char *s, struct addr *a)
{
    struct target t;
    if (addr_from_ip(a, s, DNS_PORT) == 0)
        return NULL; /* a bare IP, v4 or v6 */
    if (target_parse(&t, s, strlen(s), DNS_PORT) < 0)
        return "use IP, IP:PORT or [IPv6]:PORT with a port 1-65535";
    if (t.kind != TARGET_IP)
        return "it must be a numeric IP address, not a name";
    *a = t.ip;
    return NULL;
}

/* The listener already in c with this name or address, if any. */
static const struct conf_listener *clash(const struct conf *c,
                                         const struct conf_listener *l,
                                         bool *by_name)
{
    for (unsigned i = 0; i < c->n_listeners; i++) {
        const struct conf_listener *o = &c->listeners[i];
        *by_name = !addr_equal(&o->addr, &l->addr); /* the address first */
        if (!*by_name || strcmp(o->name, l->name) == 0)
            return o;
    }
    return NULL;
}

static char *default_name(enum conf_listener_type t, const char *listen)
{
    const char *type = conf_listener_type_name(t);
    size_t n = strlen(type) + strlen(listen) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s@%s", type, listen);
    return s;
}

static void listener_fini(struct conf_listener *l)
{
    for (unsigned i = 0; i < l->n_users; i++) {
        free(l->users[i].name);
        confload_free_secret(l->users[i].password);
        free(l->users[i].password_hash);
    }
    free(l->users);
    free(l->name);
    memset(l, 0, sizeof(*l));
}

/* Append l to c; c takes what l owns (also on failure, when it is freed). */
static int append_listener(struct conf *c, struct conf_listener *l)
{
    struct conf_listener *v =
        realloc(c->listeners, (c->n_listeners + 1) * sizeof(*v));
    if (!v) {
        listener_fini(l);
        return -ENOMEM;
    }
    c->listeners = v;
    c->listeners[c->n_listeners++] = *l;
    memset(l, 0, sizeof(*l));
    return 0;
}

static int append_dns(struct conf *c, const struct addr *a)
{
    struct addr *v =
        realloc(c->dns.servers, (c->dns.n_servers + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    c->dns.servers = v;
    c->dns.servers[c->dns.n_servers++] = *a;
    return 0;
}

/* ---- From the raw structs to the snapshot ---- */

static int conv_workers(const struct confload *ld, const struct raw_conf *r,
                        struct conf *c)
{
    if (!r->workers)
        return 0;
    if (*r->workers < 0 || *r->workers > CONF_WORKERS_MAX)
        return confload_fail(ld, "workers", NULL,
                    "workers must be between 0 (one per CPU) and %d, "
                    "not %lld",
                    CONF_WORKERS_MAX, (long long)*r->workers);
    c->workers = (unsigned)*r->workers;
    return 0;
}

static int conv_log(const struct confload *ld, const struct raw_log *r,
                    struct conf *c)
{
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    if (!r)
        return 0;
    if (r->level) {
        unsigned i = 0;
        while (i < 4 && strcmp(r->level, levels[i]) != 0)
            i++;
        if (i == 4)
            return confload_fail(ld, "log.level", NULL,
                        "invalid log level \"%.60s\" for log.level "
                        "(use error, warn, info or debug)",
                        r->level);
        c->log_level = (enum conf_log_level)i;
    }
    if (!r->access)
        return 0;
    if (r->access[0] == '\0')
        return confload_fail(ld, "log.access", NULL,
                    "log.access must not be empty "
                    "(use stderr, stdout, off or a file path)");
    char *s = strdup(r->access);
    if (!s)
        return -ENOMEM;
    free(c->access_log);
    c->access_log = s;
    return 0;
}

static int conv_duration(const struct confload *ld, const char *key,
                         const char *s, uint32_t *ms)
{
    char path[32];
    snprintf(path, sizeof(path), "timeouts.%s", key);
    return confload_duration(ld, path, s, ms);
}

static int conv_timeouts(const struct confload *ld,
                         const struct raw_timeouts *r,
                         struct conf_timeouts *t)
{
    int rc = 0;
    if (!r)
        return 0;
    if (rc == 0)
        rc = conv_duration(ld, "connect", r->connect, &t->connect_ms);
    if (rc == 0)
        rc = conv_duration(ld, "handshake", r->handshake, &t->handshake_ms);
    if (rc == 0)
        rc = conv_duration(ld, "idle", r->idle, &t->idle_ms);
    if (rc == 0)
        rc = conv_duration(ld, "dns", r->dns, &t->dns_ms);
    if (rc == 0)
        rc = conv_duration(ld, "shutdown", r->shutdown, &t->shutdown_ms);
    return rc;
}

static int conv_dns(const struct confload *ld, const struct raw_dns *r,
                    struct conf *c)
{
    if (!r)
        return 0;
    for (unsigned i = 0; i < r->servers_count; i++) {
        char path[48];
        struct addr a;
        const char *why = parse_dns_server(r->servers[i], &a);
        snprintf(path, sizeof(path), "dns.servers[%u]", i);
        if (why)
            return confload_fail(ld, path, NULL,
                                 "invalid DNS server \"%.60s\" (%s)",
                                 r->servers[i], why);
        if (append_dns(c, &a) < 0)
            return -ENOMEM;
    }
    if (r->cache_size && (*r->cache_size < 0 || *r->cache_size > UINT32_MAX))
        return confload_fail(ld, "dns.cache_size", NULL,
                    "dns.cache_size must be between 0 (no cache) and %lu, "
                    "not %lld",
                    (unsigned long)UINT32_MAX, (long long)*r->cache_size);
    if (r->cache_size)
        c->dns.cache_size = (uint32_t)*r->cache_size;
    return 0;
}

/* Exactly one of password and password_hash, and a usable one.  The
 * secret itself never goes into a message. */
static int check_secret(const struct confload *ld, const char *upath,
                        const struct raw_user *r)
{
    char path[112];
    const char *why;
    if (!r->password && !r->password_hash)
        return confload_fail(ld, upath, NULL,
                    "user \"%.60s\" needs a password or a password_hash",
                    r->name);
    snprintf(path, sizeof(path), "%s.%s", upath,
             r->password_hash ? "password_hash" : "password");
    if (r->password && r->password_hash)
        return confload_fail(ld, path, NULL,
                    "user \"%.60s\" has both password and password_hash "
                    "(give one)",
                    r->name);
    if (r->password && r->password[0] == '\0')
        return confload_fail(ld, path, NULL,
                             "empty password for user \"%.60s\"", r->name);
    why = r->password_hash ? confload_hash_check(r->password_hash)
                           : NULL;
    if (why)
        return confload_fail(ld, path, NULL,
                    "invalid password_hash for user \"%.60s\" (%s)",
                    r->name, why);
    return 0;
}

static int conv_user(const struct confload *ld, const char *lpath,
                     const struct raw_user *r, unsigned i,
                     struct conf_listener *l)
{
    char path[96];
    struct conf_user *u = &l->users[i];
    snprintf(path, sizeof(path), "%s.users[%u].name", lpath, i);
    if (!confload_user_ok(r->name))
        return confload_fail(ld, path, NULL,
                    "user name must be non-empty, printable and "
                    "without ':'");
    if (strcmp(r->name, "-") == 0)
        return confload_fail(ld, path, NULL,
                    "the user name \"-\" is reserved (in rules it means "
                    "no user)");
    for (unsigned j = 0; j < i; j++)
        if (strcmp(l->users[j].name, r->name) == 0)
            return confload_fail(ld, path, NULL, "duplicate user \"%.60s\"",
                        r->name);
    snprintf(path, sizeof(path), "%s.users[%u]", lpath, i);
    int rc = check_secret(ld, path, r);
    if (rc < 0)
        return rc;
    u->name = strdup(r->name);
    if (r->password)
        u->password = strdup(r->password);
    else
        u->password_hash = strdup(r->password_hash);
    l->n_users = i + 1; /* listener_fini frees what was copied */
    return u->name && (u->password || u->password_hash) ? 0 : -ENOMEM;
}

static int conv_users(const struct confload *ld, const char *lpath,
                      const struct raw_listener *r, struct conf_listener *l)
{
    char path[64];
    struct yamlpos_node nd;
    snprintf(path, sizeof(path), "%s.users", lpath);
    if (r->users_count == 0) {
        if (yamlpos_find(ld->pos, path, NULL, &nd))
            return confload_fail(ld, path, NULL,
                        "users must not be empty (leave the key out to "
                        "let anyone in)");
        return 0;
    }
    l->users = calloc(r->users_count, sizeof(*l->users));
    if (!l->users)
        return -ENOMEM;
    for (unsigned i = 0; i < r->users_count; i++) {
        int rc = conv_user(ld, lpath, &r->users[i], i, l);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int conv_name(const struct confload *ld, const char *lpath,
                     const struct raw_listener *r, struct conf_listener *l)
{
    char path[64];
    snprintf(path, sizeof(path), "%s.name", lpath);
    if (r->name && (r->name[0] == '\0' || !confload_printable(r->name)))
        return confload_fail(ld, path, NULL,
                    "listener name must be non-empty and printable");
    l->name = r->name ? strdup(r->name) : default_name(l->type, r->listen);
    return l->name ? 0 : -ENOMEM;
}

/* A numeric IP that clients can send datagrams to. */
static const char *parse_announce(const char *s, struct addr *a)
{
    if (addr_from_ip(a, s, 0) < 0)
        return "it must be a numeric IP address, without a port";
    if (addr_is_unspecified(a))
        return "clients cannot send to 0.0.0.0 or ::";
    return NULL;
}

static int conv_announce(const struct confload *ld, const char *lpath,
                         const struct raw_listener *r,
                         struct conf_listener *l)
{
    char path[64];
    const char *why;
    if (!r->udp_announce)
        return 0;
    snprintf(path, sizeof(path), "%s.udp_announce", lpath);
    why = parse_announce(r->udp_announce, &l->udp_announce);
    if (why) {
        memset(&l->udp_announce, 0, sizeof(l->udp_announce));
        return confload_fail(ld, path, NULL,
                             "invalid udp_announce \"%.60s\" (%s)",
                             r->udp_announce, why);
    }
    return 0;
}

/* "host:port" (an IPv6 address in brackets): a forward listener's
 * target.  NULL when fine, else why not. */
static const char *parse_forward_target(const char *s, struct target *t)
{
    if (target_parse(t, s, strlen(s), 0) < 0 || t->port == 0)
        return "use HOST:PORT or [IPv6]:PORT with a port 1-65535";
    return NULL;
}

/* target: exactly on forward listeners, which have no users or
 * udp_announce (they speak no proxy protocol). */
static int conv_target(const struct confload *ld, const char *lpath,
                       const struct raw_listener *r, struct conf_listener *l)
{
    char path[64];
    const char *why;
    bool fwd = l->type == CONF_LISTENER_FORWARD;
    snprintf(path, sizeof(path), "%s.target", lpath);
    if (fwd && !r->target)
        return confload_fail(ld, lpath, NULL,
                    "a forward listener needs target: HOST:PORT");
    if (!fwd && r->target)
        return confload_fail(ld, path, NULL,
                    "target is only for forward listeners");
    if (!conf_listener_is_proxy(l) && (r->users_count || r->udp_announce))
        return confload_fail(ld, lpath, NULL,
                    "a %s listener takes no users or udp_announce "
                    "(it speaks no proxy protocol)",
                    conf_listener_type_name(l->type));
    if (fwd && (why = parse_forward_target(r->target, &l->target)))
        return confload_fail(ld, path, NULL,
                    "invalid target \"%.60s\" (%s)", r->target, why);
    return 0;
}

static int conv_listener_via(const struct confload *ld, const char *lpath,
                             const struct raw_listener *r,
                             const struct conf *c, struct conf_listener *l)
{
    char path[64];
    if (!r->via || confrule_find_egress(c, r->via, &l->via))
        return 0;
    snprintf(path, sizeof(path), "%s.via", lpath);
    return confload_fail(ld, path, NULL,
                "unknown egress \"%.60s\" in %s (define it under "
                "egresses, or use direct)",
                r->via, path);
}

static int conv_listener_fields(const struct confload *ld, const char *lpath,
                                const struct raw_listener *r,
                                struct conf_listener *l)
{
    char path[64], opath[64];
    const char *why;
    snprintf(path, sizeof(path), "%s.type", lpath);
    if (!parse_type(r->type, &l->type))
        return confload_fail(ld, path, NULL,
                    "unknown listener type \"%.60s\" "
                    "(use http, socks, mixed, forward, tproxy or "
                    "redirect)",
                    r->type);
    snprintf(path, sizeof(path), "%s.listen", lpath);
    why = confload_parse_listen(r->listen, &l->addr);
    if (why)
        return confload_fail(ld, path, NULL,
                    "invalid listen address \"%.60s\" for %s (%s)",
                    r->listen, path, why);
    int rc = conv_name(ld, lpath, r, l);
    if (rc == 0)
        rc = conv_target(ld, lpath, r, l);
    if (rc == 0)
        rc = conv_users(ld, lpath, r, l);
    if (rc == 0)
        rc = conv_announce(ld, lpath, r, l);
    snprintf(opath, sizeof(opath), "%s.open", lpath);
    if (rc == 0)
        rc = confload_bool(ld, opath, r->open, &l->open);
    if (rc == 0 && conf_listener_exposed(l))
        return confload_fail(ld, path, NULL,
                    "listener on non-loopback address \"%.60s\" without "
                    "users: add users, or set open: true to serve anyone "
                    "who can reach it",
                    r->listen);
    return rc;
}

static int conv_listener(const struct confload *ld,
                         const struct raw_listener *r, unsigned i,
                         struct conf *c)
{
    char lpath[32], path[64];
    struct conf_listener l = {.via = CONF_VIA_DIRECT};
    const struct conf_listener *o;
    bool by_name;
    snprintf(lpath, sizeof(lpath), "listeners[%u]", i);
    int rc = conv_listener_fields(ld, lpath, r, &l);
    if (rc == 0)
        rc = conv_listener_via(ld, lpath, r, c, &l);
    if (rc == 0 && (o = clash(c, &l, &by_name))) {
        snprintf(path, sizeof(path), "%s.%s", lpath,
                 by_name ? "name" : "listen");
        rc = by_name ? confload_fail(ld, path, NULL,
                            "duplicate listener name \"%.60s\"", l.name)
                     : confload_fail(ld, path, NULL,
                            "listen address \"%.60s\" is already used by "
                            "listener \"%.60s\"",
                            r->listen, o->name);
    }
    if (rc < 0) {
        listener_fini(&l);
        return rc;
    }
    return append_listener(c, &l);
}

/* "16k" or "16384": bytes, k = 1024.  -EINVAL. */
static int parse_size(const char *s, uint32_t *out)
{
    uint64_t n = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9' && n <= UINT32_MAX; p++)
        n = n * 10 + (uint64_t)(*p - '0');
    if (p == s)
        return -EINVAL;
    if (*p == 'k' || *p == 'K') {
        n *= 1024;
        p++;
    }
    if (*p != '\0' || n > UINT32_MAX)
        return -EINVAL;
    *out = (uint32_t)n;
    return 0;
}

static int conv_limits(const struct confload *ld, const struct raw_limits *r,
                       struct conf *c)
{
    uint32_t n;
    if (!r || !r->max_head)
        return 0;
    if (parse_size(r->max_head, &n) < 0 || n < CONF_MAX_HEAD_MIN ||
        n > CONF_MAX_HEAD_MAX)
        return confload_fail(ld, "limits.max_head", NULL,
                    "limits.max_head must be 1k to 64k bytes (e.g. 16k or "
                    "16384), not \"%.60s\"",
                    r->max_head);
    c->max_head = n;
    return 0;
}

static int conv_mark(const struct confload *ld, const char *s,
                     struct conf *c)
{
    if (!s)
        return 0;
    if (conf_parse_mark(s, &c->mark) < 0)
        return confload_fail(ld, "mark", NULL,
                    "mark must be a number from 1 to 0xffffffff (decimal "
                    "or 0x hex), not \"%.60s\"",
                    s);
    c->mark_set = true;
    return 0;
}

/* ---- The whole file ---- */

static int convert(const struct confload *ld, const struct raw_conf *r,
                   struct conf *c)
{
    struct yamlpos_node nd;
    int rc;
    if (!r)
        return 0; /* an empty document: every default */
    if ((rc = conv_workers(ld, r, c)) < 0 ||
        (rc = conv_log(ld, r->log, c)) < 0 ||
        (rc = conv_timeouts(ld, r->timeouts, &c->timeouts)) < 0 ||
        (rc = conv_dns(ld, r->dns, c)) < 0 ||
        (rc = conv_limits(ld, r->limits, c)) < 0 ||
        (rc = conv_mark(ld, r->mark, c)) < 0 ||
        (rc = confrule_egresses(ld, r->egresses, r->egresses_count, c)) < 0)
        return rc;
    /* Listeners, rules and the agent name egresses: those come first;
     * rules name listeners too. */
    for (unsigned i = 0; i < r->listeners_count; i++)
        if ((rc = conv_listener(ld, &r->listeners[i], i, c)) < 0)
            return rc;
    c->has_rules = yamlpos_find(ld->pos, "rules", NULL, &nd);
    if ((rc = confrule_rules(ld, r->rules, r->rules_count, c)) < 0 ||
        (rc = conftun_gateway(ld, r->gateway, c)) < 0)
        return rc;
    return conftun_agent(ld, r->agent, c);
}

/* ---- Loading ---- */

static int load_yaml(const struct confload *ld, const char *yaml, size_t len,
                     struct conf *c)
{
    struct cyerr e;
    struct raw_conf *raw = NULL;
    cyaml_config_t cfg = {
        .log_fn = cyerr_log,
        .log_ctx = &e,
        .mem_fn = cyaml_mem,
        .log_level = CYAML_LOG_ERROR,
        .flags = CYAML_CFG_NO_ALIAS, /* yamlpos has refused them */
    };
    cyerr_init(&e);
    cyaml_err_t err = cyaml_load_data((const uint8_t *)yaml, len, &cfg,
                                      &top_schema, (cyaml_data_t **)&raw,
                                      NULL);
    if (err == CYAML_ERR_OOM)
        return -ENOMEM;
    if (err != CYAML_OK) {
        cyerr_finish(&e, err, &top_schema, ld->pos);
        return confload_fail(ld, e.path,
                             e.kind == CYERR_UNKNOWN_KEY ? e.arg : NULL, "%s",
                             e.why);
    }
    int rc = convert(ld, raw, c);
    cyaml_free(&cfg, &top_schema, raw, 0);
    return rc;
}

int conf_load_string(const char *yaml, size_t len, const char *name,
                     struct conf **out, char *err, size_t errlen)
{
    struct confload ld = {name ? name : "<config>", NULL, err, errlen};
    struct yamlpos *pos = NULL;
    struct yamlpos_mark at = {0};
    char why[256];
    struct conf *c;
    int rc;
    *out = NULL;
    if (len > CONF_MAX_BYTES) {
        confload_err(err, errlen, "%s: larger than 1 MiB", ld.name);
        return -EFBIG;
    }
    rc = yamlpos_scan(yaml, len, &pos, &at, why, sizeof(why));
    if (rc == -EINVAL)
        confload_err(err, errlen, "%s:%lu:%lu: %s", ld.name, at.line,
                     at.col, why);
    if (rc < 0)
        goto out;
    ld.pos = pos;
    c = conf_new();
    rc = c ? load_yaml(&ld, yaml, len, c) : -ENOMEM;
    if (rc == 0)
        *out = c;
    else
        conf_free(c);
out:
    if (rc == -ENOMEM)
        confload_err(err, errlen, "%s: out of memory", ld.name);
    yamlpos_free(pos);
    return rc;
}

static int read_all(int fd, char **out, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    for (;;) {
        if (n == cap) {
            char *b = cap > CONF_MAX_BYTES ? NULL : realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                return cap > CONF_MAX_BYTES ? -EFBIG : -ENOMEM;
            }
            buf = b;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            return -e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *out = buf;
    *len = n;
    return 0;
}

int conf_load_file(const char *path, struct conf **out, char *err,
                   size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    char msg[128];
    int rc, fd = open(path, O_RDONLY | O_CLOEXEC);
    *out = NULL;
    rc = fd < 0 ? -errno : read_all(fd, &buf, &len);
    if (fd >= 0)
        close(fd);
    if (rc < 0) {
        confload_err(err, errlen, "%s: %s", path,
                     rc == -EFBIG ? "larger than 1 MiB"
                                  : strerror_r(-rc, msg, sizeof(msg)));
        return rc;
    }
    rc = conf_load_string(buf, len, path, out, err, errlen);
    free(buf);
    return rc;
}

/* ---- The snapshot ---- */

struct conf *conf_new(void)
{
    struct conf *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->access_log = strdup("stderr");
    if (!c->access_log || conftun_init(c) < 0) {
        conf_free(c);
        return NULL;
    }
    c->workers = 0;
    c->log_level = CONF_LOG_INFO;
    c->timeouts.connect_ms = 10 * 1000;
    c->timeouts.handshake_ms = 15 * 1000;
    c->timeouts.idle_ms = 300 * 1000;
    c->timeouts.dns_ms = 5 * 1000;
    c->timeouts.shutdown_ms = 10 * 1000;
    c->dns.cache_size = 1024;
    c->max_head = CONF_MAX_HEAD_DEFAULT;
    return c;
}

void conf_free(struct conf *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->n_listeners; i++)
        listener_fini(&c->listeners[i]);
    free(c->listeners);
    confrule_free(c);
    conftun_free(c);
    free(c->dns.servers);
    free(c->access_log);
    free(c);
}

bool conf_listener_exposed(const struct conf_listener *l)
{
    /* Only a proxy lets its clients choose any target: a forward
     * listener's one target is the operator's, and an intercepting one
     * serves traffic routed to it (and refuses connections to itself). */
    return conf_listener_is_proxy(l) && !addr_is_loopback(&l->addr) &&
           l->n_users == 0 && !l->open;
}

bool conf_listener_is_proxy(const struct conf_listener *l)
{
    return l->type == CONF_LISTENER_HTTP || l->type == CONF_LISTENER_SOCKS ||
           l->type == CONF_LISTENER_MIXED;
}

uint32_t conf_mark(const struct conf *c)
{
    if (c->mark_set)
        return c->mark;
    for (unsigned i = 0; i < c->n_listeners; i++)
        if (c->listeners[i].type == CONF_LISTENER_TPROXY ||
            c->listeners[i].type == CONF_LISTENER_REDIRECT)
            return CONF_MARK_DEFAULT;
    return 0;
}

int conf_parse_mark(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-' || v == 0 ||
        v > UINT32_MAX)
        return -EINVAL;
    *out = (uint32_t)v;
    return 0;
}

const char *conf_listener_type_name(enum conf_listener_type t)
{
    switch (t) {
    case CONF_LISTENER_HTTP:
        return "http";
    case CONF_LISTENER_SOCKS:
        return "socks";
    case CONF_LISTENER_MIXED:
        return "mixed";
    case CONF_LISTENER_FORWARD:
        return "forward";
    case CONF_LISTENER_TPROXY:
        return "tproxy";
    case CONF_LISTENER_REDIRECT:
        return "redirect";
    }
    return "unknown";
}

int conf_add_dns_server(struct conf *c, const char *server, char *err,
                        size_t errlen)
{
    struct addr a;
    const char *why = parse_dns_server(server, &a);
    if (why) {
        confload_err(err, errlen, "invalid DNS server \"%.60s\" (%s)",
                     server, why);
        return -EINVAL;
    }
    if (append_dns(c, &a) < 0) {
        confload_err(err, errlen, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

/* ---- Listener URLs: scheme://[user:pass@]host:port ---- */

/* Why u cannot be a listener, or NULL; sets the type and address. */
static const char *url_check(const struct listenurl *u,
                             struct conf_listener *l)
{
    if (!parse_type(u->scheme, &l->type))
        return "unknown scheme (use mixed, http, socks, socks5, socks4, "
               "socks4a, forward, tproxy or redirect)";
    if ((l->type == CONF_LISTENER_FORWARD) != (u->path[0] != '\0'))
        return l->type == CONF_LISTENER_FORWARD
                   ? "a forward listener needs its target: "
                     "forward://HOST:PORT/TARGET:PORT"
                   : "only scheme://[user:pass@]host:port is allowed";
    if (!conf_listener_is_proxy(l) && u->user)
        return "only proxy listeners take a user";
    const char *why = l->type == CONF_LISTENER_FORWARD
                          ? parse_forward_target(u->path, &l->target)
                          : NULL;
    if (why)
        return why;
    if (u->user && !confload_user_ok(u->user))
        return "the user name must be non-empty, printable and without "
               "':'";
    if (u->user && strcmp(u->user, "-") == 0)
        return "the user name \"-\" is reserved (in rules it means no "
               "user)";
    if (u->pass && u->pass[0] == '\0')
        return "empty password";
    return confload_parse_listen(u->hostport, &l->addr);
}

/* Fill l's name and user from u; -ENOMEM. */
static int url_fill(const struct listenurl *u, struct conf_listener *l)
{
    l->name = default_name(l->type, u->hostport);
    if (!l->name)
        return -ENOMEM;
    if (!u->user)
        return 0;
    l->users = calloc(1, sizeof(*l->users));
    if (!l->users)
        return -ENOMEM;
    l->n_users = 1;
    l->users[0].name = strdup(u->user);
    l->users[0].password = strdup(u->pass);
    return l->users[0].name && l->users[0].password ? 0 : -ENOMEM;
}

static int url_listener(struct conf *c, const struct listenurl *u,
                        struct conf_listener *l, const char **why)
{
    const struct conf_listener *o;
    bool by_name;
    int rc;
    *why = url_check(u, l);
    if (*why)
        return -EINVAL;
    if ((rc = url_fill(u, l)) < 0)
        return rc;
    if ((o = clash(c, l, &by_name))) {
        *why = by_name ? "a listener has this name already"
                       : "a listener has this address already";
        return -EINVAL;
    }
    return 0;
}

int conf_add_listener_url(struct conf *c, const char *url, char *err,
                          size_t errlen)
{
    struct listenurl u;
    struct conf_listener l = {.via = CONF_VIA_DIRECT};
    const char *why = NULL;
    int rc = listenurl_parse(&u, url, &why);
    if (rc == 0)
        rc = url_listener(c, &u, &l, &why);
    if (rc == -ENOMEM)
        confload_err(err, errlen, "out of memory");
    else if (rc < 0)
        confload_err(err, errlen, "invalid listener URL%s%s%s: %s",
                     u.shown[0] ? " \"" : "", u.shown,
                     u.shown[0] ? "\"" : "", why);
    listenurl_fini(&u);
    if (rc < 0) {
        listener_fini(&l);
        return rc;
    }
    return append_listener(c, &l);
}
