/* AES-128/256-GCM on the ARMv8 Crypto Extensions: the "armv8-ce" path.
 * SP 800-38D §7.1 (seal) and §7.2 (open, minus the tag comparison, which
 * the front end does in constant time).
 *
 * Requires (AT_HWCAP): HWCAP_AES (AESE, AESMC) and HWCAP_PMULL (PMULL and
 * PMULL2 on 64-bit lanes); see vl_arm_has_ce(). Built with
 * -march=armv8-a+crypto (Makefile, *_armv8_ce.c).
 *
 * Design (the aesni path's, arch/x86_64/gcm_aesni.c, in NEON terms):
 * - GHASH (§6.4) in the bit-reflected domain with H stored times x, so the
 *   256-bit carry-less product reduces by two folds with the constant
 *   0xc2 << 56 (PMULL of one 64-bit half each) and no shifts. A block goes
 *   in with REV64 alone: that is the fully byte-reversed block with its
 *   64-bit halves swapped, and keeping each power of H in both orders
 *   (h, hs) lets PMULL/PMULL2 pick the halves, so a block costs REV64,
 *   four PMULLs and four EORs (schoolbook; Karatsuba would trade one PMULL
 *   for an EXT and an EOR). Init keeps H^1..H^9: up to nine blocks are
 *   multiplied, summed unreduced, and reduced once.
 * - Bulk, 8 blocks per iteration: the AES rounds of GCTR (§6.5) with the
 *   GHASH of 8 ciphertext blocks stitched in, one block per round (on open
 *   the blocks just loaded, on seal the blocks written one iteration
 *   before), the reduction after the ninth round. AESE/AESMC pairs stay adjacent
 *   for cores that fuse them. The counter lives byte-reversed per 32-bit
 *   word, so inc32 is one vector ADD and a block one REV32. Round keys and
 *   powers of H are reloaded from the key state in every iteration (loads
 *   are cheap; 15 round keys, 8 states and the GHASH sums do not fit 32
 *   registers, and a spill would leave key material on the stack); empty
 *   asm fences keep the compiler from hoisting those loads (see
 *   ctr8_rounds), and everything else is inlined so that no secret vector
 *   is live across a call.
 * - Tail (< 128 bytes, so all of a short message): up to four blocks of
 *   AES at once, then one aggregated GHASH of the tail and the length
 *   block; a one-block tail stays in registers. E_K(J0) overlaps the rest,
 *   and a 12-byte IV gives J0 with no GHASH (§7.1 step 2).
 * - Partial blocks move in 8/4/2/1-byte pieces through general registers:
 *   no byte outside the caller's buffers is touched, and no stack copy of
 *   a secret is made.
 * Branches and table indexes depend on lengths only, never on data. */
#include "gcm_armv8_ce.h"

#include "armv8_ce.h"

/* Everything but the two bulk loops is inlined into seal and open, so that
 * no secret vector (J0, the GHASH state) is live across a call: AAPCS64
 * preserves only the low halves of v8-v15, and a value held across a call
 * would be spilled to the stack. */
#define INLINE static inline __attribute__((always_inline))

/* Blocks per iteration of the bulk loop. */
#define BATCH 8
/* Powers of H kept: eight for the bulk loop, a ninth so that eight blocks
 * and the length block share one reduction. */
#define POWERS 9

/* Key state, all of it secret. h[i] is H^(i+1) byte-reflected, times x;
 * hs[i] is h[i] with its 64-bit halves swapped. */
typedef struct vl_gcm_arm {
    vl_aes_arm aes;
    uint8x16_t h[POWERS];
    uint8x16_t hs[POWERS];
} vl_gcm_arm;

_Static_assert(sizeof(vl_gcm_arm) <= VL_IMPL_STATE_BYTES, "vl_gcm_arm must fit the impl state");
_Static_assert(_Alignof(vl_gcm_arm) <= 64, "the impl state is only 64-byte aligned");

/* ---------------------------------------------------------------- forms */

static inline uint8x16_t swap64(uint8x16_t x)
{
    return vextq_u8(x, x, 8);
}

/* A block as the multiplier takes it: the byte-reflected block with its
 * halves swapped, which is REV64 of the block. */
static inline uint8x16_t gh_in(uint8x16_t b)
{
    return vrev64q_u8(b);
}

/* A reflected GHASH value back to block byte order. */
static inline uint8x16_t gh_out(uint8x16_t x)
{
    return vrev64q_u8(swap64(x));
}

/* The final GHASH block [len(A)]64 || [len(C)]64 in the multiplier's form
 * (§7.1 step 5). */
static inline uint8x16_t lengths_block(size_t ad_len, size_t len)
{
    return vl_arm_from_u64((uint64_t)ad_len * 8, (uint64_t)len * 8);
}

/* The counter register: the counter block with each 32-bit word byte
 * reversed, so lane 3 is inc32's counter as a number (§6.2). */
static inline uint32x4_t counter_of(uint8x16_t block)
{
    return vreinterpretq_u32_u8(vrev32q_u8(block));
}

static inline uint8x16_t counter_block(uint32x4_t c)
{
    return vrev32q_u8(vreinterpretq_u8_u32(c));
}

static inline uint32x4_t counter_add(uint32x4_t c, uint32_t n)
{
    return vaddq_u32(c, vsetq_lane_u32(n, vdupq_n_u32(0), 3));
}

/* ---------------------------------------------------------------- GHASH */

static inline uint8x16_t pmull_lo(uint8x16_t a, uint8x16_t b)
{
    return vreinterpretq_u8_p128(vmull_p64(vgetq_lane_p64(vreinterpretq_p64_u8(a), 0),
                                           vgetq_lane_p64(vreinterpretq_p64_u8(b), 0)));
}

static inline uint8x16_t pmull_hi(uint8x16_t a, uint8x16_t b)
{
    return vreinterpretq_u8_p128(vmull_high_p64(vreinterpretq_p64_u8(a), vreinterpretq_p64_u8(b)));
}

/* An unreduced sum of products: lo and hi halves, and the middle terms. */
typedef struct {
    uint8x16_t lo, mid, hi;
} gh_sum;

static inline gh_sum gh_zero(void)
{
    gh_sum g = {vdupq_n_u8(0), vdupq_n_u8(0), vdupq_n_u8(0)};
    return g;
}

/* g += X * H^power for y = gh_in(X) (1 <= power <= POWERS). With X = (Xh,
 * Xl) reflected, y holds Xh in lane 0 and Xl in lane 1; h holds (Hh, Hl),
 * hs (Hl, Hh): lo = Xl Hl, hi = Xh Hh, mid = Xh Hl + Xl Hh. */
static inline void gh_mul_add(gh_sum *g, const vl_gcm_arm *s, uint8x16_t y, size_t power)
{
    const uint8x16_t h = s->h[power - 1], hs = s->hs[power - 1];

    g->lo = veorq_u8(g->lo, pmull_hi(y, hs));
    g->hi = veorq_u8(g->hi, pmull_lo(y, hs));
    g->mid = veorq_u8(g->mid, pmull_lo(y, h));
    g->mid = veorq_u8(g->mid, pmull_hi(y, h));
}

/* g = X * H^power: gh_mul_add on a zero sum. */
static inline gh_sum gh_mul(const vl_gcm_arm *s, uint8x16_t y, size_t power)
{
    const uint8x16_t h = s->h[power - 1], hs = s->hs[power - 1];
    gh_sum g = {pmull_hi(y, hs), veorq_u8(pmull_lo(y, h), pmull_hi(y, h)), pmull_lo(y, hs)};
    return g;
}

/* The 256-bit sum reduced modulo the GHASH polynomial, reflected. H stored
 * times x makes up for the reflected product's missing bit; two
 * Montgomery-style folds of the low half with the polynomial's reflected
 * low terms (x^127 + x^126 + x^121: 0xc2 << 56) finish it. */
static inline uint8x16_t gh_reduce(gh_sum g)
{
    const uint8x16_t zero = vdupq_n_u8(0);
    const uint8x16_t poly = vreinterpretq_u8_u64(vdupq_n_u64(UINT64_C(0xc200000000000000)));
    uint8x16_t lo = veorq_u8(g.lo, vextq_u8(zero, g.mid, 8));
    uint8x16_t hi = veorq_u8(g.hi, vextq_u8(g.mid, zero, 8));

    lo = veorq_u8(swap64(lo), pmull_lo(lo, poly));
    lo = veorq_u8(swap64(lo), pmull_lo(lo, poly));
    return veorq_u8(lo, hi);
}

/* xi = GHASH(xi, the 8 blocks at p), one reduction. The fences keep each
 * block's loads (block, powers of H) beside its multiplies: otherwise the
 * compiler hoists all of them out of the caller's loop and spills them. */
INLINE uint8x16_t ghash8(const vl_gcm_arm *s, uint8x16_t xi, const uint8_t *p)
{
    gh_sum g = gh_mul(s, veorq_u8(gh_in(vl_arm_load(p)), swap64(xi)), 8);

#define MUL(i)                                                                    \
    __asm__("" : "+r"(s), "+r"(p), "+w"(g.lo), "+w"(g.mid), "+w"(g.hi));         \
    gh_mul_add(&g, s, gh_in(vl_arm_load(p + 16 * i)), 8 - i);
    MUL(1) MUL(2) MUL(3) MUL(4) MUL(5) MUL(6) MUL(7)
#undef MUL
    return gh_reduce(g);
}

/* One aggregated step with one reduction: xi = (xi + X1) H^n + X2 H^(n-1)
 * + ... + Xn H, where X1.. are the len <= 128 bytes at p (the last block
 * zero-padded), then *lengths when not NULL. n >= 1. */
INLINE uint8x16_t ghash_group(const vl_gcm_arm *s, uint8x16_t xi, const uint8_t *p, size_t len,
                              const uint8x16_t *lengths)
{
    size_t full = len / 16, rem = len % 16;
    size_t power = full + (rem != 0) + (lengths != NULL);
    uint8x16_t x = swap64(xi);
    gh_sum g = gh_zero();

    for (size_t i = 0; i < full; i++, power--) {
        gh_mul_add(&g, s, veorq_u8(gh_in(vl_arm_load(p + 16 * i)), x), power);
        x = vdupq_n_u8(0);
    }
    if (rem != 0) {
        gh_mul_add(&g, s, veorq_u8(gh_in(vl_arm_load_partial(p + 16 * full, rem)), x), power);
        x = vdupq_n_u8(0);
    }
    if (lengths != NULL)
        gh_mul_add(&g, s, veorq_u8(*lengths, x), 1);
    return gh_reduce(g);
}

/* xi = GHASH(xi, the len bytes at p zero-padded, then *lengths when not
 * NULL): the AD, or the IV. */
INLINE uint8x16_t ghash_bytes(const vl_gcm_arm *s, uint8x16_t xi, const uint8_t *p, size_t len,
                              const uint8x16_t *lengths)
{
    for (; len > 16 * BATCH; p += 16 * BATCH, len -= 16 * BATCH)
        xi = ghash8(s, xi, p);
    if (len == 0 && lengths == NULL)
        return xi;
    return ghash_group(s, xi, p, len, lengths);
}

/* The tag, §7.1 steps 5-6: T = E_K(J0) xor GHASH(xi, the len <= 128 bytes
 * at p, the length block). */
INLINE uint8x16_t ghash_tag(const vl_gcm_arm *s, uint8x16_t xi, const uint8_t *p, size_t len,
                            uint8x16_t lengths, uint8x16_t ek_j0)
{
    return veorq_u8(gh_out(ghash_group(s, xi, p, len, &lengths)), ek_j0);
}

/* ---------------------------------------------------------------- bulk */

/* One AES round (AESE with k, AESMC) of the 8 blocks. */
static inline void round8(uint8x16_t b[BATCH], uint8x16_t k)
{
#define ENC(i) b[i] = vl_arm_round(b[i], k);
    VL_REP8(ENC)
#undef ENC
}

/* nbatch batches of out = in xor E_K(ctr + ...), |rounds| a constant after
 * inlining. With |ghash|, stitched with the GHASH of 8 ciphertext blocks
 * per batch, one block after each of the first eight AES rounds and the
 * reduction after the ninth, so the PMULLs fill the gaps of the AES
 * chains. The blocks hashed are the batch's own input (open: loaded before
 * anything is stored, so in == out is fine), or with hash_previous_output
 * the output of the batch before (seal). Returns xi. */
static inline __attribute__((always_inline)) uint8x16_t
ctr8_rounds(const vl_gcm_arm *s, uint32x4_t ctr, const uint8_t *in, uint8_t *out, size_t nbatch,
            uint8x16_t xi, int ghash, int hash_previous_output, const unsigned rounds)
{
    const uint32x4_t one = vsetq_lane_u32(1, vdupq_n_u32(0), 3);

    for (size_t n = 0; n < nbatch; n++) {
        const vl_gcm_arm *m = s;
        /* The blocks hashed: this batch's input (open), or the output of
         * the one before (seal). */
        const uint8_t *c = hash_previous_output ? out - 16 * BATCH : in;
        uint8x16_t b[BATCH], k[2];
        gh_sum g;

/* The compiler's schedulers, left alone, hoist every load of the loop
 * (round keys, powers of H, data) to its top and spill them to the stack.
 * A fence passes the pointers and every live vector through an empty asm,
 * so each load stays in the round that uses it (the next round key is
 * loaded one round ahead, into the other of k[2]), and out-of-order cores
 * overlap the rest. */
#define FENCE_WITH(kx, ...)                                                                 \
    __asm__("" : "+r"(m), "+r"(in), "+w"(kx), "+w"(b[0]), "+w"(b[1]), "+w"(b[2]),         \
            "+w"(b[3]), "+w"(b[4]), "+w"(b[5]), "+w"(b[6]), "+w"(b[7]) __VA_ARGS__)
#define FENCE_GHASH(kx, ...)                                   \
    do {                                                       \
        if (hash_previous_output)                              \
            FENCE_WITH(kx, , "+r"(c), __VA_ARGS__);            \
        else                                                   \
            FENCE_WITH(kx, , __VA_ARGS__);                     \
    } while (0)
#define FENCE(r, kx)                                                   \
    do {                                                               \
        if (!ghash)                                                    \
            FENCE_WITH(kx);                                            \
        else if ((r) >= 0 && (r) < 8)                                  \
            FENCE_GHASH(kx, "+w"(g.lo), "+w"(g.mid), "+w"(g.hi));      \
        else                                                           \
            FENCE_GHASH(kx, "+w"(xi));                                 \
    } while (0)
/* The blocks hashed, through the fenced pointer. */
#define HASHED (hash_previous_output ? c : in)
#define CTR(i)                   \
    b[i] = counter_block(ctr);   \
    ctr = vaddq_u32(ctr, one);   \
    VL_ARM_KEEP(ctr);
        VL_REP8(CTR)
#undef CTR
        k[0] = m->aes.rk[0];
        FENCE(-1, k[0]);
/* Round r (AESE with rk[r], AESMC) of the 8 blocks, then GHASH step r. */
#define ROUND(r)                                                                     \
        k[((r) + 1) & 1] = m->aes.rk[(r) + 1];                                       \
        round8(b, k[(r) & 1]);                                                       \
        if (ghash && (r) == 0)                                                       \
            g = gh_mul(m, veorq_u8(gh_in(vl_arm_load(HASHED)), swap64(xi)), 8);     \
        if (ghash && (r) > 0 && (r) < 8)                                             \
            gh_mul_add(&g, m, gh_in(vl_arm_load(HASHED + 16 * (r))), 8 - (r));     \
        if (ghash && (r) == 8)                                                       \
            xi = gh_reduce(g);                                                       \
        FENCE(r, k[((r) + 1) & 1]);
        ROUND(0) ROUND(1) ROUND(2) ROUND(3) ROUND(4) ROUND(5) ROUND(6) ROUND(7) ROUND(8)
        if (rounds == 14) {
            ROUND(9) ROUND(10) ROUND(11) ROUND(12)
        }
#undef ROUND
#undef HASHED
#undef FENCE
#undef FENCE_GHASH
#undef FENCE_WITH
        /* AESE with rk[rounds - 1], then rk[rounds] and the data. */
        {
            const uint8x16_t kl = m->aes.rk[rounds], kr = k[(rounds - 1) & 1];
#define LAST(i)                                                                   \
    vl_arm_store(out + 16 * i,                                                   \
                 veorq_u8(vaeseq_u8(b[i], kr), veorq_u8(kl, vl_arm_load(in + 16 * i))));
            VL_REP8(LAST)
#undef LAST
        }
        in += 16 * BATCH;
        out += 16 * BATCH;
    }
    return xi;
}

/* ctr8_rounds for this key's AES, hashing (open: the input) or not. */
static __attribute__((noinline)) uint8x16_t ctr8_ghash_open(const vl_gcm_arm *s, uint32x4_t ctr,
                                                            const uint8_t *in, uint8_t *out,
                                                            size_t nbatch, uint8x16_t xi)
{
    if (s->aes.rounds == 10)
        return ctr8_rounds(s, ctr, in, out, nbatch, xi, 1, 0, 10);
    return ctr8_rounds(s, ctr, in, out, nbatch, xi, 1, 0, 14);
}

/* Seal nbatch >= 1 batches; the GHASH runs one batch behind the CTR, and
 * the last batch is left for seal_tail to hash. */
static __attribute__((noinline)) uint8x16_t seal_bulk(const vl_gcm_arm *s, uint32x4_t ctr,
                                                      const uint8_t *in, uint8_t *out,
                                                      size_t nbatch, uint8x16_t xi)
{
    const uint32x4_t next = counter_add(ctr, BATCH);

    if (s->aes.rounds == 10) {
        ctr8_rounds(s, ctr, in, out, 1, xi, 0, 0, 10);
        return ctr8_rounds(s, next, in + 16 * BATCH, out + 16 * BATCH, nbatch - 1, xi, 1, 1, 10);
    }
    ctr8_rounds(s, ctr, in, out, 1, xi, 0, 0, 14);
    return ctr8_rounds(s, next, in + 16 * BATCH, out + 16 * BATCH, nbatch - 1, xi, 1, 1, 14);
}

/* ---------------------------------------------------------------- tails */

/* out = in xor E_K(ctr + 0..3), four full blocks. */
INLINE void ctr4(const vl_aes_arm *k, uint32x4_t ctr, const uint8_t *in, uint8_t *out)
{
    const uint32x4_t one = vsetq_lane_u32(1, vdupq_n_u32(0), 3);
    uint8x16_t b[4];
    unsigned r;

#define CTR(i)                   \
    b[i] = counter_block(ctr);   \
    ctr = vaddq_u32(ctr, one);
    VL_REP4(CTR)
#undef CTR
    for (r = 0; r + 1 < k->rounds; r++) {
#define ENC(i) b[i] = vl_arm_round(b[i], k->rk[r]);
        VL_REP4(ENC)
#undef ENC
    }
#define LAST(i)                                                                      \
    vl_arm_store(out + 16 * i, veorq_u8(vaeseq_u8(b[i], k->rk[r]),                  \
                                        veorq_u8(k->rk[r + 1], vl_arm_load(in + 16 * i))));
    VL_REP4(LAST)
#undef LAST
}

/* out = in xor E_K(ctr + ...) for 0 < len < 128 bytes. With want_ek_j0,
 * returns E_K(j0), computed alongside so that its AES overlaps the tail's
 * (else zero). */
INLINE uint8x16_t ctr_tail(const vl_aes_arm *k, uint32x4_t ctr, const uint8_t *in, uint8_t *out,
                           size_t len, uint8x16_t j0, int want_ek_j0)
{
    const uint8x16_t ek_j0 = want_ek_j0 ? vl_arm_aes_block(k, j0) : vdupq_n_u8(0);
    size_t full = len / 16, rem = len % 16, i = 0;

    if (full >= 4) {
        ctr4(k, ctr, in, out);
        i = 4;
    }
    for (; i < full; i++) {
        uint8x16_t ks = vl_arm_aes_block(k, counter_block(counter_add(ctr, (uint32_t)i)));
        vl_arm_store(out + 16 * i, veorq_u8(vl_arm_load(in + 16 * i), ks));
    }
    if (rem != 0) {
        uint8x16_t ks = vl_arm_aes_block(k, counter_block(counter_add(ctr, (uint32_t)full)));
        vl_arm_store_partial(out + 16 * full,
                             veorq_u8(vl_arm_load_partial(in + 16 * full, rem), ks), rem);
    }
    return ek_j0;
}

/* A tail of one block, 0 < n <= 16 bytes, kept in registers: CTR, and
 * E_K(J0) alongside, then the tag from the GHASH of the zero-padded
 * ciphertext block and the length block. The ciphertext is the input on
 * open (loaded before the output is stored), the output on seal. */
INLINE uint8x16_t crypt_last_block(const vl_gcm_arm *s, uint32x4_t ctr, uint8x16_t j0,
                                   const uint8_t *in, uint8_t *out, size_t n, uint8x16_t xi,
                                   uint8x16_t lengths, int decrypt)
{
    const uint8x16_t ks = vl_arm_aes_block(&s->aes, counter_block(ctr));
    const uint8x16_t ek_j0 = vl_arm_aes_block(&s->aes, j0);
    gh_sum g = gh_zero();
    uint8x16_t x, y;

    if (n == 16) {
        x = vl_arm_load(in);
        y = veorq_u8(x, ks);
        vl_arm_store(out, y);
    } else {
        x = vl_arm_load_partial(in, n);
        y = vandq_u8(veorq_u8(x, ks), vl_arm_first_bytes(n));
        vl_arm_store_partial(out, y, n);
    }
    gh_mul_add(&g, s, veorq_u8(gh_in(decrypt ? x : y), swap64(xi)), 2);
    gh_mul_add(&g, s, lengths, 1);
    return veorq_u8(gh_out(gh_reduce(g)), ek_j0);
}

/* Seal the last len < 128 bytes; returns the tag. |pending|, when not
 * NULL, is a sealed batch not hashed yet: with no tail it shares one
 * reduction with the length block (nine powers). */
INLINE uint8x16_t seal_tail(const vl_gcm_arm *s, uint32x4_t ctr, uint8x16_t j0,
                            const uint8_t *in, uint8_t *out, size_t len, uint8x16_t xi,
                            uint8x16_t lengths, const uint8_t *pending)
{
    if (pending != NULL && len == 0)
        return ghash_tag(s, xi, pending, 16 * BATCH, lengths, vl_arm_aes_block(&s->aes, j0));
    if (pending != NULL)
        xi = ghash8(s, xi, pending);
    if (len == 0)
        return ghash_tag(s, xi, NULL, 0, lengths, vl_arm_aes_block(&s->aes, j0));
    if (len <= 16)
        return crypt_last_block(s, ctr, j0, in, out, len, xi, lengths, 0);
    const uint8x16_t ek_j0 = ctr_tail(&s->aes, ctr, in, out, len, j0, 1);
    return ghash_tag(s, xi, out, len, lengths, ek_j0);
}

/* Open the last len < 128 bytes and write the tag, hashing the ciphertext
 * before it may be overwritten (in == out). */
INLINE void open_tail(const vl_gcm_arm *s, uint32x4_t ctr, uint8x16_t j0, const uint8_t *in,
                      uint8_t *out, size_t len, uint8x16_t xi, uint8x16_t lengths,
                      uint8_t tag[16])
{
    if (len > 0 && len <= 16) {
        vl_arm_store(tag, crypt_last_block(s, ctr, j0, in, out, len, xi, lengths, 1));
        return;
    }
    vl_arm_store(tag, ghash_tag(s, xi, in, len, lengths, vl_arm_aes_block(&s->aes, j0)));
    if (len > 0)
        ctr_tail(&s->aes, ctr, in, out, len, j0, 0);
}

/* ---------------------------------------------------------------- API */

/* §7.1 step 2: J0 = IV || 0^31 || 1 for a 12-byte IV, else
 * GHASH(IV || 0^(s+64) || [len(IV)]64). */
INLINE uint8x16_t derive_j0(const vl_gcm_arm *s, const uint8_t *iv, size_t iv_len)
{
    if (iv_len == 12) {
        uint64_t lo;
        uint32_t hi;
        memcpy(&lo, iv, 8);
        memcpy(&hi, iv + 8, 4);
        return vl_arm_from_u64(lo, ((uint64_t)0x01000000 << 32) | hi);
    }
    const uint8x16_t lengths = lengths_block(0, iv_len);
    return gh_out(ghash_bytes(s, vdupq_n_u8(0), iv, iv_len, &lengths));
}

/* The first counter block inc32(J0), as the counter register (§7.1 step 3). */
static inline uint32x4_t first_counter(uint8x16_t j0)
{
    return counter_add(counter_of(j0), 1);
}

void vl_gcm_armv8_ce_init(void *st, const uint8_t *key, size_t key_len)
{
    vl_gcm_arm *s = st;

    vl_aes_arm_expand(&s->aes, key, key_len);
    /* §7.1 step 1: H = CIPH_K(0^128), reflected, then times x: shift left
     * one bit, folding the carry back with the polynomial (masked, not
     * branched on). */
    uint64x2_t h = vreinterpretq_u64_u8(gh_out(vl_arm_aes_block(&s->aes, vdupq_n_u8(0))));
    uint64x2_t top = vshrq_n_u64(h, 63);
    uint64x2_t carry = vextq_u64(vdupq_n_u64(0), top, 1);
    uint64x2_t mask = vreinterpretq_u64_s64(vnegq_s64(vreinterpretq_s64_u64(vdupq_laneq_u64(top, 1))));
    uint64x2_t poly = vcombine_u64(vcreate_u64(1), vcreate_u64(UINT64_C(0xc200000000000000)));

    h = veorq_u64(vorrq_u64(vshlq_n_u64(h, 1), carry), vandq_u64(mask, poly));
    s->h[0] = vreinterpretq_u8_u64(h);
    s->hs[0] = swap64(s->h[0]);
    /* Both operands times x give a product times x: the same form. */
    for (size_t i = 1; i < POWERS; i++) {
        gh_sum g = gh_zero();
        gh_mul_add(&g, s, swap64(s->h[i - 1]), 1);
        s->h[i] = gh_reduce(g);
        s->hs[i] = swap64(s->h[i]);
    }
}

/* §7.1 steps 2-6. */
void vl_gcm_armv8_ce_seal(const void *st, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                          size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                          size_t ad_len)
{
    const vl_gcm_arm *s = st;
    uint8x16_t xi = ghash_bytes(s, vdupq_n_u8(0), ad, ad_len, NULL), j0;
    size_t nbatch = len / (16 * BATCH), tail = len % (16 * BATCH);
    const uint8_t *pending = NULL;

    if (nbatch > 0) {
        xi = seal_bulk(s, first_counter(derive_j0(s, nonce, nonce_len)), in, out, nbatch, xi);
        in += len - tail;
        out += len - tail;
        pending = out - 16 * BATCH;
    }
    /* J0 (again, after the call: see INLINE). */
    j0 = derive_j0(s, nonce, nonce_len);
    vl_arm_store(tag, seal_tail(s, counter_add(first_counter(j0), (uint32_t)(nbatch * BATCH)), j0,
                                in, out, tail, xi, lengths_block(ad_len, len), pending));
}

/* §7.2 steps 3-7; the caller compares the tag. */
void vl_gcm_armv8_ce_open(const void *st, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                          size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                          size_t ad_len)
{
    const vl_gcm_arm *s = st;
    uint8x16_t xi = ghash_bytes(s, vdupq_n_u8(0), ad, ad_len, NULL), j0;
    size_t nbatch = len / (16 * BATCH), tail = len % (16 * BATCH);

    if (nbatch > 0) {
        xi = ctr8_ghash_open(s, first_counter(derive_j0(s, nonce, nonce_len)), in, out, nbatch,
                             xi);
        in += len - tail;
        out += len - tail;
    }
    j0 = derive_j0(s, nonce, nonce_len);
    open_tail(s, counter_add(first_counter(j0), (uint32_t)(nbatch * BATCH)), j0, in, out, tail,
              xi, lengths_block(ad_len, len), tag);
}
