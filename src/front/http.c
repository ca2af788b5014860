/* http (front end): see http.h.  Parsing is proto/http1's; this file maps
 * a parsed head to a Request and results to HTTP answers. */
#include "front/http.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/worker.h"
#include "policy/auth.h"
#include "proto/http1.h"

#define HTTP_REALM "ferry"

static const char connect_ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";

static int reply(struct session *s, enum result r, const struct addr *bnd)
{
    if (r == RESULT_OK)
        return session_send(s, connect_ok, sizeof(connect_ok) - 1);
    char out[1024], target[ADDR_STRLEN + TARGET_HOST_MAX];
    const char *detail = NULL;
    if (s->req.target.kind != TARGET_NONE)
        detail = target_format(&s->req.target, target, sizeof(target));
    int status = result_http_status(r);
    int n = http1_format_error(out, sizeof(out), status,
                               result_http_reason(status), result_text(r),
                               detail, HTTP_REALM);
    if (n < 0)
        return n;
    return session_send(s, out, (size_t)n);
}

bool http_authorized(struct session *s, const struct http1_request_head *h)
{
    const struct conf_listener *lc = s->req.listener;
    if (!auth_required(lc))
        return true;
    const struct http1_header *hdr = http1_find_header(h,
                                                       "Proxy-Authorization");
    char user[256], pass[256];
    if (!hdr || http1_parse_basic(hdr->value.p, hdr->value.len, user,
                                  pass) < 0)
        return false;
    bool ok = auth_verify(lc, s->w->authcache, loop_now(s->w->loop), user,
                          pass);
    explicit_bzero(pass, sizeof(pass));
    if (ok)
        s->req.user = auth_user_name(lc, user);
    return ok;
}

static enum front_status refuse(struct session *s, enum result r)
{
    s->result = r;
    if (s->front->reply(s, r, NULL) < 0)
        log_debug("http: client gone before its %d answer",
                  result_http_status(r));
    return FRONT_CLOSE;
}

static enum front_status on_head(struct session *s)
{
    struct http1_request_head h;
    s->req.proto = "http";
    int n = http1_parse_request_head(s->head, s->head_len, &h);
    if (n == -EAGAIN)
        return FRONT_MORE;
    if (n == -E2BIG)
        return refuse(s, RESULT_HEAD_TOO_LARGE);
    if (n < 0)
        return refuse(s, RESULT_BAD_REQUEST);
    if (!h.is_connect)
        return FRONT_FORWARD; /* httpfwd checks and answers it */
    if (http1_parse_authority(&s->req.target, h.target.p, h.target.len) < 0) {
        s->req.target.kind = TARGET_NONE;
        return refuse(s, RESULT_BAD_REQUEST);
    }
    if (!http_authorized(s, &h))
        return refuse(s, RESULT_AUTH);
    session_consume(s, (size_t)n);
    return FRONT_DISPATCH;
}

const struct front_ops http_front = {
    .name = "http",
    .on_head = on_head,
    .reply = reply,
};
