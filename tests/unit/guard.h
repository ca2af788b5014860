/* guard: place test input right before an unmapped page, so a parser
 * that reads one byte past the length it was given crashes the test.
 * Shared by the codec tests (header-only: each test is one program). */
#ifndef FERRY_TEST_GUARD_H
#define FERRY_TEST_GUARD_H

#include <stdint.h>
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

#endif
