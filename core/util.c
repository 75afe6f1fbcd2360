/* Memory hygiene shared by every layer. */
#include "internal.h"

void vl_memzero(void *p, size_t n)
{
    if (p == NULL || n == 0)
        return;
    if (n <= 64) {
        /* Tags, counters and partial blocks: volatile stores are cheaper
         * than a call into memset, which also stalls on the neighbours. */
        volatile unsigned char *v = (volatile unsigned char *)p;
        for (size_t i = 0; i < n; i++)
            v[i] = 0;
        return;
    }
#if defined(__GNUC__) || defined(__clang__)
    memset(p, 0, n);
    /* The empty asm "uses" the buffer, so the stores above cannot be
     * removed as dead even when |p| is about to go out of scope. */
    __asm__ __volatile__("" : : "r"(p) : "memory");
#else
    volatile unsigned char *v = (volatile unsigned char *)p;
    while (n--)
        *v++ = 0;
#endif
}

int vl_ct_eq(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    unsigned diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned)(x[i] ^ y[i]);
    /* diff is 0..255: (diff - 1) underflows (top bit set) only when 0. */
    return (int)(((diff - 1u) >> 8) & 1u);
}
