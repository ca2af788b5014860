/* http1fwd: see http1fwd.h. */
#include "proto/http1fwd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- field lists ---- */

static bool slice_is(struct http1_slice s, const char *lit)
{
    return s.len == strlen(lit) && strncasecmp(s.p, lit, s.len) == 0;
}

/* Call fn on each comma-separated token of v (OWS trimmed); stops and
 * returns true when fn does. */
static bool each_token(struct http1_slice v,
                       bool (*fn)(struct http1_slice, void *), void *ud)
{
    size_t i = 0;
    while (i <= v.len) {
        size_t j = i;
        while (j < v.len && v.p[j] != ',')
            j++;
        struct http1_slice t = {v.p + i, j - i};
        while (t.len && (*t.p == ' ' || *t.p == '\t'))
            t.p++, t.len--;
        while (t.len && (t.p[t.len - 1] == ' ' || t.p[t.len - 1] == '\t'))
            t.len--;
        if (t.len && fn(t, ud))
            return true;
        i = j + 1;
    }
    return false;
}

static bool token_eq(struct http1_slice t, void *ud)
{
    return slice_is(t, ud);
}

static bool token_named(struct http1_slice t, void *ud)
{
    const struct http1_slice *name = ud;
    return t.len == name->len && strncasecmp(t.p, name->p, t.len) == 0;
}

bool http1fwd_field_has(const struct http1_header *hs, size_t n,
                        const char *field, const char *tok)
{
    for (size_t i = 0; i < n; i++)
        if (slice_is(hs[i].name, field) &&
            each_token(hs[i].value, token_eq, (void *)tok))
            return true;
    return false;
}

/* Does any Connection field list token tok? */
static bool connection_has(const struct http1_header *hs, size_t n,
                           const char *tok)
{
    return http1fwd_field_has(hs, n, "Connection", tok);
}

static size_t count(const struct http1_header *hs, size_t n,
                    const char *name, const struct http1_header **first)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (slice_is(hs[i].name, name) && c++ == 0 && first)
            *first = &hs[i];
    return c;
}

/* Hop-by-hop: fixed names plus those the Connection fields list. */
static bool hop_by_hop(const struct http1_header *hs, size_t n,
                       struct http1_slice name, bool keep_upgrade)
{
    static const char *const fixed[] = {
        "Connection", "Proxy-Connection", "Keep-Alive",
        "TE",         "Trailer",          "Proxy-Authorization",
        "Proxy-Authenticate", "Upgrade",
    };
    if (keep_upgrade && slice_is(name, "Upgrade"))
        return false;
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (slice_is(name, fixed[i]))
            return true;
    for (size_t i = 0; i < n; i++)
        if (slice_is(hs[i].name, "Connection") &&
            each_token(hs[i].value, token_named, &name))
            return true;
    return false;
}

/* ---- request checks ---- */

static enum result parse_uri(struct http1_slice u,
                             struct http1fwd_request *r, const char **why)
{
    if (u.len < 7 || strncasecmp(u.p, "http://", 7) != 0) {
        *why = u.len && u.p[0] == '/' ? "origin-form target (not a proxy "
                                        "request)"
                                      : "only http:// URIs are forwarded";
        return RESULT_BAD_REQUEST;
    }
    const char *a = u.p + 7, *end = u.p + u.len;
    const char *slash = a;
    while (slash < end && *slash != '/' && *slash != '?' && *slash != '#')
        slash++;
    r->authority = (struct http1_slice){a, (size_t)(slash - a)};
    if (memchr(a, '@', r->authority.len)) {
        *why = "userinfo in URI";
        return RESULT_BAD_REQUEST;
    }
    if (target_parse(&r->origin, a, r->authority.len, 80) < 0) {
        *why = "bad host in URI";
        return RESULT_BAD_REQUEST;
    }
    const char *hash = memchr(slash, '#', (size_t)(end - slash));
    r->path = (struct http1_slice){slash, (size_t)((hash ? hash : end) -
                                                   slash)};
    return RESULT_OK;
}

static bool known_coding(struct http1_slice t, void *ud)
{
    static const char *const known[] = {"chunked", "gzip", "x-gzip",
                                        "deflate", "compress",
                                        "x-compress"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (slice_is(t, known[i]))
            return false;
    return true; /* stop: unknown */
}

static bool last_token(struct http1_slice t, void *ud)
{
    *(struct http1_slice *)ud = t;
    return false;
}

static enum result check_framing(const struct http1_request_head *h,
                                 struct http1fwd_request *r,
                                 const char **why)
{
    const struct http1_header *cl = NULL, *te = NULL;
    size_t ncl = count(h->headers, h->nheaders, "Content-Length", &cl);
    size_t nte = count(h->headers, h->nheaders, "Transfer-Encoding", &te);
    if (ncl && nte)
        return *why = "Content-Length with Transfer-Encoding",
               RESULT_BAD_REQUEST;
    if (ncl > 1)
        return *why = "repeated Content-Length", RESULT_BAD_REQUEST;
    if (nte > 1)
        return *why = "repeated Transfer-Encoding", RESULT_BAD_REQUEST;
    if (te) {
        struct http1_slice last = {0};
        if (h->minor == 0)
            return *why = "Transfer-Encoding in HTTP/1.0",
                   RESULT_BAD_REQUEST;
        if (each_token(te->value, known_coding, NULL))
            return *why = "unknown transfer coding",
                   RESULT_NOT_IMPLEMENTED;
        each_token(te->value, last_token, &last);
        if (!slice_is(last, "chunked"))
            return *why = "final transfer coding is not chunked",
                   RESULT_BAD_REQUEST;
        r->chunked = true;
        return RESULT_OK;
    }
    if (cl) {
        uint64_t v = 0;
        if (cl->value.len == 0 || cl->value.len > 15)
            return *why = "bad Content-Length", RESULT_BAD_REQUEST;
        for (size_t i = 0; i < cl->value.len; i++) {
            char c = cl->value.p[i];
            if (c < '0' || c > '9')
                return *why = "bad Content-Length", RESULT_BAD_REQUEST;
            v = v * 10 + (uint64_t)(c - '0');
        }
        r->content_length = v;
    }
    return RESULT_OK;
}

static bool method_is(const struct http1_request_head *h, const char *m)
{
    return h->method.len == strlen(m) && memcmp(h->method.p, m,
                                                h->method.len) == 0;
}

/* Max-Forwards = 1*DIGIT; anything else is ignored (-1).  Large values
 * are capped: only "0 or more" matters to a proxy. */
static int parse_max_forwards(struct http1_slice v)
{
    int n = 0;
    if (v.len == 0)
        return -1;
    for (size_t i = 0; i < v.len; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return -1;
        if (n < 1000000)
            n = n * 10 + (v.p[i] - '0');
    }
    return n;
}

static void note_semantics(const struct http1_request_head *h,
                           struct http1fwd_request *r)
{
    static const char *const idem[] = {"GET", "HEAD", "OPTIONS", "TRACE",
                                       "PUT", "DELETE"};
    const struct http1_header *x = NULL;
    for (size_t i = 0; i < sizeof(idem) / sizeof(idem[0]); i++)
        r->idempotent |= method_is(h, idem[i]);
    r->is_head = method_is(h, "HEAD");
    r->expect_continue = count(h->headers, h->nheaders, "Expect", &x) &&
                         slice_is(x->value, "100-continue");
    r->upgrade = connection_has(h->headers, h->nheaders, "upgrade") &&
                 count(h->headers, h->nheaders, "Upgrade", NULL) == 1;
    r->keep_alive =
        h->minor >= 1 ? !connection_has(h->headers, h->nheaders, "close")
                      : connection_has(h->headers, h->nheaders,
                                       "keep-alive");
    r->max_forwards = -1;
    if ((method_is(h, "OPTIONS") || method_is(h, "TRACE")) &&
        count(h->headers, h->nheaders, "Max-Forwards", &x) == 1)
        r->max_forwards = parse_max_forwards(x->value);
}

enum result http1fwd_check_request(const struct http1_request_head *h,
                                   struct http1fwd_request *out,
                                   const char **why)
{
    memset(out, 0, sizeof(*out));
    *why = "";
    enum result r = parse_uri(h->target, out, why);
    if (r != RESULT_OK)
        return r;
    size_t nhost = count(h->headers, h->nheaders, "Host", NULL);
    if (nhost > 1 || (nhost == 0 && h->minor >= 1))
        return *why = nhost ? "repeated Host" : "missing Host",
               RESULT_BAD_REQUEST;
    r = check_framing(h, out, why);
    if (r == RESULT_OK)
        note_semantics(h, out);
    return r;
}

/* ---- head writers ---- */

struct out {
    char *p;
    size_t cap, len;
    bool over;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->over || o->len + n > o->cap) {
        o->over = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void puts_(struct out *o, const char *s) { put(o, s, strlen(s)); }

static void put_field(struct out *o, struct http1_slice name,
                      struct http1_slice value)
{
    put(o, name.p, name.len);
    put(o, ": ", 2);
    put(o, value.p, value.len);
    put(o, "\r\n", 2);
}

static void put_fields(struct out *o, const struct http1_header *hs,
                       size_t n, bool keep_upgrade, bool drop_host,
                       const char *max_forwards)
{
    for (size_t i = 0; i < n; i++) {
        if (hop_by_hop(hs, n, hs[i].name, keep_upgrade) ||
            (drop_host && slice_is(hs[i].name, "Host")))
            continue;
        if (max_forwards && slice_is(hs[i].name, "Max-Forwards")) {
            puts_(o, "Max-Forwards: ");
            puts_(o, max_forwards);
            puts_(o, "\r\n");
            continue;
        }
        put_field(o, hs[i].name, hs[i].value);
    }
}

/* RFC 9110 §7.6.3: Via names the protocol the message was received
 * with (1.0 or 1.1: the parser takes no other).  Written by hand, like
 * the status line: every exchange writes both, and snprintf showed in
 * profiles. */
static void put_via(struct out *o, int major, int minor)
{
    char version[] = {(char)('0' + major % 10), '.',
                      (char)('0' + minor % 10), ' '};
    puts_(o, "Via: ");
    put(o, version, sizeof(version));
    puts_(o, HTTP1FWD_VIA_NAME "\r\n");
}

static int finish(struct out *o)
{
    put(o, "\r\n", 2);
    return o->over ? -ENOSPC : (int)o->len;
}

int http1fwd_request_head(const struct http1_request_head *h,
                          const struct http1fwd_request *r, bool to_proxy,
                          const char *proxy_auth, char *buf, size_t cap)
{
    struct out o = {buf, cap, 0, false};
    char mf[16];
    put(&o, h->method.p, h->method.len);
    put(&o, " ", 1);
    if (to_proxy)
        put(&o, h->target.p, h->target.len);
    else if (r->path.len && r->path.p[0] == '/')
        put(&o, r->path.p, r->path.len);
    else if (r->path.len) { /* "http://host?q" -> "/?q" */
        put(&o, "/", 1);
        put(&o, r->path.p, r->path.len);
    } else
        puts_(&o, method_is(h, "OPTIONS") ? "*" : "/");
    puts_(&o, h->minor == 0 ? " HTTP/1.0\r\nHost: " : " HTTP/1.1\r\nHost: ");
    put(&o, r->authority.p, r->authority.len);
    puts_(&o, "\r\n");
    if (r->max_forwards > 0)
        snprintf(mf, sizeof(mf), "%d", r->max_forwards - 1);
    put_fields(&o, h->headers, h->nheaders, r->upgrade, true,
               r->max_forwards > 0 ? mf : NULL);
    if (r->upgrade)
        puts_(&o, "Connection: Upgrade\r\n");
    else if (h->minor == 0 && r->keep_alive)
        puts_(&o, "Connection: keep-alive\r\n");
    if (to_proxy && proxy_auth) {
        puts_(&o, "Proxy-Authorization: ");
        puts_(&o, proxy_auth);
        puts_(&o, "\r\n");
    }
    put_via(&o, h->major, h->minor);
    return finish(&o);
}

int http1fwd_response_head(const struct http1_response_head *h, bool close,
                           char *buf, size_t cap)
{
    struct out o = {buf, cap, 0, false};
    char status[] = {(char)('0' + h->status / 100 % 10),
                     (char)('0' + h->status / 10 % 10),
                     (char)('0' + h->status % 10), ' '}; /* 100..999 */
    puts_(&o, "HTTP/1.1 ");
    put(&o, status, sizeof(status));
    put(&o, h->reason.p, h->reason.len);
    puts_(&o, "\r\n");
    put_fields(&o, h->headers, h->nheaders, h->status == 101, false, NULL);
    if (h->status == 101)
        puts_(&o, "Connection: Upgrade\r\n");
    else if (close)
        puts_(&o, "Connection: close\r\n");
    put_via(&o, h->major, h->minor);
    return finish(&o);
}

bool http1fwd_response_closes(const struct http1_response_head *h)
{
    if (h->minor == 0)
        return !connection_has(h->headers, h->nheaders, "keep-alive");
    return connection_has(h->headers, h->nheaders, "close");
}
