/* http1: HTTP/1.x request- and response-head codec on top of llhttp (sans
 * I/O).
 *
 * http1_parse_request_head() parses one request head (request line and
 * header fields up to the empty line) from the start of buf;
 * http1_parse_response_head() does the same for a response head (status
 * line and header fields), as a parent proxy answers CONNECT.  Neither
 * keeps state between calls: call again on the whole buffer when more
 * bytes arrive.  Both return:
 *   > 0        the head is complete; its length in bytes (body/tunnel bytes
 *              follow at buf + that)
 *   -EAGAIN    incomplete; read more (the caller enforces its size cap and
 *              answers 431 when it is reached)
 *   -EBADMSG   malformed (llhttp error, bare CR/LF, obs-fold, NUL ...)
 *   -E2BIG     more than HTTP1_MAX_HEADERS header fields
 * On success every pointer in *out points into buf: valid until buf is
 * changed or freed.
 *
 * Also helpers shared by the HTTP front end and the HTTP parent egress:
 * authority-form parsing, Basic credentials (both ways), and building
 * short error responses. */
#ifndef FERRY_PROTO_HTTP1_H
#define FERRY_PROTO_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"

#define HTTP1_MAX_HEADERS 64

struct http1_slice {
    const char *p;
    size_t len;
};

struct http1_header {
    struct http1_slice name;
    struct http1_slice value; /* leading/trailing whitespace trimmed */
};

struct http1_request_head {
    struct http1_slice method; /* "CONNECT", "GET", ... */
    bool is_connect;
    struct http1_slice target; /* request-target as sent */
    uint8_t major, minor;
    size_t nheaders;
    struct http1_header headers[HTTP1_MAX_HEADERS];
};

/* Open, like the request head.  The status line must be
 * "HTTP/1.0|1.1 SP 3DIGIT [SP reason]" with one space each and a status
 * of 100 or more; the lines follow the same rules as a request's.  Only
 * the head is parsed: 1xx interim answers come back like any other
 * (the caller skips them), and nothing is assumed about a body. */
struct http1_response_head {
    uint8_t major, minor;
    int status;                /* 100..999 */
    struct http1_slice reason; /* as sent; may be empty */
    size_t nheaders;
    struct http1_header headers[HTTP1_MAX_HEADERS];
};

int http1_parse_request_head(const char *buf, size_t len,
                             struct http1_request_head *out);
int http1_parse_response_head(const char *buf, size_t len,
                              struct http1_response_head *out);

/* First header named name (case-insensitive), or NULL. */
const struct http1_header *
http1_find_header(const struct http1_request_head *h, const char *name);
const struct http1_header *
http1_find_response_header(const struct http1_response_head *h,
                           const char *name);

/* Parse a CONNECT authority-form target ("host:port", "[v6]:port") into
 * *t.  The port is required.  -EINVAL if malformed. */
int http1_parse_authority(struct target *t, const char *s, size_t len);

/* Decode a "Basic base64(user:pass)" credentials value (as found in
 * Proxy-Authorization) into NUL-terminated user and pass.  -EINVAL if the
 * scheme is not Basic, the base64 is bad, there is no ':' or a part does
 * not fit (each buffer is 256 bytes). */
int http1_parse_basic(const char *value, size_t len, char user[256],
                      char pass[256]);

/* Encode credentials for Proxy-Authorization: "Basic " followed by
 * base64(user ":" pass), NUL-terminated.  Returns the length (without the
 * NUL), -ENOSPC, or -EINVAL when a part could not be read back by
 * http1_parse_basic(): longer than 255 bytes, a control character, or a
 * ':' in user.  HTTP1_BASIC_MAX bytes always fit. */
#define HTTP1_BASIC_MAX (6 + 684 + 1)
int http1_format_basic(char *out, size_t cap, const char *user,
                       const char *pass);

/* Write a complete error response into out:
 *   HTTP/1.1 <status> <reason>\r\n
 *   Content-Type: text/plain; charset=utf-8\r\n
 *   Content-Length: N\r\n
 *   Connection: close\r\n
 *   [Proxy-Authenticate: Basic realm="<realm>"\r\n   when status == 407]
 *   \r\n
 *   <body>\n
 * The body is text followed, when detail is not NULL, by ": " and detail
 * with every byte outside printable ASCII replaced by '?', cut to 200
 * bytes (detail is often reflected from the request).  Returns the length
 * written (out is also NUL-terminated), -ENOSPC, or -EINVAL when status is
 * not 100..999. */
int http1_format_error(char *out, size_t cap, int status, const char *reason,
                       const char *text, const char *detail,
                       const char *realm);

#endif
