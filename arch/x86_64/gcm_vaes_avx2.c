/* AES-128/256-GCM (SP 800-38D) on VAES + VPCLMULQDQ with 256-bit registers:
 * the "vaes-avx2" path, for CPUs without AVX-512 (Zen 3, Alder Lake) and
 * those that prefer ymm.
 *
 * Requires (vl_x86_has_vaes_avx2): CPUID.1:ECX AES[25] PCLMULQDQ[1] SSSE3[9]
 * SSE4.1[19] OSXSAVE[27] AVX[28]; CPUID.(7,0):EBX AVX2[5]; CPUID.(7,0):ECX
 * VAES[9] VPCLMULQDQ[10]; XCR0 bits 1 and 2 (SSE, AVX state). No AVX-512:
 * no zmm, no mask register, no EVEX encoding.
 *
 * Design. A ymm register holds two blocks; round keys are broadcast to both
 * lanes at init. GHASH works on byte-reflected blocks with H premultiplied
 * by x, so a carry-less product needs no shift, and reduces 256 -> 128 bits
 * with two multiplies by the reflected polynomial 0xc2..01 (Montgomery
 * style, Gueron-Kounavis). Init stores H^17..H^1 with their Karatsuba
 * halves; a run of up to 17 blocks is multiplied by H^n..H^1 and summed
 * unreduced (3 multiplies per register, 2 per run to reduce). Long messages
 * go in 256-byte chunks: 8 registers of counters through AES while GHASH
 * takes 16 blocks between the rounds (seal: the previous chunk's
 * ciphertext; open: this chunk's, so both run the same loop). The last
 * <= 256 bytes (the whole of a short message, with its AD when the two fit
 * 16 blocks) are one run: J0 rides in the counter slot after the last data
 * block and the length block in the same GHASH slot, so a 16-byte message
 * is one register through AES, one two-block multiply and one reduction.
 * Counters are kept byte-reversed so vpaddd is inc32 mod 2^32 for any J0.
 * Partial blocks are assembled in registers from overlapping loads inside
 * the caller's buffers: no stack copy of data or keystream to wipe, no
 * store-forwarding stall; init wipes its temporary key schedule. Branches
 * and table offsets depend on lengths only.
 *
 * References: NIST SP 800-38D; S. Gueron, M. Kounavis, "Intel Carry-Less
 * Multiplication Instruction and its Usage for Computing the GCM Mode"
 * (Intel, rev. 2.02, 2014); V. Gopal et al., "Optimized Galois-Counter-Mode
 * Implementation on Intel Architecture Processors" (Intel, 2010); E. Biggers,
 * Linux arch/x86/crypto/aes-gcm-vaes-avx2.S design notes; Intel ipsec-mb. */
#include "gcm_vaes_avx2.h"

#include <string.h>

#include "aes_x86.h"
#include "impl.h"
#include "internal.h"

typedef vl_gcm_vaes_avx2 gcm_state;

_Static_assert(sizeof(gcm_state) <= VL_IMPL_STATE_BYTES, "vaes-avx2 state must fit the impl state");
_Static_assert(_Alignof(gcm_state) <= 64, "the impl state is only 64-byte aligned");
_Static_assert(offsetof(gcm_state, hpow) % 64 == 48, "H^16..H^1 must start a cache line");
_Static_assert(offsetof(gcm_state, hkar) % 32 == 16, "hkar[1] must be 32-byte aligned");

#define INLINE static inline __attribute__((always_inline))

/* EACH(k, stmt) runs stmt with the constant I = 0 .. k-1 (k a compile-time
 * constant, at most 8), unrolled by the preprocessor: arrays of registers
 * indexed by I then stay in registers whatever the compiler's unrolling
 * heuristics. */
#define EACH_ONE(k, n, stmt) { enum { I = n }; if (I < (k)) { stmt; } }
#define EACH(k, stmt)                                                                       \
    do {                                                                                    \
        EACH_ONE(k, 0, stmt) EACH_ONE(k, 1, stmt) EACH_ONE(k, 2, stmt) EACH_ONE(k, 3, stmt) \
        EACH_ONE(k, 4, stmt) EACH_ONE(k, 5, stmt) EACH_ONE(k, 6, stmt) EACH_ONE(k, 7, stmt) \
    } while (0)

/* Bytes per stitched chunk (8 registers, 16 blocks). */
#define CHUNK 256

/* 32 x 0xff then 32 x 0: loading at 32 - r keeps the first r bytes. */
static const uint8_t keep_mask[64] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

/* ---------------------------------------------------------------- helpers */

INLINE __m256i bswap_mask(void)
{
    return _mm256_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5,
                           6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

INLINE __m256i bswap256(__m256i x)
{
    return _mm256_shuffle_epi8(x, bswap_mask());
}

INLINE __m128i bswap128(__m128i x)
{
    return _mm_shuffle_epi8(x, _mm256_castsi256_si128(bswap_mask()));
}

INLINE __m256i loadu256(const void *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

INLINE void storeu256(void *p, __m256i v)
{
    _mm256_storeu_si256((__m256i *)p, v);
}

INLINE uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

INLINE uint32_t load32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

INLINE void store64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

INLINE void store32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

/* The n bytes at src (0 <= n <= 16) in the low bytes of a register, zeros
 * above. Reads only [src, src + n): overlapping loads, then shifts. */
INLINE __m128i load_partial16(const uint8_t *src, size_t n)
{
    uint64_t lo = 0, hi = 0;

    if (n == 16)
        return _mm_loadu_si128((const __m128i *)src);
    if (n >= 8) {
        lo = load64(src);
        if (n > 8)
            hi = load64(src + n - 8) >> (8 * (16 - n));
    } else if (n >= 4) {
        lo = load32(src) | (uint64_t)load32(src + n - 4) << (8 * (n - 4));
    } else if (n > 0) {
        lo = src[0] | (uint64_t)src[n >> 1] << (8 * (n >> 1)) | (uint64_t)src[n - 1] << (8 * (n - 1));
    }
    return _mm_set_epi64x((long long)hi, (long long)lo);
}

/* Writes the low n bytes of v (0 <= n <= 16) to [dst, dst + n) only. */
INLINE void store_partial16(uint8_t *dst, __m128i v, size_t n)
{
    uint64_t lo = (uint64_t)_mm_cvtsi128_si64(v), hi = (uint64_t)_mm_extract_epi64(v, 1);

    if (n == 16) {
        _mm_storeu_si128((__m128i *)dst, v);
    } else if (n >= 8) {
        store64(dst, lo);
        if (n > 8) /* bytes n-8 .. n-1 of v */
            store64(dst + n - 8, lo >> (8 * (n - 8)) | hi << (64 - 8 * (n - 8)));
    } else if (n >= 4) {
        store32(dst, (uint32_t)lo);
        store32(dst + n - 4, (uint32_t)(lo >> (8 * (n - 4))));
    } else if (n > 0) {
        dst[0] = (uint8_t)lo;
        dst[n >> 1] = (uint8_t)(lo >> (8 * (n >> 1)));
        dst[n - 1] = (uint8_t)(lo >> (8 * (n - 1)));
    }
}

/* 1 <= n <= 31 bytes at src, zero-padded to a register. */
INLINE __m256i load_partial32(const uint8_t *src, size_t n)
{
    if (n >= 16)
        return _mm256_set_m128i(load_partial16(src + 16, n - 16),
                                _mm_loadu_si128((const __m128i *)src));
    return _mm256_set_m128i(_mm_setzero_si128(), load_partial16(src, n));
}

INLINE void store_partial32(uint8_t *dst, __m256i v, size_t n)
{
    if (n >= 16) {
        _mm_storeu_si128((__m128i *)dst, _mm256_castsi256_si128(v));
        store_partial16(dst + 16, _mm256_extracti128_si256(v, 1), n - 16);
    } else {
        store_partial16(dst, _mm256_castsi256_si128(v), n);
    }
}

/* ---------------------------------------------------------------- AES */

INLINE void aes_round(__m256i *x, __m256i key, const int k)
{
    EACH(k, x[I] = _mm256_aesenc_epi128(x[I], key));
}

/* Rounds from .. Nr of AES on k registers. */
INLINE void aes_rounds_from(const gcm_state *s, __m256i *x, const int k, const int from)
{
    /* Written out (from is a constant): the same code from gcc and clang. */
    if (from <= 1)
        aes_round(x, s->rk[1], k);
    if (from <= 2)
        aes_round(x, s->rk[2], k);
    if (from <= 3)
        aes_round(x, s->rk[3], k);
    if (from <= 4)
        aes_round(x, s->rk[4], k);
    if (from <= 5)
        aes_round(x, s->rk[5], k);
    if (from <= 6)
        aes_round(x, s->rk[6], k);
    if (from <= 7)
        aes_round(x, s->rk[7], k);
    if (from <= 8)
        aes_round(x, s->rk[8], k);
    aes_round(x, s->rk[9], k);
    if (s->rounds == 14) {
        aes_round(x, s->rk[10], k);
        aes_round(x, s->rk[11], k);
        aes_round(x, s->rk[12], k);
        aes_round(x, s->rk[13], k);
        EACH(k, x[I] = _mm256_aesenclast_epi128(x[I], s->rk[14]));
    } else {
        EACH(k, x[I] = _mm256_aesenclast_epi128(x[I], s->rk[10]));
    }
}

/* Rounds 1 .. Nr of AES on k registers (x already holds block ^ rk[0]). */
INLINE void aes_rounds(const gcm_state *s, __m256i *x, const int k)
{
    aes_rounds_from(s, x, k, 1);
}

/* E_K of one block (big-endian byte order, as in memory). */
INLINE __m128i aes_block(const gcm_state *s, __m128i b)
{
    const __m128i *rk = (const __m128i *)s->rk; /* low lane of rk[r] is rk + 2r */

    b = _mm_xor_si128(b, rk[0]);
    for (unsigned r = 1; r < s->rounds; r++)
        b = _mm_aesenc_si128(b, rk[2 * r]);
    return _mm_aesenclast_si128(b, rk[2 * s->rounds]);
}

/* Counters are kept byte-reversed ("LE form"): dword 0 of each lane is the
 * 32-bit counter of SP 800-38D inc32, so vpaddd increments mod 2^32. */
INLINE __m256i ctr_add(__m256i c, int n)
{
    return _mm256_add_epi32(c, _mm256_set_epi32(0, 0, 0, n, 0, 0, 0, n));
}

/* k registers of counter blocks from *ctr (two per register), in memory
 * order and with rk[0] added; advances *ctr by 2k. */
INLINE void ctr_blocks(const gcm_state *s, __m256i *x, __m256i *ctr, const int k)
{
    EACH(k, {
        x[I] = _mm256_xor_si256(bswap256(*ctr), s->rk[0]);
        *ctr = ctr_add(*ctr, 2);
    });
}

/* ---------------------------------------------------------------- GHASH
 *
 * A block is byte-reversed into a 128-bit integer whose bit j is the
 * coefficient of x^(127-j). In that reflected domain, with stored powers
 * H' = H*x, the 256-bit carry-less product times x^-128 (reduce3) is again
 * the reflected block of the GF(2^128) product. */

/* The reflected polynomial: x^128 = x^127 + x^126 + x^121 + 1 (the low 128
 * bits of P' = 0x1c2...01). Only the high qword is used in reduce3. */
INLINE __m128i gf_poly(void)
{
    return _mm_set_epi64x((long long)0xc200000000000000ULL, 1);
}

/* (lo + mi*2^64 + hi*2^128) * 2^-128 mod P': fold the low 64 bits upward
 * twice, each fold one multiply by 0xc2..00 (Montgomery reduction). */
INLINE __m128i reduce3(__m128i lo, __m128i mi, __m128i hi)
{
    const __m128i p = gf_poly();

    mi = _mm_xor_si128(mi, _mm_shuffle_epi32(lo, 0x4e));
    mi = _mm_xor_si128(mi, _mm_clmulepi64_si128(lo, p, 0x10));
    hi = _mm_xor_si128(hi, _mm_shuffle_epi32(mi, 0x4e));
    return _mm_xor_si128(hi, _mm_clmulepi64_si128(mi, p, 0x10));
}

/* One full product a * b (init and the nonce path only). */
static __m128i gf_mul(__m128i a, __m128i b)
{
    __m128i lo = _mm_clmulepi64_si128(a, b, 0x00);
    __m128i hi = _mm_clmulepi64_si128(a, b, 0x11);
    __m128i mi = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x01), _mm_clmulepi64_si128(a, b, 0x10));
    return reduce3(lo, mi, hi);
}

/* Unreduced sum of products, per lane; Karatsuba middle kept raw. */
typedef struct {
    __m256i lo, mi, hi;
} gh_sum;

INLINE void gh_zero(gh_sum *a)
{
    a->lo = a->mi = a->hi = _mm256_setzero_si256();
}

/* a ^ b for the running sums. Through the floating-point xor builtin,
 * which gcc's reassociation leaves alone: with the plain integer xor it
 * regroups a chunk's 24 products into one tree at the end, keeping them all
 * live (spills). */
INLINE __m256i sum_xor(__m256i a, __m256i b)
{
    return _mm256_castpd_si256(_mm256_xor_pd(_mm256_castsi256_pd(a), _mm256_castsi256_pd(b)));
}

/* a += x * h for two reflected blocks x and the two powers at h (hk: their
 * Karatsuba halves): 3 multiplies. */
INLINE void gh_mul_add(gh_sum *a, __m256i x, const __m128i *h, const __m128i *hk)
{
    __m256i hv = loadu256(h);
    __m256i xk = _mm256_xor_si256(x, _mm256_shuffle_epi32(x, 0x4e));

    a->lo = sum_xor(a->lo, _mm256_clmulepi64_epi128(x, hv, 0x00));
    a->hi = sum_xor(a->hi, _mm256_clmulepi64_epi128(x, hv, 0x11));
    a->mi = sum_xor(a->mi, _mm256_clmulepi64_epi128(xk, loadu256(hk), 0x00));
}

INLINE __m128i fold_lanes(__m256i v)
{
    return _mm_xor_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
}

/* The reduced GHASH state from an unreduced sum. */
INLINE __m128i gh_finish(const gh_sum *a)
{
    __m128i lo = fold_lanes(a->lo), hi = fold_lanes(a->hi);
    __m128i mi = _mm_xor_si128(fold_lanes(a->mi), _mm_xor_si128(lo, hi));
    return reduce3(lo, mi, hi);
}

/* The reflected GHASH input of two blocks of memory, acc-free. */
INLINE __m256i gh_load(const uint8_t *p)
{
    return bswap256(loadu256(p));
}

INLINE __m256i widen(__m128i v)
{
    return _mm256_set_m128i(_mm_setzero_si128(), v);
}

/* acc = (acc ^ X1) H^16 + X2 H^15 + ... + X16 H: one 256-byte chunk. */
INLINE __m128i ghash_chunk(const gcm_state *s, const uint8_t *p, __m128i acc)
{
    gh_sum sum;

    gh_zero(&sum);
    for (int i = 1; i < 8; i++)
        gh_mul_add(&sum, gh_load(p + 32 * i), s->hpow + 1 + 2 * i, s->hkar + 1 + 2 * i);
    gh_mul_add(&sum, _mm256_xor_si256(gh_load(p), widen(acc)), s->hpow + 1, s->hkar + 1);
    return gh_finish(&sum);
}

/* sum += the blocks of 0 < len < 256 bytes at p (the last one zero-padded)
 * times hp[0], hp[1], ...; *first (the running GHASH state) goes into the
 * first block, then becomes zero. */
INLINE void gh_add_bytes(gh_sum *sum, const uint8_t *p, size_t len, const __m128i *hp,
                         const __m128i *hk, __m256i *first)
{
    size_t full = len / 32, r = len % 32;

    for (size_t u = 0; u < full; u++) {
        gh_mul_add(sum, _mm256_xor_si256(gh_load(p + 32 * u), *first), hp + 2 * u, hk + 2 * u);
        *first = _mm256_setzero_si256();
    }
    if (r != 0)
        gh_mul_add(sum, _mm256_xor_si256(bswap256(load_partial32(p + 32 * full, r)), *first),
                   hp + 2 * full, hk + 2 * full);
    *first = _mm256_setzero_si256();
}

/* GHASH of 0 < len < 256 bytes: one run of n = ceil(len / 16) blocks times
 * H^n..H^1. */
static __m128i ghash_short(const gcm_state *s, const uint8_t *p, size_t len, __m128i acc)
{
    size_t nb = (len + 15) / 16;
    __m256i first = widen(acc);
    gh_sum sum;

    gh_zero(&sum);
    gh_add_bytes(&sum, p, len, s->hpow + 17 - nb, s->hkar + 17 - nb, &first);
    return gh_finish(&sum);
}

/* GHASH_H over len bytes (any length; the last block zero-padded). */
static __m128i ghash_update(const gcm_state *s, __m128i acc, const uint8_t *p, size_t len)
{
    for (; len >= CHUNK; p += CHUNK, len -= CHUNK)
        acc = ghash_chunk(s, p, acc);
    if (len != 0)
        acc = ghash_short(s, p, len, acc);
    return acc;
}

/* The reflected length block [len(A)]64 || [len(C)]64. */
INLINE __m128i length_block(size_t ad_len, size_t len)
{
    return _mm_set_epi64x((long long)((uint64_t)ad_len * 8), (long long)((uint64_t)len * 8));
}

/* §7.1 step 2: J0, in LE form (= the reflected block). */
INLINE __m128i derive_j0(const gcm_state *s, const uint8_t *iv, size_t iv_len)
{
    if (iv_len == 12) {
        /* J0 = IV || 0^31 || 1 */
        uint64_t hi = load32(iv + 8) | (uint64_t)0x01000000 << 32;
        return bswap128(_mm_set_epi64x((long long)hi, (long long)load64(iv)));
    }
    /* J0 = GHASH_H(IV || 0^(s+64) || [len(IV)]64) */
    __m128i y = ghash_update(s, _mm_setzero_si128(), iv, iv_len);
    return gf_mul(_mm_xor_si128(y, length_block(0, iv_len)), s->hpow[16]);
}

/* ---------------------------------------------------------------- CTR + GHASH */

/* out = in ^ keystream for one 256-byte chunk, no hashing (seal's first). */
INLINE void crypt_chunk(const gcm_state *s, uint8_t *out, const uint8_t *in, __m256i *ctr)
{
    __m256i x[8];

    ctr_blocks(s, x, ctr, 8);
    aes_rounds(s, x, 8);
    EACH(8, storeu256(out + 32 * I, _mm256_xor_si256(x[I], loadu256(in + 32 * I))));
}

/* AES round r on 8 registers, and GHASH of register r of the chunk at h. */
INLINE void round_and_hash(const gcm_state *s, __m256i *x, gh_sum *sum, const uint8_t *h,
                           const int r)
{
    aes_round(x, s->rk[r], 8);
    gh_mul_add(sum, gh_load(h + 32 * r), s->hpow + 1 + 2 * r, s->hkar + 1 + 2 * r);
}

/* One stitched chunk: out = in ^ keystream (8 registers of counters) while
 * the 16 blocks at h are hashed into acc between the AES rounds. Every read
 * of h precedes the stores, so h may be in (open, in place). */
INLINE __m128i crypt_hash_chunk(const gcm_state *s, uint8_t *out, const uint8_t *in,
                                const uint8_t *h, __m256i *ctr, __m128i acc)
{
    __m256i x[8];
    gh_sum sum;

    ctr_blocks(s, x, ctr, 8);
    gh_zero(&sum);
    /* Rounds 1..8 each carry one register of GHASH: blocks 3..16 first,
     * the acc-dependent first register last, to keep it off the chain. */
    round_and_hash(s, x, &sum, h, 1);
    round_and_hash(s, x, &sum, h, 2);
    round_and_hash(s, x, &sum, h, 3);
    round_and_hash(s, x, &sum, h, 4);
    round_and_hash(s, x, &sum, h, 5);
    round_and_hash(s, x, &sum, h, 6);
    round_and_hash(s, x, &sum, h, 7);
    aes_round(x, s->rk[8], 8);
    gh_mul_add(&sum, _mm256_xor_si256(gh_load(h), widen(acc)), s->hpow + 1, s->hkar + 1);
    acc = gh_finish(&sum);
    aes_rounds_from(s, x, 8, 9);
    EACH(8, storeu256(out + 32 * I, _mm256_xor_si256(x[I], loadu256(in + 32 * I))));
    return acc;
}

/* k (1..4) full registers of the tail: crypt, then hash (seal: output,
 * open: input) with the powers at hp/hk; *first (the running GHASH state)
 * goes into the first block, then becomes zero. */
INLINE void crypt_units(const gcm_state *s, uint8_t *out, const uint8_t *in, __m256i *ctr,
                        const int k, const __m128i *hp, const __m128i *hk, __m256i *first,
                        gh_sum *sum, const int decrypt)
{
    __m256i x[8]; /* k used */

    ctr_blocks(s, x, ctr, k);
    aes_rounds(s, x, k);
    EACH(k, {
        __m256i d = loadu256(in + 32 * I);
        __m256i c = _mm256_xor_si256(d, x[I]);
        __m256i g = bswap256(decrypt ? d : c);
        storeu256(out + 32 * I, c);
        if (I == 0)
            g = _mm256_xor_si256(g, *first);
        gh_mul_add(sum, g, hp + 2 * I, hk + 2 * I);
    });
    *first = _mm256_setzero_si256();
}

/* The first full <= 8 registers of the tail, in groups of up to four. */
INLINE void crypt_full_units(const gcm_state *s, uint8_t *out, const uint8_t *in, size_t full,
                             __m256i *ctr, const __m128i *hp, const __m128i *hk,
                             __m256i *first, gh_sum *sum, const int decrypt)
{
    size_t u = 0;

    for (; u + 4 <= full; u += 4)
        crypt_units(s, out + 32 * u, in + 32 * u, ctr, 4, hp + 2 * u, hk + 2 * u, first, sum,
                    decrypt);
    out += 32 * u;
    in += 32 * u;
    hp += 2 * u;
    hk += 2 * u;
    switch (full - u) {
    case 3:
        crypt_units(s, out, in, ctr, 3, hp, hk, first, sum, decrypt);
        break;
    case 2:
        crypt_units(s, out, in, ctr, 2, hp, hk, first, sum, decrypt);
        break;
    case 1:
        crypt_units(s, out, in, ctr, 1, hp, hk, first, sum, decrypt);
        break;
    default:
        break;
    }
}

/* The bulk of a long message, n chunks; out of line so that the register
 * allocation of the short-message path stays its own. */
static __attribute__((noinline)) void seal_chunks(const gcm_state *s, uint8_t *out,
                                                  const uint8_t *in, size_t n, __m256i *ctr,
                                                  __m128i *acc)
{
    __m256i c = *ctr;
    __m128i a = *acc;

    /* Hash each chunk of ciphertext while the next one is made. */
    crypt_chunk(s, out, in, &c);
    for (size_t i = 1; i < n; i++, in += CHUNK, out += CHUNK)
        a = crypt_hash_chunk(s, out + CHUNK, in + CHUNK, out, &c, a);
    *acc = ghash_chunk(s, out, a);
    *ctr = c;
}

static __attribute__((noinline)) void open_chunks(const gcm_state *s, uint8_t *out,
                                                  const uint8_t *in, size_t n, __m256i *ctr,
                                                  __m128i *acc)
{
    __m256i c = *ctr;
    __m128i a = *acc;

    for (size_t i = 0; i < n; i++, in += CHUNK, out += CHUNK)
        a = crypt_hash_chunk(s, out, in, in, &c, a);
    *acc = a;
    *ctr = c;
}

/* The last len <= 256 bytes from counter ctr, as one GHASH run after acc
 * of n = ceil(ad_len/16) + ceil(len/16) + 1 <= 17 blocks: the AD when short
 * enough to join (else ad_len = 0 and acc has it), the data, then the length
 * block lb. Returns the final GHASH value S, and E_K(J0) in *ekj0. */
INLINE __m128i crypt_tail(const gcm_state *s, uint8_t *out, const uint8_t *in, size_t len,
                          const uint8_t *ad, size_t ad_len, __m256i ctr, __m128i j0,
                          __m128i acc, __m128i lb, __m128i *ekj0, const int decrypt)
{
    size_t nb = (len + 15) / 16, ab = (ad_len + 15) / 16, full = len / 32, r = len % 32;
    const __m128i *hp = s->hpow + 16 - nb - ab, *hk = s->hkar + 16 - nb - ab;
    __m256i first = widen(acc);
    gh_sum sum;

    gh_zero(&sum);
    if (ad_len != 0) {
        gh_add_bytes(&sum, ad, ad_len, hp, hk, &first);
        hp += ab;
        hk += ab;
    }
    crypt_full_units(s, out, in, full, &ctr, hp, hk, &first, &sum, decrypt);
    hp += 2 * full;
    hk += 2 * full;
    in += 32 * full;
    out += 32 * full;

    if (r == 0) {
        /* Only J0 and the length block remain. */
        *ekj0 = aes_block(s, bswap128(j0));
        gh_mul_add(&sum, _mm256_xor_si256(widen(lb), first), hp, hk);
    } else {
        __m256i d = load_partial32(in, r), x[1], c, g;
        if (r <= 16) {
            /* [last block, J0] through AES; [last block, length] to GHASH. */
            x[0] = _mm256_blend_epi32(ctr, _mm256_broadcastsi128_si256(j0), 0xf0);
            x[0] = _mm256_xor_si256(bswap256(x[0]), s->rk[0]);
            aes_rounds(s, x, 1);
            *ekj0 = _mm256_extracti128_si256(x[0], 1);
        } else {
            ctr_blocks(s, x, &ctr, 1);
            aes_rounds(s, x, 1);
            *ekj0 = aes_block(s, bswap128(j0));
            gh_mul_add(&sum, widen(lb), hp + 2, hk + 2);
        }
        c = _mm256_xor_si256(d, x[0]);
        store_partial32(out, c, r);
        g = decrypt ? d : _mm256_and_si256(c, loadu256(keep_mask + 32 - r));
        g = bswap256(g);
        if (r <= 16)
            g = _mm256_blend_epi32(g, _mm256_broadcastsi128_si256(lb), 0xf0);
        gh_mul_add(&sum, _mm256_xor_si256(g, first), hp, hk);
    }
    return gh_finish(&sum);
}

/* SP 800-38D §7.1 (seal) / §7.2 (open, tag over the input ciphertext). */
INLINE void gcm_crypt(const gcm_state *s, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                      size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                      size_t ad_len, const int decrypt)
{
    __m128i j0 = derive_j0(s, nonce, nonce_len), lb = length_block(ad_len, len), acc, ekj0;
    __m256i ctr = _mm256_add_epi32(_mm256_broadcastsi128_si256(j0),
                                   _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 1));
    size_t ad_in_tail = 0;

    /* A short message with short AD is one GHASH run (crypt_tail). */
    if (len <= CHUNK && ad_len <= CHUNK && (ad_len + 15) / 16 + (len + 15) / 16 <= 16)
        ad_in_tail = ad_len;
    acc = _mm_setzero_si128();
    if (ad_len != ad_in_tail)
        acc = ghash_update(s, acc, ad, ad_len);
    if (len > CHUNK) {
        size_t done = len - len % CHUNK;
        if (decrypt)
            open_chunks(s, out, in, done / CHUNK, &ctr, &acc);
        else
            seal_chunks(s, out, in, done / CHUNK, &ctr, &acc);
        in += done;
        out += done;
        len -= done;
    }
    acc = crypt_tail(s, out, in, len, ad, ad_in_tail, ctr, j0, acc, lb, &ekj0, decrypt);
    /* §7.1 step 6: T = E_K(J0) ^ S */
    _mm_storeu_si128((__m128i *)tag, _mm_xor_si128(bswap128(acc), ekj0));
}

/* ---------------------------------------------------------------- ops */

/* H*x in the reflected domain: shift left one bit, reduce the carry. */
static __m128i mul_by_x(__m128i h)
{
    __m128i carry = _mm_srai_epi32(_mm_shuffle_epi32(h, 0xff), 31);
    __m128i sh = _mm_or_si128(_mm_slli_epi64(h, 1), _mm_srli_epi64(_mm_slli_si128(h, 8), 63));
    return _mm_xor_si128(sh, _mm_and_si128(carry, gf_poly()));
}

void vl_gcm_vaes_avx2_init(void *st, const uint8_t *key, size_t key_len)
{
    gcm_state *s = st;
    vl_aes_x86 ks;
    __m128i h, p;

    vl_aes_x86_expand(&ks, key, key_len);
    memset(s, 0, sizeof *s);
    for (unsigned i = 0; i <= ks.rounds; i++)
        s->rk[i] = _mm256_broadcastsi128_si256(ks.rk[i]);
    s->rounds = ks.rounds;
    vl_memzero(&ks, sizeof ks);

    /* §7.1 step 1: H = CIPH_K(0^128), reflected, times x. */
    h = mul_by_x(bswap128(aes_block(s, _mm_setzero_si128())));
    p = h;
    for (int i = VL_GCM_AVX2_POWERS - 1; i >= 0; i--) {
        s->hpow[i] = p;
        s->hkar[i] = _mm_xor_si128(p, _mm_shuffle_epi32(p, 0x4e));
        p = gf_mul(p, h);
    }
    /* hpow[17], hkar[17] stay zero (memset). */
}

void vl_gcm_vaes_avx2_seal(const void *st, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                           size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                           size_t ad_len)
{
    gcm_crypt(st, out, tag, nonce, nonce_len, in, len, ad, ad_len, 0);
}

void vl_gcm_vaes_avx2_open(const void *st, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                           size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                           size_t ad_len)
{
    gcm_crypt(st, out, tag, nonce, nonce_len, in, len, ad, ad_len, 1);
}
