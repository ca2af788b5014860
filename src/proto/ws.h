/* ws: WebSocket (RFC 6455) framing and handshake values (sans I/O).
 *
 * The tunnel uses WebSocket only as a byte pipe: binary frames whose
 * payloads, concatenated, are the yamux byte stream; frame boundaries
 * carry no meaning.  Clients mask every frame, servers never do
 * (RFC 6455 §5.1); the caller enforces which it expects. */
#ifndef FERRY_PROTO_WS_H
#define FERRY_PROTO_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_HEADER_MAX 14
#define WS_CONTROL_MAX 125 /* control frames' payload limit */
#define WS_KEY_LEN 24      /* base64 of 16 bytes */
#define WS_ACCEPT_LEN 28   /* base64 of a SHA-1 */

enum ws_opcode {
    WS_CONTINUATION = 0x0,
    WS_TEXT = 0x1,
    WS_BINARY = 0x2,
    WS_CLOSE = 0x8,
    WS_PING = 0x9,
    WS_PONG = 0xA,
};

struct ws_frame {
    bool fin;
    uint8_t opcode; /* enum ws_opcode */
    bool masked;
    uint8_t mask[4]; /* valid when masked */
    uint64_t len;    /* payload length */
    size_t header_len;
};

/* Decode a frame header.  Returns header_len (2..14), -EAGAIN when len is
 * too short, or -EPROTO for: reserved bits set (no extension is ever
 * negotiated), an unknown opcode, a control frame that is fragmented or
 * longer than 125, a 64-bit length with the top bit set, or a length not
 * in its shortest form. */
int ws_decode_header(const uint8_t *buf, size_t len, struct ws_frame *f);

/* Write a header (always fin) for a payload of len bytes; mask NULL means
 * unmasked.  Returns its length (2..14). */
size_t ws_encode_header(uint8_t out[WS_HEADER_MAX], uint8_t opcode,
                        uint64_t len, const uint8_t *mask);

/* XOR data with the mask, as the payload bytes that start at offset
 * within the frame's payload (so a payload may be unmasked in pieces). */
void ws_apply_mask(uint8_t *data, size_t len, const uint8_t mask[4],
                   uint64_t offset);

/* Sec-WebSocket-Accept for the client's Sec-WebSocket-Key: base64 of
 * SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").  out gets
 * WS_ACCEPT_LEN chars and a NUL.  0, -EINVAL for an empty key, or -EIO
 * when the digest fails (OpenSSL out of memory). */
int ws_accept_key(const char *key, size_t key_len,
                  char out[WS_ACCEPT_LEN + 1]);

/* A fresh random Sec-WebSocket-Key (WS_KEY_LEN chars and a NUL).
 * 0, or -EIO when the random source fails. */
int ws_make_key(char out[WS_KEY_LEN + 1]);

#endif
