/* fuzz_yamux: libFuzzer target for proto/yamux.c.
 *
 * Besides the sanitizers, it checks the contract: the decoder returns
 * only YAMUX_HEADER_LEN, -EAGAIN (exactly when fewer than 12 bytes came)
 * or -EPROTO, and a header it accepts encodes back to the same 12 bytes. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/yamux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct yamux_header h;
    uint8_t out[YAMUX_HEADER_LEN];
    int rc = yamux_decode(data, size, &h);
    if ((rc == -EAGAIN) != (size < YAMUX_HEADER_LEN))
        __builtin_trap();
    if (rc != YAMUX_HEADER_LEN && rc != -EAGAIN && rc != -EPROTO)
        __builtin_trap();
    if (rc != YAMUX_HEADER_LEN)
        return 0;
    yamux_encode(out, &h);
    if (memcmp(out, data, YAMUX_HEADER_LEN) != 0)
        __builtin_trap();
    return 0;
}
