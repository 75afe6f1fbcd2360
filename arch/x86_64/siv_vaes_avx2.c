/* AES-256-SIV (RFC 5297) with VAES on ymm: CTR and multi-buffer S2V.
 *
 * Requires: everything siv_aesni.c does, plus CPUID.1:ECX.AVX[bit 28],
 * CPUID.(EAX=7,ECX=0):EBX.AVX2[bit 5] and ECX.VAES[bit 9], and XCR0 with
 * the SSE and AVX state enabled (bits 1-2; vl_x86_has_vaes_avx2). The
 * path's init and s2v are vl_siv_aesni_init and vl_siv_aesni_s2v: one S2V
 * is a serial CMAC chain, bound by AES latency, which wider registers
 * cannot shorten.
 *
 * CTR (RFC 5297 §2.5): two counter blocks per ymm, 8 ymm (256 bytes) in
 * flight, round keys as ymm memory operands from the key state (16 ymm
 * registers do not hold 15 keys beside 8 blocks).
 *
 * S2V batch: the waves and the lane scheduler of siv_aesni.c (siv_x86.h)
 * with 16 lanes, two messages per ymm in 8 ymm, in the manner of ipsec-mb's
 * multi-buffer job managers. VAES applies one round key to both halves,
 * which is right here: every message is MACed under the same K1. As in
 * siv_aesni.c a chain value carries rk[0] and the next block, so a step is
 * exactly 14 VAES instructions per register.
 *
 * Only lengths are branched on or used as indices. Tails go through
 * byte-exact partial loads and stores, never past a caller's buffer. */
#include "siv_x86.h"

#include "internal.h"

#define LOADU(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define STOREU(p, x) _mm_storeu_si128((__m128i *)(void *)(p), (x))
#define LOADU2(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define STOREU2(p, x) _mm256_storeu_si256((__m256i *)(void *)(p), (x))
#define LOAD2(p) _mm256_load_si256((const __m256i *)(const void *)(p))
#define K1(r) LOAD2(s->k1[r])
#define K2(r) LOAD2(s->k2[r])
#define KL() LOAD2(s->kl)

/* CTR: for each j of REP (VL_REP1/4/8), the counter blocks c + 2j and
 * c + 2j + 1 (c byte-reversed, see vl_x86_ctr_start) through AES-256 under
 * K2, into b[j]. */
#define CTR_WHITEN(j)                                                                   \
    b[j] = _mm256_xor_si256(                                                            \
        _mm256_shuffle_epi8(                                                            \
            _mm256_add_epi64(c, _mm256_set_epi64x(0, 2 * (j) + 1, 0, 2 * (j))), bswap), \
        k);
#define CTR_ENC(j) b[j] = _mm256_aesenc_epi128(b[j], k);
#define CTR_LAST(j) b[j] = _mm256_aesenclast_epi128(b[j], k);
#define CTR_OUT(j) STOREU2(out + 32 * (j), _mm256_xor_si256(b[j], LOADU2(in + 32 * (j))));
#define CTR_ROUND(r, REP) k = K2(r); REP(CTR_ENC)
#define CTR_BLOCKS(REP)                                                                 \
    do {                                                                                \
        __m256i k = K2(0);                                                              \
        REP(CTR_WHITEN)                                                                 \
        CTR_ROUND(1, REP) CTR_ROUND(2, REP) CTR_ROUND(3, REP) CTR_ROUND(4, REP)         \
        CTR_ROUND(5, REP) CTR_ROUND(6, REP) CTR_ROUND(7, REP) CTR_ROUND(8, REP)         \
        CTR_ROUND(9, REP) CTR_ROUND(10, REP) CTR_ROUND(11, REP) CTR_ROUND(12, REP)      \
        CTR_ROUND(13, REP)                                                              \
        k = K2(14);                                                                     \
        REP(CTR_LAST)                                                                   \
    } while (0)

void vl_siv_vaes_avx2_ctr(const void *st, const uint8_t v[16], uint8_t *out, const uint8_t *in,
                          size_t len)
{
    const vl_siv_x86 *s = st;
    const __m256i bswap = _mm256_broadcastsi128_si256(
        _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    __m256i c = _mm256_broadcastsi128_si256(vl_x86_ctr_start(v)), b[8];
    __m128i t;

    for (; len >= 256; len -= 256, in += 256, out += 256) {
        VL_X86_OPAQUE(s); /* round keys as memory operands */
        CTR_BLOCKS(VL_REP8);
        VL_REP8(CTR_OUT)
        c = _mm256_add_epi64(c, _mm256_set_epi64x(0, 16, 0, 16));
    }
    if (len >= 128) {
        CTR_BLOCKS(VL_REP4);
        VL_REP4(CTR_OUT)
        c = _mm256_add_epi64(c, _mm256_set_epi64x(0, 8, 0, 8));
        len -= 128, in += 128, out += 128;
    }
    /* Up to three whole ymm; the iterations are independent, so they
     * overlap. */
    for (; len >= 32; len -= 32, in += 32, out += 32) {
        VL_X86_OPAQUE(s);
        CTR_BLOCKS(VL_REP1);
        CTR_OUT(0)
        c = _mm256_add_epi64(c, _mm256_set_epi64x(0, 2, 0, 2));
    }
    if (len == 0)
        return;
    /* 1..31 bytes: b[0]'s halves are the last two keystream blocks. */
    CTR_BLOCKS(VL_REP1);
    t = _mm256_castsi256_si128(b[0]);
    if (len >= 16) {
        STOREU(out, _mm_xor_si128(t, LOADU(in)));
        len -= 16, in += 16, out += 16;
        t = _mm256_extracti128_si256(b[0], 1);
    }
    if (len > 0)
        vl_x86_store_partial(out, _mm_xor_si128(t, vl_x86_load_partial(in, len)), len);
}

/* ---- Multi-buffer S2V: 16 lanes, two per ymm ---- */

#define REGS 8
#define LANES (2 * REGS)

/* Block |off| of lanes 2j, 2j + 1 of the scheduler. */
static inline __m256i gather2(const uint8_t *const *p, size_t off)
{
    return _mm256_inserti128_si256(_mm256_castsi128_si256(LOADU(p[0] + off)), LOADU(p[1] + off),
                                   1);
}

#define RUN_ENC(j) x[j] = _mm256_aesenc_epi128(x[j], k);
#define RUN_ROUND(r) k = K1(r); VL_REP8(RUN_ENC)

/* A scheduler run (siv_x86.h) of |m| >= 1 steps: lane l absorbs the blocks
 * p[l], p[l] + 16, ..., its chain value taken from and put back to
 * sc->x[l]. Lane bit 2j + h of sc->reset (chain restarts) selects half h
 * of x[j]. */
static void run(const vl_siv_x86 *s, vl_siv_sched *sc, size_t m)
{
    const __m256i halves = _mm256_set_epi64x(2, 2, 1, 1);
    const uint8_t *const *p = sc->p;
    const uint32_t reset = sc->reset;
    __m256i x[REGS], k = K1(0);
    size_t off = 0;

#define RUN_LOAD(j)                                                                     \
    x[j] = _mm256_blendv_epi8(                                                          \
        LOAD2(&sc->x[2 * (j)]), k,                                                      \
        _mm256_cmpeq_epi64(                                                             \
            _mm256_and_si256(_mm256_set1_epi64x((long long)((reset >> (2 * (j))) & 3)), \
                             halves),                                                   \
            halves));                                                                   \
    x[j] = _mm256_xor_si256(x[j], gather2(p + 2 * (j), 0));
#define RUN_NEXT(j) \
    x[j] = _mm256_aesenclast_epi128(x[j], _mm256_xor_si256(k, gather2(p + 2 * (j), off)));
#define RUN_STORE(j) \
    _mm256_store_si256((__m256i *)(void *)&sc->x[2 * (j)], _mm256_aesenclast_epi128(x[j], k));
    VL_REP8(RUN_LOAD)
    for (;;) {
        /* Round keys are memory operands: never hoisted and spilled. */
        VL_X86_OPAQUE(s);
        off += 16;
        VL_ROUNDS(RUN_ROUND)
        k = KL();
        if (--m == 0)
            break;
        VL_REP8(RUN_NEXT)
    }
    VL_REP8(RUN_STORE)
}

/* One wave laid out in w->stg (siv_x86.h): each lane's V goes to v when
 * its job ends. |xs| is scratch for the lanes' values then. */
static void wave(const vl_siv_x86 *s, const vl_siv_wave *w, __m128i *xs,
                 uint8_t (*v)[16])
{
    const __m128i *row = w->stg;
    __m256i x[REGS], k = K1(0);

#define ROW(j) LOAD2(&row[2 * (j)])
#define WAVE_LOAD(j) x[j] = _mm256_xor_si256(k, ROW(j));
#define WAVE_NEXT(j) x[j] = _mm256_aesenclast_epi128(x[j], _mm256_xor_si256(k, ROW(j)));
#define WAVE_LAST(j)                              \
    x[j] = _mm256_aesenclast_epi128(x[j], k); \
    _mm256_store_si256((__m256i *)(void *)&xs[2 * (j)], x[j]);
#define WAVE_V(j)                                                                       \
    {                                                                                   \
        __m256i t_ = _mm256_aesenclast_epi128(x[j], K1(14));                            \
        uint8_t(*v_)[16] = v + w->idx[0] + 2 * (j);                                     \
        STOREU(v_[0], _mm256_castsi256_si128(t_));                                      \
        STOREU(v_[1], _mm256_extracti128_si256(t_, 1));                                 \
    }
#define WAVE_XOR(j) x[j] = _mm256_xor_si256(x[j], ROW(j));
    VL_REP8(WAVE_LOAD)
    for (size_t t = 0; t < w->steps; t++) {
        VL_X86_OPAQUE(s); /* round keys as memory operands */
        VL_ROUNDS(RUN_ROUND)
        k = KL();
        row += LANES;
        if (w->end[t] == 0) {
            VL_REP8(WAVE_NEXT)
            continue;
        }
        if (w->whole) {
            /* Every job ends now, and their V are consecutive. */
            VL_REP8(WAVE_V)
            break;
        }
        VL_REP8(WAVE_LAST)
        vl_siv_wave_extract(s, v, w->idx, xs, w->end[t]);
        if (t + 1 < w->steps) {
            VL_REP8(WAVE_XOR)
        }
    }
}

void vl_siv_vaes_avx2_s2v_batch(const void *st, uint8_t (*v)[16],
                                const struct vl_s2v_job *jobs, size_t n)
{
    vl_siv_s2v_batch_drive(st, v, jobs, n, LANES, wave, run);
}
