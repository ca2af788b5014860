/* fuzz_ws: libFuzzer target for proto/ws.c.
 *
 * Besides the sanitizers, it checks the contract: the header decoder
 * returns only 2..14 (matching header_len), -EAGAIN or -EPROTO, and a
 * header it accepts is in shortest form, so re-encoding it gives the same
 * bytes (but for FIN, which the encoder always sets).  The bytes after
 * the header are unmasked at once and in two pieces, which must agree;
 * and they serve as a Sec-WebSocket-Key for the accept computation. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/ws.h"

#define PAYLOAD_MAX 4096 /* run_fuzzer.sh's -max_len */

static void check_header(const uint8_t *data, size_t size,
                         const struct ws_frame *f, int rc)
{
    uint8_t out[WS_HEADER_MAX];
    if (rc < 2 || rc > WS_HEADER_MAX || (size_t)rc > size ||
        f->header_len != (size_t)rc)
        __builtin_trap();
    size_t n = ws_encode_header(out, f->opcode, f->len,
                                f->masked ? f->mask : NULL);
    if (n != (size_t)rc || (out[0] & 0x7f) != (data[0] & 0x7f) ||
        memcmp(out + 1, data + 1, n - 1) != 0)
        __builtin_trap();
}

static void check_mask(const uint8_t *p, size_t n, const uint8_t mask[4])
{
    static uint8_t whole[PAYLOAD_MAX], pieces[PAYLOAD_MAX];
    if (n > PAYLOAD_MAX)
        n = PAYLOAD_MAX;
    memcpy(whole, p, n);
    memcpy(pieces, p, n);
    size_t cut = n ? p[0] % n : 0;
    ws_apply_mask(whole, n, mask, 0);
    ws_apply_mask(pieces, cut, mask, 0);
    ws_apply_mask(pieces + cut, n - cut, mask, cut);
    if (memcmp(whole, pieces, n) != 0)
        __builtin_trap();
}

static void check_accept(const uint8_t *p, size_t n)
{
    char accept[WS_ACCEPT_LEN + 1];
    int rc = ws_accept_key((const char *)p, n, accept);
    if (n == 0 ? rc != -EINVAL
               : rc != 0 || strlen(accept) != WS_ACCEPT_LEN)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ws_frame f;
    int rc = ws_decode_header(data, size, &f);
    if (rc == -EAGAIN || rc == -EPROTO)
        return 0;
    check_header(data, size, &f, rc);
    if (f.masked)
        check_mask(data + rc, size - (size_t)rc, f.mask);
    check_accept(data + rc, size - (size_t)rc);
    return 0;
}
