/* AES-256-SIV (RFC 5297) on x86-64: the key state shared by the aesni,
 * vaes-avx2 and vaes-avx512 paths, their struct vl_siv_ops functions
 * (core/impl.h), and the machinery of the multi-buffer S2V (waves and the
 * lane scheduler, in siv_aesni.c). The inline helpers need the aesni ISA
 * flags (Makefile); a file built without them may include this header for
 * the declarations only (arch/x86_64/impl_x86.c does). */
#ifndef VL_ARCH_X86_SIV_H
#define VL_ARCH_X86_SIV_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <immintrin.h>

#include "impl.h"

/* Key state, all of it secret. Round keys are stored four times over (one
 * zmm, or the first half for a ymm) so the VAES paths use them as memory
 * operands; the AES-NI code reads the first copy. Besides the round keys it
 * holds what S2V computes from K1 alone (RFC 5297 §2.4), so no message pays
 * for it. Filled by vl_siv_aesni_init (SSE stores only) for all three paths. */
typedef struct vl_siv_x86 {
    _Alignas(64) __m128i k1[15][4]; /* K1 (S2V/CMAC) round keys */
    _Alignas(64) __m128i k2[15][4]; /* K2 (CTR) round keys */
    _Alignas(64) __m128i kl[4];     /* K1 rk[14] ^ rk[0]: last round + next whitening */
    __m128i l1;        /* CMAC subkey K1 = dbl(AES(0)), SP 800-38B §6.1 */
    __m128i l2;        /* CMAC subkey K2 = dbl(K1) */
    __m128i d0;        /* CMAC(<zero>), RFC 5297 §2.4 */
    __m128i mac_empty; /* CMAC(<empty>) */
    __m128i d_empty;   /* dbl(d0) ^ mac_empty: D after one empty AD component */
} vl_siv_x86;

/* The struct vl_siv_ops functions; |st| is a vl_siv_x86. See core/impl.h.
 * init and s2v are shared by all three paths. */
void vl_siv_aesni_init(void *st, const uint8_t key[64]);
void vl_siv_aesni_s2v(const void *st, uint8_t v[16], const vl_slice *ad, size_t ad_count,
                      const uint8_t *nonce, size_t nonce_len, const uint8_t *pt, size_t len);
void vl_siv_aesni_ctr(const void *st, const uint8_t v[16], uint8_t *out, const uint8_t *in,
                      size_t len);
void vl_siv_aesni_s2v_batch(const void *st, uint8_t (*v)[16], const struct vl_s2v_job *jobs,
                            size_t n);
void vl_siv_vaes_avx2_ctr(const void *st, const uint8_t v[16], uint8_t *out, const uint8_t *in,
                          size_t len);
void vl_siv_vaes_avx2_s2v_batch(const void *st, uint8_t (*v)[16],
                                const struct vl_s2v_job *jobs, size_t n);
void vl_siv_vaes_avx512_ctr(const void *st, const uint8_t v[16], uint8_t *out,
                            const uint8_t *in, size_t len);
void vl_siv_vaes_avx512_s2v_batch(const void *st, uint8_t (*v)[16],
                                  const struct vl_s2v_job *jobs, size_t n);
void vl_siv_vaes_avx512_ctr_batch(const void *st, const uint8_t (*v)[16],
                                  const struct vl_ctr_job *jobs, size_t n);
void vl_siv_vaes_avx512_field_seal(const void *st, const vl_aead_msg *msgs, const size_t *idx,
                                   size_t n);
void vl_siv_vaes_avx512_field_open(const void *st, const vl_aead_msg *msgs, const size_t *idx,
                                   size_t n, uint8_t (*v)[16]);

/* Multi-buffer S2V, short messages ("waves"). A job whose components
 * before the plaintext are few and short, and whose plaintext is at most
 * VL_SIV_WAVE_BLOCKS blocks, gets D computed at once (short serial CMACs
 * on otherwise idle AES units) and its final CMAC input laid out as a
 * column of a transposed staging area: block k of the job in lane l is
 * stg[k * lanes + l], so the vector code loads a register of lanes with one
 * load per step, and a lane needs no bookkeeping until its job ends. A wave
 * is up to |lanes| such jobs. */
#define VL_SIV_WAVE_BLOCKS 8
#define VL_SIV_LANES_MAX 32

typedef struct vl_siv_wave {
    const vl_siv_x86 *st;
    const struct vl_s2v_job *jobs;
    size_t n, next; /* jobs[next..n) not looked at yet */
    size_t rest;    /* jobs passed over (not for waves), for the scheduler */
    size_t lanes;
    __m128i *stg;   /* VL_SIV_WAVE_BLOCKS rows of |lanes| blocks */
    /* D of the last job with one AD component and no nonce, for the next
     * ones with the same AD (same pointer and length): one CMAC per batch
     * for a shared AD. Wiped when the waves run out. */
    const uint8_t *ad_ptr;
    size_t ad_len;
    __m128i ad_d;
    /* The current wave: */
    size_t cnt;                       /* jobs, in lanes 0..cnt-1 */
    size_t steps;                     /* blocks of its longest job */
    size_t idx[VL_SIV_LANES_MAX];     /* the job in each lane */
    int whole;                        /* lanes full, jobs idx[0], idx[0] + 1, ... */
    uint32_t end[VL_SIV_WAVE_BLOCKS]; /* lanes whose job ends at step k */
    _Alignas(16) uint8_t nb[VL_SIV_LANES_MAX]; /* blocks per lane */
} vl_siv_wave;

/* Starts on jobs[0..n), with |lanes| (<= VL_SIV_LANES_MAX) lanes. */
void vl_siv_wave_init(vl_siv_wave *w, const vl_siv_x86 *st, const struct vl_s2v_job *jobs,
                      size_t n, size_t lanes, __m128i *stg);
/* Lays out the next wave in |stg| (zeros where no block is) and returns
 * its number of jobs; 0 when no job for waves is left, and then |w| holds
 * no secret. */
size_t vl_siv_wave_fill(vl_siv_wave *w);

/* v[idx[l]] = xs[l] ^ rk[0] for each lane l in |mask|: xs holds x ^ rk[0]. */
static inline void vl_siv_wave_extract(const vl_siv_x86 *st, uint8_t (*v)[16],
                                       const size_t *idx, const __m128i *xs, uint32_t mask)
{
    for (; mask != 0; mask &= mask - 1) {
        unsigned l = (unsigned)__builtin_ctz(mask);

        _mm_storeu_si128((__m128i *)(void *)v[idx[l]], _mm_xor_si128(xs[l], st->k1[0][0]));
    }
}

/* Multi-buffer S2V, every other job (long or many components, plaintexts
 * longer than a wave takes). Each lane runs the S2V of one job at a time,
 * its CMAC chains one after another; the vector code keeps every lane's
 * chain value x ^ rk[0] in registers and absorbs, for m steps, the block at
 * p[lane] + 16 * step of every lane, m being what every lane's current
 * segment allows. A segment is a run of whole blocks: a component of up to
 * VL_SIV_LANE_BLOCKS blocks is copied whole into the lane's buffer with its
 * last block finished (subkey, and D for the plaintext), so it is one
 * segment; a longer one is its in-place blocks, then the finished last one
 * or two from the buffer. When a segment ends, the scheduler moves the lane
 * to its next segment, component or job. Idle lanes shadow an active
 * lane's segment, so every read is inside a caller's buffer or the
 * scheduler. Branches depend on lengths only. */
#define VL_SIV_LANE_BLOCKS 8

typedef struct vl_siv_lane {
    __m128i buf[VL_SIV_LANE_BLOCKS]; /* copied blocks / the finished last ones */
    __m128i d;                       /* S2V's running D */
    const struct vl_s2v_job *job;    /* NULL when idle */
    uint8_t *v;                      /* where the job's V goes */
    size_t comp;  /* component: < ncomp an AD or the nonce, == ncomp the plaintext */
    size_t ncomp;
    size_t ntail; /* blocks in buf after the in-place ones */
    int last;     /* the segment is the component's last */
} vl_siv_lane;

typedef struct vl_siv_sched {
    /* Chain values x ^ rk[0] between runs; lane i of the vector code is
     * x[i]. A lane whose bit is set in |reset| restarts from x = 0: the
     * vector code loads x[i] as rk[0] instead. */
    _Alignas(64) __m128i x[VL_SIV_LANES_MAX];
    uint32_t reset;
    const uint8_t *p[VL_SIV_LANES_MAX]; /* the segment of each lane */
    size_t n[VL_SIV_LANES_MAX];         /* its blocks left */
    const vl_siv_x86 *st;
    const struct vl_s2v_job *jobs;
    uint8_t (*v)[16];
    size_t njobs, next, lanes;
    vl_siv_lane lane[VL_SIV_LANES_MAX];
} vl_siv_sched;

/* Starts a job on each of |lanes| (<= VL_SIV_LANES_MAX) lanes, every chain
 * from zero; returns the steps of the first run (0: no job). Jobs for
 * waves are skipped. */
size_t vl_siv_sched_init(vl_siv_sched *s, const vl_siv_x86 *st, uint8_t (*v)[16],
                         const struct vl_s2v_job *jobs, size_t n, size_t lanes);
/* After a run of |m| steps, with x[] stored back: moves every lane whose
 * segment ended on, sets |reset| to the lanes whose chain restarts, and
 * returns the steps of the next run, or 0 when every job is done. */
size_t vl_siv_sched_advance(vl_siv_sched *s, size_t m);
/* Wipes what the scheduler holds (D, chain values, copied message blocks). */
void vl_siv_sched_wipe(vl_siv_sched *s);

/* A path's multi-buffer S2V is two kernels: |wave_fn| runs one wave laid
 * out by vl_siv_wave_fill (|xs|: scratch for the lanes' values), |run_fn| one
 * scheduler run of |m| steps. vl_siv_s2v_batch_drive is the rest, shared:
 * a single job goes to the one-chain S2V, then waves while jobs fit them,
 * then the scheduler for the others; every buffer that held message blocks
 * or chain values is wiped. |lanes| <= VL_SIV_LANES_MAX. */
typedef void vl_siv_wave_fn(const vl_siv_x86 *s, const vl_siv_wave *w, __m128i *xs,
                            uint8_t (*v)[16]);
typedef void vl_siv_run_fn(const vl_siv_x86 *s, vl_siv_sched *sc, size_t m);
void vl_siv_s2v_batch_drive(const vl_siv_x86 *st, uint8_t (*v)[16],
                            const struct vl_s2v_job *jobs, size_t n, size_t lanes,
                            vl_siv_wave_fn *wave_fn, vl_siv_run_fn *run_fn);

/* Hides |p|'s value from the optimiser, so loads through it stay inside
 * the loop that makes them: round keys become memory operands instead of
 * being hoisted into registers and spilled to the stack (secret data the
 * compiler would leave behind). Generates no instruction. */
#define VL_X86_OPAQUE(p) __asm__ __volatile__("" : "+r"(p))

/* M(0) .. M(n-1), for code over several registers that must stay in
 * registers: written out, not left to the unroller. */
#define VL_REP1(M) M(0)
#define VL_REP4(M) M(0) M(1) M(2) M(3)
#define VL_REP8(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)
/* M(1) .. M(13): AES-256's middle rounds, written out. */
#define VL_ROUNDS(M) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13)

/* Byte-order reversal of a block (the big-endian counter and dbl). */
static inline __m128i vl_x86_bswap128(__m128i x)
{
    return _mm_shuffle_epi8(x, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

/* RFC 5297 §2.3 dbl / SP 800-38B §6.1: x * 2 in GF(2^128) modulo
 * x^128 + x^7 + x^2 + x + 1, block in byte order; the reduction is masked by
 * the top bit, not branched on. */
static inline __m128i vl_x86_dbl(__m128i x)
{
    __m128i v = vl_x86_bswap128(x);
    __m128i carry = _mm_slli_si128(_mm_srli_epi64(v, 63), 8);
    __m128i top = _mm_shuffle_epi32(_mm_srai_epi32(v, 31), 0xff);

    v = _mm_or_si128(_mm_slli_epi64(v, 1), carry);
    v = _mm_xor_si128(v, _mm_and_si128(top, _mm_set_epi64x(0, 0x87)));
    return vl_x86_bswap128(v);
}

/* 0x80 x16, 0..15, 0x80 x16: pshufb masks that shift a block by a (public)
 * number of bytes. */
static const uint8_t vl_x86_shift_tab[48] = {
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
};

/* Byte i of the result is byte i + k of x (0 past the end); 0 <= k <= 16. */
static inline __m128i vl_x86_shr_bytes(__m128i x, size_t k)
{
    return _mm_shuffle_epi8(x, _mm_loadu_si128((const __m128i *)(vl_x86_shift_tab + 16 + k)));
}

/* Byte i of the result is byte i - k of x (0 before the start); 0 <= k <= 16. */
static inline __m128i vl_x86_shl_bytes(__m128i x, size_t k)
{
    return _mm_shuffle_epi8(x, _mm_loadu_si128((const __m128i *)(vl_x86_shift_tab + 16 - k)));
}

/* The 10* padding bit of a k-byte (k < 16) partial block: 0x80 at byte k. */
static inline __m128i vl_x86_pad_bit(size_t k)
{
    static const uint8_t tab[32] = { [16] = 0x80 };
    return _mm_loadu_si128((const __m128i *)(tab + 16 - k));
}

/* The first n < 8 bytes at p, little-endian, reading only those bytes. */
static inline uint64_t vl_x86_load_lt8(const uint8_t *p, size_t n)
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

/* n < 16 bytes at p into the low bytes of a block, the rest zero. */
static inline __m128i vl_x86_load_partial(const uint8_t *p, size_t n)
{
    uint64_t lo, hi = 0;

    if (n >= 8) {
        memcpy(&lo, p, 8);
        hi = vl_x86_load_lt8(p + 8, n - 8);
    } else {
        lo = vl_x86_load_lt8(p, n);
    }
    return _mm_set_epi64x((long long)hi, (long long)lo);
}

/* The low n < 16 bytes of x to p, writing only those bytes. */
static inline void vl_x86_store_partial(uint8_t *p, __m128i x, size_t n)
{
    uint64_t w = (uint64_t)_mm_cvtsi128_si64(x);

    if (n >= 8) {
        memcpy(p, &w, 8);
        p += 8;
        n -= 8;
        w = (uint64_t)_mm_extract_epi64(x, 1);
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

/* RFC 5297 §2.5: Q = V with bits 63 and 31 cleared (bytes 8 and 12, top
 * bit), byte-reversed so its low 64 bits count with a 64-bit add: the
 * cleared bit 63 means no carry leaves them before 2^63 blocks. */
static inline __m128i vl_x86_ctr_start(const uint8_t v[16])
{
    const __m128i m =
        _mm_set_epi8(-1, -1, -1, 0x7f, -1, -1, -1, 0x7f, -1, -1, -1, -1, -1, -1, -1, -1);

    return vl_x86_bswap128(_mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)v), m));
}

#endif /* VL_ARCH_X86_SIV_H */
