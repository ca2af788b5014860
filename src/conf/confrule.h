/* confrule: the egresses: and rules: parts of a YAML configuration
 * (internal to src/conf/).  conf.c's schema embeds the two entry
 * schemas below; after libcyaml has loaded the raw structs, conf.c calls
 * confrule_egresses and then confrule_rules (rules name listeners and
 * egresses, so those come first).  Values are checked and turned into
 * the match-ready forms of conf.h and conf/pattern.h. */
#ifndef FERRY_CONFRULE_H
#define FERRY_CONFRULE_H

#include <cyaml/cyaml.h>

#include "conf/conf.h"
#include "conf/confload.h"

/* What libcyaml loads: every leaf a string. */
struct raw_egress {
    char *name, *type, *address, *user, *password, *group;
};

struct raw_rule {
    char *action, *via;
    char **cidrs;
    unsigned cidrs_count;
    char **domains;
    unsigned domains_count;
    char **ports;
    unsigned ports_count;
    char **users;
    unsigned users_count;
    char **listeners;
    unsigned listeners_count;
    char *protocol;
};

extern const cyaml_schema_value_t confrule_egress_schema;
extern const cyaml_schema_value_t confrule_rule_schema;

/* Convert the n raw egresses / rules into c (c->egresses, c->rules).
 * 0; -ENOMEM; -EINVAL with ld's error set.  On failure what was filled
 * in stays in c for conf_free (through confrule_free). */
int confrule_egresses(const struct confload *ld, const struct raw_egress *r,
                      unsigned n, struct conf *c);
int confrule_rules(const struct confload *ld, const struct raw_rule *r,
                   unsigned n, struct conf *c);
/* The egress called name among c's: true with *idx its index, or
 * CONF_VIA_DIRECT for "direct"; false when there is none. */
bool confrule_find_egress(const struct conf *c, const char *name, int *idx);
/* Why name cannot name a new egress after the first n of c, or NULL;
 * *dup is set when the name is taken. */
const char *confrule_egress_name_why(const struct conf *c, unsigned n,
                                     const char *name, bool *dup);
/* Free c's egresses and rules. */
void confrule_free(struct conf *c);

#endif
