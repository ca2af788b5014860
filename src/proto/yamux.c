/* yamux: the 12-byte frame header codec; see yamux.h.
 *
 * Only the header is decoded here: the caller reads Data payloads and
 * keeps the per-stream state (windows, SYN/ACK/FIN/RST). */
#include "proto/yamux.h"

#include <errno.h>
#include <stdbool.h>

#define YAMUX_FLAGS_ALL (YAMUX_SYN | YAMUX_ACK | YAMUX_FIN | YAMUX_RST)

static uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Ping and GoAway belong to the session (stream 0), Data and
 * WindowUpdate to a stream; anything else is not a type. */
static bool type_fits_stream(uint8_t type, uint32_t stream_id)
{
    switch (type) {
    case YAMUX_DATA:
    case YAMUX_WINDOW_UPDATE: return stream_id != 0;
    case YAMUX_PING:
    case YAMUX_GO_AWAY: return stream_id == 0;
    default: return false;
    }
}

int yamux_decode(const uint8_t *buf, size_t len, struct yamux_header *h)
{
    if (len < YAMUX_HEADER_LEN)
        return -EAGAIN;
    uint16_t flags = get_be16(buf + 2);
    uint32_t stream_id = get_be32(buf + 4);
    if (buf[0] != YAMUX_VERSION || (flags & ~YAMUX_FLAGS_ALL) != 0 ||
        !type_fits_stream(buf[1], stream_id))
        return -EPROTO;
    h->type = buf[1];
    h->flags = flags;
    h->stream_id = stream_id;
    h->length = get_be32(buf + 8);
    return YAMUX_HEADER_LEN;
}

void yamux_encode(uint8_t out[YAMUX_HEADER_LEN], const struct yamux_header *h)
{
    out[0] = YAMUX_VERSION;
    out[1] = h->type;
    put_be16(out + 2, h->flags);
    put_be32(out + 4, h->stream_id);
    put_be32(out + 8, h->length);
}
