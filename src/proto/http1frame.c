/* http1frame: see http1frame.h.  llhttp is paused at the end of each
 * message so the bytes of the next one are left to the caller. */
#include "proto/http1frame.h"

#include <errno.h>
#include <string.h>

static int on_headers_complete(llhttp_t *p)
{
    struct http1_framer *f = p->data;
    int status = p->status_code;
    /* 1 = "this message has no body": a response to HEAD, and 204 and
     * 304 whatever their Content-Length says (RFC 9112 §6.3). */
    if (f->response && (f->no_body || status == 204 || status == 304))
        return 1;
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct http1_framer *f = p->data;
    f->done = true;
    return HPE_PAUSED;
}

void http1_framer_init(struct http1_framer *f, bool response)
{
    memset(f, 0, sizeof(*f));
    llhttp_settings_init(&f->settings);
    f->settings.on_headers_complete = on_headers_complete;
    f->settings.on_message_complete = on_message_complete;
    llhttp_init(&f->parser, response ? HTTP_RESPONSE : HTTP_REQUEST,
                &f->settings);
    f->parser.data = f;
    f->response = response;
}

ssize_t http1_framer_feed(struct http1_framer *f, const char *buf,
                          size_t len)
{
    if (f->done || f->upgrade)
        return 0;
    if (len == 0)
        return 0;
    llhttp_errno_t e = llhttp_execute(&f->parser, buf, len);
    switch (e) {
    case HPE_OK:
        return (ssize_t)len;
    case HPE_PAUSED:
    case HPE_PAUSED_UPGRADE:
        f->upgrade = e == HPE_PAUSED_UPGRADE;
        if (f->upgrade)
            f->done = true;
        return llhttp_get_error_pos(&f->parser) - buf;
    default:
        return -EBADMSG;
    }
}

int http1_framer_eof(struct http1_framer *f)
{
    if (f->done)
        return 0;
    /* on_message_complete pauses, so a completed finish says PAUSED. */
    llhttp_errno_t e = llhttp_finish(&f->parser);
    if (e != HPE_OK && e != HPE_PAUSED)
        return -EBADMSG;
    return f->done ? 0 : -EBADMSG;
}

bool http1_framer_until_close(const struct http1_framer *f)
{
    return llhttp_message_needs_eof(&f->parser) != 0;
}
