/* result: the outcome of one request, defined once.
 *
 * Every egress ends with an enum result; every front end answers with the
 * protocol code this table maps it to.  Adding a result means one new row
 * here (DESIGN.md, "Result codes").  Columns: enum, access-log word, HTTP
 * status, SOCKS5 REP, SOCKS4 CD, human text for error bodies. */
#ifndef FERRY_RESULT_H
#define FERRY_RESULT_H

#define RESULT_TABLE(X)                                                     \
    X(RESULT_OK, "ok", 200, 0x00, 90, "Connection established")             \
    X(RESULT_DENIED, "denied", 403, 0x02, 91, "Forbidden by policy")        \
    X(RESULT_AUTH, "auth", 407, 0x02, 91, "Proxy authentication required")  \
    X(RESULT_DNS, "dns_failure", 502, 0x04, 91, "Cannot resolve host")      \
    X(RESULT_REFUSED, "refused", 502, 0x05, 91, "Connection refused")       \
    X(RESULT_NET_UNREACH, "net_unreachable", 502, 0x03, 91,                 \
      "Network unreachable")                                                \
    X(RESULT_HOST_UNREACH, "host_unreachable", 502, 0x04, 91,               \
      "Host unreachable")                                                   \
    X(RESULT_TIMEOUT, "timeout", 504, 0x06, 91, "Connection timed out")     \
    X(RESULT_NO_TUNNEL, "no_tunnel", 503, 0x01, 91, "No tunnel available")  \
    X(RESULT_BAD_REQUEST, "bad_request", 400, 0x01, 91, "Bad request")      \
    X(RESULT_HEAD_TOO_LARGE, "head_too_large", 431, 0x01, 91,               \
      "Request header fields too large")                                    \
    X(RESULT_BAD_METHOD, "unsupported_method", 405, 0x07, 91,               \
      "Method not supported")                                               \
    X(RESULT_NOT_IMPLEMENTED, "not_implemented", 501, 0x07, 91,            \
      "Not implemented")                                                    \
    X(RESULT_BAD_ADDRTYPE, "unsupported_address", 400, 0x08, 91,            \
      "Address type not supported")                                         \
    X(RESULT_INTERNAL, "internal_error", 500, 0x01, 91, "Internal error")   \
    X(RESULT_SHUTDOWN, "shutdown", 503, 0x01, 91, "Proxy shutting down")  \
    X(RESULT_UPSTREAM, "upstream_error", 502, 0x01, 91,                     \
      "Bad response from upstream")

enum result {
#define RESULT_ENUM(e, word, http, s5, s4, text) e,
    RESULT_TABLE(RESULT_ENUM)
#undef RESULT_ENUM
    RESULT__COUNT
};

/* Each returns a static string or code; an out-of-range value maps to
 * RESULT_INTERNAL's row. */
const char *result_word(enum result r);
const char *result_text(enum result r);
int result_http_status(enum result r);
int result_socks5_rep(enum result r);
int result_socks4_code(enum result r);
/* The HTTP reason phrase for a status this table produces. */
const char *result_http_reason(int status);
/* Map a connect()/getsockopt(SO_ERROR) errno to a result. */
enum result result_from_errno(int err);

#endif
