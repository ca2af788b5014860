/* http1: HTTP/1.x request heads, parsed by llhttp (sans I/O).
 *
 * The HTTP front end (and later the HTTP parent egress) call
 * http1_parse_request_head() on everything read so far; llhttp is paused
 * at the end of the head so body or tunnel bytes are never touched.  llhttp
 * is built without LLHTTP_STRICT_MODE, so the checks its loose mode skips
 * (bare LF, obs-fold, whitespace before ':', non-ASCII targets, versions)
 * are redone here on the finished head: a proxy that reads a head
 * differently from the server behind it invites request smuggling.
 *
 * Also the helpers both sides share: authority-form targets, Basic
 * credentials and short error responses. */
#include "proto/http1.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <llhttp.h>
#include <openssl/evp.h>

/* Parser state behind llhttp's data pointer, alive for one call.  One of
 * req/resp is set; headers and nheaders point into it. */
struct parse {
    struct http1_request_head *req;
    struct http1_response_head *resp;
    struct http1_header *headers;
    size_t *nheaders;
    int err; /* the errno behind HPE_USER */
    bool in_field, in_value, done;
};

static struct parse *state(llhttp_t *p) { return p->data; }

static int fail(llhttp_t *p, int err)
{
    state(p)->err = err;
    return HPE_USER;
}

/* llhttp hands a span over in pieces only across buffer ends, and then
 * they touch; a gap means something (obs-fold) was skipped inside it. */
static int extend(llhttp_t *p, struct http1_slice *s, const char *at,
                  size_t n)
{
    if (s->p && s->p + s->len != at)
        return fail(p, -EBADMSG);
    if (!s->p)
        s->p = at;
    s->len += n;
    return 0;
}

static int on_method(llhttp_t *p, const char *at, size_t n)
{
    return extend(p, &state(p)->req->method, at, n);
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    return extend(p, &state(p)->req->target, at, n);
}

static int on_status(llhttp_t *p, const char *at, size_t n)
{
    return extend(p, &state(p)->resp->reason, at, n);
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    struct parse *c = state(p);
    if (c->in_field)
        return extend(p, &c->headers[*c->nheaders - 1].name, at, n);
    if (*c->nheaders == HTTP1_MAX_HEADERS)
        return fail(p, -E2BIG);
    struct http1_header *f = &c->headers[(*c->nheaders)++];
    f->name = (struct http1_slice){at, n};
    f->value = (struct http1_slice){at + n, 0}; /* if no value comes */
    c->in_field = true;
    return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    state(p)->in_field = false;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    struct parse *c = state(p);
    struct http1_header *f = &c->headers[*c->nheaders - 1];
    if (c->in_value)
        return extend(p, &f->value, at, n);
    f->value = (struct http1_slice){at, n};
    c->in_value = true;
    return 0;
}

static bool is_ows(char ch) { return ch == ' ' || ch == '\t'; }

static int on_header_value_complete(llhttp_t *p)
{
    struct parse *c = state(p);
    struct http1_slice *v = &c->headers[*c->nheaders - 1].value;
    while (v->len > 0 && is_ows(v->p[0])) {
        v->p++;
        v->len--;
    }
    while (v->len > 0 && is_ows(v->p[v->len - 1]))
        v->len--;
    c->in_value = false;
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    state(p)->done = true;
    return HPE_PAUSED; /* stop before any body: the caller owns it */
}

static const llhttp_settings_t settings = {
    .on_method = on_method,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_status = on_status,
};

/* RFC 9110 tchar: what a method or a field name may hold. */
static bool is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
        (ch >= '0' && ch <= '9'))
        return true;
    return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static bool is_token(const struct http1_slice *s)
{
    if (s->len == 0)
        return false;
    for (size_t i = 0; i < s->len; i++)
        if (!is_tchar((unsigned char)s->p[i]))
            return false;
    return true;
}

/* Every line ends in CRLF (no bare CR or LF), no line starts with
 * whitespace (obs-fold), and no control byte but HTAB appears. */
static bool lines_ok(const char *buf, size_t len)
{
    bool line_start = true;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)buf[i];
        if (ch == '\r') {
            if (i + 1 >= len || buf[i + 1] != '\n')
                return false;
            i++;
            line_start = true;
            continue;
        }
        if (ch == '\n' || ch == 0x7f || (ch < 0x20 && ch != '\t'))
            return false;
        if (line_start && is_ows((char)ch))
            return false;
        line_start = false;
    }
    return len >= 4 && memcmp(buf + len - 4, "\r\n\r\n", 4) == 0;
}

/* "METHOD SP target SP HTTP/1.x": one space each, and a target of
 * visible ASCII only (strict llhttp would refuse the rest too). */
static bool request_line_ok(const struct http1_request_head *h,
                            const char *end)
{
    const struct http1_slice *m = &h->method, *t = &h->target;
    if (!is_token(m) || t->len == 0 || t->p != m->p + m->len + 1)
        return false;
    for (size_t i = 0; i < t->len; i++) {
        unsigned char ch = (unsigned char)t->p[i];
        if (ch <= 0x20 || ch >= 0x7f)
            return false;
    }
    const char *after = t->p + t->len;
    return end - after >= 6 && memcmp(after, " HTTP/", 6) == 0;
}

static int check_head(const char *buf, size_t head,
                      struct http1_request_head *h)
{
    if (h->major != 1 || h->minor > 1)
        return -EBADMSG;
    if (!lines_ok(buf, head) || !request_line_ok(h, buf + head))
        return -EBADMSG;
    for (size_t i = 0; i < h->nheaders; i++)
        if (!is_token(&h->headers[i].name))
            return -EBADMSG;
    h->is_connect = h->method.len == 7 && !memcmp(h->method.p, "CONNECT", 7);
    return 0;
}

/* Run llhttp over buf up to the end of the head: its length, or -EAGAIN,
 * -EBADMSG, -E2BIG.  p is left paused there for the caller to read. */
static int execute(llhttp_t *p, llhttp_type_t type, struct parse *c,
                   const char *buf, size_t len)
{
    llhttp_init(p, type, &settings);
    p->data = c;
    llhttp_errno_t e = llhttp_execute(p, buf, len);
    if (e == HPE_USER)
        return c->err;
    if (e == HPE_OK)
        return -EAGAIN; /* all consumed, no end of head yet */
    if (e != HPE_PAUSED || !c->done)
        return -EBADMSG;
    size_t head = (size_t)(llhttp_get_error_pos(p) - buf);
    return head > INT_MAX ? -E2BIG : (int)head;
}

int http1_parse_request_head(const char *buf, size_t len,
                             struct http1_request_head *out)
{
    struct parse c = {.req = out, .headers = out->headers,
                      .nheaders = &out->nheaders};
    llhttp_t p;
    memset(out, 0, sizeof(*out));
    int head = execute(&p, HTTP_REQUEST, &c, buf, len);
    if (head < 0)
        return head;
    out->major = llhttp_get_http_major(&p);
    out->minor = llhttp_get_http_minor(&p);
    int rc = check_head(buf, (size_t)head, out);
    return rc < 0 ? rc : head;
}

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/* "HTTP/1.x SP 3DIGIT" then SP reason or the line end (RFC 9112 4; the SP
 * before an empty reason is often left out, and llhttp takes both), after
 * any empty lines llhttp skipped.  One space each, a status >= 100. */
static bool status_line_ok(const char *buf, size_t head)
{
    const char *p = buf, *end = buf + head;
    while (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
        p += 2;
    if (end - p < 14 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
        return false;
    if (!is_digit(p[9]) || !is_digit(p[10]) || !is_digit(p[11]) ||
        p[9] == '0')
        return false;
    return p[12] == ' ' || (p[12] == '\r' && p[13] == '\n');
}

static int check_response(const char *buf, size_t head,
                          const struct http1_response_head *h)
{
    if (h->major != 1 || h->minor > 1 || h->status < 100 || h->status > 999)
        return -EBADMSG;
    if (!lines_ok(buf, head) || !status_line_ok(buf, head))
        return -EBADMSG;
    for (size_t i = 0; i < h->nheaders; i++)
        if (!is_token(&h->headers[i].name))
            return -EBADMSG;
    return 0;
}

int http1_parse_response_head(const char *buf, size_t len,
                              struct http1_response_head *out)
{
    struct parse c = {.resp = out, .headers = out->headers,
                      .nheaders = &out->nheaders};
    llhttp_t p;
    memset(out, 0, sizeof(*out));
    int head = execute(&p, HTTP_RESPONSE, &c, buf, len);
    if (head < 0)
        return head;
    out->major = llhttp_get_http_major(&p);
    out->minor = llhttp_get_http_minor(&p);
    out->status = llhttp_get_status_code(&p);
    if (!out->reason.p)
        out->reason.p = buf + head; /* an empty slice inside buf */
    int rc = check_response(buf, (size_t)head, out);
    return rc < 0 ? rc : head;
}

static const struct http1_header *
find_field(const struct http1_header *fields, size_t nfields,
           const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < nfields; i++) {
        const struct http1_header *f = &fields[i];
        if (f->name.len == n && strncasecmp(f->name.p, name, n) == 0)
            return f;
    }
    return NULL;
}

const struct http1_header *
http1_find_header(const struct http1_request_head *h, const char *name)
{
    return find_field(h->headers, h->nheaders, name);
}

const struct http1_header *
http1_find_response_header(const struct http1_response_head *h,
                           const char *name)
{
    return find_field(h->headers, h->nheaders, name);
}

int http1_parse_authority(struct target *t, const char *s, size_t len)
{
    /* Authority-form (RFC 9112 3.2.3) always carries a port. */
    return target_parse(t, s, len, 0) < 0 ? -EINVAL : 0;
}

/* user ":" pass is at most 255 + 1 + 255 bytes, so its base64 is at most
 * 4 * ceil(511 / 3) characters. */
#define BASIC_B64_MAX 684
#define BASIC_RAW_MAX (BASIC_B64_MAX / 4 * 3)

static bool is_b64(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
           (ch >= '0' && ch <= '9') || ch == '+' || ch == '/';
}

/* EVP_DecodeBlock skips whitespace, accepts '=' anywhere near the end and
 * counts the padding as zero bytes of output; so check the alphabet and
 * padding here and take the padding off its length. */
static int b64_decode(const char *in, size_t n, uint8_t *out)
{
    if (n == 0 || n % 4 != 0 || n > BASIC_B64_MAX)
        return -EINVAL;
    size_t pad = 0;
    while (pad < 2 && in[n - 1 - pad] == '=')
        pad++;
    for (size_t i = 0; i < n - pad; i++)
        if (!is_b64(in[i]))
            return -EINVAL;
    int r = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
    if (r < 0 || (size_t)r != n / 4 * 3)
        return -EINVAL;
    return r - (int)pad;
}

/* RFC 7617 2: neither part may hold a control character (a NUL would
 * also cut the C string short). */
static int copy_part(char dst[256], const uint8_t *src, size_t n)
{
    if (n > 255)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (src[i] < 0x20 || src[i] == 0x7f)
            return -EINVAL;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return 0;
}

int http1_parse_basic(const char *value, size_t len, char user[256],
                      char pass[256])
{
    if (len < 6 || strncasecmp(value, "Basic", 5) != 0 || value[5] != ' ')
        return -EINVAL;
    size_t i = 6;
    while (i < len && value[i] == ' ')
        i++;
    while (len > i && is_ows(value[len - 1]))
        len--;
    uint8_t raw[BASIC_RAW_MAX];
    int n = b64_decode(value + i, len - i, raw);
    if (n < 0)
        return n;
    const uint8_t *colon = memchr(raw, ':', (size_t)n);
    if (!colon)
        return -EINVAL;
    size_t ulen = (size_t)(colon - raw);
    if (copy_part(user, raw, ulen) < 0 ||
        copy_part(pass, colon + 1, (size_t)n - ulen - 1) < 0)
        return -EINVAL;
    return 0;
}

/* Each part as http1_parse_basic() would give it back: at most 255 bytes,
 * no control character, and no ':' in the user-id (RFC 7617 2). */
static bool basic_part_ok(const char *s, size_t n, bool is_user)
{
    if (n > 255)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f || (is_user && ch == ':'))
            return false;
    }
    return true;
}

int http1_format_basic(char *out, size_t cap, const char *user,
                       const char *pass)
{
    size_t ulen = strnlen(user, 256), plen = strnlen(pass, 256);
    if (!basic_part_ok(user, ulen, true) || !basic_part_ok(pass, plen, false))
        return -EINVAL;
    uint8_t raw[BASIC_RAW_MAX];
    size_t n = ulen + 1 + plen;
    size_t need = 6 + (n + 2) / 3 * 4; /* "Basic " + base64, then NUL */
    if (need >= cap)
        return -ENOSPC;
    memcpy(raw, user, ulen);
    raw[ulen] = ':';
    memcpy(raw + ulen + 1, pass, plen);
    memcpy(out, "Basic ", 6);
    int b = EVP_EncodeBlock((unsigned char *)out + 6, raw, (int)n);
    explicit_bzero(raw, sizeof(raw));
    if (b < 0 || (size_t)b != need - 6)
        return -EINVAL;
    return (int)need;
}

/* Output that keeps counting past cap, so overflow is checked once. */
struct sink {
    char *p;
    size_t cap, len;
};

static void put(struct sink *s, const char *src, size_t n)
{
    if (s->len < s->cap)
        memcpy(s->p + s->len, src,
               n < s->cap - s->len ? n : s->cap - s->len);
    s->len += n;
}

static void put_str(struct sink *s, const char *src)
{
    put(s, src, strlen(src));
}

/* Printable ASCII passes, anything else becomes '?'; in a quoted realm
 * '"' and '\' do too, so the value needs no escaping. */
static void put_clean(struct sink *s, const char *src, size_t n,
                      bool quoted)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)src[i];
        bool bad = ch < 0x20 || ch > 0x7e ||
                   (quoted && (ch == '"' || ch == '\\'));
        put(s, bad ? "?" : src + i, 1);
    }
}

#define DETAIL_MAX 200

static void put_head(struct sink *s, int status, const char *reason,
                     size_t body, const char *realm)
{
    char line[64];
    (void)snprintf(line, sizeof(line), "HTTP/1.1 %d ", status);
    put_str(s, line);
    put_clean(s, reason, strlen(reason), false);
    put_str(s, "\r\nContent-Type: text/plain; charset=utf-8\r\n");
    (void)snprintf(line, sizeof(line), "Content-Length: %zu\r\n", body);
    put_str(s, line);
    put_str(s, "Connection: close\r\n");
    if (status == 407) {
        /* RFC 9110 11.7.1: a 407 must say how to authenticate. */
        realm = realm ? realm : "ferry";
        put_str(s, "Proxy-Authenticate: Basic realm=\"");
        put_clean(s, realm, strlen(realm), true);
        put_str(s, "\"\r\n");
    }
    put_str(s, "\r\n");
}

int http1_format_error(char *out, size_t cap, int status, const char *reason,
                       const char *text, const char *detail,
                       const char *realm)
{
    if (status < 100 || status > 999)
        return -EINVAL;
    reason = reason ? reason : "";
    text = text ? text : reason;
    size_t tlen = strlen(text);
    size_t dlen = detail ? strnlen(detail, DETAIL_MAX) : 0;
    struct sink s = {out, cap, 0};

    put_head(&s, status, reason, tlen + (detail ? 2 + dlen : 0) + 1, realm);
    put_clean(&s, text, tlen, false);
    if (detail) {
        put_str(&s, ": ");
        put_clean(&s, detail, dlen, false);
    }
    put_str(&s, "\n");
    if (s.len >= cap || s.len > INT_MAX)
        return -ENOSPC; /* room for the NUL is kept too */
    out[s.len] = '\0';
    return (int)s.len;
}
