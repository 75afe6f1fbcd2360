/* AES-256-SIV (RFC 5297) field encryption with VAES on zmm: S2V and CTR of
 * many short messages in one pass (vl_siv_ops.field_seal / field_open).
 *
 * Requires: what siv_vaes_avx512.c does: CPUID AVX512F, AVX512BW,
 * AVX512VL, VAES, and XCR0 with the opmask and ZMM state enabled
 * (vl_x86_has_vaes_avx512). Valgrind cannot run this file.
 *
 * A field message has no nonce and one empty AD, so S2V's D before the
 * plaintext is the key's d_empty (RFC 5297 §2.4), and a body of at most 64
 * bytes is one zmm. Its final CMAC input T (at most four blocks: xorend D
 * or dbl(D) xor pad, then SP 800-38B §6.2's subkey and 10* padding) is
 * built in that register with byte masks; the T of four messages are
 * transposed into four zmm (block k of each), so 32 messages' CMAC chains
 * run in 8 zmm, one block per step, and each message's V is kept from the
 * step that absorbs its last block. V then gives the message one zmm of
 * counter blocks (§2.5: a 64-byte body is four blocks), eight messages per
 * pass of the AES units. Compared with s2v_batch then ctr_batch, no job is
 * built, no block is staged one at a time, and V stays in this file's
 * scratch between the two. A group of 32 is 4 x 8 x 14 VAES for S2V and
 * 4 x 8 x 15 for CTR: at two per cycle about 14 cycles a message.
 *
 * Only lengths are branched on or used as indices. Bytes past a body are
 * neither read nor written (masked loads and stores suppress faults on
 * masked-out bytes). The scratch holding T (plaintext XOR key material)
 * and V is wiped before returning. */
#include "siv_x86.h"

#include "internal.h"

#define QUADS 8           /* chain registers, four messages each */
#define GROUP (4 * QUADS) /* messages per S2V pass */
#define STEPS 4           /* blocks of T for a body of at most 64 bytes */

_Static_assert(VL_SIV_FIELD_MAX == 16 * STEPS, "a field body is one zmm");

#define K1(r) _mm512_load_si512((const void *)s->k1[r])
#define K2(r) _mm512_load_si512((const void *)s->k2[r])
#define LOADU(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define BCAST(x) _mm512_broadcast_i32x4(x)

#define REP2(M) M(0) M(1)

/* What building T takes from the key, once per call. */
typedef struct field_consts {
    __m512i rk0;   /* K1's rk[0]: T is staged as T ^ rk[0], the first whitening */
    __m512i small; /* len < 16: dbl(D) ^ subkey K1 ^ rk[0] (§2.4, one whole block) */
    __m512i l1;    /* CMAC subkey K1 (whole last block) */
    __m512i l2;    /* CMAC subkey K2 (padded last block) */
    __m128i d;     /* D = d_empty */
} field_consts;

/* A group of up to GROUP messages between S2V and CTR. Lane l of zmm q is
 * message 4q + l of the group. */
typedef struct field_group {
    __m512i stg[STEPS][QUADS]; /* block k of each message's T ^ rk[0] */
    _Alignas(64) __m128i v[GROUP];
    uint64_t end[STEPS]; /* qword mask bits of the lanes whose T ends at step k */
    size_t steps;        /* blocks of the group's longest T */
} field_group;

/* 0..15 twice: a pshufb row that rotates a block by a (public) byte count. */
static const uint8_t rot_tab[32] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
};

/* 0x80 at byte 64: loaded from 64 - len, the 10* padding bit at byte len. */
static const uint8_t pad_tab[128] = { [64] = 0x80 };

static inline __mmask64 body_mask(size_t len)
{
    return len >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << len) - 1;
}

static void field_consts_init(const vl_siv_x86 *s, field_consts *fc)
{
    fc->rk0 = K1(0);
    fc->small = BCAST(_mm_xor_si128(_mm_xor_si128(vl_x86_dbl(s->d_empty), s->l1), s->k1[0][0]));
    fc->l1 = BCAST(s->l1);
    fc->l2 = BCAST(s->l2);
    fc->d = s->d_empty;
}

/* T ^ rk[0] for a body |p| of |len| <= 64 bytes, zero past len (RFC 5297
 * §2.4's last step, then the CMAC's last block); *nb = T's blocks. Blocks
 * of the register past T are left as they come: no step after T's last
 * is kept. */
static inline __m512i field_t(const field_consts *fc, __m512i p, size_t len, unsigned *nb)
{
    size_t r = len & 15;
    __m512i t;

    if (len < 16) {
        /* T = dbl(D) xor pad(P), one whole block. */
        *nb = 1;
        t = _mm512_xor_si512(p, fc->small);
    } else {
        /* T = P xorend D: D rotated by len mod 16 in every block, kept
         * on bytes [len - 16, len) only. The last block takes subkey K1
         * when whole, the padding and subkey K2 when partial. */
        size_t blk = r != 0 ? len / 16 : len / 16 - 1;
        __m128i drot = _mm_shuffle_epi8(fc->d, LOADU(rot_tab + 16 - r));
        __m512i dz = _mm512_maskz_mov_epi8((__mmask64)0xffff << (len - 16), BCAST(drot));

        *nb = (unsigned)blk + 1;
        t = _mm512_xor_si512(_mm512_xor_si512(p, fc->rk0), dz);
        t = _mm512_mask_xor_epi64(t, (__mmask8)(3u << (2 * blk)), t, r != 0 ? fc->l2 : fc->l1);
        if (r == 0)
            return t;
    }
    return _mm512_xor_si512(t, _mm512_loadu_si512(pad_tab + 64 - len));
}

/* Block k of t[0..3] into stg[k][q], k < STEPS: a 4x4 transpose of blocks. */
static inline void field_stage4(field_group *g, size_t q, const __m512i t[4])
{
    __m512i a = _mm512_shuffle_i64x2(t[0], t[1], 0x44); /* t0.b0 t0.b1 t1.b0 t1.b1 */
    __m512i b = _mm512_shuffle_i64x2(t[0], t[1], 0xee); /* t0.b2 t0.b3 t1.b2 t1.b3 */
    __m512i c = _mm512_shuffle_i64x2(t[2], t[3], 0x44);
    __m512i d = _mm512_shuffle_i64x2(t[2], t[3], 0xee);

    g->stg[0][q] = _mm512_shuffle_i64x2(a, c, 0x88);
    g->stg[1][q] = _mm512_shuffle_i64x2(a, c, 0xdd);
    g->stg[2][q] = _mm512_shuffle_i64x2(b, d, 0x88);
    g->stg[3][q] = _mm512_shuffle_i64x2(b, d, 0xdd);
}

/* Message |i| of the group has T of |nb| blocks. */
static inline void field_ends_at(field_group *g, size_t i, unsigned nb)
{
    g->end[nb - 1] |= (uint64_t)3 << (2 * i);
    g->steps = nb > g->steps ? nb : g->steps;
}

static inline void field_group_start(field_group *g)
{
    for (size_t k = 0; k < STEPS; k++)
        g->end[k] = 0;
    g->steps = 0;
}

/* The CMAC chains of quads 0 .. REP's count - 1, V into g->v: x = 0, then
 * per step x = AES_K1(x ^ T_k), x kept in each lane whose T ends there. */
#define CM_INIT(j) x[j] = _mm512_setzero_si512(); v[j] = x[j];
#define CM_XOR(j) x[j] = _mm512_xor_si512(x[j], g->stg[t][j]);
#define CM_ENC(j) x[j] = _mm512_aesenc_epi128(x[j], k);
#define CM_LAST(j) x[j] = _mm512_aesenclast_epi128(x[j], k);
#define CM_KEEP(j) v[j] = _mm512_mask_mov_epi64(v[j], (__mmask8)(e >> (8 * (j))), x[j]);
#define CM_STORE(j) _mm512_store_si512((void *)&g->v[4 * (j)], v[j]);
#define FIELD_CMAC(name, REP)                                                           \
    static void name(const vl_siv_x86 *s, field_group *g)                               \
    {                                                                                   \
        __m512i x[QUADS], v[QUADS], k;                                                  \
                                                                                        \
        REP(CM_INIT)                                                                    \
        for (size_t t = 0; t < g->steps; t++) {                                         \
            uint64_t e = g->end[t];                                                     \
                                                                                        \
            VL_X86_OPAQUE(s); /* round keys as memory operands */                       \
            REP(CM_XOR)                                                                 \
            k = K1(1); REP(CM_ENC) k = K1(2); REP(CM_ENC) k = K1(3); REP(CM_ENC)        \
            k = K1(4); REP(CM_ENC) k = K1(5); REP(CM_ENC) k = K1(6); REP(CM_ENC)        \
            k = K1(7); REP(CM_ENC) k = K1(8); REP(CM_ENC) k = K1(9); REP(CM_ENC)        \
            k = K1(10); REP(CM_ENC) k = K1(11); REP(CM_ENC) k = K1(12); REP(CM_ENC)     \
            k = K1(13); REP(CM_ENC)                                                     \
            k = K1(14); REP(CM_LAST)                                                    \
            if (e != 0) {                                                               \
                REP(CM_KEEP)                                                            \
            }                                                                           \
        }                                                                               \
        REP(CM_STORE)                                                                   \
    }
FIELD_CMAC(field_cmac8, VL_REP8)
FIELD_CMAC(field_cmac4, VL_REP4)
FIELD_CMAC(field_cmac2, REP2)

/* The chains of the group's first |nq| quads; quads up to the register
 * count used are zero (their lanes are not kept). */
static void field_cmac(const vl_siv_x86 *s, field_group *g, size_t nq, size_t staged)
{
    size_t regs = nq <= 2 ? 2 : nq <= 4 ? 4 : QUADS;

    for (size_t q = staged; q < regs; q++)
        for (size_t k = 0; k < STEPS; k++)
            g->stg[k][q] = _mm512_setzero_si512();
    if (regs == 2)
        field_cmac2(s, g);
    else if (regs == 4)
        field_cmac4(s, g);
    else
        field_cmac8(s, g);
}

/* §2.5: the four counter blocks Q .. Q + 3 of V, Q = V with bits 63 and 31
 * cleared, in AES byte order (vl_x86_ctr_start counts byte-reversed). */
static inline __m512i field_counters(__m128i v)
{
    const __m512i bswap = BCAST(_mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    const __m512i clear = BCAST(
        _mm_set_epi8(-1, -1, -1, 0x7f, -1, -1, -1, 0x7f, -1, -1, -1, -1, -1, -1, -1, -1));
    __m512i c = _mm512_shuffle_epi8(_mm512_and_si512(BCAST(v), clear), bswap);

    return _mm512_shuffle_epi8(_mm512_add_epi64(c, _mm512_set_epi64(0, 3, 0, 2, 0, 1, 0, 0)),
                               bswap);
}

/* Eight messages' keystream, one zmm each: b[j] = AES_K2(c[j]). */
#define KS_WHITEN(j) b[j] = _mm512_xor_si512(c[j], k);
#define KS_ENC(j) b[j] = _mm512_aesenc_epi128(b[j], k);
#define KS_LAST(j) b[j] = _mm512_aesenclast_epi128(b[j], k);
#define KS_ROUND(r) k = K2(r); VL_REP8(KS_ENC)
#define KEYSTREAM8()                                                                    \
    do {                                                                                \
        __m512i k;                                                                      \
        VL_X86_OPAQUE(s); /* round keys as memory operands */                           \
        k = K2(0);                                                                      \
        VL_REP8(KS_WHITEN)                                                              \
        VL_ROUNDS(KS_ROUND)                                                             \
        k = K2(14);                                                                     \
        VL_REP8(KS_LAST)                                                                \
    } while (0)

/* Seal of the group's |cnt| <= GROUP messages msgs[idx[0 .. cnt)]. */
static void seal_group(const vl_siv_x86 *s, const field_consts *fc, field_group *g,
                       const vl_aead_msg *msgs, const size_t *idx, size_t cnt)
{
    size_t nq = (cnt + 3) / 4;

    field_group_start(g);
    for (size_t q = 0; q < nq; q++) {
        __m512i t[4];

        for (size_t l = 0; l < 4; l++) {
            size_t i = 4 * q + l;
            unsigned nb;

            t[l] = _mm512_setzero_si512();
            if (i >= cnt)
                continue;
            const vl_aead_msg *m = &msgs[idx[i]];
            t[l] = field_t(fc, _mm512_maskz_loadu_epi8(body_mask(m->in_len), m->in), m->in_len,
                           &nb);
            field_ends_at(g, i, nb);
        }
        field_stage4(g, q, t);
    }
    field_cmac(s, g, nq, nq);

    /* CTR, eight messages a pass; V (the tag) before C. */
    for (size_t p = 0; p < cnt; p += 8) {
        __m512i c[8], b[8];
        size_t u = cnt - p < 8 ? cnt - p : 8;

#define SEAL_CTR(j) c[j] = (j) < u ? field_counters(g->v[p + (j)]) : _mm512_setzero_si512();
#define SEAL_OUT(j)                                                                     \
    if ((j) < u) {                                                                      \
        const vl_aead_msg *m_ = &msgs[idx[p + (j)]];                                    \
        __mmask64 k_ = body_mask(m_->in_len);                                           \
        _mm_storeu_si128((__m128i *)(void *)m_->out, g->v[p + (j)]);                    \
        _mm512_mask_storeu_epi8(m_->out + 16, k_,                                       \
                                _mm512_xor_si512(b[j], _mm512_maskz_loadu_epi8(k_, m_->in))); \
    }
        VL_REP8(SEAL_CTR)
        KEYSTREAM8();
        VL_REP8(SEAL_OUT)
    }
}

/* Open of the group's |cnt| messages: CTR under each received tag, P out
 * and into T on the way (zero past the body, as field_t needs), then the
 * chains; V to v[idx[i]]. */
static void open_group(const vl_siv_x86 *s, const field_consts *fc, field_group *g,
                       const vl_aead_msg *msgs, const size_t *idx, size_t cnt, uint8_t (*v)[16])
{
    size_t nq = (cnt + 3) / 4, staged = 0;

    field_group_start(g);
    for (size_t p = 0; p < cnt; p += 8) {
        __m512i c[8], b[8];
        size_t u = cnt - p < 8 ? cnt - p : 8;

#define OPEN_CTR(j) \
    c[j] = (j) < u ? field_counters(LOADU(msgs[idx[p + (j)]].in)) : _mm512_setzero_si512();
#define OPEN_OUT(j)                                                                     \
    if ((j) < u) {                                                                      \
        const vl_aead_msg *m_ = &msgs[idx[p + (j)]];                                    \
        size_t len_ = m_->in_len - 16;                                                  \
        __mmask64 k_ = body_mask(len_);                                                 \
        unsigned nb_;                                                                   \
        b[j] = _mm512_maskz_mov_epi8(                                                   \
            k_, _mm512_xor_si512(b[j], _mm512_maskz_loadu_epi8(k_, m_->in + 16)));      \
        _mm512_mask_storeu_epi8(m_->out, k_, b[j]);                                     \
        b[j] = field_t(fc, b[j], len_, &nb_);                                           \
        field_ends_at(g, p + (j), nb_);                                                 \
    } else {                                                                            \
        b[j] = _mm512_setzero_si512();                                                  \
    }
        VL_REP8(OPEN_CTR)
        KEYSTREAM8();
        VL_REP8(OPEN_OUT)
        field_stage4(g, p / 4, b);
        field_stage4(g, p / 4 + 1, b + 4);
        staged = p / 4 + 2;
    }
    field_cmac(s, g, nq, staged);
    for (size_t i = 0; i < cnt; i++)
        _mm_storeu_si128((__m128i *)(void *)v[idx[i]], g->v[i]);
}

/* Both directions: groups of up to GROUP messages; |v| NULL seals, else
 * opens, putting each message's computed V in v[idx[i]]. */
static void field_run(const vl_siv_x86 *s, const vl_aead_msg *msgs, const size_t *idx, size_t n,
                      uint8_t (*v)[16])
{
    field_consts fc;
    field_group g;

    if (n == 0)
        return;
    field_consts_init(s, &fc);
    for (size_t i = 0; i < n; i += GROUP) {
        const size_t cnt = n - i < GROUP ? n - i : GROUP;
        if (v == NULL)
            seal_group(s, &fc, &g, msgs, idx + i, cnt);
        else
            open_group(s, &fc, &g, msgs, idx + i, cnt, v);
    }
    vl_memzero(&g, sizeof g);
    vl_memzero(&fc, sizeof fc);
}

void vl_siv_vaes_avx512_field_seal(const void *st, const vl_aead_msg *msgs, const size_t *idx,
                                   size_t n)
{
    field_run(st, msgs, idx, n, NULL);
}

void vl_siv_vaes_avx512_field_open(const void *st, const vl_aead_msg *msgs, const size_t *idx,
                                   size_t n, uint8_t (*v)[16])
{
    field_run(st, msgs, idx, n, v);
}
