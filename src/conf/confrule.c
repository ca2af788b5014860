/* confrule: checks and converts the egresses: and rules: of a YAML
 * configuration (see confrule.h); conf/pattern parses the values that
 * rules match on.  Every error names its node, as in conf.c. */
#include "conf/confrule.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/pattern.h"

#define OPT (CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL)
#define STR(key, flags, type, member)                                      \
    CYAML_FIELD_STRING_PTR(key, flags, type, member, 0, CYAML_UNLIMITED)
#define STRS(key, type, member)                                            \
    CYAML_FIELD_SEQUENCE(key, OPT, type, member, &string_schema, 0,       \
                         CYAML_UNLIMITED)

static const cyaml_schema_value_t string_schema = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};

static const cyaml_schema_field_t egress_fields[] = {
    STR("name", CYAML_FLAG_POINTER, struct raw_egress, name),
    STR("type", CYAML_FLAG_POINTER, struct raw_egress, type),
    STR("address", OPT, struct raw_egress, address),
    STR("user", OPT, struct raw_egress, user),
    STR("password", OPT, struct raw_egress, password),
    STR("group", OPT, struct raw_egress, group),
    CYAML_FIELD_END,
};

const cyaml_schema_value_t confrule_egress_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_egress, egress_fields),
};

static const cyaml_schema_field_t rule_fields[] = {
    STR("action", CYAML_FLAG_POINTER, struct raw_rule, action),
    STR("via", OPT, struct raw_rule, via),
    STRS("cidrs", struct raw_rule, cidrs),
    STRS("domains", struct raw_rule, domains),
    STRS("ports", struct raw_rule, ports),
    STRS("users", struct raw_rule, users),
    STRS("listeners", struct raw_rule, listeners),
    STR("protocol", OPT, struct raw_rule, protocol),
    CYAML_FIELD_END,
};

const cyaml_schema_value_t confrule_rule_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_rule, rule_fields),
};


/* ---- Egresses ---- */

static void egress_fini(struct conf_egress *e)
{
    free(e->name);
    free(e->group);
    free(e->user);
    confload_free_secret(e->password);
    memset(e, 0, sizeof(*e));
}

const char *confrule_egress_name_why(const struct conf *c, unsigned n,
                                     const char *name, bool *dup)
{
    *dup = false;
    if (name[0] == '\0' || !confload_printable(name))
        return "egress name must be non-empty and printable";
    if (strcmp(name, "direct") == 0)
        return "the egress \"direct\" is built in (it means no egress): "
               "pick another name";
    for (unsigned j = 0; j < n; j++)
        if (strcmp(c->egresses[j].name, name) == 0) {
            *dup = true;
            return "duplicate egress name";
        }
    return NULL;
}

static int egress_name(const struct confload *ld, const char *epath,
                       const struct raw_egress *r, unsigned i,
                       struct conf *c)
{
    char path[48];
    bool dup;
    const char *why = confrule_egress_name_why(c, i, r->name, &dup);
    snprintf(path, sizeof(path), "%s.name", epath);
    if (dup)
        return confload_fail(ld, path, NULL,
                             "duplicate egress name \"%.60s\"", r->name);
    if (why)
        return confload_fail(ld, path, NULL, "%s", why);
    c->egresses[i].name = strdup(r->name);
    return c->egresses[i].name ? 0 : -ENOMEM;
}

/* user and password: both or neither; each fits a SOCKS5 field. */
static int egress_auth(const struct confload *ld, const char *epath,
                       const struct raw_egress *r, struct conf_egress *e)
{
    char path[48];
    if (!r->user != !r->password) {
        snprintf(path, sizeof(path), "%s.%s", epath,
                 r->user ? "user" : "password");
        return confload_fail(ld, path, NULL,
                    "egress \"%.60s\" needs both user and password, or "
                    "neither",
                    r->name);
    }
    if (!r->user)
        return 0;
    snprintf(path, sizeof(path), "%s.user", epath);
    if (!confload_user_ok(r->user) || strlen(r->user) > CONFLOAD_SECRET_MAX)
        return confload_fail(ld, path, NULL,
                    "egress user must be 1 to 255 printable characters, "
                    "without ':'");
    snprintf(path, sizeof(path), "%s.password", epath);
    if (r->password[0] == '\0' ||
        strlen(r->password) > CONFLOAD_SECRET_MAX)
        return confload_fail(ld, path, NULL,
                             "egress password must be 1 to 255 bytes");
    e->user = strdup(r->user);
    e->password = strdup(r->password);
    return e->user && e->password ? 0 : -ENOMEM;
}

/* A tunnel egress: a group, and nothing of a parent proxy. */
static int egress_tunnel(const struct confload *ld, const char *epath,
                         const struct raw_egress *r, struct conf_egress *e)
{
    char path[48];
    const char *parent = r->address ? "address" : r->user ? "user" : NULL;
    if (!parent && r->password)
        parent = "password";
    snprintf(path, sizeof(path), "%s.%s", epath, parent ? parent : "group");
    if (parent)
        return confload_fail(ld, path, NULL,
                    "a tunnel egress has no %s (it goes through a tunnel "
                    "link, not a parent proxy)",
                    parent);
    if (r->group && r->group[0] && !confload_id_ok(r->group))
        return confload_fail(ld, path, NULL,
                    "invalid group \"%.60s\" (use 1 to 64 of A-Z a-z 0-9 "
                    ". _ -, or \"\" for the agent's gateway)",
                    r->group);
    e->group = strdup(r->group ? r->group : "");
    return e->group ? 0 : -ENOMEM;
}

/* A parent proxy: an address, maybe a user, no group. */
static int egress_parent(const struct confload *ld, const char *epath,
                         const struct raw_egress *r, struct conf_egress *e)
{
    char path[48];
    snprintf(path, sizeof(path), "%s.group", epath);
    if (r->group)
        return confload_fail(ld, path, NULL,
                             "group goes with type: tunnel only");
    if (!r->address)
        return confload_fail(ld, epath, NULL,
                    "missing key \"address\" in egress (an http or "
                    "socks5 egress needs HOST:PORT)");
    snprintf(path, sizeof(path), "%s.address", epath);
    if (target_parse(&e->server, r->address, strlen(r->address), 0) < 0)
        return confload_fail(ld, path, NULL,
                    "invalid egress address \"%.60s\" (use HOST:PORT or "
                    "[IPv6]:PORT with a port 1-65535)",
                    r->address);
    return egress_auth(ld, epath, r, e);
}

static int conv_egress(const struct confload *ld, const struct raw_egress *r,
                       unsigned i, struct conf *c)
{
    static const struct {
        const char *name;
        enum conf_egress_type type;
    } types[] = {
        {"http", CONF_EGRESS_HTTP},
        {"socks5", CONF_EGRESS_SOCKS5},
        {"tunnel", CONF_EGRESS_TUNNEL},
    };
    char epath[32], path[48];
    struct conf_egress *e = &c->egresses[i];
    unsigned t = 0;
    int rc;
    c->n_egresses = i + 1; /* conf_free frees what is filled in */
    snprintf(epath, sizeof(epath), "egresses[%u]", i);
    if ((rc = egress_name(ld, epath, r, i, c)) < 0)
        return rc;
    snprintf(path, sizeof(path), "%s.type", epath);
    while (t < 3 && strcmp(r->type, types[t].name) != 0)
        t++;
    if (t == 3)
        return confload_fail(ld, path, NULL,
                    "unknown egress type \"%.60s\" (use http, socks5 or "
                    "tunnel)",
                    r->type);
    e->type = types[t].type;
    return e->type == CONF_EGRESS_TUNNEL ? egress_tunnel(ld, epath, r, e)
                                         : egress_parent(ld, epath, r, e);
}

int confrule_egresses(const struct confload *ld, const struct raw_egress *r,
                      unsigned n, struct conf *c)
{
    if (n == 0)
        return 0;
    c->egresses = calloc(n, sizeof(*c->egresses));
    if (!c->egresses)
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        int rc = conv_egress(ld, &r[i], i, c);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- Rules ---- */

static void rule_fini(struct conf_rule *r)
{
    for (unsigned i = 0; i < r->n_domains; i++)
        pattern_domain_fini(&r->domains[i]);
    for (unsigned i = 0; i < r->n_users; i++)
        free(r->users[i]);
    free(r->cidrs);
    free(r->domains);
    free(r->ports);
    free(r->users);
    free(r->listeners);
    memset(r, 0, sizeof(*r));
}

/* One entry of a condition list: text to value at out, or why not. */
typedef const char *item_fn(const struct conf *c, const char *s, void *out,
                            bool *oom);

static const char *item_cidr(const struct conf *c, const char *s,
                             void *out, bool *oom)
{
    return pattern_cidr_parse(s, out);
}

static const char *item_domain(const struct conf *c, const char *s,
                               void *out, bool *oom)
{
    return pattern_domain_parse(s, out, oom);
}

static const char *item_ports(const struct conf *c, const char *s,
                              void *out, bool *oom)
{
    return pattern_ports_parse(s, out);
}

static const char *item_user(const struct conf *c, const char *s,
                             void *out, bool *oom)
{
    char **u = out;
    bool none = strcmp(s, "-") == 0;
    if (!none && !confload_user_ok(s))
        return "a user name is non-empty, printable and without ':'; "
               "\"-\" means no user";
    *u = strdup(none ? "" : s);
    *oom = !*u;
    return *u ? NULL : "out of memory";
}

static const char *item_listener(const struct conf *c, const char *s,
                                 void *out, bool *oom)
{
    unsigned *idx = out;
    for (unsigned i = 0; i < c->n_listeners; i++)
        if (strcmp(c->listeners[i].name, s) == 0) {
            *idx = i;
            return NULL;
        }
    return "no listener has this name";
}

struct list_kind {
    const char *key;  /* in the rule */
    const char *what; /* in messages */
    size_t size;      /* of one value */
    item_fn *fn;
};

static const struct list_kind lists[] = {
    {"cidrs", "CIDR", sizeof(struct pattern_cidr), item_cidr},
    {"domains", "domain", sizeof(struct pattern_domain), item_domain},
    {"ports", "port", sizeof(struct pattern_ports), item_ports},
    {"users", "user", sizeof(char *), item_user},
    {"listeners", "listener", sizeof(unsigned), item_listener},
};

/* The n entries of one condition into a new array at *out; *n_out counts
 * the values filled in, also on failure (conf_free frees them). */
static int conv_list(const struct confload *ld, const char *rpath,
                     const struct list_kind *k, char *const *items,
                     unsigned n, const struct conf *c, void **out,
                     unsigned *n_out)
{
    char path[48], ipath[64];
    struct yamlpos_node nd;
    snprintf(path, sizeof(path), "%s.%s", rpath, k->key);
    if (n == 0)
        return yamlpos_find(ld->pos, path, NULL, &nd)
                   ? confload_fail(ld, path, NULL,
                          "%s must not be empty (leave the key out to "
                          "match anything)",
                          path)
                   : 0;
    char *v = calloc(n, k->size);
    if (!(*out = v))
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        bool oom = false;
        const char *why = k->fn(c, items[i], v + i * k->size, &oom);
        if (oom)
            return -ENOMEM;
        snprintf(ipath, sizeof(ipath), "%s[%u]", path, i);
        if (why)
            return confload_fail(ld, ipath, NULL,
                                 "invalid %s \"%.60s\" in %s (%s)", k->what,
                                 items[i], path, why);
        *n_out = i + 1;
    }
    return 0;
}

static int conv_conditions(const struct confload *ld, const char *rpath,
                           const struct raw_rule *r, const struct conf *c,
                           struct conf_rule *rule)
{
    void *v[5] = {NULL};
    int rc = conv_list(ld, rpath, &lists[0], r->cidrs, r->cidrs_count, c,
                       &v[0], &rule->n_cidrs);
    if (rc == 0)
        rc = conv_list(ld, rpath, &lists[1], r->domains, r->domains_count,
                       c, &v[1], &rule->n_domains);
    if (rc == 0)
        rc = conv_list(ld, rpath, &lists[2], r->ports, r->ports_count, c,
                       &v[2], &rule->n_ports);
    if (rc == 0)
        rc = conv_list(ld, rpath, &lists[3], r->users, r->users_count, c,
                       &v[3], &rule->n_users);
    if (rc == 0)
        rc = conv_list(ld, rpath, &lists[4], r->listeners,
                       r->listeners_count, c, &v[4], &rule->n_listeners);
    rule->cidrs = v[0];
    rule->domains = v[1];
    rule->ports = v[2];
    rule->users = v[3];
    rule->listeners = v[4];
    return rc;
}

static int conv_via(const struct confload *ld, const char *rpath,
                    const struct raw_rule *r, const struct conf *c,
                    struct conf_rule *rule)
{
    char path[48];
    if (!r->via)
        return 0;
    snprintf(path, sizeof(path), "%s.via", rpath);
    if (!rule->allow)
        return confload_fail(ld, path, NULL,
                    "via goes with action: allow only (a denied request "
                    "goes nowhere)");
    if (confrule_find_egress(c, r->via, &rule->egress))
        return 0;
    return confload_fail(ld, path, NULL,
                "unknown egress \"%.60s\" in %s (define it under "
                "egresses, or use direct)",
                r->via, path);
}

static int conv_rule(const struct confload *ld, const struct raw_rule *r,
                     unsigned i, struct conf *c)
{
    char rpath[32], path[48];
    struct conf_rule *rule = &c->rules[i];
    c->n_rules = i + 1; /* conf_free frees what is filled in */
    rule->egress = CONF_VIA_LISTENER;
    snprintf(rpath, sizeof(rpath), "rules[%u]", i);
    snprintf(path, sizeof(path), "%s.action", rpath);
    if (strcmp(r->action, "allow") != 0 && strcmp(r->action, "deny") != 0)
        return confload_fail(ld, path, NULL,
                    "invalid action \"%.60s\" (use allow or deny)",
                    r->action);
    rule->allow = r->action[0] == 'a';
    snprintf(path, sizeof(path), "%s.protocol", rpath);
    if (!r->protocol)
        rule->proto = CONF_PROTO_ANY;
    else if (strcmp(r->protocol, "tcp") == 0)
        rule->proto = CONF_PROTO_TCP;
    else if (strcmp(r->protocol, "udp") == 0)
        rule->proto = CONF_PROTO_UDP;
    else
        return confload_fail(ld, path, NULL,
                    "invalid protocol \"%.60s\" (use tcp or udp)",
                    r->protocol);
    int rc = conv_via(ld, rpath, r, c, rule);
    return rc < 0 ? rc : conv_conditions(ld, rpath, r, c, rule);
}

int confrule_rules(const struct confload *ld, const struct raw_rule *r,
                   unsigned n, struct conf *c)
{
    if (n == 0)
        return 0;
    c->rules = calloc(n, sizeof(*c->rules));
    if (!c->rules)
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        int rc = conv_rule(ld, &r[i], i, c);
        if (rc < 0)
            return rc;
    }
    return 0;
}

bool confrule_find_egress(const struct conf *c, const char *name, int *idx)
{
    if (strcmp(name, "direct") == 0) {
        *idx = CONF_VIA_DIRECT;
        return true;
    }
    for (unsigned i = 0; i < c->n_egresses; i++)
        if (strcmp(c->egresses[i].name, name) == 0) {
            *idx = (int)i;
            return true;
        }
    return false;
}

void confrule_free(struct conf *c)
{
    for (unsigned i = 0; i < c->n_egresses; i++)
        egress_fini(&c->egresses[i]);
    free(c->egresses);
    c->egresses = NULL;
    c->n_egresses = 0;
    for (unsigned i = 0; i < c->n_rules; i++)
        rule_fini(&c->rules[i]);
    free(c->rules);
    c->rules = NULL;
    c->n_rules = 0;
}
