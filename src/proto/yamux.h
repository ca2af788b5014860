/* yamux: the multiplexer's frame header (sans I/O).
 *
 * hashicorp/yamux spec.md: every frame starts with a 12-byte header
 *   Version(8) Type(8) Flags(16) StreamID(32) Length(32), big-endian.
 * Type Data carries Length payload bytes after the header; WindowUpdate
 * carries a window delta in Length; Ping an opaque value; GoAway an error
 * code.  Stream 0 is the session (Ping, GoAway); the dialling side opens
 * odd stream ids, the accepting side even ones.  docs/protocol.md has
 * the full wire description. */
#ifndef FERRY_PROTO_YAMUX_H
#define FERRY_PROTO_YAMUX_H

#include <stddef.h>
#include <stdint.h>

#define YAMUX_VERSION 0
#define YAMUX_HEADER_LEN 12
#define YAMUX_INITIAL_WINDOW (256u * 1024u) /* every stream starts here */

enum yamux_type {
    YAMUX_DATA = 0,
    YAMUX_WINDOW_UPDATE = 1,
    YAMUX_PING = 2,
    YAMUX_GO_AWAY = 3,
};

enum yamux_flag {
    YAMUX_SYN = 0x1, /* opens a stream; a ping request */
    YAMUX_ACK = 0x2, /* accepts a stream; a ping answer */
    YAMUX_FIN = 0x4, /* half-close: the sender sends no more data */
    YAMUX_RST = 0x8, /* the stream is abandoned */
};

enum yamux_goaway_code {
    YAMUX_GOAWAY_NORMAL = 0,
    YAMUX_GOAWAY_PROTOCOL = 1,
    YAMUX_GOAWAY_INTERNAL = 2,
};

struct yamux_header {
    uint8_t type;   /* enum yamux_type */
    uint16_t flags; /* enum yamux_flag bits */
    uint32_t stream_id;
    uint32_t length;
};

/* Decode the header at buf.  Returns YAMUX_HEADER_LEN, -EAGAIN when len
 * is shorter, or -EPROTO for: a version other than 0, an unknown type,
 * flag bits outside SYN|ACK|FIN|RST, a Ping/GoAway on a stream other
 * than 0, or Data/WindowUpdate on stream 0. */
int yamux_decode(const uint8_t *buf, size_t len, struct yamux_header *h);

/* Write h as 12 bytes at out (version 0). */
void yamux_encode(uint8_t out[YAMUX_HEADER_LEN], const struct yamux_header *h);

#endif
