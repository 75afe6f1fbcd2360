/* AES-256-SIV (RFC 5297) with VAES on zmm: CTR and multi-buffer S2V.
 *
 * Requires: everything siv_vaes_avx2.c does, plus CPUID.(EAX=7,ECX=0):
 * EBX.AVX512F[bit 16], EBX.AVX512BW[bit 30], EBX.AVX512VL[bit 31], and XCR0
 * with the opmask and ZMM state enabled (bits 5-7; vl_x86_has_vaes_avx512).
 * Valgrind cannot run this file. The path's init and s2v are
 * vl_siv_aesni_init and vl_siv_aesni_s2v: one S2V is a serial CMAC chain,
 * bound by AES latency, which wider registers cannot shorten.
 *
 * CTR (RFC 5297 §2.5): four counter blocks per zmm, 8 zmm (512 bytes) in
 * flight; the last partial zmm is read and written with byte-masked loads
 * and stores, which touch nothing outside the caller's buffers.
 *
 * S2V batch: the waves and the lane scheduler of siv_aesni.c (siv_x86.h)
 * with 32 lanes, four messages per zmm in 8 zmm, in the manner of
 * ipsec-mb's multi-buffer job managers. All messages are MACed under K1,
 * so one broadcast round key serves every lane. As in siv_aesni.c a chain
 * value carries rk[0] and the next block, so a step is exactly 14 VAES
 * instructions per register: 8 registers of 4-cycle latency at 2 per cycle
 * keep the AES units full.
 *
 * Only lengths are branched on or used as indices. */
#include "siv_x86.h"

#include "internal.h"

#define LOADU(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define K1(r) _mm512_load_si512((const void *)s->k1[r])
#define K2(r) _mm512_load_si512((const void *)s->k2[r])
#define KL() _mm512_load_si512((const void *)s->kl)

/* CTR: for each j of REP (VL_REP1/4/8), the counter blocks c + 4j ..
 * c + 4j + 3 (c byte-reversed, see vl_x86_ctr_start) through AES-256 under
 * K2, into b[j]. */
#define CTR_WHITEN(j)                                                                   \
    b[j] = _mm512_xor_si512(                                                            \
        _mm512_shuffle_epi8(                                                            \
            _mm512_add_epi64(c, _mm512_set_epi64(0, 4 * (j) + 3, 0, 4 * (j) + 2, 0,    \
                                                 4 * (j) + 1, 0, 4 * (j))),             \
            bswap),                                                                     \
        k);
#define CTR_ENC(j) b[j] = _mm512_aesenc_epi128(b[j], k);
#define CTR_LAST(j) b[j] = _mm512_aesenclast_epi128(b[j], k);
#define CTR_OUT(j)                                                                      \
    _mm512_storeu_si512(out + 64 * (j),                                                 \
                        _mm512_xor_si512(b[j], _mm512_loadu_si512(in + 64 * (j))));
#define CTR_ROUND(r, REP) k = K2(r); REP(CTR_ENC)
#define CTR_BLOCKS(REP)                                                                 \
    do {                                                                                \
        __m512i k = K2(0);                                                              \
        REP(CTR_WHITEN)                                                                 \
        CTR_ROUND(1, REP) CTR_ROUND(2, REP) CTR_ROUND(3, REP) CTR_ROUND(4, REP)         \
        CTR_ROUND(5, REP) CTR_ROUND(6, REP) CTR_ROUND(7, REP) CTR_ROUND(8, REP)         \
        CTR_ROUND(9, REP) CTR_ROUND(10, REP) CTR_ROUND(11, REP) CTR_ROUND(12, REP)      \
        CTR_ROUND(13, REP)                                                              \
        k = K2(14);                                                                     \
        REP(CTR_LAST)                                                                   \
    } while (0)

void vl_siv_vaes_avx512_ctr(const void *st, const uint8_t v[16], uint8_t *out,
                            const uint8_t *in, size_t len)
{
    const vl_siv_x86 *s = st;
    const __m512i bswap = _mm512_broadcast_i32x4(
        _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    __m512i c = _mm512_broadcast_i32x4(vl_x86_ctr_start(v)), b[8];

    for (; len >= 512; len -= 512, in += 512, out += 512) {
        CTR_BLOCKS(VL_REP8);
        VL_REP8(CTR_OUT)
        c = _mm512_add_epi64(c, _mm512_set_epi64(0, 32, 0, 32, 0, 32, 0, 32));
    }
    if (len >= 256) {
        CTR_BLOCKS(VL_REP4);
        VL_REP4(CTR_OUT)
        c = _mm512_add_epi64(c, _mm512_set_epi64(0, 16, 0, 16, 0, 16, 0, 16));
        len -= 256, in += 256, out += 256;
    }
    /* Up to three whole zmm, then a masked one; the iterations are
     * independent, so they overlap. */
    for (; len >= 64; len -= 64, in += 64, out += 64) {
        CTR_BLOCKS(VL_REP1);
        CTR_OUT(0)
        c = _mm512_add_epi64(c, _mm512_set_epi64(0, 4, 0, 4, 0, 4, 0, 4));
    }
    if (len > 0) {
        __mmask64 mask = ((__mmask64)1 << len) - 1;

        CTR_BLOCKS(VL_REP1);
        _mm512_mask_storeu_epi8(out, mask,
                                _mm512_xor_si512(b[0], _mm512_maskz_loadu_epi8(mask, in)));
    }
}

/* ---- Multi-message CTR: the zmm of several messages in flight ---- */

/* A message longer than this goes through vl_siv_vaes_avx512_ctr, which
 * keeps 8 zmm in flight by itself; a shorter one is cut into units of one
 * zmm (four counter blocks, up to 64 bytes), and the units of consecutive
 * messages share the 8 zmm of a pass: one short message alone would leave
 * the AES units idle for most of the 15 rounds' latency. */
#define CTR_BATCH_MAX 512
#define UNITS 8

typedef struct ctr_units {
    __m512i c[UNITS]; /* counter blocks, AES byte order */
    const uint8_t *in[UNITS];
    uint8_t *out[UNITS];
    __mmask64 mask[UNITS]; /* the unit's bytes: masked loads and stores */
} ctr_units;

#define CTRU_WHITEN(j) b[j] = _mm512_xor_si512(u->c[j], k);
#define CTRU_OUT(j)                                                                     \
    _mm512_mask_storeu_epi8(                                                            \
        u->out[j], u->mask[j],                                                          \
        _mm512_xor_si512(b[j], _mm512_maskz_loadu_epi8(u->mask[j], u->in[j])));

/* One pass: the 8 units' keystream into their bytes. A unit with mask 0
 * (padding of the last pass) reads and writes nothing. */
static inline void ctr_pass(const vl_siv_x86 *s, const ctr_units *u)
{
    __m512i b[UNITS], k;

    VL_X86_OPAQUE(s); /* round keys as memory operands */
    k = K2(0);
    VL_REP8(CTRU_WHITEN)
    CTR_ROUND(1, VL_REP8) CTR_ROUND(2, VL_REP8) CTR_ROUND(3, VL_REP8) CTR_ROUND(4, VL_REP8)
    CTR_ROUND(5, VL_REP8) CTR_ROUND(6, VL_REP8) CTR_ROUND(7, VL_REP8) CTR_ROUND(8, VL_REP8)
    CTR_ROUND(9, VL_REP8) CTR_ROUND(10, VL_REP8) CTR_ROUND(11, VL_REP8)
    CTR_ROUND(12, VL_REP8) CTR_ROUND(13, VL_REP8)
    k = K2(14);
    VL_REP8(CTR_LAST)
    VL_REP8(CTRU_OUT)
}

void vl_siv_vaes_avx512_ctr_batch(const void *st, const uint8_t (*v)[16],
                                  const struct vl_ctr_job *jobs, size_t n)
{
    const vl_siv_x86 *s = st;
    const __m512i bswap = _mm512_broadcast_i32x4(
        _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    const __m512i first = _mm512_set_epi64(0, 3, 0, 2, 0, 1, 0, 0);
    const __m512i four = _mm512_set_epi64(0, 4, 0, 4, 0, 4, 0, 4);
    /* Counter blocks only: V is the public tag, so nothing here is secret
     * (the keystream stays in registers). */
    ctr_units u;
    size_t cnt = 0;

    for (size_t i = 0; i < n; i++) {
        const struct vl_ctr_job *j = &jobs[i];
        const size_t len = j->len;
        __m512i c;

        if (j->tag != NULL)
            _mm_storeu_si128((__m128i *)(void *)j->tag, LOADU(v[i]));
        if (len > CTR_BATCH_MAX) {
            vl_siv_vaes_avx512_ctr(st, v[i], j->out, j->in, len);
            continue;
        }
        c = _mm512_add_epi64(_mm512_broadcast_i32x4(vl_x86_ctr_start(v[i])), first);
        for (size_t off = 0; off < len; off += 64) {
            u.c[cnt] = _mm512_shuffle_epi8(c, bswap);
            u.in[cnt] = j->in + off;
            u.out[cnt] = j->out + off;
            u.mask[cnt] = len - off >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (len - off)) - 1;
            c = _mm512_add_epi64(c, four);
            if (++cnt == UNITS) {
                ctr_pass(s, &u);
                cnt = 0;
            }
        }
    }
    if (cnt == 0)
        return;
    for (size_t l = cnt; l < UNITS; l++) {
        u.c[l] = u.c[0];
        u.in[l] = u.in[0];
        u.out[l] = u.out[0];
        u.mask[l] = 0;
    }
    ctr_pass(s, &u);
}

/* ---- Multi-buffer S2V: 32 lanes, four per zmm ---- */

#define REGS 8
#define LANES (4 * REGS)

/* Block |off| of lanes 4j .. 4j + 3 of the scheduler. */
static inline __m512i gather4(const uint8_t *const *p, size_t off)
{
    __m256i lo = _mm256_inserti128_si256(_mm256_castsi128_si256(LOADU(p[0] + off)),
                                         LOADU(p[1] + off), 1);
    __m256i hi = _mm256_inserti128_si256(_mm256_castsi128_si256(LOADU(p[2] + off)),
                                         LOADU(p[3] + off), 1);
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

#define RUN_ENC(j) x[j] = _mm512_aesenc_epi128(x[j], k);
#define RUN_ROUND(r) k = K1(r); VL_REP8(RUN_ENC)

/* A scheduler run (siv_x86.h) of |m| >= 1 steps: lane l absorbs the blocks
 * p[l], p[l] + 16, ..., its chain value taken from and put back to
 * sc->x[l]. Lane bit 4j + b of sc->reset (chain restarts) selects the two
 * qwords of block b of x[j]. */
static void run(const vl_siv_x86 *s, vl_siv_sched *sc, size_t m)
{
    const uint8_t *const *p = sc->p;
    const uint32_t reset = sc->reset;
    __m512i x[REGS], k = K1(0);
    size_t off = 0;

#define RUN_LOAD(j)                                                                     \
    {                                                                                   \
        unsigned r_ = (reset >> (4 * (j))) & 15;                                        \
        __mmask8 q_ = (__mmask8)((r_ & 1) * 3 | (r_ & 2) * 6 | (r_ & 4) * 12 |          \
                                 (r_ & 8) * 24);                                        \
        x[j] = _mm512_mask_blend_epi64(q_, _mm512_load_si512((const void *)&sc->x[4 * (j)]), \
                                       k);                                              \
        x[j] = _mm512_xor_si512(x[j], gather4(p + 4 * (j), 0));                         \
    }
#define RUN_NEXT(j) \
    x[j] = _mm512_aesenclast_epi128(x[j], _mm512_xor_si512(k, gather4(p + 4 * (j), off)));
#define RUN_STORE(j) \
    _mm512_store_si512((void *)&sc->x[4 * (j)], _mm512_aesenclast_epi128(x[j], k));
    VL_REP8(RUN_LOAD)
    for (;;) {
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
    __m512i x[REGS], k = K1(0);

#define ROW(j) _mm512_load_si512((const void *)&row[4 * (j)])
#define WAVE_LOAD(j) x[j] = _mm512_xor_si512(k, ROW(j));
#define WAVE_NEXT(j) x[j] = _mm512_aesenclast_epi128(x[j], _mm512_xor_si512(k, ROW(j)));
#define WAVE_LAST(j)                              \
    x[j] = _mm512_aesenclast_epi128(x[j], k); \
    _mm512_store_si512((void *)&xs[4 * (j)], x[j]);
#define WAVE_V(j)                                                                       \
    {                                                                                   \
        __m512i t_ = _mm512_aesenclast_epi128(x[j], K1(14));                            \
        uint8_t(*v_)[16] = v + w->idx[0] + 4 * (j);                                     \
        _mm_storeu_si128((__m128i *)(void *)v_[0], _mm512_castsi512_si128(t_));         \
        _mm_storeu_si128((__m128i *)(void *)v_[1], _mm512_extracti32x4_epi32(t_, 1));   \
        _mm_storeu_si128((__m128i *)(void *)v_[2], _mm512_extracti32x4_epi32(t_, 2));   \
        _mm_storeu_si128((__m128i *)(void *)v_[3], _mm512_extracti32x4_epi32(t_, 3));   \
    }
#define WAVE_XOR(j) x[j] = _mm512_xor_si512(x[j], ROW(j));
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

void vl_siv_vaes_avx512_s2v_batch(const void *st, uint8_t (*v)[16],
                                  const struct vl_s2v_job *jobs, size_t n)
{
    vl_siv_s2v_batch_drive(st, v, jobs, n, LANES, wave, run);
}
