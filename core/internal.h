/* Internal helpers shared by every layer. Not installed. */
#ifndef VL_CORE_INTERNAL_H
#define VL_CORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* vl_memzero clears |n| bytes at |p| in a way the compiler cannot drop.
 * Inline so that the many fixed-size wipes (tags, counter blocks) compile to
 * a store or two: a call into memset for 16 bytes costs more than the
 * crypto of a short message. */
#if defined(__GNUC__) || defined(__clang__)
static inline void vl_memzero(void *p, size_t n)
{
    if (p == NULL || n == 0)
        return;
    memset(p, 0, n);
    /* The empty asm "uses" the buffer, so the stores above cannot be
     * removed as dead even when |p| is about to go out of scope. */
    __asm__ __volatile__("" : : "r"(p) : "memory");
}
#else
void vl_memzero(void *p, size_t n);
#endif

/* vl_ct_eq returns 1 when the |n| bytes at |a| and |b| are equal, else 0, in
 * time that depends only on |n| (OR-reduce, then a branch-free zero test).
 * Inline and word-wise: a tag compare is on every open's hot path. */
static inline int vl_ct_eq(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    uint64_t diff = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t u, v;
        memcpy(&u, x + i, 8);
        memcpy(&v, y + i, 8);
        diff |= u ^ v;
    }
    for (; i < n; i++)
        diff |= (uint64_t)(x[i] ^ y[i]);
    /* diff | -diff has its top bit set exactly when diff != 0. */
    return (int)(1 ^ ((diff | (0 - diff)) >> 63));
}

static inline uint32_t vl_load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void vl_store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint64_t vl_load_be64(const uint8_t *p)
{
    return ((uint64_t)vl_load_be32(p) << 32) | vl_load_be32(p + 4);
}

static inline void vl_store_be64(uint8_t *p, uint64_t v)
{
    vl_store_be32(p, (uint32_t)(v >> 32));
    vl_store_be32(p + 4, (uint32_t)v);
}

/* Written as one expression of shifts, which compilers fold into a single
 * load (a byte loop stays a loop at -O2). */
static inline uint64_t vl_load_le64(const uint8_t *p)
{
    return (uint64_t)p[0] | ((uint64_t)p[1] << 8) | ((uint64_t)p[2] << 16) |
           ((uint64_t)p[3] << 24) | ((uint64_t)p[4] << 32) | ((uint64_t)p[5] << 40) |
           ((uint64_t)p[6] << 48) | ((uint64_t)p[7] << 56);
}

static inline void vl_store_le64(uint8_t *p, uint64_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
    p[4] = (uint8_t)(v >> 32);
    p[5] = (uint8_t)(v >> 40);
    p[6] = (uint8_t)(v >> 48);
    p[7] = (uint8_t)(v >> 56);
}

/* Constant-time validation (STYLE.md §13): a build with -DVL_CT_VALIDATION
 * runs under valgrind memcheck with secrets marked undefined, so any branch
 * or memory index that depends on them is reported. Only results that are
 * public by design go through VL_CT_DECLASSIFY. */
#ifdef VL_CT_VALIDATION
#include <valgrind/memcheck.h>
#define VL_CT_SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define VL_CT_DECLASSIFY(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#else
#define VL_CT_SECRET(p, n) ((void)(p), (void)(n))
#define VL_CT_DECLASSIFY(p, n) ((void)(p), (void)(n))
#endif

#endif /* VL_CORE_INTERNAL_H */
