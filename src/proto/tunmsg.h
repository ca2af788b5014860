/* tunmsg: ferry's own messages inside the tunnel (sans I/O).
 *
 *   hello     agent -> gateway, once, before yamux starts: who it is
 *   welcome   gateway -> agent: accepted or why not
 *   open      first bytes of every yamux stream, from its opener: what
 *             to reach (SOCKS5 address encoding), TCP or UDP, tags
 *   reply     first bytes back from the accepting side: a result code
 *   datagram  on a UDP stream, each datagram is a 2-byte big-endian
 *             length then that many bytes
 *
 * docs/protocol.md is the byte-level description.  Parsers return the
 * bytes consumed (> 0), -EAGAIN when more bytes are needed, -EPROTO for
 * a wrong magic or version, -EINVAL when malformed; they never read past
 * len.  Encoders return the bytes written or -ENOSPC (-EINVAL for a
 * value that cannot be encoded, such as an over-long field). */
#ifndef FERRY_PROTO_TUNMSG_H
#define FERRY_PROTO_TUNMSG_H

#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/result.h"

#define TUNMSG_MAGIC "FRY1" /* 4 bytes, first on the hello and welcome */
#define TUNMSG_VERSION 1
#define TUNMSG_FIELD_MAX 255 /* token, id, group, tag keys and values */
#define TUNMSG_TAGS_MAX 4
#define TUNMSG_OPEN_MAX (2 + 259 + 1 + TUNMSG_TAGS_MAX * 512) /* longest open */
#define TUNMSG_REPLY_LEN 2
#define TUNMSG_DGRAM_MAX 65535

/* Hello field types (type, length, value triples). */
enum tunmsg_field {
    TUNMSG_F_TOKEN = 1,
    TUNMSG_F_ID = 2,
    TUNMSG_F_GROUP = 3,
    TUNMSG_F_LINK = 4, /* which of the agent's links, decimal text */
};

/* All strings NUL-terminated; token, id and group are required (non
 * empty) when parsing.  Unknown field types are skipped; a known one
 * given twice is -EINVAL. */
struct tunmsg_hello {
    char token[TUNMSG_FIELD_MAX + 1];
    char id[TUNMSG_FIELD_MAX + 1];
    char group[TUNMSG_FIELD_MAX + 1];
    unsigned link; /* 0..255 */
};

enum tunmsg_welcome_status {
    TUNMSG_WELCOME_OK = 0,
    TUNMSG_WELCOME_AUTH = 1,    /* unknown token */
    TUNMSG_WELCOME_BAD = 2,     /* malformed hello */
    TUNMSG_WELCOME_VERSION = 3, /* version not spoken */
    TUNMSG_WELCOME_GROUP = 4,   /* the token may not join that group */
};

struct tunmsg_welcome {
    uint8_t status;                        /* enum tunmsg_welcome_status */
    char message[TUNMSG_FIELD_MAX + 1];    /* human text, may be "" */
};

enum tunmsg_kind { TUNMSG_TCP = 1, TUNMSG_UDP = 2 };

struct tunmsg_tag {
    char key[TUNMSG_FIELD_MAX + 1];
    char value[TUNMSG_FIELD_MAX + 1];
};

struct tunmsg_open {
    uint8_t kind; /* enum tunmsg_kind */
    struct target target;
    unsigned n_tags;
    struct tunmsg_tag tags[TUNMSG_TAGS_MAX]; /* more is -EINVAL */
};

int tunmsg_parse_hello(const uint8_t *buf, size_t len,
                       struct tunmsg_hello *out);
int tunmsg_encode_hello(uint8_t *out, size_t cap,
                        const struct tunmsg_hello *h);
int tunmsg_parse_welcome(const uint8_t *buf, size_t len,
                         struct tunmsg_welcome *out);
int tunmsg_encode_welcome(uint8_t *out, size_t cap,
                          const struct tunmsg_welcome *w);

/* As the other parsers, but an unknown ATYP in the target is
 * -EAFNOSUPPORT (socks5_parse_addr's answer), so the acceptor can reply
 * "address type not supported". */
int tunmsg_parse_open(const uint8_t *buf, size_t len,
                      struct tunmsg_open *out);
int tunmsg_encode_open(uint8_t *out, size_t cap, const struct tunmsg_open *o);
/* The value of tag key in o, or NULL. */
const char *tunmsg_tag(const struct tunmsg_open *o, const char *key);

/* The reply carries a result as a stable wire code (docs/protocol.md),
 * independent of enum result's order; an unknown code parses as
 * RESULT_INTERNAL. */
int tunmsg_parse_reply(const uint8_t *buf, size_t len, enum result *out);
int tunmsg_encode_reply(uint8_t *out, size_t cap, enum result r);

/* One length-prefixed datagram at buf: *data and *dlen give its payload
 * (pointing into buf) and the bytes consumed (2 + dlen) are returned;
 * -EAGAIN when incomplete. */
int tunmsg_parse_dgram(const uint8_t *buf, size_t len, const uint8_t **data,
                       size_t *dlen);
/* Write the 2-byte length prefix of a dlen-byte datagram at out
 * (dlen <= TUNMSG_DGRAM_MAX). */
void tunmsg_encode_dgram_len(uint8_t out[2], size_t dlen);

#endif
