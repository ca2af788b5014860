/* tunmsg: hello, welcome, open request, open reply and datagram codecs;
 * see tunmsg.h and docs/protocol.md.
 *
 * As in socks.c, checks run in wire order so a bad byte is reported as
 * soon as it arrives (-EPROTO/-EINVAL beat -EAGAIN), nothing reads past
 * len, and strings with a NUL inside are refused (the C string would
 * silently be shorter).  Encoders validate everything before they look
 * at cap, so -EINVAL beats -ENOSPC. */
#include "proto/tunmsg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "proto/socks.h"

#define MAGIC_LEN 4
#define HELLO_HEAD_LEN 7   /* magic, version, L (2) */
#define WELCOME_HEAD_LEN 7 /* magic, version, status, M */
#define LINK_MAX 255
/* No sane hello has more field bytes than four full fields and a few
 * small unknown ones; a larger L is garbage, not "wait for more". */
#define HELLO_FIELDS_MAX (4 * (2 + TUNMSG_FIELD_MAX) + 16)
#define TARGET_WIRE_MAX (2 + TARGET_HOST_MAX + 2) /* ATYP len name port */

static uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* ---- strings --------------------------------------------------------- */

/* n bytes at src into dst (TUNMSG_FIELD_MAX + 1) as a C string. */
static int take_string(char *dst, const uint8_t *src, size_t n)
{
    if (memchr(src, '\0', n))
        return -EINVAL;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return 0;
}

/* A length-prefixed string of at least min bytes at buf[*off]. */
static int take_pstring(const uint8_t *buf, size_t len, size_t *off, char *dst,
                        size_t min)
{
    if (len < *off + 1)
        return -EAGAIN;
    size_t n = buf[*off];
    if (n < min)
        return -EINVAL;
    if (len < *off + 1 + n)
        return -EAGAIN;
    int rc = take_string(dst, buf + *off + 1, n);
    if (rc < 0)
        return rc;
    *off += 1 + n;
    return 0;
}

/* strlen(s) when it is min..TUNMSG_FIELD_MAX, else -EINVAL. */
static int field_len(const char *s, size_t min)
{
    size_t n = strnlen(s, TUNMSG_FIELD_MAX + 1);
    if (n < min || n > TUNMSG_FIELD_MAX)
        return -EINVAL;
    return (int)n;
}

static void put_pstring(uint8_t *out, size_t *off, const char *s)
{
    size_t n = strlen(s);
    out[*off] = (uint8_t)n;
    memcpy(out + *off + 1, s, n);
    *off += 1 + n;
}

/* ---- magic and version ----------------------------------------------- */

/* The magic and version, as far as they have arrived. */
static int check_preamble(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len && i < MAGIC_LEN; i++) {
        if (buf[i] != (uint8_t)TUNMSG_MAGIC[i])
            return -EPROTO;
    }
    if (len > MAGIC_LEN && buf[MAGIC_LEN] != TUNMSG_VERSION)
        return -EPROTO;
    return 0;
}

static void put_preamble(uint8_t *out)
{
    memcpy(out, TUNMSG_MAGIC, MAGIC_LEN);
    out[MAGIC_LEN] = TUNMSG_VERSION;
}

/* ---- hello ----------------------------------------------------------- */

/* Decimal 0..LINK_MAX, one to three digits. */
static int take_link(unsigned *link, const uint8_t *v, size_t n)
{
    unsigned x = 0;
    if (n == 0 || n > 3)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -EINVAL;
        x = x * 10 + (unsigned)(v[i] - '0');
    }
    if (x > LINK_MAX)
        return -EINVAL;
    *link = x;
    return 0;
}

static int hello_field(struct tunmsg_hello *h, uint8_t type, const uint8_t *v,
                       size_t n)
{
    switch (type) {
    case TUNMSG_F_TOKEN: return take_string(h->token, v, n);
    case TUNMSG_F_ID: return take_string(h->id, v, n);
    case TUNMSG_F_GROUP: return take_string(h->group, v, n);
    case TUNMSG_F_LINK: return take_link(&h->link, v, n);
    default: return 0; /* unknown: skipped */
    }
}

/* A known field given twice is malformed: which one would count? */
static int mark_seen(unsigned *seen, uint8_t type)
{
    if (type < TUNMSG_F_TOKEN || type > TUNMSG_F_LINK)
        return 0;
    if (*seen & (1u << type))
        return -EINVAL;
    *seen |= 1u << type;
    return 0;
}

/* The n field bytes at p, all present; a field running past them is
 * malformed. */
static int hello_fields(const uint8_t *p, size_t n, struct tunmsg_hello *h)
{
    unsigned seen = 0;
    size_t off = 0;
    while (off < n) {
        if (n - off < 2 || n - off - 2 < p[off + 1])
            return -EINVAL;
        int rc = mark_seen(&seen, p[off]);
        if (rc == 0)
            rc = hello_field(h, p[off], p + off + 2, p[off + 1]);
        if (rc < 0)
            return rc;
        off += 2 + (size_t)p[off + 1];
    }
    return 0;
}

int tunmsg_parse_hello(const uint8_t *buf, size_t len, struct tunmsg_hello *out)
{
    int rc = check_preamble(buf, len);
    if (rc < 0)
        return rc;
    if (len < HELLO_HEAD_LEN)
        return -EAGAIN;
    size_t n = get_be16(buf + MAGIC_LEN + 1);
    if (n > HELLO_FIELDS_MAX)
        return -EINVAL;
    if (len < HELLO_HEAD_LEN + n)
        return -EAGAIN;
    out->token[0] = out->id[0] = out->group[0] = '\0';
    out->link = 0;
    rc = hello_fields(buf + HELLO_HEAD_LEN, n, out);
    if (rc < 0)
        return rc;
    if (!out->token[0] || !out->id[0] || !out->group[0])
        return -EINVAL;
    return (int)(HELLO_HEAD_LEN + n);
}

static void put_field(uint8_t *out, size_t *off, uint8_t type, const char *v)
{
    out[(*off)++] = type;
    put_pstring(out, off, v);
}

int tunmsg_encode_hello(uint8_t *out, size_t cap, const struct tunmsg_hello *h)
{
    static const uint8_t types[] = {TUNMSG_F_TOKEN, TUNMSG_F_ID,
                                    TUNMSG_F_GROUP};
    const char *values[] = {h->token, h->id, h->group};
    char link[4];
    if (h->link > LINK_MAX)
        return -EINVAL;
    size_t total = HELLO_HEAD_LEN + 2 +
                   (size_t)snprintf(link, sizeof(link), "%u", h->link);
    for (size_t i = 0; i < sizeof(types); i++) {
        int n = field_len(values[i], 1);
        if (n < 0)
            return n;
        total += 2 + (size_t)n;
    }
    if (cap < total)
        return -ENOSPC;
    put_preamble(out);
    put_be16(out + MAGIC_LEN + 1, (uint16_t)(total - HELLO_HEAD_LEN));
    size_t off = HELLO_HEAD_LEN;
    for (size_t i = 0; i < sizeof(types); i++)
        put_field(out, &off, types[i], values[i]);
    put_field(out, &off, TUNMSG_F_LINK, link);
    return (int)total;
}

/* ---- welcome --------------------------------------------------------- */

int tunmsg_parse_welcome(const uint8_t *buf, size_t len,
                         struct tunmsg_welcome *out)
{
    int rc = check_preamble(buf, len);
    if (rc < 0)
        return rc;
    /* Any status parses: the caller treats every one but OK as "no". */
    size_t off = WELCOME_HEAD_LEN - 1;
    rc = take_pstring(buf, len, &off, out->message, 0);
    if (rc < 0)
        return rc;
    out->status = buf[MAGIC_LEN + 1];
    return (int)off;
}

int tunmsg_encode_welcome(uint8_t *out, size_t cap,
                          const struct tunmsg_welcome *w)
{
    int n = field_len(w->message, 0);
    if (n < 0)
        return n;
    if (cap < WELCOME_HEAD_LEN + (size_t)n)
        return -ENOSPC;
    put_preamble(out);
    out[MAGIC_LEN + 1] = w->status;
    size_t off = WELCOME_HEAD_LEN - 1;
    put_pstring(out, &off, w->message);
    return (int)off;
}

/* ---- open request ---------------------------------------------------- */

static int parse_tags(const uint8_t *buf, size_t len, size_t off,
                      struct tunmsg_open *o)
{
    if (len < off + 1)
        return -EAGAIN;
    unsigned n = buf[off++];
    if (n > TUNMSG_TAGS_MAX)
        return -EINVAL;
    for (unsigned i = 0; i < n; i++) {
        int rc = take_pstring(buf, len, &off, o->tags[i].key, 1);
        if (rc == 0)
            rc = take_pstring(buf, len, &off, o->tags[i].value, 0);
        if (rc < 0)
            return rc;
    }
    o->n_tags = n;
    return (int)off;
}

static bool kind_ok(uint8_t kind)
{
    return kind == TUNMSG_TCP || kind == TUNMSG_UDP;
}

int tunmsg_parse_open(const uint8_t *buf, size_t len, struct tunmsg_open *out)
{
    if (len < 1)
        return -EAGAIN;
    if (buf[0] != TUNMSG_VERSION)
        return -EPROTO;
    if (len < 2)
        return -EAGAIN;
    if (!kind_ok(buf[1]))
        return -EINVAL;
    int rc = socks5_parse_addr(buf + 2, len - 2, &out->target);
    if (rc < 0)
        return rc;
    rc = parse_tags(buf, len, 2 + (size_t)rc, out);
    if (rc < 0)
        return rc;
    out->kind = buf[1];
    return rc;
}

/* The bytes the tags take on the wire (count byte included), or
 * -EINVAL for too many tags, an empty key or an over-long string. */
static int tags_len(const struct tunmsg_open *o)
{
    if (o->n_tags > TUNMSG_TAGS_MAX)
        return -EINVAL;
    int total = 1;
    for (unsigned i = 0; i < o->n_tags; i++) {
        int k = field_len(o->tags[i].key, 1);
        int v = field_len(o->tags[i].value, 0);
        if (k < 0 || v < 0)
            return -EINVAL;
        total += 2 + k + v;
    }
    return total;
}

int tunmsg_encode_open(uint8_t *out, size_t cap, const struct tunmsg_open *o)
{
    uint8_t target[TARGET_WIRE_MAX];
    if (!kind_ok(o->kind))
        return -EINVAL;
    int tn = socks5_encode_addr(target, sizeof(target), &o->target);
    if (tn < 0)
        return tn;
    int gn = tags_len(o);
    if (gn < 0)
        return gn;
    size_t total = 2 + (size_t)tn + (size_t)gn;
    if (cap < total)
        return -ENOSPC;
    out[0] = TUNMSG_VERSION;
    out[1] = o->kind;
    memcpy(out + 2, target, (size_t)tn);
    size_t off = 2 + (size_t)tn;
    out[off++] = (uint8_t)o->n_tags;
    for (unsigned i = 0; i < o->n_tags; i++) {
        put_pstring(out, &off, o->tags[i].key);
        put_pstring(out, &off, o->tags[i].value);
    }
    return (int)total;
}

const char *tunmsg_tag(const struct tunmsg_open *o, const char *key)
{
    for (unsigned i = 0; i < o->n_tags && i < TUNMSG_TAGS_MAX; i++) {
        if (strcmp(o->tags[i].key, key) == 0)
            return o->tags[i].value;
    }
    return NULL;
}

/* ---- open reply ------------------------------------------------------ */

/* Wire code -> result (docs/protocol.md section 4). */
static const enum result from_wire[] = {
    [0] = RESULT_OK,          [1] = RESULT_DENIED,
    [2] = RESULT_DNS,         [3] = RESULT_REFUSED,
    [4] = RESULT_NET_UNREACH, [5] = RESULT_HOST_UNREACH,
    [6] = RESULT_TIMEOUT,     [7] = RESULT_NO_TUNNEL,
    [8] = RESULT_BAD_REQUEST, [9] = RESULT_BAD_ADDRTYPE,
    [10] = RESULT_INTERNAL,   [11] = RESULT_SHUTDOWN,
    [12] = RESULT_AUTH,       [13] = RESULT_NOT_IMPLEMENTED,
    [14] = RESULT_UPSTREAM,
};

/* Result -> wire code.  A new result needs a row here (and, if it is a
 * new kind of failure, a new code in docs/protocol.md). */
_Static_assert(RESULT__COUNT == 17, "give the new result a tunnel code");
static const uint8_t to_wire[RESULT__COUNT] = {
    [RESULT_OK] = 0,
    [RESULT_DENIED] = 1,
    [RESULT_AUTH] = 12,
    [RESULT_DNS] = 2,
    [RESULT_REFUSED] = 3,
    [RESULT_NET_UNREACH] = 4,
    [RESULT_HOST_UNREACH] = 5,
    [RESULT_TIMEOUT] = 6,
    [RESULT_NO_TUNNEL] = 7,
    [RESULT_BAD_REQUEST] = 8,
    [RESULT_HEAD_TOO_LARGE] = 8,
    [RESULT_BAD_METHOD] = 8,
    [RESULT_NOT_IMPLEMENTED] = 13,
    [RESULT_BAD_ADDRTYPE] = 9,
    [RESULT_INTERNAL] = 10,
    [RESULT_SHUTDOWN] = 11,
    [RESULT_UPSTREAM] = 14,
};

int tunmsg_parse_reply(const uint8_t *buf, size_t len, enum result *out)
{
    if (len < 1)
        return -EAGAIN;
    if (buf[0] != TUNMSG_VERSION)
        return -EPROTO;
    if (len < TUNMSG_REPLY_LEN)
        return -EAGAIN;
    size_t code = buf[1];
    *out = code < sizeof(from_wire) / sizeof(*from_wire) ? from_wire[code]
                                                         : RESULT_INTERNAL;
    return TUNMSG_REPLY_LEN;
}

int tunmsg_encode_reply(uint8_t *out, size_t cap, enum result r)
{
    if ((unsigned)r >= RESULT__COUNT)
        return -EINVAL;
    if (cap < TUNMSG_REPLY_LEN)
        return -ENOSPC;
    out[0] = TUNMSG_VERSION;
    out[1] = to_wire[r];
    return TUNMSG_REPLY_LEN;
}

/* ---- datagrams ------------------------------------------------------- */

int tunmsg_parse_dgram(const uint8_t *buf, size_t len, const uint8_t **data,
                       size_t *dlen)
{
    if (len < 2)
        return -EAGAIN;
    size_t n = get_be16(buf);
    if (len < 2 + n)
        return -EAGAIN;
    *data = buf + 2;
    *dlen = n;
    return (int)(2 + n);
}

void tunmsg_encode_dgram_len(uint8_t out[2], size_t dlen)
{
    put_be16(out, (uint16_t)dlen);
}
