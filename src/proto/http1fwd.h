/* http1fwd: the proxy's rules for forwarding an HTTP/1.x request and its
 * response (RFC 9110 §7, RFC 9112), sans I/O.
 *
 * http1fwd_check_request() decides whether a parsed absolute-form request
 * may be forwarded at all (the request-smuggling defences of RFC 9112
 * §6.3 and §11.2 live here) and extracts what the forwarder needs; the
 * head writers build the heads sent on: origin-form target (absolute-form
 * to a parent proxy), Host taken from the URI, hop-by-hop fields dropped,
 * Via appended. */
#ifndef FERRY_HTTP1FWD_H
#define FERRY_HTTP1FWD_H

#include <stdbool.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/result.h"
#include "proto/http1.h"

#define HTTP1FWD_VIA_NAME "ferry" /* our pseudonym in Via fields */

struct http1fwd_request {
    struct target origin;    /* host and port of the absolute URI */
    struct http1_slice authority; /* as written in the URI */
    struct http1_slice path; /* origin-form; empty = "/" (or "*") */
    bool chunked;            /* Transfer-Encoding: ..., chunked */
    uint64_t content_length; /* when not chunked */
    bool expect_continue;
    bool upgrade;    /* Connection: upgrade with an Upgrade field */
    bool keep_alive; /* the client asks for a persistent connection */
    bool idempotent; /* may be retried on a fresh connection */
    bool is_head;
    int max_forwards; /* OPTIONS/TRACE Max-Forwards, -1 if absent */
};

/* RESULT_OK and *out filled, or the result to answer: RESULT_BAD_REQUEST
 * (scheme, userinfo, Host, framing), RESULT_NOT_IMPLEMENTED (unknown
 * transfer coding).  *why gets a short static reason for the log. */
enum result http1fwd_check_request(const struct http1_request_head *h,
                                   struct http1fwd_request *out,
                                   const char **why);

/* The head to send on.  to_proxy keeps the absolute-form (a parent HTTP
 * proxy) and adds proxy_auth as Proxy-Authorization when not NULL.
 * Returns its length, or -ENOSPC. */
int http1fwd_request_head(const struct http1_request_head *h,
                          const struct http1fwd_request *r, bool to_proxy,
                          const char *proxy_auth, char *out, size_t cap);

/* The response head for the client: hop-by-hop fields dropped (Upgrade
 * and Connection kept for a 101), Via appended, and "Connection: close"
 * when close is set.  Returns its length, or -ENOSPC. */
int http1fwd_response_head(const struct http1_response_head *h, bool close,
                           char *out, size_t cap);

/* Does any field named field (case-insensitive) list token tok in its
 * comma-separated value (case-insensitive, whitespace trimmed)? */
bool http1fwd_field_has(const struct http1_header *hs, size_t n,
                        const char *field, const char *tok);

/* Whether the response head's own fields end the connection (Connection:
 * close, or HTTP/1.0 without keep-alive). */
bool http1fwd_response_closes(const struct http1_response_head *h);

#endif
