/* conftun: the gateway: and agent: parts of a YAML configuration
 * (internal to src/conf/), their defaults (conf_new), and the tunnel
 * helpers that conf.h declares for the command line.  conf.c's schema
 * embeds the two field lists below; after libcyaml has loaded the raw
 * structs and the egresses are converted (agent.proxy names one), conf.c
 * calls conftun_gateway and conftun_agent. */
#ifndef FERRY_CONFTUN_H
#define FERRY_CONFTUN_H

#include <cyaml/cyaml.h>

#include "conf/conf.h"
#include "conf/confload.h"

/* What libcyaml loads: every leaf a string, numbers and flags aside. */
struct raw_link { /* the keys gateway: and agent: share */
    char *ping, *timeout;
    int64_t *max_streams;
};

struct raw_token {
    char *token, *token_hash;
    char **groups;
    unsigned groups_count;
};

struct raw_gateway {
    char *listen, *cert, *key, *client_ca, *websocket_path, *balance;
    char *exit, *plaintext;
    struct raw_token *tokens;
    unsigned tokens_count;
    struct raw_link link;
};

struct raw_backoff {
    char *min, *max;
};

struct raw_agent {
    char *server, *token, *token_file, *id, *group;
    char *ca, *fingerprint, *insecure, *cert, *key, *sni, *host, *proxy;
    char *exit;
    int64_t *links;
    struct raw_backoff *backoff;
    struct raw_link link;
};

extern const cyaml_schema_field_t conftun_gateway_fields[];
extern const cyaml_schema_field_t conftun_agent_fields[];

/* Set c's gateway and agent defaults (conf_new): 0 or -ENOMEM, when
 * conftun_free still frees what was set. */
int conftun_init(struct conf *c);
/* Free what c's gateway and agent own. */
void conftun_free(struct conf *c);

/* Convert gateway: / agent: into c; r NULL (no such section) leaves
 * the defaults.  0; -ENOMEM; -EINVAL with ld's error set.  On failure
 * what was filled in stays in c for conf_free. */
int conftun_gateway(const struct confload *ld, const struct raw_gateway *r,
                    struct conf *c);
int conftun_agent(const struct confload *ld, const struct raw_agent *r,
                  struct conf *c);

#endif
