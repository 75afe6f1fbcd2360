/* AES-256-SIV (RFC 5297) on the ARMv8 Crypto Extensions: key setup, S2V
 * and CTR of the "armv8-ce" path (the multi-buffer S2V is in
 * siv_batch_armv8_ce.c).
 *
 * Requires (AT_HWCAP): HWCAP_AES (vl_arm_has_ce). Built with
 * -march=armv8-a+crypto (Makefile, *_armv8_ce.c).
 *
 * The aesni path's design (arch/x86_64/siv_aesni.c) in NEON terms. S2V
 * (§2.4) is CMAC (SP 800-38B) chains under K1, each serial, so bound by
 * AESE/AESMC latency: a chain value is carried with its next block already
 * folded in (armv8_ce.h), 14 AESE + 13 AESMC + 1 EOR per block on the
 * chain. The chains of the components before the plaintext run beside the
 * plaintext's own chain (only its last one or two blocks need D); D0,
 * CMAC(<empty>) and D after one empty AD are computed at init. CTR (§2.5)
 * keeps 8 blocks in flight.
 *
 * Only lengths and counts are branched on or used as indices. Partial
 * blocks are read and written byte-exactly, never past a caller's buffer. */
#include "siv_armv8_ce.h"

#include "armv8_ce.h"
#include "internal.h"

_Static_assert(sizeof(vl_siv_arm) <= VL_IMPL_STATE_BYTES, "vl_siv_arm must fit the impl state");
_Static_assert(_Alignof(vl_siv_arm) <= 64, "the impl state is only 64-byte aligned");

#define XOR(a, b) veorq_u8((a), (b))

/* Absorbs the pending block and the |n| blocks at |p|, the last of which
 * is left pending: the long-message loop, K1's round keys in registers,
 * 14 AESE + 13 AESMC + 1 EOR per block on the chain. */
static inline uint8x16_t chain(const vl_siv_arm *s, uint8x16_t w, const uint8_t *p, size_t n)
{
    const uint8x16_t k0 = s->k1[0], k1 = s->k1[1], k2 = s->k1[2], k3 = s->k1[3];
    const uint8x16_t k4 = s->k1[4], k5 = s->k1[5], k6 = s->k1[6], k7 = s->k1[7];
    const uint8x16_t k8 = s->k1[8], k9 = s->k1[9], k10 = s->k1[10], k11 = s->k1[11];
    const uint8x16_t k12 = s->k1[12], k13 = s->k1[13], k14 = s->k1[14];

    for (; n > 0; n--, p += 16) {
        uint8x16_t b = XOR(vl_arm_load(p), k14);

        w = vl_arm_round(w, k0);
        w = vl_arm_round(w, k1);
        w = vl_arm_round(w, k2);
        w = vl_arm_round(w, k3);
        w = vl_arm_round(w, k4);
        w = vl_arm_round(w, k5);
        w = vl_arm_round(w, k6);
        w = vl_arm_round(w, k7);
        w = vl_arm_round(w, k8);
        w = vl_arm_round(w, k9);
        w = vl_arm_round(w, k10);
        w = vl_arm_round(w, k11);
        w = vl_arm_round(w, k12);
        w = XOR(vaeseq_u8(w, k13), b);
    }
    return w;
}

/* The plaintext chain while other components are MACed beside it: |x| is
 * its chain value with a block pending, |p|, |k| the in-place blocks not
 * yet absorbed. */
struct pt_chain {
    uint8x16_t x;
    const uint8_t *p;
    size_t k;
};

static inline void pt_step(const vl_siv_arm *s, struct pt_chain *c)
{
    if (c->k > 0) {
        c->x = vl_siv_arm_absorb(s, c->x, vl_arm_load(c->p));
        c->p += 16;
        c->k--;
    }
}

/* AES-CMAC(K1, c[0..len)) for len >= 1, advancing |pc| by up to one block
 * per block of c. */
static inline uint8x16_t cmac_beside(const vl_siv_arm *s, const uint8_t *c, size_t len,
                                     struct pt_chain *pc)
{
    size_t h = (len - 1) / 16; /* whole blocks before the last */
    uint8x16_t last = vl_siv_arm_cmac_last(s, c, len);
    uint8x16_t w = h > 0 ? vl_arm_load(c) : last;
    size_t j = 1;

    for (; j < h && pc->k > 0; j++) {
        pc->x = vl_siv_arm_absorb(s, pc->x, vl_arm_load(pc->p));
        pc->p += 16;
        pc->k--;
        w = vl_siv_arm_absorb(s, w, vl_arm_load(c + 16 * j));
    }
    for (; j < h; j++)
        w = vl_siv_arm_absorb(s, w, vl_arm_load(c + 16 * j));
    if (h > 0) {
        pt_step(s, pc);
        w = vl_siv_arm_absorb(s, w, last);
    }
    pt_step(s, pc);
    return vl_siv_arm_finish(s, w);
}

uint8x16_t vl_siv_arm_d_next(const vl_siv_arm *s, uint8x16_t d, const uint8_t *c, size_t len)
{
    size_t h;
    uint8x16_t last, w;

    d = vl_siv_arm_dbl(d);
    if (len == 0)
        return XOR(d, s->mac_empty);
    h = (len - 1) / 16;
    last = vl_siv_arm_cmac_last(s, c, len);
    w = h > 0 ? vl_arm_load(c) : last;
    if (h > 1)
        w = chain(s, w, c + 16, h - 1);
    if (h > 0)
        w = vl_siv_arm_absorb(s, w, last);
    return XOR(d, vl_siv_arm_finish(s, w));
}

void vl_siv_armv8_ce_init(void *st, const uint8_t key[64])
{
    vl_siv_arm *s = st;
    vl_aes_arm a;
    uint8x16_t l;

    /* §2.6: K1 = key[0..32) for S2V, K2 = key[32..64) for CTR. */
    vl_aes_arm_expand(&a, key, 32);
    memcpy(s->k1, a.rk, sizeof s->k1);
    vl_aes_arm_expand(&a, key + 32, 32);
    memcpy(s->k2, a.rk, sizeof s->k2);
    vl_memzero(&a, sizeof a);

    /* SP 800-38B §6.1: L = AES_K1(0), subkeys dbl(L) and dbl(dbl(L)). */
    l = vl_siv_arm_finish(s, vdupq_n_u8(0));
    s->l1 = vl_siv_arm_dbl(l);
    s->l2 = vl_siv_arm_dbl(s->l1);
    /* RFC 5297 §2.4: D0 = CMAC(<zero>), one whole block; CMAC(<empty>) is
     * the padded empty block under subkey K2. */
    s->d0 = vl_siv_arm_finish(s, s->l1);
    s->mac_empty = vl_siv_arm_finish(s, XOR(vl_arm_pad_bit(0), s->l2));
    s->d_empty = XOR(vl_siv_arm_dbl(s->d0), s->mac_empty);
}

/* The end of S2V once D is known: the plaintext's remaining in-place
 * blocks (chain value |w|, |k| blocks at |p|), its last one or two blocks
 * with D, and the final CMAC into |v|. Kept out of line so that only D
 * lives beside the round keys during the long loop. */
static __attribute__((noinline)) void s2v_end(const vl_siv_arm *s, uint8_t v[16], uint8x16_t w,
                                              const uint8_t *p, size_t k, uint8x16_t d,
                                              const uint8_t *pt, size_t len)
{
    uint8x16_t t[2];
    int nt;

    if (k > 0)
        w = chain(s, w, p, k);
    nt = vl_siv_arm_pt_tail(s, t, d, pt, len);
    w = vl_siv_arm_pt_head(len) > 0 ? vl_siv_arm_absorb(s, w, t[0]) : t[0];
    if (nt == 2)
        w = vl_siv_arm_absorb(s, w, t[1]);
    vl_arm_store(v, vl_siv_arm_finish(s, w));
}

void vl_siv_armv8_ce_s2v(const void *st, uint8_t v[16], const vl_slice *ad, size_t ad_count,
                         const uint8_t *nonce, size_t nonce_len, const uint8_t *pt, size_t len)
{
    const vl_siv_arm *s = st;
    size_t nh = vl_siv_arm_pt_head(len), i = 0, ncomp = ad_count + (nonce_len > 0);
    struct pt_chain pc = { vdupq_n_u8(0), pt, 0 };
    uint8x16_t d = s->d0;

    /* The plaintext's leading blocks do not depend on D: start them now. */
    if (nh > 0) {
        pc.x = vl_arm_load(pt);
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
        uint8x16_t m = cl > 0 ? cmac_beside(s, c, cl, &pc) : s->mac_empty;

        d = XOR(vl_siv_arm_dbl(d), m);
    }
    s2v_end(s, v, pc.x, pc.p, pc.k, d, pt, len);
}

/* CTR: the counter blocks c + j for each j of REP (VL_REP1/4/8), encrypted
 * under K2, XORed into in[16 j ..] and written to out[16 j ..]. The counter
 * is Q as two big-endian 64-bit numbers (REV64), so its low 64 bits count
 * with one ADD (bit 63 cleared: no carry out before 2^63 blocks). */
#define CTR_BLOCK(j) b[j] = vrev64q_u8(vreinterpretq_u8_u64(c)); c = vaddq_u64(c, one);
#define CTR_ENC(j) b[j] = vl_arm_round(b[j], k);
#define CTR_LAST(j) b[j] = XOR(vaeseq_u8(b[j], k), kl);
#define CTR_OUT(j) vl_arm_store(out + 16 * (j), XOR(b[j], vl_arm_load(in + 16 * (j))));
#define CTR_R(r, REP) k = m->k2[r]; REP(CTR_ENC)
#define CTR_BLOCKS(REP)                                                \
    do {                                                               \
        const vl_siv_arm *m = s;                                       \
        uint8x16_t k, kl;                                              \
        VL_ARM_OPAQUE(m); /* round keys reloaded, never spilled */     \
        REP(CTR_BLOCK)                                                 \
        CTR_R(0, REP) CTR_R(1, REP) CTR_R(2, REP) CTR_R(3, REP)        \
        CTR_R(4, REP) CTR_R(5, REP) CTR_R(6, REP) CTR_R(7, REP)        \
        CTR_R(8, REP) CTR_R(9, REP) CTR_R(10, REP) CTR_R(11, REP)      \
        CTR_R(12, REP)                                                 \
        k = m->k2[13];                                                 \
        kl = m->k2[14];                                                \
        REP(CTR_LAST)                                                  \
    } while (0)

void vl_siv_armv8_ce_ctr(const void *st, const uint8_t v[16], uint8_t *out, const uint8_t *in,
                         size_t len)
{
    const vl_siv_arm *s = st;
    /* RFC 5297 §2.5: Q = V with bits 63 and 31 cleared (the top bits of
     * bytes 8 and 12). */
    static const uint8_t qmask[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff};
    const uint64x2_t one = vcombine_u64(vcreate_u64(0), vcreate_u64(1));
    uint64x2_t c = vreinterpretq_u64_u8(vrev64q_u8(vandq_u8(vl_arm_load(v), vld1q_u8(qmask))));
    uint8x16_t b[8];

    for (; len >= 128; len -= 128, in += 128, out += 128) {
        CTR_BLOCKS(VL_REP8);
        VL_REP8(CTR_OUT)
    }
    if (len >= 64) {
        CTR_BLOCKS(VL_REP4);
        VL_REP4(CTR_OUT)
        len -= 64, in += 64, out += 64;
    }
    for (; len > 0; len -= len < 16 ? len : 16, in += 16, out += 16) {
        CTR_BLOCKS(VL_REP1);
        if (len >= 16)
            vl_arm_store(out, XOR(b[0], vl_arm_load(in)));
        else
            vl_arm_store_partial(out, XOR(b[0], vl_arm_load_partial(in, len)), len);
    }
}
