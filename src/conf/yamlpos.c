/* yamlpos: the position index conf.c uses to place its errors.  It is
 * built from libyaml events before libcyaml loads the same text, and is
 * thrown away once the snapshot is built. */
#include "conf/yamlpos.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct ynode {
    size_t id;         /* index in nodes[], so document order */
    long parent;       /* -1 for the root */
    unsigned long seq; /* index in a parent sequence */
    char *key;         /* key in a parent mapping; NULL in a sequence */
    struct yamlpos_node info;
};

struct yamlpos {
    struct ynode *nodes;
    size_t n, cap;
    struct ynode **sorted; /* by (parent, key or seq), for bsearch */
};

/* An open collection during the walk. */
struct frame {
    long node;
    bool map;
    bool want_key; /* in a mapping, the next scalar is a key */
    char *key;     /* owned: the key read, waiting for its value */
    struct yamlpos_mark key_at;
    unsigned long next_seq;
};

struct walk {
    struct yamlpos *p;
    struct frame stack[YAMLPOS_DEPTH];
    int depth;
    int docs;
    struct yamlpos_mark *at;
    char *why;
    size_t whylen;
};

/* What bsearch looks for: a child of parent, by key or by index. */
struct probe {
    long parent;
    const char *key; /* NULL: look for seq */
    size_t keylen;
    unsigned long seq;
};

static struct yamlpos_mark mark_of(yaml_mark_t m)
{
    struct yamlpos_mark r = {m.line + 1, m.column + 1};
    return r;
}

static int reject(struct walk *w, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int reject(struct walk *w, yaml_mark_t m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->why, w->whylen, fmt, ap);
    va_end(ap);
    *w->at = mark_of(m);
    return -EINVAL;
}

/* YAML's spellings of null; a key with one of these has no value. */
static bool scalar_empty(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    return n == 0 || (n == 1 && v[0] == '~') ||
           (n == 4 && (memcmp(v, "null", 4) == 0 ||
                       memcmp(v, "Null", 4) == 0 ||
                       memcmp(v, "NULL", 4) == 0));
}

static int add_node(struct walk *w, const yaml_event_t *ev,
                    enum yamlpos_kind kind)
{
    struct yamlpos *p = w->p;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct ynode *nodes = realloc(p->nodes, cap * sizeof(*nodes));
        if (!nodes)
            return -ENOMEM;
        p->nodes = nodes;
        p->cap = cap;
    }
    struct ynode *nd = &p->nodes[p->n];
    struct frame *f = w->depth > 0 ? &w->stack[w->depth - 1] : NULL;
    memset(nd, 0, sizeof(*nd));
    nd->id = p->n++;
    nd->parent = f ? f->node : -1;
    nd->info.at = mark_of(ev->start_mark);
    nd->info.key_at = nd->info.at;
    nd->info.kind = kind;
    nd->info.empty = kind == YAMLPOS_SCALAR && scalar_empty(ev);
    if (f && f->map) {
        nd->key = f->key; /* the node takes the pending key */
        nd->info.key_at = f->key_at;
        f->key = NULL;
        f->want_key = true;
    } else if (f) {
        nd->seq = f->next_seq++;
    }
    return 0;
}

static bool wants_key(const struct walk *w)
{
    return w->depth > 0 && w->stack[w->depth - 1].want_key;
}

static int on_scalar(struct walk *w, const yaml_event_t *ev)
{
    if (!wants_key(w))
        return add_node(w, ev, YAMLPOS_SCALAR);
    struct frame *f = &w->stack[w->depth - 1];
    f->key = strndup((const char *)ev->data.scalar.value,
                     ev->data.scalar.length);
    if (!f->key)
        return -ENOMEM;
    f->key_at = mark_of(ev->start_mark);
    f->want_key = false;
    return 0;
}

static int on_start(struct walk *w, const yaml_event_t *ev, bool map)
{
    if (wants_key(w))
        return reject(w, ev->start_mark,
                      "a key must be a plain value, not a %s",
                      map ? "mapping" : "list");
    if (w->depth == YAMLPOS_DEPTH)
        return reject(w, ev->start_mark, "nested deeper than %d levels",
                      YAMLPOS_DEPTH);
    int rc = add_node(w, ev, map ? YAMLPOS_MAPPING : YAMLPOS_SEQUENCE);
    if (rc < 0)
        return rc;
    struct frame *f = &w->stack[w->depth++];
    memset(f, 0, sizeof(*f));
    f->node = (long)w->p->n - 1;
    f->map = map;
    f->want_key = map;
    return 0;
}

static int on_event(struct walk *w, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        /* libcyaml would read the first document and skip the rest */
        if (++w->docs > 1)
            return reject(w, ev->start_mark,
                          "only one YAML document is allowed");
        return 0;
    case YAML_ALIAS_EVENT:
        return reject(w, ev->start_mark,
                      "aliases (*%.40s) are not supported",
                      (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        return on_scalar(w, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(w, ev, false);
    case YAML_MAPPING_START_EVENT:
        return on_start(w, ev, true);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        w->depth--;
        return 0;
    default:
        return 0;
    }
}

/* The reader reports a byte offset, not a mark. */
static yaml_mark_t mark_at_offset(const char *buf, size_t len, size_t off)
{
    yaml_mark_t m = {0};
    for (size_t i = 0; i < off && i < len; i++) {
        if (buf[i] == '\n') {
            m.line++;
            m.column = 0;
        } else {
            m.column++;
        }
    }
    return m;
}

static int parse_error(struct walk *w, const yaml_parser_t *ps,
                       const char *buf, size_t len)
{
    const char *problem = ps->problem ? ps->problem : "unknown error";
    if (ps->error == YAML_MEMORY_ERROR)
        return -ENOMEM;
    if (ps->error == YAML_READER_ERROR)
        return reject(w, mark_at_offset(buf, len, ps->problem_offset),
                      "invalid text: %s", problem);
    if (ps->context)
        return reject(w, ps->problem_mark,
                      "YAML syntax error: %s (%s at %lu:%lu)", problem,
                      ps->context, (unsigned long)ps->context_mark.line + 1,
                      (unsigned long)ps->context_mark.column + 1);
    return reject(w, ps->problem_mark, "YAML syntax error: %s", problem);
}

static int walk_text(struct walk *w, const char *buf, size_t len)
{
    yaml_parser_t ps;
    yaml_event_t ev;
    int rc = 0;
    bool done = false;
    if (!yaml_parser_initialize(&ps))
        return -ENOMEM;
    yaml_parser_set_input_string(&ps, (const unsigned char *)buf, len);
    while (rc == 0 && !done) {
        if (!yaml_parser_parse(&ps, &ev)) {
            rc = parse_error(w, &ps, buf, len);
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = on_event(w, &ev);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&ps);
    for (int i = 0; i < w->depth; i++) /* left open by an error */
        free(w->stack[i].key);
    return rc;
}

static int cmp_probe(const void *pv, const void *nv)
{
    const struct probe *q = pv;
    const struct ynode *y = *(struct ynode *const *)nv;
    if (q->parent != y->parent)
        return q->parent < y->parent ? -1 : 1;
    /* a parent's children are all keyed or all indexed */
    if (!q->key || !y->key) {
        if (q->key || y->key)
            return q->key ? 1 : -1;
        return q->seq < y->seq ? -1 : q->seq > y->seq;
    }
    int c = strncmp(q->key, y->key, q->keylen);
    if (c != 0)
        return c;
    return y->key[q->keylen] ? -1 : 0;
}

static int cmp_nodes(const void *av, const void *bv)
{
    const struct ynode *a = *(struct ynode *const *)av;
    const struct ynode *b = *(struct ynode *const *)bv;
    struct probe q = {a->parent, a->key, a->key ? strlen(a->key) : 0,
                      a->seq};
    int c = cmp_probe(&q, bv);
    if (c != 0)
        return c;
    return a->id < b->id ? -1 : a->id > b->id; /* first written first */
}

/* Sort for lookups; two equal neighbours are a duplicate key, and the
 * one reported is the earliest second occurrence in the text. */
static int sort_nodes(struct walk *w)
{
    struct yamlpos *p = w->p;
    const struct ynode *dup = NULL, *first = NULL;
    p->sorted = malloc((p->n ? p->n : 1) * sizeof(*p->sorted));
    if (!p->sorted)
        return -ENOMEM;
    for (size_t i = 0; i < p->n; i++)
        p->sorted[i] = &p->nodes[i];
    qsort(p->sorted, p->n, sizeof(*p->sorted), cmp_nodes);
    for (size_t i = 1; i < p->n; i++) {
        const struct ynode *a = p->sorted[i - 1], *b = p->sorted[i];
        if (a->parent != b->parent || !a->key || !b->key ||
            strcmp(a->key, b->key) != 0)
            continue;
        if (!dup || b->id < dup->id) {
            dup = b;
            first = a;
        }
    }
    if (!dup)
        return 0;
    *w->at = dup->info.key_at;
    snprintf(w->why, w->whylen, "duplicate key \"%.60s\" (first at %lu:%lu)",
             dup->key, first->info.key_at.line, first->info.key_at.col);
    return -EINVAL;
}

int yamlpos_scan(const char *buf, size_t len, struct yamlpos **out,
                 struct yamlpos_mark *at, char *why, size_t whylen)
{
    struct walk w = {.at = at, .why = why, .whylen = whylen};
    *out = NULL;
    w.p = calloc(1, sizeof(*w.p));
    if (!w.p)
        return -ENOMEM;
    int rc = walk_text(&w, buf, len);
    if (rc == 0)
        rc = sort_nodes(&w);
    if (rc < 0) {
        yamlpos_free(w.p);
        return rc;
    }
    *out = w.p;
    return 0;
}

void yamlpos_free(struct yamlpos *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->nodes[i].key);
    free(p->nodes);
    free(p->sorted);
    free(p);
}

static long child(const struct yamlpos *p, long parent, const char *key,
                  size_t keylen, unsigned long seq)
{
    struct probe q = {parent, key, keylen, seq};
    struct ynode **hit =
        bsearch(&q, p->sorted, p->n, sizeof(*p->sorted), cmp_probe);
    return hit ? (long)(*hit)->id : -1;
}

/* One path step from *s: ".name", "name" or "[index]"; -1 if missing. */
static long step(const struct yamlpos *p, long cur, const char **s)
{
    if (**s == '[') {
        char *end;
        unsigned long i = strtoul(*s + 1, &end, 10);
        if (end == *s + 1 || *end != ']')
            return -1;
        *s = end + 1;
        return child(p, cur, NULL, 0, i);
    }
    if (**s == '.')
        (*s)++;
    size_t n = strcspn(*s, ".[");
    const char *name = *s;
    *s += n;
    return child(p, cur, name, n, 0);
}

bool yamlpos_find(const struct yamlpos *p, const char *path,
                  const char *key, struct yamlpos_node *out)
{
    memset(out, 0, sizeof(*out));
    if (p->n == 0)
        return false;
    long cur = 0, next = 0; /* the root is the first node */
    while (*path && next >= 0) {
        next = step(p, cur, &path);
        if (next >= 0)
            cur = next;
    }
    if (next >= 0 && key) {
        next = child(p, cur, key, strlen(key), 0);
        if (next >= 0)
            cur = next;
    }
    *out = p->nodes[cur].info;
    return next >= 0;
}
