/* AES-128/256-GCM (SP 800-38D) on VAES + VPCLMULQDQ with 512-bit registers:
 * the "vaes-avx512" path (Ice Lake and later, Zen 4 and later).
 *
 * Requires (vl_x86_has_vaes_avx512, cpu_x86.c): CPUID.1:ECX AES[25],
 * PCLMULQDQ[1], SSSE3[9], SSE4.1[19], OSXSAVE[27], AVX[28]; CPUID.(7,0):EBX
 * AVX2[5], AVX512F[16], AVX512BW[30], AVX512VL[31]; CPUID.(7,0):ECX VAES[9],
 * VPCLMULQDQ[10]; XCR0 bits 1, 2, 5, 6, 7 (SSE, AVX, opmask, ZMM_Hi256,
 * Hi16_ZMM). Built with the Makefile's X86_AVX512_FLAGS.
 *
 * Design:
 * - A zmm holds four blocks. Round keys are stored broadcast to all lanes;
 *   H^1..H^36 are stored byte-reflected, times x^-1, with their Karatsuba
 *   folds (lo ^ hi), so a 4-lane product is 3 VPCLMULQDQ and a reduction
 *   (two folds by x^128 mod P, in the reflected "Montgomery" form) is 2.
 * - From 512 bytes on, a loop runs AES-CTR on 8 zmm (32 blocks) while it
 *   hashes 32 ciphertext blocks (open: the same chunk; seal: the chunk
 *   written one iteration earlier) with H^32..H^1 and one reduction.
 * - The rest (short messages, tails) runs as groups of 1-4 zmm whose last
 *   vector uses masked loads and stores, so no byte outside the caller's
 *   buffers is touched. All blocks of a message's end, and for short ones
 *   also the AD, take H^n..H^1 in one set of sums that also holds the
 *   length block: one reduction per message end, and the AD and length
 *   products are ready before AES ends. Open hashes while AES runs.
 * - 12-byte nonces with short messages build counters with one XOR into
 *   J0; others count with 32-bit adds in reflected form (inc32), J0 by
 *   GHASH for nonces that are not 12 bytes (§7.1 step 2).
 * Branches and table offsets depend on lengths only, which are public.
 * References: NIST SP 800-38D §6.3-6.5, §7.1, §7.2; S. Gueron, M. Kounavis,
 * "Intel Carry-Less Multiplication Instruction and its Usage for Computing
 * the GCM Mode" (reflected reduction); the Linux aes-gcm-avx10 notes. */
#include "gcm_vaes_avx512.h"

#include "aes_x86.h"
#include "impl.h"
#include "internal.h"

_Static_assert(sizeof(vl_gcm_vaes_avx512) <= VL_IMPL_STATE_BYTES,
               "vl_gcm_vaes_avx512 must fit the impl state");
_Static_assert(_Alignof(vl_gcm_vaes_avx512) <= 64, "the impl state is only 64-byte aligned");

#define ALWAYS_INLINE static inline __attribute__((always_inline))
/* Fully unrolls a loop with a constant trip count, so that arrays of
 * vectors become registers. */
#if defined(__clang__)
#define UNROLL _Pragma("clang loop unroll(full)")
#else
#define UNROLL _Pragma("GCC unroll 16")
#endif

#define NPOW VL_GCM_AVX512_POWERS
#define POW(e) ((size_t)NPOW - (e)) /* table index of H^e */
#define CHUNK 512 /* bytes per stitched iteration: 8 zmm */
#define GROUP 256 /* bytes per masked group: at most 4 zmm */

typedef vl_gcm_vaes_avx512 gcm_key;

/* Unreduced GHASH products, lane by lane: 256-bit lo/mid/hi parts. */
typedef struct {
    __m512i lo, mid, hi;
} gh_sums;

/* ------------------------------------------------------------ vectors */

static inline __m512i bswap_mask(void)
{
    return _mm512_broadcast_i32x4(
        _mm_setr_epi8(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
}

/* Reverses the bytes of each 16-byte lane (GCM order <-> reflected). */
static inline __m512i reflect(__m512i x)
{
    return _mm512_shuffle_epi8(x, bswap_mask());
}

static inline __m128i reflect128(__m128i x)
{
    return _mm_shuffle_epi8(x, _mm512_castsi512_si128(bswap_mask()));
}

static inline __m512i xor3(__m512i a, __m512i b, __m512i c)
{
    return _mm512_ternarylogic_epi64(a, b, c, 0x96);
}

static inline __m512i zext(__m128i x)
{
    return _mm512_zextsi128_si512(x);
}

static inline __m512i swap_halves(__m512i x)
{
    return _mm512_shuffle_epi32(x, _MM_PERM_BADC);
}

/* In every lane, n in the low dword: a step for reflected counters. */
static inline __m512i lane_add(unsigned n)
{
    return _mm512_broadcast_i32x4(_mm_cvtsi32_si128((int)n));
}

/* The first n bytes of a vector, n in 1..64. */
static inline __mmask64 bytes_mask(size_t n)
{
    return n >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << n) - 1;
}

/* ------------------------------------------------------------ GHASH */

static inline gh_sums gh_zero(void)
{
    gh_sums s = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
    return s;
}

/* s += x * h_pow[i..i+3], lane by lane (Karatsuba, unreduced). */
static inline void gh_mul_add(gh_sums *s, const gcm_key *k, __m512i x, size_t i)
{
    const __m512i h = _mm512_loadu_si512(&k->h_pow[i]);
    const __m512i hf = _mm512_loadu_si512(&k->h_fold[i]);
    const __m512i xf = _mm512_xor_si512(x, swap_halves(x));

    s->lo = _mm512_xor_si512(s->lo, _mm512_clmulepi64_epi128(x, h, 0x00));
    s->hi = _mm512_xor_si512(s->hi, _mm512_clmulepi64_epi128(x, h, 0x11));
    s->mid = _mm512_xor_si512(s->mid, _mm512_clmulepi64_epi128(xf, hf, 0x00));
}

/* s += x * h_pow[i..i+3] + y * h_pow[i+4..i+7]: as two gh_mul_add, but
 * the Karatsuba folds of x and y come from one unpack pair, [x0^x1, y0^y1]
 * in each lane, with fewer ALU operations. */
static inline void gh_mul_add_pair(gh_sums *s, const gcm_key *k, __m512i x, __m512i y, size_t i)
{
    const __m512i hx = _mm512_loadu_si512(&k->h_pow[i]);
    const __m512i hy = _mm512_loadu_si512(&k->h_pow[i + 4]);
    const __m512i fx = _mm512_loadu_si512(&k->h_fold[i]);
    const __m512i fy = _mm512_loadu_si512(&k->h_fold[i + 4]);
    const __m512i t = _mm512_xor_si512(_mm512_unpacklo_epi64(x, y), _mm512_unpackhi_epi64(x, y));

    s->lo = xor3(s->lo, _mm512_clmulepi64_epi128(x, hx, 0x00),
                 _mm512_clmulepi64_epi128(y, hy, 0x00));
    s->hi = xor3(s->hi, _mm512_clmulepi64_epi128(x, hx, 0x11),
                 _mm512_clmulepi64_epi128(y, hy, 0x11));
    s->mid = xor3(s->mid, _mm512_clmulepi64_epi128(t, fx, 0x00),
                  _mm512_clmulepi64_epi128(t, fy, 0x01));
}

/* Reduces each lane of s modulo P = x^128 + x^7 + x^2 + x + 1. In the
 * reflected form the low 128 bits hold the high-degree half; each 64-bit
 * piece of it is folded up with one multiply by x^-64 mod P (0xc2 << 56)
 * and a swap of halves. */
static inline __m512i gh_reduce(gh_sums s)
{
    const __m512i poly = _mm512_set1_epi64((long long)0xc200000000000000ULL);
    __m512i mid = xor3(s.mid, s.lo, s.hi);

    mid = xor3(mid, _mm512_clmulepi64_epi128(s.lo, poly, 0x00), swap_halves(s.lo));
    return xor3(s.hi, _mm512_clmulepi64_epi128(mid, poly, 0x00), swap_halves(mid));
}

/* XOR of the four lanes. */
static inline __m128i fold_lanes(__m512i v)
{
    const __m256i t = _mm256_xor_si256(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    return _mm_xor_si128(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
}

static inline __m128i gh_finish(gh_sums s)
{
    return fold_lanes(gh_reduce(s));
}

/* s += products of n <= 4 vectors of reflected blocks with the powers
 * from i on; acc joins the first block. */
ALWAYS_INLINE void gh_add_reflected(gh_sums *s, const gcm_key *k, const __m512i *g, size_t i,
                                    __m128i acc, const int n)
{
    const __m512i g0 = _mm512_xor_si512(g[0], zext(acc));

    if (n == 1)
        gh_mul_add(s, k, g0, i);
    else
        gh_mul_add_pair(s, k, g0, g[1], i);
    if (n == 3)
        gh_mul_add(s, k, g[2], i + 8);
    else if (n == 4)
        gh_mul_add_pair(s, k, g[2], g[3], i + 8);
}

/* Loads len bytes (0 < len <= 64 n) into n vectors, zero-filled past len. */
ALWAYS_INLINE void load_vectors(__m512i *v, const uint8_t *p, size_t len, const int n)
{
    UNROLL
    for (int j = 0; j < n - 1; j++)
        v[j] = _mm512_loadu_si512(p + 64 * j);
    v[n - 1] = _mm512_maskz_loadu_epi8(bytes_mask(len - 64 * (size_t)(n - 1)), p + 64 * (n - 1));
}

/* s += GHASH products of 0 < len <= 64 n bytes at p, powers from i on. */
ALWAYS_INLINE void gh_group(gh_sums *s, const gcm_key *k, const uint8_t *p, size_t len, size_t i,
                            __m128i acc, const int n)
{
    __m512i v[4];

    load_vectors(v, p, len, n);
    UNROLL
    for (int j = 0; j < n; j++)
        v[j] = reflect(v[j]);
    gh_add_reflected(s, k, v, i, acc, n);
}

/* gh_group over 0 < len <= GROUP bytes, with as many vectors as needed. */
ALWAYS_INLINE void gh_short(gh_sums *s, const gcm_key *k, const uint8_t *p, size_t len,
                            size_t i, __m128i acc)
{
    switch ((len + 63) / 64) {
    case 1: gh_group(s, k, p, len, i, acc, 1); break;
    case 2: gh_group(s, k, p, len, i, acc, 2); break;
    case 3: gh_group(s, k, p, len, i, acc, 3); break;
    default: gh_group(s, k, p, len, i, acc, 4); break;
    }
}

/* GHASH continued from acc over len bytes, the last block zero-padded. */
static __m128i ghash_update(const gcm_key *k, __m128i acc, const uint8_t *p, size_t len)
{
    gh_sums s;

    for (; len > GROUP; p += GROUP, len -= GROUP) {
        s = gh_zero();
        gh_group(&s, k, p, GROUP, POW(16), acc, 4);
        acc = gh_finish(s);
    }
    if (len == 0)
        return acc;
    s = gh_zero();
    gh_short(&s, k, p, len, POW((len + 15) / 16), acc);
    return gh_finish(s);
}

/* ------------------------------------------------------------ AES */

/* Rounds 1 .. Nr-1 on n vectors already whitened with rk[0]. */
ALWAYS_INLINE void aes_middle(const gcm_key *k, __m512i *x, const int n)
{
    UNROLL
    for (int r = 1; r < 10; r++)
        UNROLL
        for (int j = 0; j < n; j++)
            x[j] = _mm512_aesenc_epi128(x[j], k->rk[r]);
    if (k->rounds == 14) {
        UNROLL
        for (int r = 10; r < 14; r++)
            UNROLL
            for (int j = 0; j < n; j++)
                x[j] = _mm512_aesenc_epi128(x[j], k->rk[r]);
    }
}

static inline __m128i aes_block(const gcm_key *k, __m128i b)
{
    __m512i x = zext(_mm_xor_si128(b, _mm512_castsi512_si128(k->rk[0])));

    aes_middle(k, &x, 1);
    return _mm_aesenclast_si128(_mm512_castsi512_si128(x),
                                _mm512_castsi512_si128(k->rk[k->rounds]));
}

/* ------------------------------------------------------------ CTR + GHASH */

/* Where a group's counter blocks come from: J0 itself for short messages
 * with a 12-byte nonce (counters 2..17 only change its last byte, which
 * is 1), else reflected counters, where inc32 is a 32-bit add on the low
 * dword (lane j of next holds the counter of block j). */
struct counters {
    __m512i j0;   /* J0 in GCM order, broadcast (or in lane 0 only) */
    __m512i next; /* reflected counters */
    int from_j0;
};

/* What to XOR into J0 (GCM order, last byte 1) to get the counter block
 * 2 + 4v + j in lane j: a change of the last byte only. */
static inline __m512i j0_steps(int v)
{
    return _mm512_set_epi32((1 ^ (4 * v + 5)) << 24, 0, 0, 0, (1 ^ (4 * v + 4)) << 24, 0, 0, 0,
                            (1 ^ (4 * v + 3)) << 24, 0, 0, 0, (1 ^ (4 * v + 2)) << 24, 0, 0, 0);
}

/* The counter blocks of n vectors, whitened with rk0. */
ALWAYS_INLINE void counter_blocks(__m512i *x, struct counters ctr, __m512i rk0, const int n)
{
    UNROLL
    for (int j = 0; j < n; j++) {
        if (ctr.from_j0)
            x[j] = xor3(ctr.j0, j0_steps(j), rk0);
        else
            x[j] = _mm512_xor_si512(
                reflect(_mm512_add_epi32(ctr.next, lane_add(4 * (unsigned)j))), rk0);
    }
}

/* One group: CTR over 0 < len <= 64 n bytes from the counters ctr, and
 * the ciphertext's GHASH products with the powers from i on added to s, acc
 * joining the first block. Open hashes its input while AES runs; seal
 * hashes its output. */
ALWAYS_INLINE void crypt_group(const gcm_key *k, uint8_t *out, const uint8_t *in, size_t len,
                               struct counters ctr, gh_sums *s, size_t i, __m128i acc,
                               const int n, const int decrypt)
{
    const size_t last_len = len - 64 * (size_t)(n - 1);
    const __m512i rk_last = k->rk[k->rounds];
    __m512i x[4], d[4], g[4];

    counter_blocks(x, ctr, k->rk[0], n);
    load_vectors(d, in, len, n);
    if (decrypt) {
        UNROLL
        for (int j = 0; j < n; j++)
            g[j] = reflect(d[j]);
        gh_add_reflected(s, k, g, i, acc, n);
    }
    aes_middle(k, x, n);
    UNROLL
    for (int j = 0; j < n; j++)
        x[j] = _mm512_aesenclast_epi128(x[j], _mm512_xor_si512(rk_last, d[j]));
    UNROLL
    for (int j = 0; j < n - 1; j++)
        _mm512_storeu_si512(out + 64 * j, x[j]);
    _mm512_mask_storeu_epi8(out + 64 * (n - 1), bytes_mask(last_len), x[n - 1]);
    if (!decrypt) {
        UNROLL
        for (int j = 0; j < n - 1; j++)
            g[j] = reflect(x[j]);
        g[n - 1] = reflect(_mm512_maskz_mov_epi8(bytes_mask(last_len), x[n - 1]));
        gh_add_reflected(s, k, g, i, acc, n);
    }
}

/* crypt_group over 0 < len <= GROUP bytes, with as many vectors as needed. */
ALWAYS_INLINE void crypt_short(const gcm_key *k, uint8_t *out, const uint8_t *in, size_t len,
                               struct counters ctr, gh_sums *s, size_t i, __m128i acc,
                               const int decrypt)
{
    switch ((len + 63) / 64) {
    case 1: crypt_group(k, out, in, len, ctr, s, i, acc, 1, decrypt); break;
    case 2: crypt_group(k, out, in, len, ctr, s, i, acc, 2, decrypt); break;
    case 3: crypt_group(k, out, in, len, ctr, s, i, acc, 3, decrypt); break;
    default: crypt_group(k, out, in, len, ctr, s, i, acc, 4, decrypt); break;
    }
}

/* The next 32 counter blocks from the reflected counters, whitened with
 * rk0; advances the counters. */
ALWAYS_INLINE void next_counter_blocks_8(__m512i *x, __m512i *ctr, __m512i rk0)
{
    UNROLL
    for (int j = 0; j < 8; j++)
        x[j] = _mm512_xor_si512(reflect(_mm512_add_epi32(*ctr, lane_add(4 * (unsigned)j))), rk0);
    *ctr = _mm512_add_epi32(*ctr, lane_add(32));
}

/* One stitched iteration: AES-CTR of the 32 blocks at in into out (nr
 * rounds), while hashing the 32 ciphertext blocks at gh (seal: the chunk
 * written one iteration before; open: in itself) with H^32..H^1. The
 * GHASH vectors go in pairs spread over rounds 1 .. nr-2, the pair that
 * takes the running value acc last, so the loop-carried reduction has the
 * most slack; the reduction follows in round nr-2. Returns the new GHASH
 * value. */
ALWAYS_INLINE __m128i stitched_chunk(const gcm_key *k, const int nr, uint8_t *out,
                                     const uint8_t *in, const uint8_t *gh, __m512i *ctr,
                                     __m128i acc)
{
    const __m512i *rk = k->rk;
    gh_sums s = gh_zero();
    __m512i x[8];

    next_counter_blocks_8(x, ctr, rk[0]);
    UNROLL
    for (int r = 1; r < nr; r++) {
        UNROLL
        for (int j = 0; j < 8; j++)
            x[j] = _mm512_aesenc_epi128(x[j], rk[r]);
        UNROLL
        for (int step = 0; step < 4; step++) {
            if (1 + step * (nr - 2) / 4 != r)
                continue;
            const int v = (2 * step + 2) % 8;
            const __m512i g0 = reflect(_mm512_loadu_si512(gh + 64 * v));
            const __m512i g1 = reflect(_mm512_loadu_si512(gh + 64 * (v + 1)));
            gh_mul_add_pair(&s, k, v == 0 ? _mm512_xor_si512(g0, zext(acc)) : g0, g1,
                            POW(32) + 4 * (size_t)v);
        }
        if (r == nr - 2)
            acc = gh_finish(s);
    }
    UNROLL
    for (int j = 0; j < 8; j++) {
        const __m512i d = _mm512_loadu_si512(in + 64 * j);
        _mm512_storeu_si512(out + 64 * j,
                            _mm512_aesenclast_epi128(x[j], _mm512_xor_si512(rk[nr], d)));
    }
    return acc;
}

/* AES-CTR of one chunk without hashing (seal's first chunk). */
ALWAYS_INLINE void ctr_chunk(const gcm_key *k, const int nr, uint8_t *out, const uint8_t *in,
                             __m512i *ctr)
{
    const __m512i *rk = k->rk;
    __m512i x[8];

    next_counter_blocks_8(x, ctr, rk[0]);
    UNROLL
    for (int r = 1; r < nr; r++)
        UNROLL
        for (int j = 0; j < 8; j++)
            x[j] = _mm512_aesenc_epi128(x[j], rk[r]);
    UNROLL
    for (int j = 0; j < 8; j++) {
        const __m512i d = _mm512_loadu_si512(in + 64 * j);
        _mm512_storeu_si512(out + 64 * j,
                            _mm512_aesenclast_epi128(x[j], _mm512_xor_si512(rk[nr], d)));
    }
}

/* n > 0 whole chunks with nr rounds; returns the GHASH value (from acc on)
 * over their ciphertext. */
ALWAYS_INLINE __m128i crypt_chunks_nr(const gcm_key *k, uint8_t *out, const uint8_t *in, size_t n,
                                      __m512i *ctr, __m128i acc, const int nr, const int decrypt)
{
    if (decrypt) {
        for (size_t c = 0; c < n; c++, in += CHUNK, out += CHUNK)
            acc = stitched_chunk(k, nr, out, in, in, ctr, acc);
        return acc;
    }
    ctr_chunk(k, nr, out, in, ctr);
    for (size_t c = 1; c < n; c++) {
        in += CHUNK;
        out += CHUNK;
        acc = stitched_chunk(k, nr, out, in, out - CHUNK, ctr, acc);
    }
    gh_sums s = gh_zero();
    gh_group(&s, k, out, GROUP, POW(32), acc, 4);
    gh_group(&s, k, out + GROUP, GROUP, POW(16), _mm_setzero_si128(), 4);
    return gh_finish(s);
}

ALWAYS_INLINE __m128i crypt_chunks(const gcm_key *k, uint8_t *out, const uint8_t *in, size_t n,
                                   __m512i *ctr, __m128i acc, const int decrypt)
{
    if (k->rounds == 14)
        return crypt_chunks_nr(k, out, in, n, ctr, acc, 14, decrypt);
    return crypt_chunks_nr(k, out, in, n, ctr, acc, 10, decrypt);
}

/* ------------------------------------------------------------ GCM */

/* J0 for a nonce of any length but 12 (§7.1 step 2), in GCM order. */
static __m128i derive_j0(const gcm_key *k, const uint8_t *iv, size_t iv_len)
{
    gh_sums s = gh_zero();
    const __m128i y = ghash_update(k, _mm_setzero_si128(), iv, iv_len);

    gh_mul_add(&s, k, zext(_mm_xor_si128(y, _mm_set_epi64x(0, (long long)(iv_len * 8)))), POW(1));
    return reflect128(gh_finish(s));
}

/* §7.1 steps 5-6 from the sums that already hold the length block:
 * T = E_K(J0) ^ S. When only lane 0 holds products, the lanes need no
 * folding. */
static inline void finish_tag(uint8_t tag[16], gh_sums s, __m128i ek_j0, int lane0_only)
{
    const __m512i r = gh_reduce(s);
    const __m128i t = lane0_only ? _mm512_castsi512_si128(r) : fold_lanes(r);
    _mm_storeu_si128((__m128i *)tag, _mm_xor_si128(reflect128(t), ek_j0));
}

/* At most GROUP bytes of AD and of data and a 12-byte nonce: AD blocks,
 * data blocks and the length block take H^(a+c+1)..H^1 in one set of sums,
 * reduced once; the AD and length products are ready before AES ends. */
ALWAYS_INLINE void gcm_short(const gcm_key *k, uint8_t *out, uint8_t tag[16], __m128i j0,
                             const uint8_t *in, size_t len, const uint8_t *ad, size_t ad_len,
                             const int decrypt)
{
    const size_t c = (len + 15) / 16, a = (ad_len + 15) / 16;
    const __m128i len_block = _mm_set_epi64x((long long)(ad_len * 8), (long long)(len * 8));
    struct counters ctr = {_mm512_setzero_si512(), _mm512_setzero_si512(), 1};
    gh_sums s = gh_zero();

    const __m128i ek_j0 = aes_block(k, j0);
    gh_mul_add(&s, k, zext(len_block), POW(1));
    if (ad_len)
        gh_short(&s, k, ad, ad_len, POW(a + c + 1), _mm_setzero_si128());
    if (len > 16) {
        ctr.j0 = _mm512_broadcast_i32x4(j0);
        crypt_short(k, out, in, len, ctr, &s, POW(c + 1), _mm_setzero_si128(), decrypt);
    } else if (len > 0) {
        ctr.j0 = zext(j0); /* one block: lane 0 is enough */
        crypt_group(k, out, in, len, ctr, &s, POW(2), _mm_setzero_si128(), 1, decrypt);
    }
    finish_tag(tag, s, ek_j0, len <= 16 && ad_len <= 16);
}

/* Any lengths and nonce: AD hashed first, then the stitched loop over
 * whole chunks, then the tail as one or two groups. */
ALWAYS_INLINE void gcm_long(const gcm_key *k, uint8_t *out, uint8_t tag[16], __m128i j0,
                            const uint8_t *in, size_t len, const uint8_t *ad, size_t ad_len,
                            const int decrypt)
{
    const __m128i len_block = _mm_set_epi64x((long long)(ad_len * 8), (long long)(len * 8));
    const __m128i ek_j0 = aes_block(k, j0);
    /* Reflected counters from J0 + 1 on. */
    __m512i next = _mm512_add_epi32(
        _mm512_broadcast_i32x4(reflect128(j0)),
        _mm512_set_epi32(0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 1));
    __m128i acc = ghash_update(k, _mm_setzero_si128(), ad, ad_len);
    gh_sums s = gh_zero();

    if (len >= CHUNK) {
        const size_t n = len / CHUNK;
        acc = crypt_chunks(k, out, in, n, &next, acc, decrypt);
        in += n * CHUNK;
        out += n * CHUNK;
        len -= n * CHUNK;
    }
    if (len > GROUP) {
        const struct counters ctr = {_mm512_setzero_si512(), next, 0};
        crypt_group(k, out, in, GROUP, ctr, &s, POW((len + 15) / 16 + 1), acc, 4, decrypt);
        next = _mm512_add_epi32(next, lane_add(16));
        acc = _mm_setzero_si128();
        in += GROUP;
        out += GROUP;
        len -= GROUP;
    }
    if (len) {
        const struct counters ctr = {_mm512_setzero_si512(), next, 0};
        crypt_short(k, out, in, len, ctr, &s, POW((len + 15) / 16 + 1), acc, decrypt);
        acc = _mm_setzero_si128();
    }
    /* A GHASH value no data block took joins the length block. */
    gh_mul_add(&s, k, zext(_mm_xor_si128(len_block, acc)), POW(1));
    finish_tag(tag, s, ek_j0, 0);
}

/* One copy of the long path per direction; short messages stay inline. */
static void gcm_long_seal(const gcm_key *k, uint8_t *out, uint8_t tag[16], __m128i j0,
                          const uint8_t *in, size_t len, const uint8_t *ad, size_t ad_len)
{
    gcm_long(k, out, tag, j0, in, len, ad, ad_len, 0);
}

static void gcm_long_open(const gcm_key *k, uint8_t *out, uint8_t tag[16], __m128i j0,
                          const uint8_t *in, size_t len, const uint8_t *ad, size_t ad_len)
{
    gcm_long(k, out, tag, j0, in, len, ad, ad_len, 1);
}

ALWAYS_INLINE void gcm(const gcm_key *k, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                       size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                       size_t ad_len, const int decrypt)
{
    __m128i j0;

    if (nonce_len == 12) {
        /* §7.1 step 2: J0 = IV || 0^31 || 1. */
        j0 = _mm_or_si128(_mm_maskz_loadu_epi8(0x0fff, nonce), _mm_set_epi32(1 << 24, 0, 0, 0));
        if (len <= GROUP && ad_len <= GROUP) {
            gcm_short(k, out, tag, j0, in, len, ad, ad_len, decrypt);
            return;
        }
    } else {
        j0 = derive_j0(k, nonce, nonce_len);
    }
    if (decrypt)
        gcm_long_open(k, out, tag, j0, in, len, ad, ad_len);
    else
        gcm_long_seal(k, out, tag, j0, in, len, ad, ad_len);
}

/* ------------------------------------------------------------ exported */

void vl_gcm_vaes_avx512_init(void *st, const uint8_t *key, size_t key_len)
{
    gcm_key *k = st;
    vl_aes_x86 aes;

    vl_aes_x86_expand(&aes, key, key_len);
    for (int r = 0; r < 15; r++)
        k->rk[r] = _mm512_broadcast_i32x4(aes.rk[r]);
    k->rounds = aes.rounds;
    vl_memzero(&aes, sizeof aes);

    /* §6.4: H = E_K(0^128), reflected, times x^-1: a one-bit left shift,
     * adding x^-1 = x^127 + x^6 + x + 1 (reflected 0xc2..01) when the x^0
     * bit (bit 127) falls out. Branch-free: H is secret. */
    const __m128i h = reflect128(aes_block(k, _mm_setzero_si128()));
    const __m128i carry = _mm_shuffle_epi32(_mm_srai_epi32(h, 31), 0xff);
    __m128i h1 = _mm_or_si128(_mm_slli_epi64(h, 1), _mm_slli_si128(_mm_srli_epi64(h, 63), 8));
    h1 = _mm_xor_si128(
        h1, _mm_and_si128(carry, _mm_set_epi64x((long long)0xc200000000000000ULL, 1)));

    /* The zero entries past H^1, then H^2..H^4 one at a time (lane 0 of a
     * product with the table at H^1), then four at a time: each step
     * multiplies the four powers before it by H^4. */
    for (int i = NPOW; i < NPOW + 4; i++)
        k->h_pow[i] = k->h_fold[i] = _mm_setzero_si128();
    k->h_pow[POW(1)] = h1;
    k->h_fold[POW(1)] = _mm_xor_si128(h1, _mm_shuffle_epi32(h1, 0x4e));
    for (unsigned e = 2; e <= 4; e++) {
        gh_sums s = gh_zero();
        gh_mul_add(&s, k, zext(k->h_pow[POW(e - 1)]), POW(1));
        k->h_pow[POW(e)] = gh_finish(s);
    }
    const __m512i h4 = _mm512_broadcast_i32x4(k->h_pow[POW(4)]);
    const __m512i h4_fold = _mm512_xor_si512(h4, swap_halves(h4));
    __m512i p = _mm512_loadu_si512(&k->h_pow[POW(4)]);
    for (unsigned e = 8; e <= NPOW; e += 4) {
        gh_sums s;
        s.lo = _mm512_clmulepi64_epi128(p, h4, 0x00);
        s.hi = _mm512_clmulepi64_epi128(p, h4, 0x11);
        s.mid = _mm512_clmulepi64_epi128(_mm512_xor_si512(p, swap_halves(p)), h4_fold, 0x00);
        p = gh_reduce(s);
        _mm512_storeu_si512(&k->h_pow[POW(e)], p);
    }
    for (int i = 0; i < NPOW; i++)
        k->h_fold[i] = _mm_xor_si128(k->h_pow[i], _mm_shuffle_epi32(k->h_pow[i], 0x4e));
}

void vl_gcm_vaes_avx512_seal(const void *st, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                             size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                             size_t ad_len)
{
    gcm(st, out, tag, nonce, nonce_len, in, len, ad, ad_len, 0);
}

void vl_gcm_vaes_avx512_open(const void *st, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                             size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                             size_t ad_len)
{
    gcm(st, out, tag, nonce, nonce_len, in, len, ad, ad_len, 1);
}
