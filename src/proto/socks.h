/* socks: SOCKS 4, 4a and 5 message codecs (sans I/O).
 *
 * Parsers take the bytes received so far and return:
 *   > 0      the message is complete; that many bytes were consumed
 *   -EAGAIN  the message is not complete yet; call again with more bytes
 *   -EPROTO  wrong protocol version byte
 *   -EINVAL  malformed (bad lengths, reserved bytes, unknown address type
 *            is -EAFNOSUPPORT instead)
 * They never read past len and never allocate.  Encoders write into caller
 * storage and return the number of bytes written, or -ENOSPC.
 *
 * Used by the SOCKS front end (front/socks.c), later by the SOCKS5 parent
 * egress, UDP ASSOCIATE and the tunnel open request (which reuse the SOCKS5
 * address encoding). */
#ifndef FERRY_PROTO_SOCKS_H
#define FERRY_PROTO_SOCKS_H

#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"

#define SOCKS5_VERSION 0x05
#define SOCKS4_VERSION 0x04

enum socks5_method {
    SOCKS5_METHOD_NONE = 0x00,
    SOCKS5_METHOD_USERPASS = 0x02,
    SOCKS5_METHOD_UNACCEPTABLE = 0xFF,
};

enum socks_cmd {
    SOCKS_CMD_CONNECT = 0x01,
    SOCKS_CMD_BIND = 0x02,
    SOCKS_CMD_UDP_ASSOCIATE = 0x03,
};

enum socks5_atyp {
    SOCKS5_ATYP_IPV4 = 0x01,
    SOCKS5_ATYP_DOMAIN = 0x03,
    SOCKS5_ATYP_IPV6 = 0x04,
};

/* VER NMETHODS METHODS[NMETHODS] */
struct socks5_greeting {
    uint8_t nmethods;
    uint8_t methods[255];
};

/* RFC 1929: VER(1) ULEN UNAME PLEN PASSWD.  Strings NUL-terminated. */
struct socks5_userpass {
    char user[256];
    char pass[256];
};

/* VER CMD RSV ATYP DST.ADDR DST.PORT.  A domain target becomes
 * TARGET_NAME (or TARGET_IP when the name is a literal address). */
struct socks5_request {
    uint8_t cmd;
    struct target dst;
};

/* SOCKS4: VN CD DSTPORT DSTIP USERID NUL [HOST NUL] (4a when DSTIP is
 * 0.0.0.x with x != 0). */
struct socks4_request {
    uint8_t cmd;
    struct target dst;
    char userid[256];
};

/* Longest messages, for callers sizing buffers. */
#define SOCKS5_GREETING_MAX (2 + 255)
#define SOCKS5_USERPASS_MAX (3 + 255 + 255)
#define SOCKS5_REQUEST_MAX (4 + 1 + 255 + 2)
#define SOCKS4_REQUEST_MAX (8 + 256 + 256)
#define SOCKS5_REPLY_MAX (4 + 16 + 2)
#define SOCKS5_UDP_HEADER_MAX (3 + 2 + 255 + 2)

int socks5_parse_greeting(const uint8_t *buf, size_t len,
                          struct socks5_greeting *out);
int socks5_parse_userpass(const uint8_t *buf, size_t len,
                          struct socks5_userpass *out);
int socks5_parse_request(const uint8_t *buf, size_t len,
                         struct socks5_request *out);
int socks4_parse_request(const uint8_t *buf, size_t len,
                         struct socks4_request *out);

/* SOCKS5 address (ATYP ADDR PORT) alone, as in requests, UDP headers and
 * the tunnel open message. Same return contract as the parsers. */
int socks5_parse_addr(const uint8_t *buf, size_t len, struct target *out);
/* Encode t as ATYP ADDR PORT (a TARGET_NAME as a domain). */
int socks5_encode_addr(uint8_t *out, size_t cap, const struct target *t);

/* SOCKS5 UDP request header (RFC 1928 section 7), in front of every
 * datagram relayed by a UDP association:
 *   RSV(2) = 0   FRAG(1)   ATYP DST.ADDR DST.PORT   DATA
 * A datagram is whole, so there is no -EAGAIN: a short or malformed
 * header (RSV != 0, bad name) is -EINVAL, an unknown ATYP -EAFNOSUPPORT.
 * On success returns the header length (DATA starts there), *frag gets
 * FRAG (the caller drops fragments) and *dst the destination, as
 * socks5_parse_addr() gives it. */
int socks5_parse_udp_header(const uint8_t *buf, size_t len, uint8_t *frag,
                            struct target *dst);
/* RSV FRAG=0 ATYP ADDR PORT for a reply from src (the datagram's source;
 * normally a TARGET_IP).  Returns bytes written, -ENOSPC or -EINVAL. */
int socks5_encode_udp_header(uint8_t *out, size_t cap,
                             const struct target *src);

/* Server replies. */
int socks5_encode_method(uint8_t *out, size_t cap, uint8_t method);
int socks5_encode_userpass_status(uint8_t *out, size_t cap, uint8_t status);
/* VER REP RSV ATYP BND.ADDR BND.PORT; bnd may be NULL (0.0.0.0:0). */
int socks5_encode_reply(uint8_t *out, size_t cap, uint8_t rep,
                        const struct addr *bnd);
/* VN=0 CD DSTPORT DSTIP; bnd may be NULL or IPv6 (zeros then). */
int socks4_encode_reply(uint8_t *out, size_t cap, uint8_t cd,
                        const struct addr *bnd);

#endif
