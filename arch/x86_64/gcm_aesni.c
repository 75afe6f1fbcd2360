/* AES-128/256-GCM on AES-NI and PCLMULQDQ with 128-bit registers: the
 * "aesni" path. SP 800-38D §7.1 (seal) and §7.2 (open, minus the tag
 * comparison, which the front end does in constant time).
 *
 * Requires (CPUID.01H:ECX): AES-NI (bit 25), PCLMULQDQ (bit 1), SSSE3
 * (bit 9), SSE4.1 (bit 19); see vl_x86_has_aesni(). Built with
 * -maes -mpclmul -mssse3 -msse4.1 (Makefile, *_aesni.c).
 *
 * Design:
 * - GHASH (§6.4) on byte-reversed blocks, with H stored times x so that the
 *   256-bit carry-less product reduces by two folds with the constant
 *   0xc2 << 56 and no shifts. Init keeps H^1..H^9 with their Karatsuba
 *   halves: up to nine blocks are multiplied, summed unreduced, reduced once.
 * - Bulk, 8 blocks per iteration: the AES rounds of GCTR (§6.5) with the
 *   GHASH of 8 ciphertext blocks stitched in, one block per round: on open
 *   the blocks just loaded, on seal the blocks written one iteration before.
 * - Tail (< 128 bytes, so all of a short message): up to four blocks of AES
 *   at once, then one aggregated GHASH of the tail and the length block. A
 *   message of at most 16 bytes (the commonest fields) with at most 112
 *   bytes of AD is one pass in registers: AD, ciphertext and length block
 *   under one reduction. A 12-byte IV gives J0 directly (§7.1 step 2), and
 *   E_K(J0) is computed with the tail's own AES, so it adds no latency.
 * - Secrets stay in registers: partial blocks move in 8/4/2/1-byte pieces
 *   through general registers (never a byte outside the caller's buffers),
 *   and E_K(J0) is never held across a call, where it could be spilled. No
 *   stack buffer holds a secret, so there is nothing to wipe.
 * Branches and table indexes depend on lengths only, never on data. */
#include "gcm_aesni.h"

#include <string.h>

#include "impl.h"

_Static_assert(sizeof(vl_gcm_aesni) <= VL_IMPL_STATE_BYTES, "vl_gcm_aesni must fit the impl state");
_Static_assert(_Alignof(vl_gcm_aesni) <= 64, "the impl state is only 64-byte aligned");

/* Blocks per iteration of the bulk loop. */
#define BATCH 8
#define EACH4(F) F(0) F(1) F(2) F(3)
#define EACH8(F) EACH4(F) F(4) F(5) F(6) F(7)

/* ---------------------------------------------------------------- blocks */

static inline __m128i load_block(const uint8_t *p)
{
    return _mm_loadu_si128((const __m128i *)p);
}

static inline void store_block(uint8_t *p, __m128i v)
{
    _mm_storeu_si128((__m128i *)p, v);
}

/* Byte order reversed: the form GHASH multiplies, and the form in which the
 * 32-bit block counter is lane 0 (so _mm_add_epi32 is inc32, §6.2). */
static inline __m128i reflect(__m128i x)
{
    return _mm_shuffle_epi8(x, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

/* The counter block ctr + i, from the reflected counter. */
static inline __m128i counter_block(__m128i ctr, int i)
{
    return reflect(_mm_add_epi32(ctr, _mm_set_epi32(0, 0, 0, i)));
}

/* The n < 16 bytes at p, zero-padded, read in 8/4/2/1-byte pieces. */
static inline __m128i load_partial(const uint8_t *p, size_t n)
{
    uint64_t head = 0, rest = 0;
    size_t off = 0;
    unsigned shift = 0;

    if (n & 8) {
        memcpy(&head, p, 8);
        off = 8;
    }
    if (n & 4) {
        uint32_t w;
        memcpy(&w, p + off, 4);
        rest = w;
        shift = 32;
        off += 4;
    }
    if (n & 2) {
        uint16_t w;
        memcpy(&w, p + off, 2);
        rest |= (uint64_t)w << shift;
        shift += 16;
        off += 2;
    }
    if (n & 1)
        rest |= (uint64_t)p[off] << shift;
    if (n & 8)
        return _mm_set_epi64x((long long)rest, (long long)head);
    return _mm_set_epi64x(0, (long long)rest);
}

/* The first n < 16 bytes of v to p, in 8/4/2/1-byte pieces. */
static inline void store_partial(uint8_t *p, __m128i v, size_t n)
{
    uint64_t w = (uint64_t)_mm_cvtsi128_si64(v);
    size_t off = 0;

    if (n & 8) {
        memcpy(p, &w, 8);
        w = (uint64_t)_mm_extract_epi64(v, 1);
        off = 8;
    }
    if (n & 4) {
        uint32_t t = (uint32_t)w;
        memcpy(p + off, &t, 4);
        w >>= 32;
        off += 4;
    }
    if (n & 2) {
        uint16_t t = (uint16_t)w;
        memcpy(p + off, &t, 2);
        w >>= 16;
        off += 2;
    }
    if (n & 1)
        p[off] = (uint8_t)w;
}

/* All ones in the first n bytes, zero after (0 < n < 16). */
static inline __m128i first_bytes_mask(size_t n)
{
    static const uint8_t ones_then_zeros[32] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    };
    return load_block(ones_then_zeros + 16 - n);
}

/* ---------------------------------------------------------------- AES */

/* One block, rounds unrolled (FIPS 197 §5.1). */
static inline __m128i aes_block(const vl_aes_x86 *k, __m128i b)
{
    const __m128i *rk = k->rk;

    b = _mm_xor_si128(b, rk[0]);
    b = _mm_aesenc_si128(b, rk[1]);
    b = _mm_aesenc_si128(b, rk[2]);
    b = _mm_aesenc_si128(b, rk[3]);
    b = _mm_aesenc_si128(b, rk[4]);
    b = _mm_aesenc_si128(b, rk[5]);
    b = _mm_aesenc_si128(b, rk[6]);
    b = _mm_aesenc_si128(b, rk[7]);
    b = _mm_aesenc_si128(b, rk[8]);
    b = _mm_aesenc_si128(b, rk[9]);
    if (k->rounds == 14) {
        b = _mm_aesenc_si128(b, rk[10]);
        b = _mm_aesenc_si128(b, rk[11]);
        b = _mm_aesenc_si128(b, rk[12]);
        b = _mm_aesenc_si128(b, rk[13]);
    }
    return _mm_aesenclast_si128(b, rk[k->rounds]);
}

/* b[i] = counter block ctr + i, whitened with round key 0. */
static inline void counters8(__m128i b[BATCH], __m128i ctr, __m128i rk0)
{
#define CTR(i) b[i] = _mm_xor_si128(counter_block(ctr, i), rk0);
    EACH8(CTR)
#undef CTR
}

static inline void round8(__m128i b[BATCH], __m128i rk)
{
#define ENC(i) b[i] = _mm_aesenc_si128(b[i], rk);
    EACH8(ENC)
#undef ENC
}

/* The last round, with the data xor folded into its round key. */
static inline void last8(__m128i b[BATCH], __m128i rk, const uint8_t *in, uint8_t *out)
{
#define LAST(i)                                                                            \
    store_block(out + 16 * i,                                                              \
                _mm_aesenclast_si128(b[i], _mm_xor_si128(rk, load_block(in + 16 * i))));
    EACH8(LAST)
#undef LAST
}

/* out = in xor E_K(ctr + 0..3), four full blocks. */
static inline void ctr4(const vl_aes_x86 *k, __m128i ctr, const uint8_t *in, uint8_t *out)
{
    __m128i b[4];
    unsigned r;

#define CTR(i) b[i] = _mm_xor_si128(counter_block(ctr, i), k->rk[0]);
    EACH4(CTR)
#undef CTR
    for (r = 1; r < k->rounds; r++) {
#define ENC(i) b[i] = _mm_aesenc_si128(b[i], k->rk[r]);
        EACH4(ENC)
#undef ENC
    }
#define LAST(i)                                                                            \
    store_block(out + 16 * i,                                                              \
                _mm_aesenclast_si128(b[i], _mm_xor_si128(k->rk[r], load_block(in + 16 * i))));
    EACH4(LAST)
#undef LAST
}

/* out = in xor E_K(ctr + ...) for 0 < len < 128 bytes. With want_ek_j0,
 * returns E_K(j0), computed alongside so that its AES overlaps the tail's
 * (else zero). */
static __m128i ctr_tail(const vl_aes_x86 *k, __m128i ctr, const uint8_t *in, uint8_t *out,
                        size_t len, __m128i j0, int want_ek_j0)
{
    const __m128i ek_j0 = want_ek_j0 ? aes_block(k, j0) : _mm_setzero_si128();
    size_t full = len / 16, rem = len % 16, i = 0;

    if (full >= 4) {
        ctr4(k, ctr, in, out);
        i = 4;
    }
    for (; i < full; i++) {
        __m128i ks = aes_block(k, counter_block(ctr, (int)i));
        store_block(out + 16 * i, _mm_xor_si128(load_block(in + 16 * i), ks));
    }
    if (rem != 0) {
        __m128i ks = aes_block(k, counter_block(ctr, (int)full));
        store_partial(out + 16 * full, _mm_xor_si128(load_partial(in + 16 * full, rem), ks), rem);
    }
    return ek_j0;
}

/* ---------------------------------------------------------------- GHASH */

/* An unreduced sum of Karatsuba products. */
typedef struct {
    __m128i lo, mid, hi;
} ghash_sum;

static inline ghash_sum ghash_zero(void)
{
    ghash_sum g = {_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128()};
    return g;
}

/* a xor b for the GHASH sums. As a float-domain xor (same cost here) it is
 * opaque to GCC's reassociation, which otherwise regroups the sums of the
 * stitched loop into a tree and spills the products. */
static inline __m128i sum_xor(__m128i a, __m128i b)
{
    return _mm_castps_si128(_mm_xor_ps(_mm_castsi128_ps(a), _mm_castsi128_ps(b)));
}

/* g += x * H^power (x reflected; 1 <= power <= VL_GCM_AESNI_POWERS):
 * Karatsuba, three carry-less multiplies. Each product goes into its sum at
 * once, which keeps the register pressure of the stitched loop low. */
static inline void ghash_mul_add(ghash_sum *g, const vl_gcm_aesni *s, __m128i x, size_t power)
{
    const __m128i h = s->h[power - 1], hk = s->hk[power - 1];
    const __m128i xk = _mm_xor_si128(x, _mm_shuffle_epi32(x, 0x4e));

    g->lo = sum_xor(g->lo, _mm_clmulepi64_si128(x, h, 0x00));
    g->hi = sum_xor(g->hi, _mm_clmulepi64_si128(x, h, 0x11));
    g->mid = sum_xor(g->mid, _mm_clmulepi64_si128(xk, hk, 0x00));
}

/* The 256-bit sum reduced modulo the GHASH polynomial. In reflected form
 * the product comes out one bit short; H stored times x makes up for it,
 * and then two Montgomery-style folds of the low half with the polynomial's
 * reflected low terms (x^127 + x^126 + x^121: 0xc2 << 56) finish it. */
static inline __m128i ghash_reduce(ghash_sum g)
{
    const __m128i poly = _mm_set_epi64x(0, (long long)0xc200000000000000ULL);
    __m128i mid = _mm_xor_si128(g.mid, _mm_xor_si128(g.lo, g.hi));
    __m128i lo = _mm_xor_si128(g.lo, _mm_slli_si128(mid, 8));
    __m128i hi = _mm_xor_si128(g.hi, _mm_srli_si128(mid, 8));

    lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), _mm_clmulepi64_si128(lo, poly, 0x00));
    lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), _mm_clmulepi64_si128(lo, poly, 0x00));
    return _mm_xor_si128(lo, hi);
}

/* xi = GHASH(xi, the 8 blocks at p), one reduction. */
static inline __m128i ghash8(const vl_gcm_aesni *s, __m128i xi, const uint8_t *p)
{
    ghash_sum g = ghash_zero();

    ghash_mul_add(&g, s, _mm_xor_si128(reflect(load_block(p)), xi), 8);
#define MUL(i) ghash_mul_add(&g, s, reflect(load_block(p + 16 * i)), 8 - i);
    MUL(1) MUL(2) MUL(3) MUL(4) MUL(5) MUL(6) MUL(7)
#undef MUL
    return ghash_reduce(g);
}

/* g += (xi + X1) H^power + X2 H^(power-1) + ..., where X1.. are the
 * 0 < len <= 16 * power bytes at p, the last block zero-padded. */
static inline void ghash_add_bytes(ghash_sum *g, const vl_gcm_aesni *s, __m128i xi,
                                   const uint8_t *p, size_t len, size_t power)
{
    size_t full = len / 16, rem = len % 16;

    for (size_t i = 0; i < full; i++, power--) {
        ghash_mul_add(g, s, _mm_xor_si128(reflect(load_block(p + 16 * i)), xi), power);
        xi = _mm_setzero_si128();
    }
    if (rem != 0)
        ghash_mul_add(g, s, _mm_xor_si128(reflect(load_partial(p + 16 * full, rem)), xi), power);
}

/* One aggregated step with one reduction: xi = (xi + X1) H^n + X2 H^(n-1)
 * + ... + Xn H, where X1.. are the len <= 128 bytes at p (the last block
 * zero-padded), then *lengths when not NULL; n >= 1. Returns xi xor |add|
 * (for the tag, E_K(J0) reflected: it then stays in this call-free
 * function until used). */
static __m128i ghash_group(const vl_gcm_aesni *s, __m128i xi, const uint8_t *p, size_t len,
                           const __m128i *lengths, __m128i add)
{
    ghash_sum g = ghash_zero();

    if (len > 0) {
        ghash_add_bytes(&g, s, xi, p, len, (len + 15) / 16 + (lengths != NULL));
        xi = _mm_setzero_si128();
    }
    if (lengths != NULL)
        ghash_mul_add(&g, s, _mm_xor_si128(*lengths, xi), 1);
    return _mm_xor_si128(ghash_reduce(g), add);
}

/* xi = GHASH(xi, the len bytes at p zero-padded, then *lengths when not
 * NULL): the AD, or the IV. */
static __m128i ghash_bytes(const vl_gcm_aesni *s, __m128i xi, const uint8_t *p, size_t len,
                           const __m128i *lengths)
{
    for (; len > 16 * BATCH; p += 16 * BATCH, len -= 16 * BATCH)
        xi = ghash8(s, xi, p);
    if (len == 0 && lengths == NULL)
        return xi;
    return ghash_group(s, xi, p, len, lengths, _mm_setzero_si128());
}

/* The tag, §7.1 steps 5-6: T = E_K(J0) xor GHASH(xi, the len <= 128 bytes
 * at p, the length block). E_K(J0) comes from the AES just before. */
static inline __m128i ghash_tag(const vl_gcm_aesni *s, __m128i xi, const uint8_t *p, size_t len,
                                __m128i lengths, __m128i ek_j0)
{
    return reflect(ghash_group(s, xi, p, len, &lengths, reflect(ek_j0)));
}

/* The final GHASH block [len(A)]64 || [len(C)]64, reflected (§7.1 step 5). */
static inline __m128i lengths_block(size_t ad_len, size_t len)
{
    return _mm_set_epi64x((long long)((uint64_t)ad_len * 8), (long long)((uint64_t)len * 8));
}

/* ---------------------------------------------------------------- bulk */

/* One batch without GHASH: out = in xor E_K(ctr + 0..7). */
static void ctr8(const vl_aes_x86 *k, __m128i ctr, const uint8_t *in, uint8_t *out)
{
    __m128i b[BATCH];

    counters8(b, ctr, k->rk[0]);
    for (unsigned r = 1; r < k->rounds; r++)
        round8(b, k->rk[r]);
    last8(b, k->rk[k->rounds], in, out);
}

/* nbatch batches of out = in xor E_K(ctr + ...), stitched with the GHASH
 * of 8 ciphertext blocks per batch: one block after each of AES rounds
 * 1..8, the reduction after round 9, so the carry-less multiplies fill the
 * gaps of the AES chains. The blocks hashed are the batch's own input
 * (open: loaded before anything is stored, so in == out is fine), or with
 * hash_previous_output the output of the batch before (seal). */
static __m128i ctr8_ghash(const vl_gcm_aesni *s, __m128i ctr, const uint8_t *in, uint8_t *out,
                          size_t nbatch, __m128i xi, int hash_previous_output)
{
    const vl_aes_x86 *k = &s->aes;

    for (size_t n = 0; n < nbatch; n++) {
        const uint8_t *c = hash_previous_output ? out - 16 * BATCH : in;
        ghash_sum g = ghash_zero();
        __m128i b[BATCH];

        counters8(b, ctr, k->rk[0]);
        round8(b, k->rk[1]);
        ghash_mul_add(&g, s, _mm_xor_si128(reflect(load_block(c)), xi), 8);
#define STEP(i)                                                                            \
        round8(b, k->rk[i + 1]);                                                           \
        ghash_mul_add(&g, s, reflect(load_block(c + 16 * i)), 8 - i);
        STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6) STEP(7)
#undef STEP
        round8(b, k->rk[9]);
        xi = ghash_reduce(g);
        for (unsigned r = 10; r < k->rounds; r++)
            round8(b, k->rk[r]);
        last8(b, k->rk[k->rounds], in, out);
        in += 16 * BATCH;
        out += 16 * BATCH;
        ctr = _mm_add_epi32(ctr, _mm_set_epi32(0, 0, 0, BATCH));
    }
    return xi;
}

/* Seal nbatch >= 1 batches; the GHASH runs one batch behind the CTR, and
 * the last batch is left for seal_tail to hash. */
static __m128i seal_bulk(const vl_gcm_aesni *s, __m128i ctr, const uint8_t *in, uint8_t *out,
                         size_t nbatch, __m128i xi)
{
    ctr8(&s->aes, ctr, in, out);
    return ctr8_ghash(s, _mm_add_epi32(ctr, _mm_set_epi32(0, 0, 0, BATCH)), in + 16 * BATCH,
                      out + 16 * BATCH, nbatch - 1, xi, 1);
}

/* ---------------------------------------------------------------- tails */

/* Most AD that a one-block message hashes in the same aggregated step. */
#define SHORT_AD_MAX (16 * (VL_GCM_AESNI_POWERS - 2))

/* At most one block of data, n <= 16 bytes, kept in registers, and
 * E_K(J0) alongside; then the tag from one aggregated GHASH of the AD
 * (ad_len <= SHORT_AD_MAX, for a whole message; a tail has xi instead),
 * the zero-padded ciphertext block and the length block. The ciphertext is the input on
 * open (loaded before the output is stored), the output on seal. Whole
 * short messages and one-block tails end here: the commonest fields. */
static __m128i crypt_last_block(const vl_gcm_aesni *s, __m128i ctr, __m128i j0,
                                const uint8_t *in, uint8_t *out, size_t n, const uint8_t *ad,
                                size_t ad_len, __m128i xi, __m128i lengths, int decrypt)
{
    size_t power = (ad_len + 15) / 16 + (n > 0) + 1;
    ghash_sum g = ghash_zero();

    if (ad_len > 0) {
        ghash_add_bytes(&g, s, xi, ad, ad_len, power);
        power -= (ad_len + 15) / 16;
        xi = _mm_setzero_si128();
    }
    const __m128i ek_j0 = aes_block(&s->aes, j0);
    if (n > 0) {
        const __m128i ks = aes_block(&s->aes, counter_block(ctr, 0));
        __m128i x, y;
        if (n == 16) {
            x = load_block(in);
            y = _mm_xor_si128(x, ks);
            store_block(out, y);
        } else {
            x = load_partial(in, n);
            y = _mm_and_si128(_mm_xor_si128(x, ks), first_bytes_mask(n));
            store_partial(out, y, n);
        }
        ghash_mul_add(&g, s, _mm_xor_si128(reflect(decrypt ? x : y), xi), power);
        xi = _mm_setzero_si128();
    }
    ghash_mul_add(&g, s, _mm_xor_si128(lengths, xi), 1);
    return _mm_xor_si128(reflect(ghash_reduce(g)), ek_j0);
}

/* Seal the last len < 128 bytes; returns the tag. |pending|, when not
 * NULL, is a sealed batch not hashed yet: with no tail it shares one
 * reduction with the length block (nine powers). */
static __m128i seal_tail(const vl_gcm_aesni *s, __m128i ctr, __m128i j0, const uint8_t *in,
                         uint8_t *out, size_t len, __m128i xi, __m128i lengths,
                         const uint8_t *pending)
{
    if (pending != NULL && len == 0)
        return ghash_tag(s, xi, pending, 16 * BATCH, lengths, aes_block(&s->aes, j0));
    if (pending != NULL)
        xi = ghash8(s, xi, pending);
    if (len == 0)
        return ghash_tag(s, xi, NULL, 0, lengths, aes_block(&s->aes, j0));
    if (len <= 16)
        return crypt_last_block(s, ctr, j0, in, out, len, NULL, 0, xi, lengths, 0);
    const __m128i ek_j0 = ctr_tail(&s->aes, ctr, in, out, len, j0, 1);
    return ghash_tag(s, xi, out, len, lengths, ek_j0);
}

/* Open the last len < 128 bytes and write the tag, hashing the ciphertext
 * before it may be overwritten (in == out). */
static void open_tail(const vl_gcm_aesni *s, __m128i ctr, __m128i j0, const uint8_t *in,
                      uint8_t *out, size_t len, __m128i xi, __m128i lengths, uint8_t tag[16])
{
    if (len > 0 && len <= 16) {
        store_block(tag, crypt_last_block(s, ctr, j0, in, out, len, NULL, 0, xi, lengths, 1));
        return;
    }
    store_block(tag, ghash_tag(s, xi, in, len, lengths, aes_block(&s->aes, j0)));
    if (len > 0)
        ctr_tail(&s->aes, ctr, in, out, len, j0, 0);
}

/* ---------------------------------------------------------------- API */

/* §7.1 step 2: J0 = IV || 0^31 || 1 for a 12-byte IV, else
 * GHASH(IV || 0^(s+64) || [len(IV)]64). */
static __m128i derive_j0(const vl_gcm_aesni *s, const uint8_t *iv, size_t iv_len)
{
    if (iv_len == 12) {
        uint64_t lo;
        uint32_t hi;
        memcpy(&lo, iv, 8);
        memcpy(&hi, iv + 8, 4);
        return _mm_set_epi64x((long long)(((uint64_t)0x01000000 << 32) | hi), (long long)lo);
    }
    const __m128i lengths = lengths_block(0, iv_len);
    return reflect(ghash_bytes(s, _mm_setzero_si128(), iv, iv_len, &lengths));
}

void vl_gcm_aesni_init(void *st, const uint8_t *key, size_t key_len)
{
    vl_gcm_aesni *s = st;

    vl_aes_x86_expand(&s->aes, key, key_len);
    /* §7.1 step 1: H = CIPH_K(0^128), reflected, then times x: shift left
     * one bit, folding the carry back with the polynomial. */
    __m128i h = reflect(aes_block(&s->aes, _mm_setzero_si128()));
    __m128i carry = _mm_srai_epi32(_mm_shuffle_epi32(h, 0xff), 31);
    __m128i shifted = _mm_or_si128(_mm_slli_epi64(h, 1),
                                   _mm_slli_si128(_mm_srli_epi64(h, 63), 8));
    const __m128i poly = _mm_set_epi64x((long long)0xc200000000000000ULL, 1);
    s->h[0] = _mm_xor_si128(shifted, _mm_and_si128(carry, poly));
    s->hk[0] = _mm_xor_si128(s->h[0], _mm_shuffle_epi32(s->h[0], 0x4e));
    /* Both operands times x give a product times x: the same form. */
    for (size_t i = 1; i < VL_GCM_AESNI_POWERS; i++) {
        ghash_sum g = ghash_zero();
        ghash_mul_add(&g, s, s->h[i - 1], 1);
        s->h[i] = ghash_reduce(g);
        s->hk[i] = _mm_xor_si128(s->h[i], _mm_shuffle_epi32(s->h[i], 0x4e));
    }
}

/* The first counter block inc32(J0), reflected (§7.1 step 3). */
static inline __m128i first_counter(__m128i j0)
{
    return _mm_add_epi32(reflect(j0), _mm_set_epi32(0, 0, 0, 1));
}

/* The counter nblocks blocks on. */
static inline __m128i advance_counter(__m128i ctr, size_t nblocks)
{
    return _mm_add_epi32(ctr, _mm_cvtsi32_si128((int)(uint32_t)nblocks));
}

/* §7.1 steps 2-6. (Seal and open do not share a body: a ten-argument helper
 * would take its arguments on the stack, which shows at 16 bytes.) */
void vl_gcm_aesni_seal(const void *st, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                       size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                       size_t ad_len)
{
    const vl_gcm_aesni *s = st;
    const __m128i j0 = derive_j0(s, nonce, nonce_len);
    __m128i ctr = first_counter(j0);

    if (len <= 16 && ad_len <= SHORT_AD_MAX) {
        store_block(tag, crypt_last_block(s, ctr, j0, in, out, len, ad, ad_len,
                                          _mm_setzero_si128(), lengths_block(ad_len, len), 0));
        return;
    }
    __m128i xi = ghash_bytes(s, _mm_setzero_si128(), ad, ad_len, NULL);
    size_t nbatch = len / (16 * BATCH), tail = len % (16 * BATCH);
    const uint8_t *pending = NULL;

    if (nbatch > 0) {
        xi = seal_bulk(s, ctr, in, out, nbatch, xi);
        ctr = advance_counter(ctr, nbatch * BATCH);
        in += len - tail;
        out += len - tail;
        pending = out - 16 * BATCH;
    }
    store_block(tag, seal_tail(s, ctr, j0, in, out, tail, xi, lengths_block(ad_len, len), pending));
}

/* §7.2 steps 3-7; the caller compares the tag. */
void vl_gcm_aesni_open(const void *st, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                       size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                       size_t ad_len)
{
    const vl_gcm_aesni *s = st;
    const __m128i j0 = derive_j0(s, nonce, nonce_len);
    __m128i ctr = first_counter(j0);

    if (len <= 16 && ad_len <= SHORT_AD_MAX) {
        store_block(tag, crypt_last_block(s, ctr, j0, in, out, len, ad, ad_len,
                                          _mm_setzero_si128(), lengths_block(ad_len, len), 1));
        return;
    }
    __m128i xi = ghash_bytes(s, _mm_setzero_si128(), ad, ad_len, NULL);
    size_t nbatch = len / (16 * BATCH), tail = len % (16 * BATCH);

    if (nbatch > 0) {
        xi = ctr8_ghash(s, ctr, in, out, nbatch, xi, 0);
        ctr = advance_counter(ctr, nbatch * BATCH);
        in += len - tail;
        out += len - tail;
    }
    open_tail(s, ctr, j0, in, out, tail, xi, lengths_block(ad_len, len), tag);
}
