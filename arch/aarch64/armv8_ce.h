/* Internals shared by the armv8-ce path's files (*_armv8_ce.c, built with
 * -march=armv8-a+crypto; see Makefile): the AES key schedule, the AES and
 * block helpers, and the AES-256-SIV key state. Include it only from those
 * files: it uses AESE/AESMC and PMULL, which clang hides from a file built
 * without the crypto extension (core/impl.h's table, impl_arm.c, sees only
 * gcm_armv8_ce.h and siv_armv8_ce.h). Not installed.
 *
 * Lane layout: little-endian AArch64 (cpu_arm.c keeps a big-endian build
 * on the portable path). */
#ifndef VL_ARCH_ARM_ARMV8_CE_H
#define VL_ARCH_ARM_ARMV8_CE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arm_neon.h>

#include "impl.h"

#if !defined(__ARM_FEATURE_CRYPTO) && !defined(__ARM_FEATURE_AES)
#error "armv8_ce.h needs -march=armv8-a+crypto (Makefile: *_armv8_ce.c)"
#endif

/* ---------------------------------------------------------------- AES */

/* Round keys for AES-128 (11) or AES-256 (15); rounds = 10 or 14. Secret. */
typedef struct vl_aes_arm {
    uint8x16_t rk[15];
    unsigned rounds;
} vl_aes_arm;

/* FIPS 197 §5.2 key expansion; key_len 16 or 32. */
void vl_aes_arm_expand(vl_aes_arm *k, const uint8_t *key, size_t key_len);

/* Hides |p|'s value from the optimiser, so loads through it stay inside
 * the loop that makes them: round keys are reloaded from the key state
 * (cheap) instead of being hoisted into more registers than there are and
 * spilled to the stack (secret data the compiler would leave behind).
 * Generates no instruction. */
#define VL_ARM_OPAQUE(p) __asm__ __volatile__("" : "+r"(p))

/* Hides a vector's value from the optimiser, which then cannot fold a
 * chain of additions into constants (one register each) or move the
 * computation that produced it past this point. Generates no instruction. */
#define VL_ARM_KEEP(v) __asm__("" : "+w"(v))

/* M(0) .. M(n-1), for code over several registers that must stay in
 * registers: written out, not left to the unroller. */
#define VL_REP1(M) M(0)
#define VL_REP4(M) M(0) M(1) M(2) M(3)
#define VL_REP8(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)

/* One full round: AESE (AddRoundKey, SubBytes, ShiftRows) then AESMC
 * (MixColumns), adjacent so that cores which fuse the pair do. */
static inline uint8x16_t vl_arm_round(uint8x16_t b, uint8x16_t rk)
{
    return vaesmcq_u8(vaeseq_u8(b, rk));
}

/* AES encryption of one block (FIPS 197 §5.1): AESE folds round key r into
 * round r + 1, so the last round is AESE with rk[Nr - 1], then XOR rk[Nr]. */
static inline uint8x16_t vl_arm_aes_block(const vl_aes_arm *k, uint8x16_t b)
{
    const uint8x16_t *rk = k->rk;

    b = vl_arm_round(b, rk[0]);
    b = vl_arm_round(b, rk[1]);
    b = vl_arm_round(b, rk[2]);
    b = vl_arm_round(b, rk[3]);
    b = vl_arm_round(b, rk[4]);
    b = vl_arm_round(b, rk[5]);
    b = vl_arm_round(b, rk[6]);
    b = vl_arm_round(b, rk[7]);
    b = vl_arm_round(b, rk[8]);
    if (k->rounds == 14) {
        b = vl_arm_round(b, rk[9]);
        b = vl_arm_round(b, rk[10]);
        b = vl_arm_round(b, rk[11]);
        b = vl_arm_round(b, rk[12]);
    }
    return veorq_u8(vaeseq_u8(b, rk[k->rounds - 1]), rk[k->rounds]);
}

/* ---------------------------------------------------------------- blocks */

static inline uint8x16_t vl_arm_load(const uint8_t *p)
{
    return vld1q_u8(p);
}

static inline void vl_arm_store(uint8_t *p, uint8x16_t v)
{
    vst1q_u8(p, v);
}

static inline uint8x16_t vl_arm_from_u64(uint64_t lo, uint64_t hi)
{
    return vreinterpretq_u8_u64(vcombine_u64(vcreate_u64(lo), vcreate_u64(hi)));
}

/* The first n < 8 bytes at p, little-endian, reading only those bytes. */
static inline uint64_t vl_arm_load_lt8(const uint8_t *p, size_t n)
{
    uint32_t a, b;

    if (n >= 4) {
        /* Two overlapping words; the shared bytes agree, so OR is exact. */
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        return a | ((uint64_t)b << (8 * (n - 4)));
    }
    if (n == 0)
        return 0;
    return p[0] | ((uint64_t)p[n >> 1] << (8 * (n >> 1))) | ((uint64_t)p[n - 1] << (8 * (n - 1)));
}

/* n < 16 bytes at p into the low bytes of a block, the rest zero; no byte
 * outside p[0..n) is read, and nothing goes through the stack. */
static inline uint8x16_t vl_arm_load_partial(const uint8_t *p, size_t n)
{
    uint64_t lo, hi = 0;

    if (n >= 8) {
        memcpy(&lo, p, 8);
        hi = vl_arm_load_lt8(p + 8, n - 8);
    } else {
        lo = vl_arm_load_lt8(p, n);
    }
    return vl_arm_from_u64(lo, hi);
}

/* The low n < 16 bytes of x to p, writing only those bytes. */
static inline void vl_arm_store_partial(uint8_t *p, uint8x16_t x, size_t n)
{
    uint64_t w = vgetq_lane_u64(vreinterpretq_u64_u8(x), 0);

    if (n >= 8) {
        memcpy(p, &w, 8);
        p += 8;
        n -= 8;
        w = vgetq_lane_u64(vreinterpretq_u64_u8(x), 1);
    }
    if (n >= 4) {
        uint32_t t = (uint32_t)w;
        memcpy(p, &t, 4);
        p += 4;
        n -= 4;
        w >>= 32;
    }
    if (n >= 2) {
        uint16_t t = (uint16_t)w;
        memcpy(p, &t, 2);
        p += 2;
        n -= 2;
        w >>= 16;
    }
    if (n)
        *p = (uint8_t)w;
}

/* 0xff x16, 0..15, 0xff x16: TBL indexes that shift a block by a (public)
 * number of bytes; TBL gives 0 for an index past the table. */
static const uint8_t vl_arm_shift_tab[48] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

/* Byte i of the result is byte i + k of x (0 past the end); 0 <= k <= 16. */
static inline uint8x16_t vl_arm_shr_bytes(uint8x16_t x, size_t k)
{
    return vqtbl1q_u8(x, vld1q_u8(vl_arm_shift_tab + 16 + k));
}

/* Byte i of the result is byte i - k of x (0 before the start); 0 <= k <= 16. */
static inline uint8x16_t vl_arm_shl_bytes(uint8x16_t x, size_t k)
{
    return vqtbl1q_u8(x, vld1q_u8(vl_arm_shift_tab + 16 - k));
}

/* The 10* padding bit of a k-byte (k < 16) partial block: 0x80 at byte k. */
static inline uint8x16_t vl_arm_pad_bit(size_t k)
{
    static const uint8_t tab[32] = { [16] = 0x80 };
    return vld1q_u8(tab + 16 - k);
}

/* All ones in the first n bytes, zero after (0 <= n <= 16). */
static inline uint8x16_t vl_arm_first_bytes(size_t n)
{
    static const uint8_t tab[32] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    };
    return vld1q_u8(tab + 16 - n);
}

/* ---------------------------------------------------------------- SIV */

/* AES-256-SIV key state, all of it secret. Besides the round keys it holds
 * what S2V computes from K1 alone (RFC 5297 §2.4), so no message pays for
 * it. Filled by vl_siv_armv8_ce_init. */
typedef struct vl_siv_arm {
    uint8x16_t k1[15]; /* K1 (S2V/CMAC) round keys */
    uint8x16_t k2[15]; /* K2 (CTR) round keys */
    uint8x16_t l1;        /* CMAC subkey K1 = dbl(AES(0)), SP 800-38B §6.1 */
    uint8x16_t l2;        /* CMAC subkey K2 = dbl(K1) */
    uint8x16_t d0;        /* CMAC(<zero>), RFC 5297 §2.4 */
    uint8x16_t mac_empty; /* CMAC(<empty>) */
    uint8x16_t d_empty;   /* dbl(d0) ^ mac_empty: D after one empty AD component */
} vl_siv_arm;

/* A CMAC chain value is carried as w = x ^ b, the chain value x with the
 * pending block b folded in: AESE adds round key 0 itself, and the last
 * round's XOR with rk[14] takes the next block along (rk[14] ^ b', formed
 * off the chain), so a block costs 14 AESE + 13 AESMC + 1 EOR on the
 * chain and nothing else. */

/* AESE/AESMC with K1's rk[0..13]: AES-256 but the final XOR with rk[14]. */
static inline uint8x16_t vl_siv_arm_rounds(const vl_siv_arm *s, uint8x16_t w)
{
    w = vl_arm_round(w, s->k1[0]);
    w = vl_arm_round(w, s->k1[1]);
    w = vl_arm_round(w, s->k1[2]);
    w = vl_arm_round(w, s->k1[3]);
    w = vl_arm_round(w, s->k1[4]);
    w = vl_arm_round(w, s->k1[5]);
    w = vl_arm_round(w, s->k1[6]);
    w = vl_arm_round(w, s->k1[7]);
    w = vl_arm_round(w, s->k1[8]);
    w = vl_arm_round(w, s->k1[9]);
    w = vl_arm_round(w, s->k1[10]);
    w = vl_arm_round(w, s->k1[11]);
    w = vl_arm_round(w, s->k1[12]);
    return vaeseq_u8(w, s->k1[13]);
}

/* Chain step: absorbs the pending block of |w|; returns x' ^ next. */
static inline uint8x16_t vl_siv_arm_absorb(const vl_siv_arm *s, uint8x16_t w, uint8x16_t next)
{
    return veorq_u8(vl_siv_arm_rounds(s, w), veorq_u8(s->k1[14], next));
}

/* Absorbs the pending block; returns the chain value (the CMAC when the
 * pending block was the last, subkey included). */
static inline uint8x16_t vl_siv_arm_finish(const vl_siv_arm *s, uint8x16_t w)
{
    return veorq_u8(vl_siv_arm_rounds(s, w), s->k1[14]);
}

/* RFC 5297 §2.3 dbl / SP 800-38B §6.1: x * 2 in GF(2^128) modulo
 * x^128 + x^7 + x^2 + x + 1, the block a big-endian number; the reduction
 * is masked by the top bit, not branched on. */
static inline uint8x16_t vl_siv_arm_dbl(uint8x16_t x)
{
    /* Lane 0 the high 64 bits, lane 1 the low, as numbers. */
    uint64x2_t v = vreinterpretq_u64_u8(vrev64q_u8(x));
    uint64x2_t top = vshrq_n_u64(v, 63);
    /* Lane 0 gets the low half's carry; lane 1 the 0x87 fold when the
     * high half's top bit was set. */
    uint64x2_t sw = vextq_u64(top, top, 1);
    uint64x2_t fold = vandq_u64(vreinterpretq_u64_s64(vnegq_s64(vreinterpretq_s64_u64(sw))),
                                vcombine_u64(vcreate_u64(1), vcreate_u64(0x87)));

    v = veorq_u64(vshlq_n_u64(v, 1), fold);
    return vrev64q_u8(vreinterpretq_u8_u64(v));
}

/* The last block of a |len| >= 1 byte CMAC message (SP 800-38B §6.2 steps
 * 3-4): whole, XOR subkey K1; partial, padded 10* and XOR subkey K2. */
static inline uint8x16_t vl_siv_arm_cmac_last(const vl_siv_arm *s, const uint8_t *c, size_t len)
{
    size_t r = len & 15;
    uint8x16_t b;

    if (r == 0)
        return veorq_u8(vl_arm_load(c + len - 16), s->l1);
    b = len > 16 ? vl_arm_shr_bytes(vl_arm_load(c + len - 16), 16 - r)
                 : vl_arm_load_partial(c, r);
    return veorq_u8(veorq_u8(b, vl_arm_pad_bit(r)), s->l2);
}

/* Whole blocks of a |len|-byte plaintext that S2V's final CMAC takes in
 * place, before the last one or two that D changes. */
static inline size_t vl_siv_arm_pt_head(size_t len)
{
    return len >= 16 ? len / 16 - 1 : 0;
}

/* The plaintext's last one or two blocks for §2.4's final CMAC, with D:
 * len >= 16, T = pt xorend D; else T = dbl(D) xor pad(pt). Whole last
 * block: XOR K1; partial: pad and XOR K2. Returns how many (1 or 2). */
static inline int vl_siv_arm_pt_tail(const vl_siv_arm *s, uint8x16_t t[2], uint8x16_t d,
                                     const uint8_t *pt, size_t len)
{
    size_t r = len & 15;
    uint8x16_t u;

    if (len < 16) {
        t[0] = veorq_u8(veorq_u8(vl_siv_arm_dbl(d), vl_arm_load_partial(pt, len)),
                        veorq_u8(vl_arm_pad_bit(len), s->l1)); /* T is one whole block */
        return 1;
    }
    u = veorq_u8(vl_arm_load(pt + len - 16), d);
    if (r == 0) {
        t[0] = veorq_u8(u, s->l1);
        return 1;
    }
    /* The last 16 bytes straddle two blocks: the first takes D's first
     * 16 - r bytes at its end, the second (r bytes) the rest. */
    t[0] = veorq_u8(vl_arm_load(pt + len - 16 - r), vl_arm_shl_bytes(d, r));
    t[1] = veorq_u8(veorq_u8(vl_arm_shr_bytes(u, 16 - r), vl_arm_pad_bit(r)), s->l2);
    return 2;
}

/* One step of S2V's D (RFC 5297 §2.4) for the multi-buffer S2V: returns
 * dbl(d) xor AES-CMAC(K1, c[0..len)), len >= 0, in one serial chain. D goes
 * in and out in a register, never held across a call (AAPCS64 would spill
 * it to the stack). */
uint8x16_t vl_siv_arm_d_next(const vl_siv_arm *s, uint8x16_t d, const uint8_t *c, size_t len);

#endif /* VL_ARCH_ARM_ARMV8_CE_H */
