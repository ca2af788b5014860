/* yamlpos: where each node of a YAML document is.
 *
 * libcyaml loads values into structs but cannot say where in the text a
 * value was, and every configuration error must name FILE:LINE:COLUMN.
 * This module walks the same text with libyaml's event parser and indexes
 * every node by its path, so an error found later (by libcyaml or by
 * validation) can be placed.  The walk also rejects what the loader would
 * otherwise take silently: syntax errors, aliases, duplicate keys, keys
 * that are not scalars, nesting deeper than YAMLPOS_DEPTH and more than
 * one document.
 *
 * Paths name a node from the root: "" is the root, "timeouts.connect" a
 * mapping value, "listeners[1].users[0]" a sequence entry (0-based). */
#ifndef FERRY_YAMLPOS_H
#define FERRY_YAMLPOS_H

#include <stdbool.h>
#include <stddef.h>

#define YAMLPOS_DEPTH 32

struct yamlpos_mark {
    unsigned long line, col; /* 1-based; 0 = no position */
};

enum yamlpos_kind { YAMLPOS_SCALAR, YAMLPOS_SEQUENCE, YAMLPOS_MAPPING };

struct yamlpos_node {
    struct yamlpos_mark at;     /* where the node starts */
    struct yamlpos_mark key_at; /* its key in the parent mapping, else at */
    enum yamlpos_kind kind;
    bool empty; /* a scalar with no value: nothing, "~" or "null" */
};

struct yamlpos;

/* Index the YAML text buf (len bytes, NUL not needed).  On success *out
 * gives the index and 0 is returned.  -ENOMEM; -EINVAL if the text is
 * rejected, with *at and why (one line, no position) set. */
int yamlpos_scan(const char *buf, size_t len, struct yamlpos **out,
                 struct yamlpos_mark *at, char *why, size_t whylen);
void yamlpos_free(struct yamlpos *p);

/* Find the node at path; when key is not NULL, find instead the entry
 * key (taken as is, it may hold any character) of the mapping at path.
 * Returns true with *out set; when there is no such node, returns false
 * with *out set to the nearest ancestor that exists (all zero if the
 * document is empty). */
bool yamlpos_find(const struct yamlpos *p, const char *path,
                  const char *key, struct yamlpos_node *out);

#endif
