/* fuzz_http1: libFuzzer target for proto/http1.c.
 *
 * Parses the input as a request head and runs the helpers the HTTP front
 * end runs after it (authority, header lookup, Basic credentials, an error
 * page echoing the target).  Parses it as a response head too, as the
 * HTTP parent egress does with a parent proxy's answer, and encodes
 * "user NUL pass" from the input as Basic credentials, which must decode
 * back to the same strings.  Besides the sanitizers it checks the
 * contract: slices lie inside the head, a head parses the same without the
 * bytes after it, and one byte less asks for more. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/http1.h"

static void inside(struct http1_slice s, const char *buf, size_t len)
{
    if (s.len > 0 && (s.p < buf || s.p + s.len > buf + len))
        __builtin_trap();
}

static void check_head(const struct http1_request_head *h, const char *buf,
                       size_t head)
{
    struct http1_request_head again;
    if (h->nheaders > HTTP1_MAX_HEADERS || h->major != 1 || h->minor > 1)
        __builtin_trap();
    inside(h->method, buf, head);
    inside(h->target, buf, head);
    for (size_t i = 0; i < h->nheaders; i++) {
        inside(h->headers[i].name, buf, head);
        inside(h->headers[i].value, buf, head);
    }
    if (http1_parse_request_head(buf, head, &again) != (int)head ||
        http1_parse_request_head(buf, head - 1, &again) != -EAGAIN)
        __builtin_trap();
}

static void check_basic(const char *value, size_t len)
{
    char user[256], pass[256];
    int rc = http1_parse_basic(value, len, user, pass);
    if (rc == 0 && (strlen(user) > 255 || strlen(pass) > 255))
        __builtin_trap();
    if (rc != 0 && rc != -EINVAL)
        __builtin_trap();
}

static void check_response(const char *buf, size_t size)
{
    struct http1_response_head h, again;
    int rc = http1_parse_response_head(buf, size, &h);
    if (rc == -EAGAIN || rc == -EBADMSG || rc == -E2BIG)
        return;
    if (rc <= 0 || (size_t)rc > size)
        __builtin_trap();
    size_t head = (size_t)rc;
    if (h.nheaders > HTTP1_MAX_HEADERS || h.major != 1 || h.minor > 1 ||
        h.status < 100 || h.status > 999 || !h.reason.p)
        __builtin_trap();
    inside(h.reason, buf, head);
    for (size_t i = 0; i < h.nheaders; i++) {
        inside(h.headers[i].name, buf, head);
        inside(h.headers[i].value, buf, head);
    }
    if (http1_parse_response_head(buf, head, &again) != rc ||
        again.status != h.status ||
        http1_parse_response_head(buf, head - 1, &again) != -EAGAIN)
        __builtin_trap();
    (void)http1_find_response_header(&h, "Proxy-Authenticate");
}

/* Input "user NUL pass": what encodes must decode to the same strings. */
static void check_format_basic(const char *buf, size_t size)
{
    char user[300], pass[300], out[HTTP1_BASIC_MAX], u2[256], p2[256];
    const char *nul = memchr(buf, '\0', size);
    if (!nul || (size_t)(nul - buf) >= sizeof(user))
        return;
    size_t ulen = (size_t)(nul - buf), plen = size - ulen - 1;
    if (plen >= sizeof(pass))
        return;
    memcpy(user, buf, ulen);
    user[ulen] = '\0';
    memcpy(pass, nul + 1, plen);
    pass[plen] = '\0';
    int rc = http1_format_basic(out, sizeof(out), user, pass);
    if (rc == -EINVAL)
        return;
    if (rc <= 0 || (size_t)rc != strlen(out) ||
        http1_parse_basic(out, (size_t)rc, u2, p2) != 0 ||
        strcmp(user, u2) != 0 || strcmp(pass, p2) != 0)
        __builtin_trap();
}

/* The target as an error-page detail, as the front end would echo it. */
static void check_error_page(struct http1_slice target)
{
    char detail[300], out[1024];
    size_t n = target.len < sizeof(detail) - 1 ? target.len
                                               : sizeof(detail) - 1;
    memcpy(detail, target.p, n);
    detail[n] = '\0';
    int rc = http1_format_error(out, sizeof(out), 407,
                                "Proxy Authentication Required", "Denied",
                                detail, "ferry");
    if (rc <= 0 || strlen(out) != (size_t)rc)
        __builtin_trap();
    const char *body = strstr(out, "\r\n\r\n");
    for (const char *p = body + 4; p < out + rc - 1; p++)
        if (*p < 0x20 || *p > 0x7e)
            __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct http1_request_head h;
    struct target t;

    /* The helpers also take raw bytes directly. */
    (void)http1_parse_authority(&t, buf, size);
    check_basic(buf, size);
    check_response(buf, size);
    check_format_basic(buf, size);

    int rc = http1_parse_request_head(buf, size, &h);
    if (rc == -EAGAIN || rc == -EBADMSG || rc == -E2BIG)
        return 0;
    if (rc <= 0 || (size_t)rc > size)
        __builtin_trap();
    check_head(&h, buf, (size_t)rc);
    if (http1_parse_authority(&t, h.target.p, h.target.len) == 0 &&
        (t.kind == TARGET_NONE || t.port == 0))
        __builtin_trap();
    (void)http1_find_header(&h, "Host");
    const struct http1_header *auth =
        http1_find_header(&h, "Proxy-Authorization");
    if (auth)
        check_basic(auth->value.p, auth->value.len);
    check_error_page(h.target);
    return 0;
}
