/* result: lookups over RESULT_TABLE (result.h). */
#include "core/result.h"

#include <errno.h>

struct row {
    const char *word;
    int http;
    int socks5;
    int socks4;
    const char *text;
};

static const struct row rows[RESULT__COUNT] = {
#define RESULT_ROW(e, word, http, s5, s4, text)                                \
    [e] = {word, http, s5, s4, text},
    RESULT_TABLE(RESULT_ROW)
#undef RESULT_ROW
};

static const struct row *row_of(enum result r)
{
    if ((unsigned)r >= RESULT__COUNT)
        r = RESULT_INTERNAL;
    return &rows[r];
}

const char *result_word(enum result r) { return row_of(r)->word; }
const char *result_text(enum result r) { return row_of(r)->text; }
int result_http_status(enum result r) { return row_of(r)->http; }
int result_socks5_rep(enum result r) { return row_of(r)->socks5; }
int result_socks4_code(enum result r) { return row_of(r)->socks4; }

const char *result_http_reason(int status)
{
    switch (status) {
    case 200: return "Connection established";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 405: return "Method Not Allowed";
    case 407: return "Proxy Authentication Required";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Error";
    }
}

enum result result_from_errno(int err)
{
    switch (err) {
    case 0: return RESULT_OK;
    case ECONNREFUSED: return RESULT_REFUSED;
    case ENETUNREACH:
    case ENETDOWN: return RESULT_NET_UNREACH;
    case EHOSTUNREACH:
    case EHOSTDOWN:
    case EADDRNOTAVAIL: return RESULT_HOST_UNREACH;
    case ETIMEDOUT: return RESULT_TIMEOUT;
    case EACCES:
    case EPERM: return RESULT_DENIED;
    default: return RESULT_REFUSED;
    }
}
