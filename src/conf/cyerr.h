/* cyerr: what libcyaml said when a load failed.
 *
 * libcyaml 1.3.1 reports an error only as text, through the log callback
 * of its config: one line for the error, then "Load: Backtrace:" and one
 * line per open node, innermost first:
 *
 *   Load: Unexpected key: lisen
 *   Load: Backtrace:
 *     in mapping (line: 5, column: 11)
 *     in sequence entry '2' (line: 5, column: 5)
 *     in mapping field 'listeners' (line: 3, column: 3)
 *
 * Other first lines it knows: "Load: Missing required mapping field: K",
 * "Load: Expecting MAPPING, got event: SEQUENCE_START" and "Load: Invalid
 * INT value: 'abc'"; entries count from 1.  For a missing field the
 * innermost line is the mapping itself, still naming the last field it
 * read ("in mapping field 'type'"), which is not the one at fault.
 *
 * cyerr_log collects those lines; cyerr_finish turns them into the path
 * of the node at fault in yamlpos's form ("listeners[1]") and a reason in
 * ferry's words.  The line and column libcyaml prints are those of the
 * last event it read, often not the node at fault, so they are not used:
 * the caller looks the path up in yamlpos instead. */
#ifndef FERRY_CYERR_H
#define FERRY_CYERR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <cyaml/cyaml.h>

#include "conf/yamlpos.h"

#define CYERR_STEPS 16
#define CYERR_NAME 64

enum cyerr_kind {
    CYERR_NONE,        /* nothing logged */
    CYERR_UNKNOWN_KEY, /* arg: the key; path: its mapping */
    CYERR_MISSING_KEY, /* arg: the key; path: its mapping */
    CYERR_WRONG_KIND,  /* expected, got; path: the node */
    CYERR_BAD_NUMBER,  /* arg: the text; path: the node */
    CYERR_OTHER,       /* arg: libcyaml's words; path: the node */
};

enum cyerr_step_kind { CYERR_FIELD, CYERR_ENTRY, CYERR_MAPPING };

struct cyerr_step {
    enum cyerr_step_kind kind;
    char name[CYERR_NAME]; /* CYERR_FIELD: the key */
    unsigned long index;   /* CYERR_ENTRY: 0-based */
};

struct cyerr {
    enum cyerr_kind kind;
    char arg[128];
    char expected[24]; /* CYERR_WRONG_KIND: "MAPPING", "STRING", ... */
    char got[24];      /* an event: "SCALAR", "SEQUENCE_START", ... */
    char path[256];    /* set by cyerr_finish */
    char why[448];     /* set by cyerr_finish: the reason, no position */
    struct cyerr_step steps[CYERR_STEPS]; /* innermost first */
    int n_steps;
    bool lost; /* more steps than fit: the path is unknown */
};

void cyerr_init(struct cyerr *e);
/* A cyaml_log_fn_t; ctx is the struct cyerr.  Keeps only the first error
 * and its backtrace, and prints nothing. */
void cyerr_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args);
/* Once the load has returned rc, set e->path and e->why.  schema is the
 * top-level schema loaded (to list the keys a mapping takes), pos the
 * index of the same text (to say what a node was).  The error belongs at
 * the node at e->path, or for CYERR_UNKNOWN_KEY at the key e->arg of the
 * mapping at e->path. */
void cyerr_finish(struct cyerr *e, cyaml_err_t rc,
                  const cyaml_schema_value_t *schema,
                  const struct yamlpos *pos);

#endif
