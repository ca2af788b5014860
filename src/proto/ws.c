/* ws: WebSocket frame headers, masking and handshake keys; see ws.h.
 *
 * RFC 6455 §5.2 frame header:
 *   FIN RSV1-3 opcode(4) | MASK len(7) | [len 16 or 64] | [mask key 4]
 * Checks run in wire order, so a bad first byte is reported before the
 * rest has arrived. */
#include "proto/ws.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#define WS_FIN 0x80
#define WS_RSV 0x70
#define WS_OPCODE 0x0F
#define WS_MASK 0x80
#define WS_LEN7 0x7F
#define WS_LEN16 126 /* len7 value: a 16-bit length follows */
#define WS_LEN64 127 /* len7 value: a 64-bit length follows */
#define WS_KEY_RAW 16
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static bool is_control(uint8_t opcode)
{
    return (opcode & 0x08) != 0;
}

static bool opcode_known(uint8_t opcode)
{
    switch (opcode) {
    case WS_CONTINUATION:
    case WS_TEXT:
    case WS_BINARY:
    case WS_CLOSE:
    case WS_PING:
    case WS_PONG: return true;
    default: return false;
    }
}

static uint64_t get_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static void put_be(uint8_t *p, size_t n, uint64_t v)
{
    for (size_t i = n; i-- > 0; v >>= 8)
        p[i] = (uint8_t)v;
}

static int check_byte0(uint8_t b0)
{
    uint8_t opcode = b0 & WS_OPCODE;
    if ((b0 & WS_RSV) != 0 || !opcode_known(opcode))
        return -EPROTO;
    if (is_control(opcode) && !(b0 & WS_FIN))
        return -EPROTO; /* control frames are never fragmented */
    return 0;
}

/* The payload length after the first two bytes: *ext gets the size of
 * the extended length field.  Each length has exactly one valid form. */
static int payload_len(const uint8_t *buf, size_t len, size_t *ext,
                       uint64_t *out)
{
    uint8_t len7 = buf[1] & WS_LEN7;
    *ext = len7 == WS_LEN16 ? 2 : len7 == WS_LEN64 ? 8 : 0;
    if (*ext == 0) {
        *out = len7;
        return 0;
    }
    if (len < 2 + *ext)
        return -EAGAIN;
    *out = get_be(buf + 2, *ext);
    if (*ext == 8 && (*out >> 63) != 0)
        return -EPROTO;
    if (*out < (*ext == 2 ? WS_LEN16 : 0x10000u))
        return -EPROTO; /* not the shortest form */
    return 0;
}

int ws_decode_header(const uint8_t *buf, size_t len, struct ws_frame *f)
{
    if (len < 1)
        return -EAGAIN;
    int rc = check_byte0(buf[0]);
    if (rc < 0)
        return rc;
    if (len < 2)
        return -EAGAIN;
    if (is_control(buf[0] & WS_OPCODE) && (buf[1] & WS_LEN7) > WS_CONTROL_MAX)
        return -EPROTO;
    size_t ext;
    uint64_t plen;
    rc = payload_len(buf, len, &ext, &plen);
    if (rc < 0)
        return rc;
    bool masked = (buf[1] & WS_MASK) != 0;
    size_t hlen = 2 + ext + (masked ? 4 : 0);
    if (len < hlen)
        return -EAGAIN;
    f->fin = (buf[0] & WS_FIN) != 0;
    f->opcode = buf[0] & WS_OPCODE;
    f->masked = masked;
    if (masked)
        memcpy(f->mask, buf + 2 + ext, 4);
    f->len = plen;
    f->header_len = hlen;
    return (int)hlen;
}

size_t ws_encode_header(uint8_t out[WS_HEADER_MAX], uint8_t opcode,
                        uint64_t len, const uint8_t *mask)
{
    size_t ext = len < WS_LEN16 ? 0 : len <= 0xFFFF ? 2 : 8;
    uint8_t len7 = ext == 0 ? (uint8_t)len : ext == 2 ? WS_LEN16 : WS_LEN64;
    out[0] = WS_FIN | (opcode & WS_OPCODE);
    out[1] = len7 | (mask ? WS_MASK : 0);
    put_be(out + 2, ext, len);
    if (!mask)
        return 2 + ext;
    memcpy(out + 2 + ext, mask, 4);
    return 2 + ext + 4;
}

void ws_apply_mask(uint8_t *data, size_t len, const uint8_t mask[4],
                   uint64_t offset)
{
    /* Eight bytes at a time: the mask rotated to this offset, twice
     * (memcpy keeps the loads and stores unaligned-safe). */
    uint8_t rot[8];
    for (size_t k = 0; k < 8; k++)
        rot[k] = mask[(offset + k) & 3];
    uint64_t m8, w;
    memcpy(&m8, rot, 8);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        memcpy(&w, data + i, 8);
        w ^= m8;
        memcpy(data + i, &w, 8);
    }
    for (; i < len; i++)
        data[i] ^= mask[(offset + i) & 3];
}

int ws_accept_key(const char *key, size_t key_len, char out[WS_ACCEPT_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (key_len == 0)
        return -EINVAL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) &&
             EVP_DigestUpdate(ctx, key, key_len) &&
             EVP_DigestUpdate(ctx, WS_GUID, sizeof(WS_GUID) - 1) &&
             EVP_DigestFinal_ex(ctx, md, &md_len);
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -EIO;
    EVP_EncodeBlock((unsigned char *)out, md, (int)md_len);
    return 0;
}

int ws_make_key(char out[WS_KEY_LEN + 1])
{
    unsigned char raw[WS_KEY_RAW];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return -EIO;
    EVP_EncodeBlock((unsigned char *)out, raw, sizeof(raw));
    return 0;
}
