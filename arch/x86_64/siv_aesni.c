/* AES-256-SIV (RFC 5297) with AES-NI: key setup, S2V, CTR, multi-buffer S2V.
 *
 * Requires: CPUID.1:ECX.AESNI[bit 25], SSSE3[bit 9], SSE4.1[bit 19]
 * (vl_x86_has_aesni). Built with the aesni flags only, so valgrind runs it.
 * init and s2v serve the VAES paths too, and so does the batch machinery
 * at the end of this file (waves and the lane scheduler, siv_x86.h).
 *
 * S2V (§2.4) is CMAC chains under K1 (NIST SP 800-38B), each serial: a
 * chain is bound by AESENC latency, 4 cycles on Zen 5, so 14 x 4 = 56
 * cycles per 16-byte block. To keep anything else off the chain, a chain
 * value is carried as x ^ rk[0] ^ b with the next block b already folded
 * in: one block's last round is AESENCLAST with the key rk[14] ^ rk[0] ^ b',
 * computed off the chain, so a block costs exactly 14 AES instructions and
 * the long loop keeps rounds 1..12 in registers. The CMACs of the components
 * before the plaintext run beside the plaintext's own chain, whose blocks
 * need D only at the very end; D0, CMAC(<empty>) and D after one empty AD
 * (field encryption) are computed at init, so such a message costs just
 * its plaintext's chain.
 *
 * CTR (§2.5): 8 blocks in flight, the counter's low 64 bits counted in a
 * byte-reversed register.
 *
 * Multi-buffer S2V, in the manner of ipsec-mb's job managers: 8 lanes, one
 * message each, one block per lane per step, 8 chains keeping the two AES
 * units busy. Short messages go in waves (a transposed staging area, no
 * per-lane bookkeeping), the rest through a lane scheduler.
 *
 * Only lengths and counts are branched on or used as indices. Partial
 * blocks are read and written byte-exactly, never past a caller's buffer.
 * Round keys are memory operands wherever they would not all fit in
 * registers (VL_X86_OPAQUE), so the compiler does not spill them; the
 * scratch buffers holding message or chain data are wiped. */
#include "siv_x86.h"

#include "aes_x86.h"
#include "internal.h"

_Static_assert(sizeof(vl_siv_x86) <= VL_IMPL_STATE_BYTES, "vl_siv_x86 must fit the impl state");
_Static_assert(_Alignof(vl_siv_x86) <= 64, "the impl state is only 64-byte aligned");

#define LOADU(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define STOREU(p, x) _mm_storeu_si128((__m128i *)(void *)(p), (x))
#define XOR(a, b) _mm_xor_si128((a), (b))

/* Rounds 1..13 of AES-256 under K1. */
static inline __m128i k1_rounds(const vl_siv_x86 *s, __m128i w)
{
    VL_X86_OPAQUE(s); /* memory operands, reloaded at every use */
#define K1_ROUND(r) w = _mm_aesenc_si128(w, s->k1[r][0]);
    VL_ROUNDS(K1_ROUND)
    return w;
}

/* Chain step. |w| = x ^ rk[0] ^ b for the chain value x and the pending
 * block b; returns x' ^ rk[0] ^ next with x' = AES_K1(x ^ b). */
static inline __m128i absorb(const vl_siv_x86 *s, __m128i w, __m128i next)
{
    return _mm_aesenclast_si128(k1_rounds(s, w), XOR(s->kl[0], next));
}

/* Absorbs the pending block; returns the chain value (the CMAC when the
 * pending block was the last, subkey included). */
static inline __m128i finish(const vl_siv_x86 *s, __m128i w)
{
    return _mm_aesenclast_si128(k1_rounds(s, w), s->k1[14][0]);
}

/* Absorbs the pending block and the |n| blocks at |p|, the last of which
 * is left pending: the long-message loop, round keys 1..13 in registers,
 * 14 AES instructions per block and nothing else on the chain. */
static inline __m128i chain(const vl_siv_x86 *s, __m128i w, const uint8_t *p, size_t n)
{
    const __m128i k1 = s->k1[1][0], k2 = s->k1[2][0], k3 = s->k1[3][0], k4 = s->k1[4][0];
    const __m128i k5 = s->k1[5][0], k6 = s->k1[6][0], k7 = s->k1[7][0], k8 = s->k1[8][0];
    const __m128i k9 = s->k1[9][0], k10 = s->k1[10][0], k11 = s->k1[11][0];
    const __m128i k12 = s->k1[12][0];

    for (; n > 0; n--, p += 16) {
        const vl_siv_x86 *m = s;

        /* Round 13 and the folded last key are memory operands, which
         * leaves registers for the caller's D and the loaded block. */
        VL_X86_OPAQUE(m);
        __m128i b = XOR(LOADU(p), m->kl[0]);
        w = _mm_aesenc_si128(w, k1);
        w = _mm_aesenc_si128(w, k2);
        w = _mm_aesenc_si128(w, k3);
        w = _mm_aesenc_si128(w, k4);
        w = _mm_aesenc_si128(w, k5);
        w = _mm_aesenc_si128(w, k6);
        w = _mm_aesenc_si128(w, k7);
        w = _mm_aesenc_si128(w, k8);
        w = _mm_aesenc_si128(w, k9);
        w = _mm_aesenc_si128(w, k10);
        w = _mm_aesenc_si128(w, k11);
        w = _mm_aesenc_si128(w, k12);
        w = _mm_aesenc_si128(w, m->k1[13][0]);
        w = _mm_aesenclast_si128(w, b);
    }
    return w;
}

/* The last block of a |len| >= 1 byte CMAC message (SP 800-38B §6.2 steps
 * 3-4): whole, XOR subkey K1; partial, padded 10* and XOR subkey K2. */
static inline __m128i cmac_last(const vl_siv_x86 *s, const uint8_t *c, size_t len)
{
    size_t r = len & 15;
    __m128i b;

    if (r == 0)
        return XOR(LOADU(c + len - 16), s->l1);
    b = len > 16 ? vl_x86_shr_bytes(LOADU(c + len - 16), 16 - r) : vl_x86_load_partial(c, r);
    return XOR(XOR(b, vl_x86_pad_bit(r)), s->l2);
}

/* The plaintext chain while other components are MACed beside it: |*x| is
 * its chain value with a block pending, |*p|, |*k| the in-place blocks not
 * yet absorbed. */
struct pt_chain {
    __m128i x;
    const uint8_t *p;
    size_t k;
};

static inline void pt_step(const vl_siv_x86 *s, struct pt_chain *c)
{
    if (c->k > 0) {
        c->x = absorb(s, c->x, LOADU(c->p));
        c->p += 16;
        c->k--;
    }
}

/* AES-CMAC(K1, c[0..len)) for len >= 1, advancing |pc| by up to one block
 * per block of c. */
static inline __m128i cmac_beside(const vl_siv_x86 *s, const uint8_t *c, size_t len,
                                  struct pt_chain *pc)
{
    size_t h = (len - 1) / 16; /* whole blocks before the last */
    __m128i last = cmac_last(s, c, len);
    __m128i w = XOR(s->k1[0][0], h > 0 ? LOADU(c) : last);
    size_t j = 1;

    for (; j < h && pc->k > 0; j++) {
        pc->x = absorb(s, pc->x, LOADU(pc->p));
        pc->p += 16;
        pc->k--;
        w = absorb(s, w, LOADU(c + 16 * j));
    }
    for (; j < h; j++)
        w = absorb(s, w, LOADU(c + 16 * j));
    if (h > 0) {
        pt_step(s, pc);
        w = absorb(s, w, last);
    }
    pt_step(s, pc);
    return finish(s, w);
}

/* AES-CMAC(K1, c[0..len)) for len >= 1, one serial chain. */
static __m128i cmac_serial(const vl_siv_x86 *s, const uint8_t *c, size_t len)
{
    size_t h = (len - 1) / 16;
    __m128i last = cmac_last(s, c, len);
    __m128i w = XOR(s->k1[0][0], h > 0 ? LOADU(c) : last);

    for (size_t j = 1; j < h; j++)
        w = absorb(s, w, LOADU(c + 16 * j));
    if (h > 0)
        w = absorb(s, w, last);
    return finish(s, w);
}

/* The plaintext's last one or two blocks for §2.4's final CMAC, with D:
 * len >= 16, T = pt xorend D; else T = dbl(D) xor pad(pt). Whole last
 * block: XOR K1; partial: pad and XOR K2. Returns how many (1 or 2). */
static inline __attribute__((always_inline)) int pt_tail(const vl_siv_x86 *s, __m128i t[2],
                                                         __m128i d, const uint8_t *pt,
                                                         size_t len)
{
    size_t r = len & 15;
    __m128i u;

    if (len < 16) {
        t[0] = XOR(XOR(vl_x86_dbl(d), vl_x86_load_partial(pt, len)),
                   XOR(vl_x86_pad_bit(len), s->l1));
        return 1;
    }
    u = XOR(LOADU(pt + len - 16), d);
    if (r == 0) {
        t[0] = XOR(u, s->l1);
        return 1;
    }
    /* The last 16 bytes straddle two blocks: the first takes D's first
     * 16 - r bytes at its end, the second (r bytes) the rest. */
    t[0] = XOR(LOADU(pt + len - 16 - r), vl_x86_shl_bytes(d, r));
    t[1] = XOR(XOR(vl_x86_shr_bytes(u, 16 - r), vl_x86_pad_bit(r)), s->l2);
    return 2;
}

static inline size_t pt_head_blocks(size_t len)
{
    return len >= 16 ? len / 16 - 1 : 0;
}

void vl_siv_aesni_init(void *st, const uint8_t key[64])
{
    vl_siv_x86 *s = st;
    vl_aes_x86 a;
    __m128i l;

    /* §2.6: K1 = key[0..32) for S2V, K2 = key[32..64) for CTR. */
    vl_aes_x86_expand(&a, key, 32);
    for (int r = 0; r < 15; r++)
        for (int c = 0; c < 4; c++)
            s->k1[r][c] = a.rk[r];
    vl_aes_x86_expand(&a, key + 32, 32);
    for (int r = 0; r < 15; r++)
        for (int c = 0; c < 4; c++)
            s->k2[r][c] = a.rk[r];
    vl_memzero(&a, sizeof a);
    for (int c = 0; c < 4; c++)
        s->kl[c] = XOR(s->k1[14][0], s->k1[0][0]);

    /* SP 800-38B §6.1: L = AES_K1(0), subkeys dbl(L) and dbl(dbl(L)). */
    l = finish(s, s->k1[0][0]);
    s->l1 = vl_x86_dbl(l);
    s->l2 = vl_x86_dbl(s->l1);
    /* RFC 5297 §2.4: D0 = CMAC(<zero>), one whole block; CMAC(<empty>) is
     * the padded empty block under subkey K2. */
    s->d0 = finish(s, XOR(s->k1[0][0], s->l1));
    s->mac_empty = finish(s, XOR(s->k1[0][0], XOR(vl_x86_pad_bit(0), s->l2)));
    s->d_empty = XOR(vl_x86_dbl(s->d0), s->mac_empty);
}

/* The end of S2V once D is known: the plaintext's remaining in-place
 * blocks (chain value |w|, |k| blocks at |p|), its last one or two blocks
 * with D, and the final CMAC into |v|. Kept out of line so that only D
 * lives beside the round keys during the long loop. */
static __attribute__((noinline)) void s2v_end(const vl_siv_x86 *s, uint8_t v[16], __m128i w,
                                              const uint8_t *p, size_t k, __m128i d,
                                              const uint8_t *pt, size_t len)
{
    __m128i t[2];
    int nt;

    if (k > 0)
        w = chain(s, w, p, k);
    nt = pt_tail(s, t, d, pt, len);
    w = pt_head_blocks(len) > 0 ? absorb(s, w, t[0]) : XOR(s->k1[0][0], t[0]);
    if (nt == 2)
        w = absorb(s, w, t[1]);
    STOREU(v, finish(s, w));
}

void vl_siv_aesni_s2v(const void *st, uint8_t v[16], const vl_slice *ad, size_t ad_count,
                      const uint8_t *nonce, size_t nonce_len, const uint8_t *pt, size_t len)
{
    const vl_siv_x86 *s = st;
    size_t nh = pt_head_blocks(len), i = 0, ncomp = ad_count + (nonce_len > 0);
    struct pt_chain pc = { _mm_setzero_si128(), pt, 0 };
    __m128i d = s->d0;

    /* The plaintext's leading blocks do not depend on D: start them now. */
    if (nh > 0) {
        pc.x = XOR(s->k1[0][0], LOADU(pt));
        pc.p = pt + 16;
        pc.k = nh - 1;
    }
    if (ad_count > 0 && ad[0].len == 0) {
        d = s->d_empty;
        i = 1;
    }
    /* §2.4: D = dbl(D) xor CMAC(S_i) for each AD, then the nonce (§3). */
    for (; i < ncomp; i++) {
        const uint8_t *c = i < ad_count ? ad[i].ptr : nonce;
        size_t cl = i < ad_count ? ad[i].len : nonce_len;
        __m128i m = cl > 0 ? cmac_beside(s, c, cl, &pc) : s->mac_empty;

        d = XOR(vl_x86_dbl(d), m);
    }
    s2v_end(s, v, pc.x, pc.p, pc.k, d, pt, len);
}

/* CTR: the counter blocks c + j for each j of REP (VL_REP1/4/8), encrypted
 * under K2, XORed into in[16 j ..] and written to out[16 j ..]. */
#define CTR_WHITEN(j) b[j] = XOR(vl_x86_bswap128(_mm_add_epi64(c, _mm_set_epi64x(0, j))), k);
#define CTR_ENC(j) b[j] = _mm_aesenc_si128(b[j], k);
#define CTR_LAST(j) b[j] = _mm_aesenclast_si128(b[j], k);
#define CTR_OUT(j) STOREU(out + 16 * (j), XOR(b[j], LOADU(in + 16 * (j))));
#define CTR_R(r, REP) k = s->k2[r][0]; REP(CTR_ENC)
#define CTR_BLOCKS(REP)                          \
    do {                                         \
        __m128i k = s->k2[0][0];                 \
        REP(CTR_WHITEN)                          \
        CTR_R(1, REP) CTR_R(2, REP) CTR_R(3, REP) CTR_R(4, REP) \
        CTR_R(5, REP) CTR_R(6, REP) CTR_R(7, REP) CTR_R(8, REP) \
        CTR_R(9, REP) CTR_R(10, REP) CTR_R(11, REP) CTR_R(12, REP) \
        CTR_R(13, REP)                           \
        k = s->k2[14][0];                        \
        REP(CTR_LAST)                            \
    } while (0)

void vl_siv_aesni_ctr(const void *st, const uint8_t v[16], uint8_t *out, const uint8_t *in,
                      size_t len)
{
    const vl_siv_x86 *s = st;
    __m128i c = vl_x86_ctr_start(v), b[8];

    for (; len >= 128; len -= 128, in += 128, out += 128) {
        VL_X86_OPAQUE(s); /* round keys as memory operands */
        CTR_BLOCKS(VL_REP8);
        VL_REP8(CTR_OUT)
        c = _mm_add_epi64(c, _mm_set_epi64x(0, 8));
    }
    if (len >= 64) {
        CTR_BLOCKS(VL_REP4);
        VL_REP4(CTR_OUT)
        c = _mm_add_epi64(c, _mm_set_epi64x(0, 4));
        len -= 64, in += 64, out += 64;
    }
    /* Up to three whole blocks, then a partial one; the iterations are
     * independent, so they overlap. */
    for (; len >= 16; len -= 16, in += 16, out += 16) {
        VL_X86_OPAQUE(s);
        CTR_BLOCKS(VL_REP1);
        STOREU(out, XOR(b[0], LOADU(in)));
        c = _mm_add_epi64(c, _mm_set_epi64x(0, 1));
    }
    if (len > 0) {
        CTR_BLOCKS(VL_REP1);
        vl_x86_store_partial(out, XOR(b[0], vl_x86_load_partial(in, len)), len);
    }
}

/* ---- Multi-buffer S2V, 8 lanes of one xmm each ---- */

#define LANES 8

#define RUN_ENC(j) x[j] = _mm_aesenc_si128(x[j], k);
#define RUN_ROUND(r) k = s->k1[r][0]; VL_REP8(RUN_ENC)

/* A scheduler run (siv_x86.h) of |m| >= 1 steps: lane l absorbs the blocks
 * p[l], p[l] + 16, ..., its chain value taken from and put back to
 * sc->x[l]. The scheduler's calls between runs clobber every vector
 * register, so the chain values wait in sc->x (wiped at the end), never in
 * the compiler's spill slots. */
static void run(const vl_siv_x86 *s, vl_siv_sched *sc, size_t m)
{
    const uint8_t *const *p = sc->p;
    const uint32_t reset = sc->reset;
    __m128i x[LANES], k = s->k1[0][0];
    size_t off = 0;

#define RUN_LOAD(j)                                                                       \
    x[j] = _mm_blendv_epi8(sc->x[j], k, _mm_set1_epi32(-(int32_t)((reset >> (j)) & 1))); \
    x[j] = XOR(x[j], LOADU(p[j]));
#define RUN_NEXT(j) x[j] = _mm_aesenclast_si128(x[j], XOR(k, LOADU(p[j] + off)));
#define RUN_STORE(j) sc->x[j] = _mm_aesenclast_si128(x[j], k);
    VL_REP8(RUN_LOAD)
    for (;;) {
        /* Round keys are memory operands: never hoisted and spilled. */
        VL_X86_OPAQUE(s);
        off += 16;
        VL_ROUNDS(RUN_ROUND)
        k = s->kl[0];
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
    __m128i x[LANES], k = s->k1[0][0];

#define WAVE_LOAD(j) x[j] = XOR(k, row[j]);
#define WAVE_NEXT(j) x[j] = _mm_aesenclast_si128(x[j], XOR(k, row[j]));
#define WAVE_LAST(j) xs[j] = x[j] = _mm_aesenclast_si128(x[j], k);
#define WAVE_XOR(j) x[j] = XOR(x[j], row[j]);
#define WAVE_V(j) STOREU(v[w->idx[0] + (j)], _mm_aesenclast_si128(x[j], s->k1[14][0]));
    VL_REP8(WAVE_LOAD)
    for (size_t t = 0; t < w->steps; t++) {
        VL_X86_OPAQUE(s); /* round keys as memory operands */
        VL_ROUNDS(RUN_ROUND)
        k = s->kl[0];
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

void vl_siv_aesni_s2v_batch(const void *st, uint8_t (*v)[16],
                            const struct vl_s2v_job *jobs, size_t n)
{
    vl_siv_s2v_batch_drive(st, v, jobs, n, LANES, wave, run);
}

/* ---- The batch driver (siv_x86.h), shared by all batch paths ---- */

void vl_siv_s2v_batch_drive(const vl_siv_x86 *st, uint8_t (*v)[16],
                            const struct vl_s2v_job *jobs, size_t n, size_t lanes,
                            vl_siv_wave_fn *wave_fn, vl_siv_run_fn *run_fn)
{
    _Alignas(64) __m128i stg[VL_SIV_WAVE_BLOCKS * VL_SIV_LANES_MAX], xs[VL_SIV_LANES_MAX];
    vl_siv_wave w;
    vl_siv_sched sc;
    size_t rows = 0, m;

    if (n == 1) {
        vl_siv_aesni_s2v(st, v[0], jobs[0].ad, jobs[0].ad_count, jobs[0].nonce,
                         jobs[0].nonce_len, jobs[0].pt, jobs[0].len);
        return;
    }
    vl_siv_wave_init(&w, st, jobs, n, lanes, stg);
    while (vl_siv_wave_fill(&w) > 0) {
        wave_fn(st, &w, xs, v);
        rows = w.steps > rows ? w.steps : rows;
    }
    if (rows > 0) {
        vl_memzero(stg, rows * lanes * sizeof stg[0]);
        vl_memzero(xs, lanes * sizeof xs[0]);
    }
    if (w.rest == 0)
        return;
    for (m = vl_siv_sched_init(&sc, st, v, jobs, n, lanes); m != 0;
         m = vl_siv_sched_advance(&sc, m))
        run_fn(st, &sc, m);
    vl_siv_sched_wipe(&sc);
}

/* ---- Waves (siv_x86.h), shared by all batch paths ---- */

/* At most this many components before the plaintext, each at most this
 * many blocks, for a wave job: D is then cheap to compute serially. */
#define WAVE_COMPONENTS 4
#define WAVE_COMPONENT_BLOCKS 8

/* Blocks of the final CMAC input for a |len|-byte plaintext. */
static inline size_t pt_blocks(size_t len)
{
    return pt_head_blocks(len) + (len >= 16 && (len & 15) != 0 ? 2 : 1);
}

/* D for a wave job: the components before the plaintext are few and short
 * (else returns 0 and sets nothing). */
static inline int wave_d(const vl_siv_x86 *s, const struct vl_s2v_job *j, __m128i *dp)
{
    size_t nad = j->ad_count, ncomp = nad + (j->nonce_len > 0), i = 0;
    __m128i d = s->d0;

    if (ncomp > WAVE_COMPONENTS)
        return 0;
    for (size_t c = 0; c < ncomp; c++) {
        if ((c < nad ? j->ad[c].len : j->nonce_len) > 16 * WAVE_COMPONENT_BLOCKS)
            return 0;
    }
    if (nad > 0 && j->ad[0].len == 0) {
        d = s->d_empty;
        i = 1;
    }
    for (; i < ncomp; i++) {
        size_t len = i < nad ? j->ad[i].len : j->nonce_len;
        const uint8_t *c = i < nad ? j->ad[i].ptr : j->nonce;

        d = XOR(vl_x86_dbl(d), len > 0 ? cmac_serial(s, c, len) : s->mac_empty);
    }
    *dp = d;
    return 1;
}

/* Whether the scheduler leaves job |j| to the waves. */
static inline int wave_takes(const struct vl_s2v_job *j)
{
    size_t nad = j->ad_count, ncomp = nad + (j->nonce_len > 0);

    if (pt_blocks(j->len) > VL_SIV_WAVE_BLOCKS || ncomp > WAVE_COMPONENTS)
        return 0;
    for (size_t c = 0; c < ncomp; c++) {
        if ((c < nad ? j->ad[c].len : j->nonce_len) > 16 * WAVE_COMPONENT_BLOCKS)
            return 0;
    }
    return 1;
}

void vl_siv_wave_init(vl_siv_wave *w, const vl_siv_x86 *st, const struct vl_s2v_job *jobs,
                      size_t n, size_t lanes, __m128i *stg)
{
    w->st = st;
    w->jobs = jobs;
    w->n = n;
    w->next = 0;
    w->rest = 0;
    w->lanes = lanes;
    w->stg = stg;
    w->ad_ptr = NULL;
    w->ad_len = SIZE_MAX;
    w->ad_d = _mm_setzero_si128();
}

size_t vl_siv_wave_fill(vl_siv_wave *w)
{
    const vl_siv_x86 *s = w->st;
    const struct vl_s2v_job *const jobs = w->jobs;
    const size_t lanes = w->lanes, n = w->n;
    __m128i *const stg = w->stg;
    uint8_t *const nb = w->nb;
    size_t i = w->next, cnt = 0, steps = 0, minb = VL_SIV_WAVE_BLOCKS, rest = 0;
    int whole = 1;

    for (; i < n && cnt < lanes; i++) {
        const struct vl_s2v_job *j = &jobs[i];
        const uint8_t *pt = j->pt;
        size_t len = j->len, nh = pt_head_blocks(len), b = pt_blocks(len), nad = j->ad_count;
        __m128i *col = stg + cnt, d, t[2];

        if (b > VL_SIV_WAVE_BLOCKS) {
            rest++;
            continue;
        }
        /* Field encryption (one empty AD, or none) first: D precomputed;
         * then one AD shared with the previous such job. */
        if (j->nonce_len == 0 && nad <= 1 && (nad == 0 || j->ad[0].len == 0)) {
            d = nad > 0 ? s->d_empty : s->d0;
        } else if (j->nonce_len == 0 && nad == 1 && j->ad[0].ptr == w->ad_ptr &&
                   j->ad[0].len == w->ad_len) {
            d = w->ad_d;
        } else if (wave_d(s, j, &d)) {
            if (j->nonce_len == 0 && nad == 1) {
                w->ad_ptr = j->ad[0].ptr;
                w->ad_len = j->ad[0].len;
                w->ad_d = d;
            }
        } else {
            rest++;
            continue;
        }
        for (size_t k = 0; k < nh; k++)
            col[k * lanes] = LOADU(pt + 16 * k);
        if (pt_tail(s, t, d, pt, len) == 2)
            col[(nh + 1) * lanes] = t[1];
        col[nh * lanes] = t[0];
        steps = b > steps ? b : steps;
        minb = b < minb ? b : minb;
        nb[cnt] = (uint8_t)b;
        whole &= cnt == 0 || w->idx[cnt - 1] + 1 == i;
        w->idx[cnt++] = i;
    }
    w->next = i;
    w->rest += rest;
    w->cnt = cnt;
    w->steps = steps;
    w->whole = whole && cnt == lanes && minb == steps;
    if (cnt == 0) {
        vl_memzero(&w->ad_d, sizeof w->ad_d);
        return 0;
    }
    for (size_t l = cnt; l < VL_SIV_LANES_MAX; l++)
        nb[l] = 0;
    /* end[k]: the lanes with k + 1 blocks, by byte compares (no chain of
     * read-modify-writes through memory). */
    for (size_t k = 0; k < steps; k++) {
        __m128i kk = _mm_set1_epi8((char)(k + 1));
        uint32_t lo = (uint32_t)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_load_si128((const __m128i *)(const void *)nb), kk));
        uint32_t hi = (uint32_t)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_load_si128((const __m128i *)(const void *)(nb + 16)), kk));

        w->end[k] = lo | hi << 16;
    }
    /* Zeros where no block is: the vector code reads whole rows. */
    if (cnt < lanes || minb < steps) {
        for (size_t l = 0; l < lanes; l++) {
            for (size_t k = nb[l]; k < steps; k++)
                stg[k * lanes + l] = _mm_setzero_si128();
        }
    }
    return cnt;
}

/* ---- The lane scheduler (siv_x86.h), shared by all batch paths ---- */

/* Sets lane |i|'s segment. */
static inline void lane_segment(vl_siv_sched *sc, size_t i, const void *p, size_t n, int last)
{
    sc->p[i] = p;
    sc->n[i] = n;
    sc->lane[i].last = last;
}

/* Points lane |i| at its plaintext, the last S2V component, D final. */
static inline void lane_plaintext(vl_siv_sched *sc, size_t i, const uint8_t *pt, size_t len)
{
    vl_siv_lane *ln = &sc->lane[i];
    size_t nh = pt_head_blocks(len);

    if (nh <= VL_SIV_LANE_BLOCKS - 2) {
        for (size_t b = 0; b < nh; b++)
            ln->buf[b] = LOADU(pt + 16 * b);
        lane_segment(sc, i, ln->buf, nh + (size_t)pt_tail(sc->st, ln->buf + nh, ln->d, pt, len),
                     1);
    } else {
        ln->ntail = (size_t)pt_tail(sc->st, ln->buf, ln->d, pt, len);
        lane_segment(sc, i, pt, nh, 0);
    }
}

/* Points lane |i| at its next non-empty component; empty ones go into D
 * here (CMAC(<empty>) is precomputed). */
static void lane_component(vl_siv_sched *sc, size_t i)
{
    vl_siv_lane *ln = &sc->lane[i];
    const struct vl_s2v_job *j = ln->job;

    for (; ln->comp < ln->ncomp; ln->comp++) {
        const uint8_t *c = ln->comp < j->ad_count ? j->ad[ln->comp].ptr : j->nonce;
        size_t cl = ln->comp < j->ad_count ? j->ad[ln->comp].len : j->nonce_len;
        size_t h = cl > 0 ? (cl - 1) / 16 : 0; /* whole blocks before the last */

        if (cl == 0) {
            ln->d = XOR(vl_x86_dbl(ln->d), sc->st->mac_empty);
        } else if (h < VL_SIV_LANE_BLOCKS) {
            for (size_t b = 0; b < h; b++)
                ln->buf[b] = LOADU(c + 16 * b);
            ln->buf[h] = cmac_last(sc->st, c, cl);
            lane_segment(sc, i, ln->buf, h + 1, 1);
            return;
        } else {
            ln->buf[0] = cmac_last(sc->st, c, cl);
            ln->ntail = 1;
            lane_segment(sc, i, c, h, 0);
            return;
        }
    }
    lane_plaintext(sc, i, j->pt, j->len);
}

/* Gives lane |i| the next job, or makes it idle. */
static inline void lane_next_job(vl_siv_sched *sc, size_t i)
{
    vl_siv_lane *ln = &sc->lane[i];
    const struct vl_s2v_job *j;

    while (sc->next < sc->njobs && wave_takes(&sc->jobs[sc->next]))
        sc->next++;
    if (sc->next >= sc->njobs) {
        ln->job = NULL;
        return;
    }
    j = &sc->jobs[sc->next];
    ln->job = j;
    ln->v = sc->v[sc->next++];
    ln->ncomp = j->ad_count + (j->nonce_len > 0);
    ln->comp = 0;
    ln->d = sc->st->d0;
    if (j->ad_count > 0 && j->ad[0].len == 0) {
        ln->d = sc->st->d_empty;
        ln->comp = 1;
    }
    if (ln->comp == ln->ncomp)
        lane_plaintext(sc, i, j->pt, j->len); /* field encryption: no chain before */
    else
        lane_component(sc, i);
}

/* The shortest segment among active lanes; idle lanes shadow that one. */
static size_t sched_run_len(vl_siv_sched *s)
{
    size_t a = SIZE_MAX, m = SIZE_MAX, idle = 0;

    for (size_t i = 0; i < s->lanes; i++) {
        if (s->lane[i].job == NULL)
            idle++;
        else if (s->n[i] < m)
            m = s->n[a = i];
    }
    if (a == SIZE_MAX)
        return 0;
    for (size_t i = 0; idle > 0 && i < s->lanes; i++) {
        if (s->lane[i].job == NULL) {
            s->p[i] = s->p[a];
            s->n[i] = s->n[a];
            idle--;
        }
    }
    return m;
}

size_t vl_siv_sched_init(vl_siv_sched *s, const vl_siv_x86 *st, uint8_t (*v)[16],
                         const struct vl_s2v_job *jobs, size_t n, size_t lanes)
{
    s->st = st;
    s->jobs = jobs;
    s->v = v;
    s->njobs = n;
    s->next = 0;
    s->lanes = lanes;
    s->reset = lanes < 32 ? ((uint32_t)1 << lanes) - 1 : ~(uint32_t)0;
    for (size_t i = 0; i < lanes; i++)
        lane_next_job(s, i);
    return sched_run_len(s);
}

size_t vl_siv_sched_advance(vl_siv_sched *s, size_t m)
{
    uint32_t reset = 0;

    for (size_t i = 0; i < s->lanes; i++) {
        vl_siv_lane *ln = &s->lane[i];
        __m128i x;

        s->p[i] += 16 * m;
        s->n[i] -= m;
        if (s->n[i] != 0 || ln->job == NULL)
            continue;
        if (!ln->last) {
            /* In-place blocks done; the finished last one or two follow. */
            lane_segment(s, i, ln->buf, ln->ntail, 1);
            continue;
        }
        x = XOR(s->x[i], s->st->k1[0][0]);
        if (ln->comp < ln->ncomp) {
            ln->d = XOR(vl_x86_dbl(ln->d), x);
            ln->comp++;
            lane_component(s, i);
        } else {
            STOREU(ln->v, x);
            lane_next_job(s, i);
        }
        reset |= (uint32_t)1 << i;
    }
    s->reset = reset;
    return sched_run_len(s);
}

void vl_siv_sched_wipe(vl_siv_sched *s)
{
    size_t used = s->njobs < s->lanes ? s->njobs : s->lanes;

    vl_memzero(s->x, sizeof s->x);
    vl_memzero(s->lane, used * sizeof s->lane[0]);
}
