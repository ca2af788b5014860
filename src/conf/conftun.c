/* conftun: checks and converts the gateway: and agent: sections of a
 * YAML configuration (see conftun.h), and parses the tunnel values the
 * command line shares with them.  Every error names its node, as in
 * conf.c; tokens never appear in a message. */
#include "conf/conftun.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf/confrule.h"

#define LINK_PING_MS (10 * 1000)
#define LINK_TIMEOUT_MS (30 * 1000)
#define LINK_STREAMS 4096
#define LINK_STREAMS_MAX 65536
#define LINK_BUDGET (64u * 1024 * 1024)
#define AGENT_LINKS_MAX 16
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS (30 * 1000)
#define BACKOFF_FLOOR_MS 100
#define WS_PATH "/ferry"
#define AGENT_GROUP "default"
#define ID_RULE "use 1 to 64 of A-Z a-z 0-9 . _ -"

#define OPT (CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL)
#define STR(key, flags, type, member)                                      \
    CYAML_FIELD_STRING_PTR(key, flags, type, member, 0, CYAML_UNLIMITED)
#define LINK_FIELDS(type)                                                  \
    STR("ping", OPT, type, link.ping),                                     \
        STR("timeout", OPT, type, link.timeout),                           \
        CYAML_FIELD_INT_PTR("max_streams", OPT, type, link.max_streams)

static const cyaml_schema_value_t string_schema = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};

static const cyaml_schema_field_t token_fields[] = {
    STR("token", OPT, struct raw_token, token),
    STR("token_hash", OPT, struct raw_token, token_hash),
    CYAML_FIELD_SEQUENCE("groups", OPT, struct raw_token, groups,
                         &string_schema, 0, CYAML_UNLIMITED),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t token_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_token, token_fields),
};

const cyaml_schema_field_t conftun_gateway_fields[] = {
    STR("listen", CYAML_FLAG_POINTER, struct raw_gateway, listen),
    STR("cert", OPT, struct raw_gateway, cert),
    STR("key", OPT, struct raw_gateway, key),
    STR("client_ca", OPT, struct raw_gateway, client_ca),
    STR("websocket_path", OPT, struct raw_gateway, websocket_path),
    CYAML_FIELD_SEQUENCE("tokens", CYAML_FLAG_POINTER, struct raw_gateway,
                         tokens, &token_schema, 0, CYAML_UNLIMITED),
    STR("exit", OPT, struct raw_gateway, exit),
    STR("plaintext", OPT, struct raw_gateway, plaintext),
    STR("balance", OPT, struct raw_gateway, balance),
    LINK_FIELDS(struct raw_gateway),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t backoff_fields[] = {
    STR("min", OPT, struct raw_backoff, min),
    STR("max", OPT, struct raw_backoff, max),
    CYAML_FIELD_END,
};

const cyaml_schema_field_t conftun_agent_fields[] = {
    STR("server", CYAML_FLAG_POINTER, struct raw_agent, server),
    STR("token", OPT, struct raw_agent, token),
    STR("token_file", OPT, struct raw_agent, token_file),
    STR("id", OPT, struct raw_agent, id),
    STR("group", OPT, struct raw_agent, group),
    CYAML_FIELD_INT_PTR("links", OPT, struct raw_agent, links),
    STR("ca", OPT, struct raw_agent, ca),
    STR("fingerprint", OPT, struct raw_agent, fingerprint),
    STR("insecure", OPT, struct raw_agent, insecure),
    STR("cert", OPT, struct raw_agent, cert),
    STR("key", OPT, struct raw_agent, key),
    STR("sni", OPT, struct raw_agent, sni),
    STR("host", OPT, struct raw_agent, host),
    STR("proxy", OPT, struct raw_agent, proxy),
    STR("exit", OPT, struct raw_agent, exit),
    CYAML_FIELD_MAPPING_PTR("backoff", OPT, struct raw_agent, backoff,
                            backoff_fields),
    LINK_FIELDS(struct raw_agent),
    CYAML_FIELD_END,
};

/* ---- Defaults and freeing ---- */

static void link_defaults(struct conf_link *l)
{
    l->ping_ms = LINK_PING_MS;
    l->timeout_ms = LINK_TIMEOUT_MS;
    l->max_streams = LINK_STREAMS;
    l->budget = LINK_BUDGET;
}

/* The host name, made a valid id ("agent" if there is none). */
static char *default_id(void)
{
    char h[CONFLOAD_ID_MAX + 1] = "";
    if (gethostname(h, sizeof(h)) < 0)
        h[0] = '\0';
    h[CONFLOAD_ID_MAX] = '\0';
    for (char *p = h; *p; p++)
        if (!strchr(CONFLOAD_ID_CHARS, *p))
            *p = '-';
    return strdup(h[0] ? h : "agent");
}

int conftun_init(struct conf *c)
{
    struct conf_agent *a = &c->agent;
    link_defaults(&c->gateway.link);
    link_defaults(&a->link);
    a->links = 1;
    a->proxy = CONF_VIA_DIRECT;
    a->exit = true;
    a->backoff_min_ms = BACKOFF_MIN_MS;
    a->backoff_max_ms = BACKOFF_MAX_MS;
    c->gateway.ws_path = strdup(WS_PATH);
    a->path = strdup(WS_PATH);
    a->group = strdup(AGENT_GROUP);
    a->id = default_id();
    return c->gateway.ws_path && a->path && a->group && a->id ? 0
                                                              : -ENOMEM;
}

static void token_fini(struct conf_token *t)
{
    confload_free_secret(t->token);
    free(t->token_hash);
    for (unsigned i = 0; i < t->n_groups; i++)
        free(t->groups[i]);
    free(t->groups);
}

void conftun_free(struct conf *c)
{
    struct conf_gateway *g = &c->gateway;
    struct conf_agent *a = &c->agent;
    for (unsigned i = 0; i < g->n_tokens; i++)
        token_fini(&g->tokens[i]);
    free(g->tokens);
    free(g->cert);
    free(g->key);
    free(g->client_ca);
    free(g->ws_path);
    free(a->path);
    free(a->host);
    free(a->sni);
    confload_free_secret(a->token);
    free(a->id);
    free(a->group);
    free(a->ca);
    free(a->cert);
    free(a->key);
}

/* ---- Values the command line shares ---- */

bool conf_tunnel_ws(enum conf_tunnel_transport t)
{
    return t == CONF_TUN_WSS || t == CONF_TUN_WS;
}

bool conf_tunnel_tls(enum conf_tunnel_transport t)
{
    return t == CONF_TUN_TLS || t == CONF_TUN_WSS;
}

/* Why p cannot be a WebSocket path, or NULL. */
static const char *ws_path_why(const char *p)
{
    if (p[0] != '/')
        return "it must start with '/'";
    if (!confload_printable(p) || strchr(p, ' '))
        return "it must be printable, without spaces";
    return NULL;
}

/* A URL is shown in errors unless it may hold user information. */
static const char *shown(const char *url)
{
    return strchr(url, '@') ? "***" : url;
}

/* Split url; *path points into it at the path, or is NULL. */
static const char *parse_url(const char *url, enum conf_tunnel_transport *tr,
                             struct target *t, const char **path)
{
    static const struct {
        const char *scheme;
        enum conf_tunnel_transport tr;
    } schemes[] = {
        {"tls://", CONF_TUN_TLS},
        {"wss://", CONF_TUN_WSS},
        {"tcp://", CONF_TUN_TCP},
        {"ws://", CONF_TUN_WS},
    };
    unsigned i = 0;
    while (i < 4 && strncmp(url, schemes[i].scheme,
                            strlen(schemes[i].scheme)) != 0)
        i++;
    if (i == 4)
        return "use tls://, wss://, tcp:// or ws:// and HOST:PORT";
    const char *hp = url + strlen(schemes[i].scheme);
    size_t n = strcspn(hp, "/");
    *path = hp[n] ? hp + n : NULL;
    if (*path && !conf_tunnel_ws(schemes[i].tr))
        return "only a ws:// or wss:// server has a path";
    if (*path && ws_path_why(*path))
        return "the path must be printable, without spaces";
    if (memchr(hp, '@', n))
        return "no user@ part: the token has a key of its own";
    if (target_parse(t, hp, n, 0) < 0)
        return "use HOST:PORT or [IPv6]:PORT with a port 1-65535 after "
               "the scheme";
    *tr = schemes[i].tr;
    return NULL;
}

int conf_parse_tunnel_url(const char *url, enum conf_tunnel_transport *tr,
                          struct target *server, char **path, char *err,
                          size_t errlen)
{
    enum conf_tunnel_transport t;
    struct target s;
    const char *p;
    const char *why = parse_url(url, &t, &s, &p);
    char *dup = NULL;
    if (why) {
        confload_err(err, errlen, "invalid gateway URL \"%.100s\" (%s)",
                     shown(url), why);
        return -EINVAL;
    }
    if (conf_tunnel_ws(t) && !(dup = strdup(p ? p : WS_PATH))) {
        confload_err(err, errlen, "out of memory");
        return -ENOMEM;
    }
    *tr = t;
    *server = s;
    *path = dup;
    return 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int conf_parse_fingerprint(const char *s, uint8_t out[32])
{
    static const char openssl[] = "sha256 Fingerprint="; /* its output */
    uint8_t v[32];
    if (strncasecmp(s, "sha256:", 7) == 0)
        s += 7;
    else if (strncasecmp(s, openssl, sizeof(openssl) - 1) == 0)
        s += sizeof(openssl) - 1;
    for (unsigned i = 0; i < 32; i++, s += 2) {
        int hi, lo;
        if (i > 0 && *s == ':')
            s++;
        if ((hi = hex_digit(s[0])) < 0 || (lo = hex_digit(s[1])) < 0)
            return -EINVAL;
        v[i] = (uint8_t)(hi << 4 | lo);
    }
    if (*s)
        return -EINVAL;
    memcpy(out, v, sizeof(v));
    return 0;
}

int conf_set_string(char **dst, const char *src)
{
    char *s = src ? strdup(src) : NULL;
    if (src && !s)
        return -ENOMEM;
    confload_free_secret(*dst);
    *dst = s;
    return 0;
}

int conf_add_tunnel_egress(struct conf *c, const char *name,
                           const char *group)
{
    struct conf_egress *v;
    char *n, *g;
    bool dup;
    if (!group)
        group = "";
    if (confrule_egress_name_why(c, c->n_egresses, name, &dup))
        return dup ? -EEXIST : -EINVAL;
    if (group[0] && !confload_id_ok(group))
        return -EINVAL;
    n = strdup(name);
    g = strdup(group);
    v = n && g ? realloc(c->egresses, (c->n_egresses + 1) * sizeof(*v))
               : NULL;
    if (!v) {
        free(n);
        free(g);
        return -ENOMEM;
    }
    c->egresses = v;
    v[c->n_egresses] = (struct conf_egress){
        .name = n, .type = CONF_EGRESS_TUNNEL, .group = g};
    return (int)c->n_egresses++;
}

int conf_add_gateway_token(struct conf *c, const char *token)
{
    struct conf_gateway *g = &c->gateway;
    struct conf_token *v;
    char *s;
    if (!confload_secret_ok(token))
        return -EINVAL;
    if (!(s = strdup(token)))
        return -ENOMEM;
    v = realloc(g->tokens, (g->n_tokens + 1) * sizeof(*v));
    if (!v) {
        confload_free_secret(s);
        return -ENOMEM;
    }
    g->tokens = v;
    g->tokens[g->n_tokens++] = (struct conf_token){.token = s};
    return 0;
}

/* ---- What gateway: and agent: share ---- */

/* A path or a name (no_space): non-empty, printable, into *dst. */
static int conv_string(const struct confload *ld, const char *path,
                       const char *s, bool no_space, char **dst)
{
    if (!s)
        return 0;
    if (s[0] == '\0' || !confload_printable(s) ||
        (no_space && strchr(s, ' ')))
        return confload_fail(ld, path, NULL,
                             "%s must be non-empty and printable%s", path,
                             no_space ? ", without spaces" : "");
    return conf_set_string(dst, s);
}

/* A number at path (v NULL: keep *out) between lo and hi. */
static int conv_int(const struct confload *ld, const char *path,
                    const int64_t *v, int64_t lo, int64_t hi, unsigned *out)
{
    if (!v)
        return 0;
    if (*v < lo || *v > hi)
        return confload_fail(ld, path, NULL,
                             "%s must be between %lld and %lld, not %lld",
                             path, (long long)lo, (long long)hi,
                             (long long)*v);
    *out = (unsigned)*v;
    return 0;
}

/* sect.cert and sect.key: both or neither. */
static int conv_pair(const struct confload *ld, const char *sect,
                     const char *cert, const char *key, char **dcert,
                     char **dkey)
{
    char path[32];
    int rc;
    if (!cert != !key) {
        snprintf(path, sizeof(path), "%s.%s", sect, cert ? "cert" : "key");
        return confload_fail(ld, path, NULL,
                             "%s needs both cert and key, or neither",
                             sect);
    }
    snprintf(path, sizeof(path), "%s.cert", sect);
    if ((rc = conv_string(ld, path, cert, false, dcert)) < 0)
        return rc;
    snprintf(path, sizeof(path), "%s.key", sect);
    return conv_string(ld, path, key, false, dkey);
}

static int conv_link(const struct confload *ld, const char *sect,
                     const struct raw_link *r, struct conf_link *l)
{
    char ping[32], timeout[32], streams[32];
    int rc;
    snprintf(ping, sizeof(ping), "%s.ping", sect);
    snprintf(timeout, sizeof(timeout), "%s.timeout", sect);
    snprintf(streams, sizeof(streams), "%s.max_streams", sect);
    if ((rc = confload_duration(ld, ping, r->ping, &l->ping_ms)) < 0 ||
        (rc = confload_duration(ld, timeout, r->timeout, &l->timeout_ms)) <
            0)
        return rc;
    if (l->timeout_ms <= l->ping_ms)
        return confload_fail(ld, r->timeout ? timeout : ping, NULL,
                    "%s must be longer than %s (a link is dead only when "
                    "pings go unanswered)",
                    timeout, ping);
    return conv_int(ld, streams, r->max_streams, 1, LINK_STREAMS_MAX,
                    &l->max_streams);
}

/* ---- gateway: ---- */

static int conv_token_groups(const struct confload *ld, const char *tpath,
                             const struct raw_token *r, struct conf_token *t)
{
    char path[48], ipath[64];
    struct yamlpos_node nd;
    snprintf(path, sizeof(path), "%s.groups", tpath);
    if (r->groups_count == 0)
        return yamlpos_find(ld->pos, path, NULL, &nd)
                   ? confload_fail(ld, path, NULL,
                          "%s must not be empty (leave the key out to "
                          "allow any group)",
                          path)
                   : 0;
    if (!(t->groups = calloc(r->groups_count, sizeof(*t->groups))))
        return -ENOMEM;
    for (unsigned i = 0; i < r->groups_count; i++) {
        snprintf(ipath, sizeof(ipath), "%s[%u]", path, i);
        if (!confload_id_ok(r->groups[i]))
            return confload_fail(ld, ipath, NULL,
                                 "invalid group \"%.60s\" in %s (" ID_RULE
                                 ")",
                                 r->groups[i], path);
        t->n_groups = i + 1;
        if (!(t->groups[i] = strdup(r->groups[i])))
            return -ENOMEM;
    }
    return 0;
}

/* Exactly one of token and token_hash, usable, and no token twice. */
static int check_token(const struct confload *ld, const char *tpath,
                       const struct raw_token *r,
                       const struct conf_gateway *g, unsigned i)
{
    char path[48];
    const char *why;
    snprintf(path, sizeof(path), "%s%s", tpath,
             r->token_hash ? ".token_hash" : "");
    if (!r->token == !r->token_hash)
        return confload_fail(ld, path, NULL,
                             "%s needs exactly one of token and token_hash",
                             tpath);
    snprintf(path, sizeof(path), "%s.%s", tpath,
             r->token ? "token" : "token_hash");
    if (r->token && !confload_secret_ok(r->token))
        return confload_fail(ld, path, NULL,
                             "%s must be 1 to 255 printable bytes", path);
    for (unsigned j = 0; r->token && j < i; j++)
        if (g->tokens[j].token && strcmp(g->tokens[j].token, r->token) == 0)
            return confload_fail(ld, path, NULL,
                                 "%s is the same as gateway.tokens[%u]",
                                 path, j);
    why = r->token_hash ? confload_hash_check(r->token_hash) : NULL;
    return why ? confload_fail(ld, path, NULL, "invalid %s (%s)", path, why)
               : 0;
}

static int conv_token(const struct confload *ld, const struct raw_token *r,
                      unsigned i, struct conf_gateway *g)
{
    char tpath[32];
    struct conf_token *t = &g->tokens[i];
    int rc;
    g->n_tokens = i + 1; /* conf_free frees what is filled in */
    snprintf(tpath, sizeof(tpath), "gateway.tokens[%u]", i);
    if ((rc = check_token(ld, tpath, r, g, i)) < 0)
        return rc;
    if (r->token)
        rc = conf_set_string(&t->token, r->token);
    else
        rc = conf_set_string(&t->token_hash, r->token_hash);
    return rc < 0 ? rc : conv_token_groups(ld, tpath, r, t);
}

static int conv_tokens(const struct confload *ld, const struct raw_gateway *r,
                       struct conf_gateway *g)
{
    if (r->tokens_count == 0)
        return confload_fail(ld, "gateway.tokens", NULL,
                    "gateway.tokens must not be empty (an agent needs a "
                    "token to join)");
    if (!(g->tokens = calloc(r->tokens_count, sizeof(*g->tokens))))
        return -ENOMEM;
    for (unsigned i = 0; i < r->tokens_count; i++) {
        int rc = conv_token(ld, &r->tokens[i], i, g);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* listen, and TLS: cert and key, a loopback address, or plaintext. */
static int conv_gateway_listen(const struct confload *ld,
                               const struct raw_gateway *r,
                               struct conf_gateway *g)
{
    const char *why = confload_parse_listen(r->listen, &g->listen);
    int rc = confload_bool(ld, "gateway.plaintext", r->plaintext,
                           &g->plaintext);
    if (rc < 0)
        return rc;
    if (why)
        return confload_fail(ld, "gateway.listen", NULL,
                    "invalid listen address \"%.60s\" for gateway.listen "
                    "(%s)",
                    r->listen, why);
    if ((rc = conv_pair(ld, "gateway", r->cert, r->key, &g->cert,
                        &g->key)) < 0)
        return rc;
    if (r->client_ca && !r->cert)
        return confload_fail(ld, "gateway.client_ca", NULL,
                    "gateway.client_ca needs cert and key (client "
                    "certificates come with TLS)");
    if (r->cert && g->plaintext)
        return confload_fail(ld, "gateway.plaintext", NULL,
                    "gateway.plaintext: true and cert/key contradict "
                    "each other (plaintext means no TLS)");
    if (!r->cert && !g->plaintext && !addr_is_loopback(&g->listen))
        return confload_fail(ld, "gateway.listen", NULL,
                    "a gateway without TLS must listen on loopback (put "
                    "it behind a TLS terminator), or say plaintext: true "
                    "for a network that protects it (tokens and traffic "
                    "cross it unencrypted)");
    return conv_string(ld, "gateway.client_ca", r->client_ca, false,
                       &g->client_ca);
}

static int conv_gateway_ws(const struct confload *ld,
                           const struct raw_gateway *r,
                           struct conf_gateway *g)
{
    const char *why = r->websocket_path ? ws_path_why(r->websocket_path)
                                        : NULL;
    if (why)
        return confload_fail(ld, "gateway.websocket_path", NULL,
                    "invalid gateway.websocket_path \"%.60s\" (%s)",
                    r->websocket_path, why);
    if (r->websocket_path)
        return conf_set_string(&g->ws_path, r->websocket_path);
    return 0;
}

int conftun_gateway(const struct confload *ld, const struct raw_gateway *r,
                    struct conf *c)
{
    struct conf_gateway *g = &c->gateway;
    int rc;
    if (!r)
        return 0;
    g->enabled = true;
    if ((rc = confload_bool(ld, "gateway.exit", r->exit, &g->exit)) < 0)
        return rc;
    if (r->balance && strcmp(r->balance, "least_streams") != 0 &&
        strcmp(r->balance, "round_robin") != 0)
        return confload_fail(ld, "gateway.balance", NULL,
                    "invalid gateway.balance \"%.60s\" (use least_streams "
                    "or round_robin)",
                    r->balance);
    g->balance_rr = r->balance && strcmp(r->balance, "round_robin") == 0;
    if ((rc = conv_gateway_listen(ld, r, g)) < 0 ||
        (rc = conv_gateway_ws(ld, r, g)) < 0 ||
        (rc = conv_link(ld, "gateway", &r->link, &g->link)) < 0)
        return rc;
    return conv_tokens(ld, r, g);
}

/* ---- agent: ---- */

/* Up to cap bytes from the start of the file; the count or -errno. */
static ssize_t read_head(const char *file, char *buf, size_t cap)
{
    size_t len = 0;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    while (len < cap) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : 0;
            close(fd);
            return e ? -e : (ssize_t)len;
        }
        len += (size_t)n;
    }
    close(fd);
    return (ssize_t)len;
}

int conf_read_token_file(const char *label, const char *file, char **dst,
                         char *err, size_t errlen)
{
    char buf[CONFLOAD_SECRET_MAX + 3], msg[128]; /* the token, "\r\n" */
    ssize_t n = read_head(file, buf, sizeof(buf) - 1);
    int rc = -EINVAL;
    if (n < 0) {
        confload_err(err, errlen, "cannot read %s \"%.100s\" (%s)", label,
                     file, strerror_r((int)-n, msg, sizeof(msg)));
        return rc;
    }
    char *end = memchr(buf, '\n', (size_t)n);
    size_t len = end ? (size_t)(end - buf) : (size_t)n;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    buf[len] = '\0';
    if (len == 0)
        confload_err(err, errlen, "the first line of %s \"%.100s\" is empty",
                     label, file);
    else if (strlen(buf) != len || !confload_secret_ok(buf))
        confload_err(err, errlen,
                     "the first line of %s \"%.100s\" must be a token of 1 "
                     "to 255 printable bytes",
                     label, file);
    else
        rc = conf_set_string(dst, buf);
    explicit_bzero(buf, sizeof(buf));
    return rc;
}

/* The first line of the file, without its line end, is the token. */
static int conv_token_file(const struct confload *ld, const char *file,
                           char **dst)
{
    char why[256];
    int rc = conf_read_token_file("agent.token_file", file, dst, why,
                                  sizeof(why));
    if (rc == -EINVAL)
        return confload_fail(ld, "agent.token_file", NULL, "%s", why);
    return rc;
}

static int conv_agent_token(const struct confload *ld,
                            const struct raw_agent *r, struct conf_agent *a)
{
    if (r->token && r->token_file)
        return confload_fail(ld, "agent.token_file", NULL,
                             "give agent.token or agent.token_file, not "
                             "both");
    if (!r->token && !r->token_file)
        return confload_fail(ld, "agent", NULL,
                             "agent needs a token (token: or token_file:)");
    if (r->token_file)
        return conv_token_file(ld, r->token_file, &a->token);
    if (!confload_secret_ok(r->token))
        return confload_fail(ld, "agent.token", NULL,
                             "agent.token must be 1 to 255 printable bytes");
    return conf_set_string(&a->token, r->token);
}

static int conv_agent_server(const struct confload *ld,
                             const struct raw_agent *r, struct conf_agent *a)
{
    const char *path;
    const char *why = parse_url(r->server, &a->transport, &a->server, &path);
    int rc;
    if (why)
        return confload_fail(ld, "agent.server", NULL,
                    "invalid server URL \"%.100s\" for agent.server (%s)",
                    shown(r->server), why);
    if (path && (rc = conf_set_string(&a->path, path)) < 0)
        return rc;
    if (r->host && !conf_tunnel_ws(a->transport))
        return confload_fail(ld, "agent.host", NULL,
                    "agent.host goes with a ws:// or wss:// server");
    return conv_string(ld, "agent.host", r->host, true, &a->host);
}

/* The first key given that only TLS uses, or NULL. */
static const char *tls_key(const struct raw_agent *r,
                           const struct conf_agent *a)
{
    const char *const keys[] = {"ca", "fingerprint", "insecure", "cert",
                                "key", "sni"};
    const bool given[] = {r->ca, r->fingerprint, a->insecure,
                          r->cert, r->key, r->sni};
    for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (given[i])
            return keys[i];
    return NULL;
}

/* How the gateway is verified, and the client certificate. */
static int conv_agent_tls(const struct confload *ld,
                          const struct raw_agent *r, struct conf_agent *a)
{
    char path[32];
    const char *k = tls_key(r, a);
    int rc;
    snprintf(path, sizeof(path), "agent.%s", k ? k : "");
    if (k && !conf_tunnel_tls(a->transport))
        return confload_fail(ld, path, NULL,
                             "%s needs a tls:// or wss:// server", path);
    if (!!r->ca + !!r->fingerprint + a->insecure > 1)
        return confload_fail(ld,
                    a->insecure ? "agent.insecure" : "agent.fingerprint",
                    NULL,
                    "give at most one of agent.ca, agent.fingerprint and "
                    "agent.insecure: true");
    if (r->fingerprint &&
        conf_parse_fingerprint(r->fingerprint, a->fingerprint) < 0)
        return confload_fail(ld, "agent.fingerprint", NULL,
                    "invalid agent.fingerprint (the SHA-256 of the "
                    "gateway's certificate: 64 hex digits, colons and a "
                    "\"sha256:\" prefix optional)");
    a->pinned = r->fingerprint != NULL;
    if ((rc = conv_string(ld, "agent.ca", r->ca, false, &a->ca)) < 0 ||
        (rc = conv_string(ld, "agent.sni", r->sni, true, &a->sni)) < 0)
        return rc;
    return conv_pair(ld, "agent", r->cert, r->key, &a->cert, &a->key);
}

static int conv_id(const struct confload *ld, const char *path,
                   const char *s, char **dst)
{
    if (!s)
        return 0;
    if (!confload_id_ok(s))
        return confload_fail(ld, path, NULL,
                             "invalid %s \"%.60s\" (" ID_RULE ")", path, s);
    return conf_set_string(dst, s);
}

static int conv_agent_proxy(const struct confload *ld,
                            const struct raw_agent *r, struct conf *c)
{
    int idx;
    if (!r->proxy)
        return 0;
    if (!confrule_find_egress(c, r->proxy, &idx))
        return confload_fail(ld, "agent.proxy", NULL,
                    "unknown egress \"%.60s\" in agent.proxy (define an "
                    "http or socks5 egress, or use direct)",
                    r->proxy);
    if (idx >= 0 && c->egresses[idx].type == CONF_EGRESS_TUNNEL)
        return confload_fail(ld, "agent.proxy", NULL,
                    "egress \"%.60s\" is a tunnel: reach the gateway "
                    "through an http or socks5 egress, or direct",
                    r->proxy);
    c->agent.proxy = idx;
    return 0;
}

static int conv_backoff(const struct confload *ld,
                        const struct raw_backoff *r, struct conf_agent *a)
{
    int rc;
    if (!r)
        return 0;
    if ((rc = confload_duration(ld, "agent.backoff.min", r->min,
                                &a->backoff_min_ms)) < 0 ||
        (rc = confload_duration(ld, "agent.backoff.max", r->max,
                                &a->backoff_max_ms)) < 0)
        return rc;
    if (a->backoff_min_ms < BACKOFF_FLOOR_MS)
        return confload_fail(ld, "agent.backoff.min", NULL,
                             "agent.backoff.min must be at least 100ms");
    if (a->backoff_min_ms > a->backoff_max_ms)
        return confload_fail(ld,
                    r->max ? "agent.backoff.max" : "agent.backoff.min",
                    NULL,
                    "agent.backoff.min must not be longer than "
                    "agent.backoff.max");
    return 0;
}

int conftun_agent(const struct confload *ld, const struct raw_agent *r,
                  struct conf *c)
{
    struct conf_agent *a = &c->agent;
    int rc;
    if (!r)
        return 0;
    a->enabled = true;
    if ((rc = confload_bool(ld, "agent.exit", r->exit, &a->exit)) < 0 ||
        (rc = confload_bool(ld, "agent.insecure", r->insecure,
                            &a->insecure)) < 0 ||
        (rc = conv_agent_server(ld, r, a)) < 0 ||
        (rc = conv_agent_token(ld, r, a)) < 0 ||
        (rc = conv_id(ld, "agent.id", r->id, &a->id)) < 0 ||
        (rc = conv_id(ld, "agent.group", r->group, &a->group)) < 0 ||
        (rc = conv_int(ld, "agent.links", r->links, 1, AGENT_LINKS_MAX,
                       &a->links)) < 0 ||
        (rc = conv_agent_tls(ld, r, a)) < 0 ||
        (rc = conv_agent_proxy(ld, r, c)) < 0 ||
        (rc = conv_backoff(ld, r->backoff, a)) < 0)
        return rc;
    return conv_link(ld, "agent", &r->link, &a->link);
}
