/* guard: place test input right before an unmapped page, so a parser
 * that reads one byte past the length it was given crashes the test.
 * Shared by the codec tests (header-only: each test is one program). */
#ifndef FERRY_TEST_GUARD_H
#define FERRY_TEST_GUARD_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct guard {
    uint8_t *map;
    size_t maplen;
    uint8_t *p; /* the copy; p + len is the first unmapped byte */
};

static inline void guard_put(struct guard *g, const void *data, size_t len)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t pages = (len + pg - 1) / pg;
    g->maplen = (pages + 1) * pg;
    g->map = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g->map != MAP_FAILED);
    assert_int_equal(mprotect(g->map + pages * pg, pg, PROT_NONE), 0);
    g->p = g->map + pages * pg - len;
    if (len > 0)
        memcpy(g->p, data, len);
}

static inline void guard_free(struct guard *g)
{
    assert_int_equal(munmap(g->map, g->maplen), 0);
}

/* A parser under test: reads buf[0 .. len), fills *out. */
typedef int (*guard_parse_fn)(const uint8_t *buf, size_t len, void *out);

/* fn on a guarded copy of msg.  *out (out_size bytes) is filled with
 * 0xA5 first, so a field the parser should have set shows if it did not. */
static inline int guard_parse(guard_parse_fn fn, const void *msg, size_t len,
                              void *out, size_t out_size)
{
    struct guard g;
    guard_put(&g, msg, len);
    memset(out, 0xA5, out_size);
    int rc = fn(g.p, len, out);
    guard_free(&g);
    return rc;
}

/* Each strict prefix of a complete message must ask for more. */
static inline void guard_check_prefixes(guard_parse_fn fn, const void *msg,
                                        size_t full, size_t out_size)
{
    void *out = malloc(out_size);
    assert_non_null(out);
    for (size_t k = 0; k < full; k++) {
        int rc = guard_parse(fn, msg, k, out, out_size);
        if (rc != -EAGAIN)
            fail_msg("prefix %zu of %zu: got %d, want -EAGAIN", k, full,
                     rc);
    }
    free(out);
}

#endif
