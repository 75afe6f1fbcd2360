/* Portable constant-time GHASH (SP 800-38D §6.3, §6.4).
 *
 * Design (the idea of BearSSL's ghash_ctmul64, our own code):
 *
 * - Bit order. A block loaded big-endian as two 64-bit words is the field
 *   element with its bits reversed: the first bit of the block, the
 *   coefficient of x^0 (§6.3), is the integer's top bit. The carry-less
 *   product of two reversed operands is the reversed 255-bit product, so
 *   one left shift gives the reversed 256-bit product, which is then reduced
 *   modulo x^128 + x^7 + x^2 + x + 1 by folding 64-bit words.
 *
 * - Carry-less 64x64 multiply from integer multiplies. Each operand is split
 *   into four parts that keep one bit in four ("holes"). In an integer
 *   product of two parts, result bit k below 64 sums at most k/4 + 1 terms,
 *   so a column reaches 16, and carries into the next bit of its residue
 *   class, only at bit 60 and up, where the carry leaves the low 64 bits.
 *   Masking each class then picks out the XOR of the terms.
 *   Only the low 64 bits are exact; the high 64 bits are the low 64 bits of
 *   the product of the bit-reversed operands, reversed again and shifted by
 *   one. Integer multiplication is constant-time on the CPUs we target, and
 *   nothing here branches on, or indexes memory with, secret data.
 *
 * - Karatsuba: three 64x64 products per 128x128 product, each done twice
 *   (direct and reversed), so six masked multiplies per block.
 *
 * - Aggregated reduction: Y' = (Y ^ X1)H^4 ^ X2 H^3 ^ X3 H^2 ^ X4 H for four
 *   blocks at once. Everything before the reduction is linear, so the four
 *   blocks' partial products are XORed together per residue class and the
 *   class masking, the reversal of the high halves, the shift and the
 *   reduction run once per four blocks. The masked parts of H..H^4 (and of
 *   their reversals) are computed once in vl_ghash_ct_init.
 *
 * A variant on unsigned __int128 (64x64->128 multiplies of the parts, no
 * reversals) measured +13% with gcc and -10% with clang on x86-64: not
 * worth a second code path.
 */
#include "ghash_ct.h"

#include <string.h>

#include "internal.h"

_Static_assert(sizeof(vl_ghash_ct) <= 512, "vl_ghash_ct must stay small");

/* The four residue classes of bit positions modulo 4. */
#define M0 UINT64_C(0x1111111111111111)
#define M1 UINT64_C(0x2222222222222222)
#define M2 UINT64_C(0x4444444444444444)
#define M3 UINT64_C(0x8888888888888888)

/* Layout of g->h: for power H^(p+1), p = 0..3, sixteen words at 16p:
 * masked parts (classes 0..3) of its low word, its high word, the
 * bit-reversed low word and the bit-reversed high word. */
enum { LO = 0, HI = 4, RLO = 8, RHI = 12, PER_POWER = 16 };

#if defined(__GNUC__) || defined(__clang__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define NOINLINE __attribute__((noinline))
#else
#define ALWAYS_INLINE inline
#define NOINLINE
#endif

static inline uint64_t rev64(uint64_t x)
{
    x = ((x & UINT64_C(0x5555555555555555)) << 1) | ((x >> 1) & UINT64_C(0x5555555555555555));
    x = ((x & UINT64_C(0x3333333333333333)) << 2) | ((x >> 2) & UINT64_C(0x3333333333333333));
    x = ((x & UINT64_C(0x0F0F0F0F0F0F0F0F)) << 4) | ((x >> 4) & UINT64_C(0x0F0F0F0F0F0F0F0F));
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_bswap64(x);
#else
    x = ((x & UINT64_C(0x00FF00FF00FF00FF)) << 8) | ((x >> 8) & UINT64_C(0x00FF00FF00FF00FF));
    x = ((x & UINT64_C(0x0000FFFF0000FFFF)) << 16) | ((x >> 16) & UINT64_C(0x0000FFFF0000FFFF));
    return (x << 32) | (x >> 32);
#endif
}

static inline void split4(uint64_t out[4], uint64_t x)
{
    out[0] = x & M0;
    out[1] = x & M1;
    out[2] = x & M2;
    out[3] = x & M3;
}

/* z[c] ^= the products of x's and y's parts whose classes add up to c
 * (mod 4). Only the class-c bits of z[c] are meaningful; see join4. */
static inline void mul_acc(uint64_t z[4], uint64_t x, const uint64_t y[4])
{
    uint64_t x0 = x & M0, x1 = x & M1, x2 = x & M2, x3 = x & M3;

    z[0] ^= (x0 * y[0]) ^ (x1 * y[3]) ^ (x2 * y[2]) ^ (x3 * y[1]);
    z[1] ^= (x0 * y[1]) ^ (x1 * y[0]) ^ (x2 * y[3]) ^ (x3 * y[2]);
    z[2] ^= (x0 * y[2]) ^ (x1 * y[1]) ^ (x2 * y[0]) ^ (x3 * y[3]);
    z[3] ^= (x0 * y[3]) ^ (x1 * y[2]) ^ (x2 * y[1]) ^ (x3 * y[0]);
}

/* The low 64 bits of the carry-less product, from mul_acc's accumulators. */
static inline uint64_t join4(const uint64_t z[4])
{
    return (z[0] & M0) | (z[1] & M1) | (z[2] & M2) | (z[3] & M3);
}

/* The low 64 bits of sum_i x[i] * y_i (carry-less) over |n| blocks, where
 * y_i, given as four masked parts, is at y + stride * (n - 1 - i): the part
 * of power H^(n-i) that block i meets. */
static ALWAYS_INLINE uint64_t mul_sum(const uint64_t *x, const uint64_t *y, unsigned stride,
                                      unsigned n)
{
    uint64_t z[4] = {0, 0, 0, 0};

    /* Unrolled by hand: gcc -O2 keeps a loop here, which costs 10%. */
    mul_acc(z, x[0], y + stride * (n - 1));
    if (n > 1)
        mul_acc(z, x[1], y + stride * (n - 2));
    if (n > 2)
        mul_acc(z, x[2], y + stride * (n - 3));
    if (n > 3)
        mul_acc(z, x[3], y);
    return join4(z);
}

/* The data side of up to four blocks: low and high words, their XOR (the
 * Karatsuba middle operand), and the bit reversals of all three. */
struct blocks {
    uint64_t lo[4], hi[4], md[4], rlo[4], rhi[4], rmd[4];
};

/* Loads block |i| of |p| into |b|, XORed with (yhi, ylo). */
static ALWAYS_INLINE void load_block(struct blocks *b, unsigned i, const uint8_t *p, uint64_t yhi,
                                     uint64_t ylo)
{
    uint64_t hi = vl_load_be64(p + 16 * i) ^ yhi, lo = vl_load_be64(p + 16 * i + 8) ^ ylo;

    b->lo[i] = lo;
    b->hi[i] = hi;
    b->md[i] = lo ^ hi;
    b->rlo[i] = rev64(lo);
    b->rhi[i] = rev64(hi);
    b->rmd[i] = b->rlo[i] ^ b->rhi[i];
}

/* The Karatsuba middle operands Hlo ^ Hhi of the first |count| powers:
 * for power H^(i+1), eight words at MID_STRIDE * i, the masked parts direct
 * [0..3] and reversed [4..7]. Rebuilt on each update call: storing them
 * would take vl_ghash_ct past 512 bytes. */
enum { MID_STRIDE = 8, MID_WORDS = 4 * MID_STRIDE };

static void make_mids(uint64_t hm[MID_WORDS], const vl_ghash_ct *g, size_t count)
{
    for (unsigned i = 0; i < count; i++) {
        const uint64_t *hp = g->h + PER_POWER * i;

        for (unsigned c = 0; c < 4; c++) {
            hm[MID_STRIDE * i + c] = hp[LO + c] ^ hp[HI + c];
            hm[MID_STRIDE * i + 4 + c] = hp[RLO + c] ^ hp[RHI + c];
        }
    }
}

/* Sets y = (y ^ X_1) H^n ^ X_2 H^(n-1) ^ ... ^ X_n H: |n| (1..4) GHASH steps
 * (§6.4) over the blocks at |p| with one reduction. y[1] is the high
 * (first) word of the block, y[0] the low one. */
static ALWAYS_INLINE void ghash_group(const vl_ghash_ct *g, const uint64_t *hm, uint64_t y[2],
                                      const uint8_t *p, unsigned n)
{
    struct blocks x;

    /* Only for gcc's -Wmaybe-uninitialized (mul_sum reads no block that
     * was not loaded); dead stores when n == 4. */
    memset(&x, 0, sizeof x);
    /* Unrolled by hand, as in mul_sum. */
    load_block(&x, 0, p, y[1], y[0]);
    if (n > 1)
        load_block(&x, 1, p, 0, 0);
    if (n > 2)
        load_block(&x, 2, p, 0, 0);
    if (n > 3)
        load_block(&x, 3, p, 0, 0);

    /* Karatsuba over the 64-bit halves: a = lo*Hlo, b = hi*Hhi and the
     * middle term c = (lo^hi)*(Hlo^Hhi) ^ a ^ b, each 128 bits (a0 low
     * word, a1 high word, the high words from the reversed products). */
    uint64_t a0 = mul_sum(x.lo, g->h + LO, PER_POWER, n);
    uint64_t a1 = rev64(mul_sum(x.rlo, g->h + RLO, PER_POWER, n)) >> 1;
    uint64_t b0 = mul_sum(x.hi, g->h + HI, PER_POWER, n);
    uint64_t b1 = rev64(mul_sum(x.rhi, g->h + RHI, PER_POWER, n)) >> 1;
    uint64_t c0 = mul_sum(x.md, hm, MID_STRIDE, n) ^ a0 ^ b0;
    uint64_t c1 = (rev64(mul_sum(x.rmd, hm + 4, MID_STRIDE, n)) >> 1) ^ a1 ^ b1;

    /* The reversed 255-bit product as words w3 (top) .. w0. */
    uint64_t w0 = a0, w1 = a1 ^ c0, w2 = b0 ^ c1, w3 = b1;

    /* Shift left by one: the reversed 256-bit product. */
    w3 = (w3 << 1) | (w2 >> 63);
    w2 = (w2 << 1) | (w1 >> 63);
    w1 = (w1 << 1) | (w0 >> 63);
    w0 <<= 1;

    /* Reduce: bits of degree 128+d (words w0, w1) fold back as
     * x^d (1 + x + x^2 + x^7); in reversed order multiplying by x^e is a
     * right shift by e, and what w0 pushes out lands in w1, folded next. */
    w2 ^= w0 ^ (w0 >> 1) ^ (w0 >> 2) ^ (w0 >> 7);
    w1 ^= (w0 << 63) ^ (w0 << 62) ^ (w0 << 57);
    w3 ^= w1 ^ (w1 >> 1) ^ (w1 >> 2) ^ (w1 >> 7);
    w2 ^= (w1 << 63) ^ (w1 << 62) ^ (w1 << 57);

    y[1] = w3;
    y[0] = w2;
}

/* ghash_group for 1..4 blocks, out of line: the tails and init share one
 * copy while the four-block loop gets its own, with |n| a constant. */
static NOINLINE void ghash_some(const vl_ghash_ct *g, const uint64_t *hm, uint64_t y[2],
                                const uint8_t *p, unsigned n)
{
    ghash_group(g, hm, y, p, n);
}

/* Stores the masked parts of power index |p| = (hi, lo). */
static void set_power(vl_ghash_ct *g, unsigned p, uint64_t hi, uint64_t lo)
{
    uint64_t *hp = g->h + PER_POWER * p;

    split4(hp + LO, lo);
    split4(hp + HI, hi);
    split4(hp + RLO, rev64(lo));
    split4(hp + RHI, rev64(hi));
}

void vl_ghash_ct_init(vl_ghash_ct *g, const uint8_t h[16])
{
    static const uint8_t zero[16];
    uint64_t y[2] = {vl_load_be64(h + 8), vl_load_be64(h)};
    uint64_t hm[MID_WORDS];

    memset(g, 0, sizeof(*g));
    set_power(g, 0, y[1], y[0]);
    make_mids(hm, g, 1);
    /* H^k = H^(k-1) * H: one GHASH step over a zero block from Y = H^(k-1);
     * a one-block group reads only H and its middle operand. */
    for (unsigned p = 1; p < 4; p++) {
        ghash_some(g, hm, y, zero, 1);
        set_power(g, p, y[1], y[0]);
    }
    vl_memzero(y, sizeof(y));
    vl_memzero(hm, sizeof(hm));
}

void vl_ghash_ct_update(const vl_ghash_ct *g, uint8_t yb[16], const uint8_t *data, size_t len)
{
    uint64_t y[2] = {vl_load_be64(yb + 8), vl_load_be64(yb)};
    uint64_t hm[MID_WORDS];

    /* A short update (lengths, a small AD) needs fewer powers. */
    make_mids(hm, g, len >= 64 ? 4 : (len + 15) / 16);
    for (; len >= 64; data += 64, len -= 64)
        ghash_group(g, hm, y, data, 4);
    if (len > 0) {
        /* The last 1..63 bytes, zero-padded to whole blocks (§6.4 pads A
         * and C the same way), in one group of up to four blocks. */
        uint8_t tail[64] = {0};
        memcpy(tail, data, len);
        ghash_some(g, hm, y, tail, (unsigned)((len + 15) / 16));
    }
    vl_store_be64(yb, y[1]);
    vl_store_be64(yb + 8, y[0]);
    vl_memzero(y, sizeof(y));
    vl_memzero(hm, sizeof(hm));
}
