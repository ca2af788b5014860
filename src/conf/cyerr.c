/* cyerr: reads libcyaml's error log (see cyerr.h for the exact lines it
 * relies on) so that conf.c can place and reword a load error. */
#include "conf/cyerr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRACE_FIELD "  in mapping field"
#define TRACE_ENTRY "  in sequence entry"
#define TRACE_MAPPING "  in mapping"

void cyerr_init(struct cyerr *e)
{
    memset(e, 0, sizeof(*e));
}

static void copy_until(char *dst, size_t cap, const char *s,
                       const char *stop)
{
    size_t n = strcspn(s, stop);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* The value after a trace prefix: "'name' (line: ..." or ": name". */
static void trace_value(char *dst, size_t cap, const char *s)
{
    s += strspn(s, " ");
    if (*s == '\'') {
        const char *end = strstr(s + 1, "' (");
        size_t n = end ? (size_t)(end - s - 1) : strlen(s + 1);
        if (n >= cap)
            n = cap - 1;
        memcpy(dst, s + 1, n);
        dst[n] = '\0';
    } else {
        copy_until(dst, cap, s + strspn(s, ": "), "");
    }
}

static void add_step(struct cyerr *e, const char *line)
{
    struct cyerr_step *st;
    if (e->n_steps == CYERR_STEPS) {
        e->lost = true;
        return;
    }
    st = &e->steps[e->n_steps];
    memset(st, 0, sizeof(*st));
    if (strncmp(line, TRACE_FIELD, strlen(TRACE_FIELD)) == 0) {
        st->kind = CYERR_FIELD;
        trace_value(st->name, sizeof(st->name), line + strlen(TRACE_FIELD));
    } else if (strncmp(line, TRACE_ENTRY, strlen(TRACE_ENTRY)) == 0) {
        char num[24];
        trace_value(num, sizeof(num), line + strlen(TRACE_ENTRY));
        st->kind = CYERR_ENTRY;
        st->index = strtoul(num, NULL, 10);
        if (st->index > 0)
            st->index--; /* libcyaml counts entries from 1 */
    } else if (strncmp(line, TRACE_MAPPING, strlen(TRACE_MAPPING)) == 0) {
        st->kind = CYERR_MAPPING;
    } else {
        return; /* a state that is not part of the path */
    }
    e->n_steps++;
}

static bool take_arg(struct cyerr *e, const char *msg, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(msg, prefix, n) != 0)
        return false;
    copy_until(e->arg, sizeof(e->arg), msg + n, "");
    return true;
}

/* The first error line: sort it into a kind. */
static void classify(struct cyerr *e, const char *msg)
{
    if (strncmp(msg, "Load: ", 6) == 0)
        msg += 6;
    if (take_arg(e, msg, "Unexpected key: ")) {
        e->kind = CYERR_UNKNOWN_KEY;
    } else if (take_arg(e, msg, "Missing required mapping field: ")) {
        e->kind = CYERR_MISSING_KEY;
    } else if (sscanf(msg, "Expecting %23[A-Z_], got event: %23[A-Z_]",
                      e->expected, e->got) == 2) {
        e->kind = CYERR_WRONG_KIND;
    } else if (take_arg(e, msg, "Invalid INT value: '") ||
               take_arg(e, msg, "Invalid UINT value: '")) {
        size_t n = strlen(e->arg);
        if (n > 0 && e->arg[n - 1] == '\'')
            e->arg[n - 1] = '\0';
        e->kind = CYERR_BAD_NUMBER;
    } else {
        copy_until(e->arg, sizeof(e->arg), msg, "");
        e->kind = CYERR_OTHER;
    }
}

static void on_line(struct cyerr *e, const char *line)
{
    if (strncmp(line, "  in ", 5) == 0) {
        if (e->kind != CYERR_NONE)
            add_step(e, line);
    } else if (strcmp(line, "Load: Backtrace:") == 0) {
        return;
    } else if (e->kind == CYERR_NONE && *line) {
        classify(e, line); /* later error lines add nothing to place */
    }
}

void cyerr_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
    struct cyerr *e = ctx;
    char buf[512];
    char *line, *save = NULL;
    if (level < CYAML_LOG_ERROR)
        return;
    vsnprintf(buf, sizeof(buf), fmt, args);
    for (line = strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        on_line(e, line);
}

static void append(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void append(char *out, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(out);
    va_list ap;
    if (n >= cap - 1)
        return;
    va_start(ap, fmt);
    vsnprintf(out + n, cap - n, fmt, ap);
    va_end(ap);
}

static void make_path(struct cyerr *e)
{
    int inner = 0;
    e->path[0] = '\0';
    if (e->lost)
        return; /* the root: at least a position, if not the best one */
    /* For a missing key the innermost state is the mapping itself, still
     * naming the last field it read: that field is not at fault. */
    if (e->kind == CYERR_MISSING_KEY && e->n_steps > 0 &&
        e->steps[0].kind == CYERR_FIELD)
        inner = 1;
    for (int i = e->n_steps - 1; i >= inner; i--) {
        const struct cyerr_step *st = &e->steps[i];
        if (st->kind == CYERR_FIELD)
            append(e->path, sizeof(e->path), "%s%s", *e->path ? "." : "",
                   st->name);
        else if (st->kind == CYERR_ENTRY)
            append(e->path, sizeof(e->path), "[%lu]", st->index);
    }
}

/* "in listener" for "listeners[2]", "in timeouts", "at the top level". */
static void where(const char *path, char *out, size_t cap)
{
    const char *last = strrchr(path, '.');
    size_t n;
    last = last ? last + 1 : path;
    if (*last == '\0') {
        snprintf(out, cap, "at the top level");
        return;
    }
    n = strcspn(last, "[");
    if (last[n] == '[' && n > 4 && strncmp(last + n - 4, "sses", 4) == 0)
        n -= 2; /* an entry of "egresses" is an egress */
    else if (last[n] == '[' && n > 1 && last[n - 1] == 's')
        n--; /* and one of "listeners" a listener */
    snprintf(out, cap, "in %.*s", (int)n, last);
}

/* The schema of the node at path. */
static const cyaml_schema_value_t *schema_at(const cyaml_schema_value_t *v,
                                             const char *path)
{
    while (*path && v) {
        if (*path == '[') {
            path = strchr(path, ']');
            if (!path || v->type != CYAML_SEQUENCE)
                return NULL;
            v = v->sequence.entry;
            path++;
            continue;
        }
        if (*path == '.')
            path++;
        size_t n = strcspn(path, ".[");
        const cyaml_schema_field_t *f;
        if (v->type != CYAML_MAPPING)
            return NULL;
        for (f = v->mapping.fields; f->key; f++)
            if (strlen(f->key) == n && memcmp(f->key, path, n) == 0)
                break;
        v = f->key ? &f->value : NULL;
        path += n;
    }
    return v;
}

/* " (expected one of: a, b)" for the mapping at path, or "". */
static void known_keys(const cyaml_schema_value_t *schema, const char *path,
                       char *out, size_t cap)
{
    const cyaml_schema_value_t *v = schema_at(schema, path);
    out[0] = '\0';
    if (!v || v->type != CYAML_MAPPING)
        return;
    for (const cyaml_schema_field_t *f = v->mapping.fields; f->key; f++)
        append(out, cap, "%s%s", f == v->mapping.fields
                                     ? " (expected one of: " : ", ", f->key);
    append(out, cap, ")");
}

static const char *expected_words(const char *type)
{
    if (strcmp(type, "MAPPING") == 0)
        return "a mapping (key: value lines)";
    if (strncmp(type, "SEQUENCE", 8) == 0)
        return "a list";
    return "a single value";
}

/* What the node really is, in the same words. */
static const char *got_words(const struct cyerr *e, const struct yamlpos *pos)
{
    struct yamlpos_node nd;
    if (yamlpos_find(pos, e->path, NULL, &nd)) {
        if (nd.kind == YAMLPOS_MAPPING)
            return "a mapping";
        if (nd.kind == YAMLPOS_SEQUENCE)
            return "a list";
        return nd.empty ? "empty" : "a single value";
    }
    if (strcmp(e->got, "MAPPING_START") == 0)
        return "a mapping";
    return strcmp(e->got, "SEQUENCE_START") == 0 ? "a list"
                                                  : "a single value";
}

void cyerr_finish(struct cyerr *e, cyaml_err_t rc,
                  const cyaml_schema_value_t *schema,
                  const struct yamlpos *pos)
{
    char in[96], keys[256];
    const char *what;
    make_path(e);
    what = e->path[0] ? e->path : "the top level";
    where(e->path, in, sizeof(in));
    switch (e->kind) {
    case CYERR_UNKNOWN_KEY:
        known_keys(schema, e->path, keys, sizeof(keys));
        snprintf(e->why, sizeof(e->why), "unknown key \"%.60s\" %s%s",
                 e->arg, in, keys);
        break;
    case CYERR_MISSING_KEY:
        snprintf(e->why, sizeof(e->why), "missing key \"%.60s\" %s", e->arg,
                 in);
        break;
    case CYERR_WRONG_KIND:
        snprintf(e->why, sizeof(e->why), "%s must be %s, not %s", what,
                 expected_words(e->expected), got_words(e, pos));
        break;
    case CYERR_BAD_NUMBER:
        snprintf(e->why, sizeof(e->why), "invalid number \"%.60s\" for %s",
                 e->arg, what);
        break;
    case CYERR_OTHER:
        snprintf(e->why, sizeof(e->why), "%s", e->arg);
        break;
    case CYERR_NONE:
        snprintf(e->why, sizeof(e->why), "%s", cyaml_strerror(rc));
        break;
    }
}
