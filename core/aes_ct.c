/* Portable constant-time AES encryption (FIPS 197), bitsliced.
 *
 * Layout. A pass encrypts eight 16-byte blocks. The state is eight words
 * q[0..7]: q[i] holds bit i of every state byte of every block. A word is
 * a vector of two 64-bit lanes (GCC/clang vector extension: SSE2 on x86-64,
 * NEON on aarch64, plain integer code elsewhere); lane l carries blocks
 * 4l..4l+3 and, inside a lane, bit 16r + 4c + j is byte (row r, column c)
 * of block j. So a 16-bit group is one row, a nibble one column of four
 * blocks, and row/column moves are rotations. Other compilers get the same
 * code on one plain uint64_t lane (four blocks per pass).
 *
 * SubBytes (FIPS 197 5.1.1) is Boyar and Peralta's depth-16 circuit, 34
 * AND and 94 XOR. Its four NOTs, i.e. the 0x63 of the affine map, are left
 * out and XORed into round keys 1..Nr instead: ShiftRows and MixColumns
 * send an all-0x63 state to itself, so the constant reaches the next
 * AddRoundKey unchanged.
 *
 * ShiftRows (5.1.2) is never computed ("fixslicing", Adomnicai and Peyrin,
 * 2020): after round r the state lags r ShiftRows behind, so the MixColumns
 * of round r takes row r+1 from (r mod 4) columns further on, a 16-bit
 * rotation on top of the 64-bit one, and round key r is stored with the
 * same lag. After the last round the lag is Nr mod 4, 0 or 2; one masked
 * byte swap removes a lag of 2.
 *
 * Blocks enter and leave through a byte interleave and an 8x8 bit-matrix
 * transpose. There are no tables: no branch and no memory index depends on
 * the key or the data, in the key schedule too. */
#include "aes_ct.h"

#include <string.h>

#include "internal.h"

/* VL_AES_CT_SCALAR forces the one-lane code, so tests can reach it. */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(VL_AES_CT_SCALAR)
typedef uint64_t vl_w __attribute__((vector_size(16)));
typedef uint16_t vl_w16 __attribute__((vector_size(16)));
#define VL_LANES 2
#else
typedef uint64_t vl_w;
#define VL_LANES 1
#endif

/* The round helpers take constant arguments (the lag) that only pay off
 * once inlined; gcc would otherwise keep them as calls. */
#if defined(__GNUC__) || defined(__clang__)
#define VL_INLINE static inline __attribute__((always_inline))
#else
#define VL_INLINE static inline
#endif

#define PASS_BLOCKS (4 * VL_LANES)
#define PASS_BYTES (16 * PASS_BLOCKS)

_Static_assert(sizeof(vl_aes_ct) <= 1024, "vl_aes_ct must stay within 1024 bytes");

/* ---- Words ---------------------------------------------------------- */

/* Little-endian 64-bit load/store. On little-endian targets a memcpy,
 * which compilers turn into one move; gcc -O2 leaves the byte loops of
 * vl_load_le64/vl_store_le64 rolled. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void store_le64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, sizeof v);
}
#else
#define load_le64 vl_load_le64
#define store_le64 vl_store_le64
#endif

/* Lane l of the result is the little-endian word at p + 64 * l, so block j
 * of lane l is read from p + 16 * (4 * l + j). */
static inline vl_w w_load(const uint8_t *p)
{
#if VL_LANES == 2
    return (vl_w){load_le64(p), load_le64(p + 64)};
#else
    return load_le64(p);
#endif
}

static inline void w_store(uint8_t *p, vl_w x)
{
#if VL_LANES == 2
    store_le64(p, x[0]);
    store_le64(p + 64, x[1]);
#else
    store_le64(p, x);
#endif
}

/* Every lane set to x. */
static inline vl_w w_bcast(uint64_t x)
{
    return (vl_w){0} ^ x;
}

static inline uint64_t w_lane0(vl_w x)
{
#if VL_LANES == 2
    return x[0];
#else
    return x;
#endif
}

/* Swaps the bits of x selected by m with those s positions above them. */
static inline vl_w delta_swap(vl_w x, uint64_t m, unsigned s)
{
    vl_w t = ((x >> s) ^ x) & m;
    return x ^ t ^ (t << s);
}

/* Swaps the bits of a selected by m << s with the bits of b selected by m. */
static inline void swap_bits(vl_w *a, vl_w *b, uint64_t m, unsigned s)
{
    vl_w t = ((*a >> s) ^ *b) & m;
    *b ^= t;
    *a ^= t << s;
}

/* ---- Conversion in and out of the bitsliced form ------------------------ */

/* Treating q as an 8x8 bit matrix per byte position (word index x bit in
 * byte) and transposing it: afterwards bit a of byte b of q[i] is the old
 * bit i of byte b of q[a]. Its own inverse. */
static void ortho(vl_w q[8])
{
    const uint64_t m1 = 0x5555555555555555u, m2 = 0x3333333333333333u;
    const uint64_t m4 = 0x0F0F0F0F0F0F0F0Fu;

    swap_bits(&q[0], &q[1], m1, 1);
    swap_bits(&q[2], &q[3], m1, 1);
    swap_bits(&q[4], &q[5], m1, 1);
    swap_bits(&q[6], &q[7], m1, 1);
    swap_bits(&q[0], &q[2], m2, 2);
    swap_bits(&q[1], &q[3], m2, 2);
    swap_bits(&q[4], &q[6], m2, 2);
    swap_bits(&q[5], &q[7], m2, 2);
    swap_bits(&q[0], &q[4], m4, 4);
    swap_bits(&q[1], &q[5], m4, 4);
    swap_bits(&q[2], &q[6], m4, 4);
    swap_bits(&q[3], &q[7], m4, 4);
}

/* Loads PASS_BLOCKS blocks. Block j of each lane gives two words: q[j] with
 * columns 0 and 2 and q[4 + j] with columns 1 and 3, byte (r, c) at byte
 * position 2r + c/2. ortho() then moves bit i of byte (r, c) of block j to
 * bit 8(2r + c/2) + 4(c & 1) + j = 16r + 4c + j of q[i]. */
static void load_state(vl_w q[8], const uint8_t *in)
{
    for (int j = 0; j < 4; j++) {
        vl_w lo = w_load(in + 16 * j);     /* columns 0 | 1 */
        vl_w hi = w_load(in + 16 * j + 8); /* columns 2 | 3 */
        vl_w even = (lo & 0xFFFFFFFFu) | (hi << 32);
        vl_w odd = (lo >> 32) | (hi & 0xFFFFFFFF00000000u);
        /* c0 | c2 (bytes a0..a3 b0..b3) -> a0 b0 a1 b1 a2 b2 a3 b3 */
        even = delta_swap(even, 0x00000000FFFF0000u, 16);
        q[j] = delta_swap(even, 0x0000FF000000FF00u, 8);
        odd = delta_swap(odd, 0x00000000FFFF0000u, 16);
        q[4 + j] = delta_swap(odd, 0x0000FF000000FF00u, 8);
    }
    ortho(q);
}

/* The inverse of load_state(); scrambles q. */
static void store_state(uint8_t *out, vl_w q[8])
{
    ortho(q);
    for (int j = 0; j < 4; j++) {
        vl_w even = delta_swap(q[j], 0x0000FF000000FF00u, 8);
        vl_w odd = delta_swap(q[4 + j], 0x0000FF000000FF00u, 8);
        even = delta_swap(even, 0x00000000FFFF0000u, 16);
        odd = delta_swap(odd, 0x00000000FFFF0000u, 16);
        w_store(out + 16 * j, (even & 0xFFFFFFFFu) | (odd << 32));
        w_store(out + 16 * j + 8, (even >> 32) | (odd & 0xFFFFFFFF00000000u));
    }
}

/* ---- Round functions -------------------------------------------------- */

/* SubBytes (FIPS 197 5.1.1) minus the final XOR with 0x63, on all bytes at
 * once: the depth-16 circuit of Boyar and Peralta ("A depth-16 circuit for
 * the AES S-box", SEC 2012; 34 AND, 94 XOR), in the paper's names. Inputs
 * U0..U7 and outputs S0..S7 are bits 7..0. The paper's four XNOR outputs
 * (S1, S2, S6, S7) are plain XORs here.
 *
 * Their smaller 115-gate circuit (SEA 2010) has depth 28. Where SIMD logic
 * ops take two cycles (AMD Zen 5, many Arm cores) that depth costs more
 * than 13 gates: this circuit measured 4-6% faster overall there. */
VL_INLINE void sub_bytes(vl_w q[8])
{
    const vl_w u0 = q[7], u1 = q[6], u2 = q[5], u3 = q[4];
    const vl_w u4 = q[3], u5 = q[2], u6 = q[1], u7 = q[0];

    /* Top linear layer. */
    const vl_w t1 = u0 ^ u3, t2 = u0 ^ u5, t3 = u0 ^ u6, t4 = u3 ^ u5;
    const vl_w t5 = u4 ^ u6, t7 = u1 ^ u2, t11 = u1 ^ u5, t12 = u2 ^ u5;
    const vl_w t18 = u3 ^ u7, t21 = u6 ^ u7;
    const vl_w t6 = t1 ^ t5, t13 = t3 ^ t4, t15 = t5 ^ t11, t16 = t5 ^ t12;
    const vl_w t9 = u7 ^ t7, t19 = t7 ^ t18, t22 = t7 ^ t21, t27 = t1 ^ t12;
    const vl_w t8 = u7 ^ t6, t10 = t6 ^ t7, t14 = t6 ^ t11, t17 = t9 ^ t16;
    const vl_w t20 = t1 ^ t19, t23 = t2 ^ t22, t24 = t2 ^ t10, t26 = t3 ^ t16;
    const vl_w t25 = t20 ^ t17;

    /* Middle non-linear layer: inversion in GF(2^8) via GF(2^4). */
    const vl_w m1 = t13 & t6, m2 = t23 & t8, m4 = t19 & u7, m6 = t3 & t16;
    const vl_w m7 = t22 & t9, m9 = t20 & t17, m11 = t1 & t15, m12 = t4 & t27;
    const vl_w m14 = t2 & t10;
    const vl_w m3 = t14 ^ m1, m5 = m4 ^ m1, m8 = t26 ^ m6, m10 = m9 ^ m6;
    const vl_w m13 = m12 ^ m11, m15 = m14 ^ m11;
    const vl_w m16 = m3 ^ m2, m17 = m5 ^ t24, m18 = m8 ^ m7, m19 = m10 ^ m15;
    const vl_w m20 = m16 ^ m13, m21 = m17 ^ m15, m22 = m18 ^ m13, m23 = m19 ^ t25;
    const vl_w m24 = m22 ^ m23, m25 = m22 & m20, m27 = m20 ^ m21;
    const vl_w m31 = m20 & m23, m34 = m21 & m22;
    const vl_w m26 = m21 ^ m25, m28 = m23 ^ m25, m33 = m27 ^ m25, m36 = m24 ^ m25;
    const vl_w m29 = m28 & m27, m30 = m26 & m24, m32 = m27 & m31, m35 = m24 & m34;
    const vl_w m37 = m21 ^ m29, m38 = m32 ^ m33, m39 = m23 ^ m30, m40 = m35 ^ m36;
    const vl_w m41 = m38 ^ m40, m42 = m37 ^ m39, m43 = m37 ^ m38, m44 = m39 ^ m40;
    const vl_w m45 = m42 ^ m41;
    const vl_w m46 = m44 & t6, m47 = m40 & t8, m48 = m39 & u7, m49 = m43 & t16;
    const vl_w m50 = m38 & t9, m51 = m37 & t17, m52 = m42 & t15, m53 = m45 & t27;
    const vl_w m54 = m41 & t10, m55 = m44 & t13, m56 = m40 & t23, m57 = m39 & t19;
    const vl_w m58 = m43 & t3, m59 = m38 & t22, m60 = m37 & t20, m61 = m42 & t1;
    const vl_w m62 = m45 & t4, m63 = m41 & t2;

    /* Bottom linear layer. */
    const vl_w l0 = m61 ^ m62, l1 = m50 ^ m56, l2 = m46 ^ m48, l3 = m47 ^ m55;
    const vl_w l4 = m54 ^ m58, l5 = m49 ^ m61, l8 = m51 ^ m59, l9 = m52 ^ m53;
    const vl_w l12 = m48 ^ m51, l14 = m52 ^ m61;
    const vl_w l6 = m62 ^ l5, l7 = m46 ^ l3, l10 = m53 ^ l4, l11 = m60 ^ l2;
    const vl_w l13 = m50 ^ l0, l15 = m55 ^ l1, l16 = m56 ^ l0, l17 = m57 ^ l1;
    const vl_w l18 = m58 ^ l8, l19 = m63 ^ l4, l20 = l0 ^ l1;
    const vl_w l21 = l1 ^ l7, l22 = l3 ^ l12, l23 = l18 ^ l2, l24 = l15 ^ l9;
    const vl_w l25 = l6 ^ l10, l26 = l7 ^ l9, l27 = l8 ^ l10, l28 = l11 ^ l14;
    const vl_w l29 = l11 ^ l17;

    q[7] = l6 ^ l24;  /* S0 */
    q[6] = l16 ^ l26; /* S1 */
    q[5] = l19 ^ l28; /* S2 */
    q[4] = l6 ^ l21;  /* S3 */
    q[3] = l20 ^ l22; /* S4 */
    q[2] = l25 ^ l29; /* S5 */
    q[1] = l13 ^ l27; /* S6 */
    q[0] = l6 ^ l23;  /* S7 */
}

/* Within every row (16-bit group), rotate right by n columns: column c
 * takes the value of column c + n. */
VL_INLINE vl_w rot_cols(vl_w x, unsigned n)
{
#if VL_LANES == 2
    vl_w16 y = (vl_w16)x;
    return (vl_w)((y >> (4 * n)) | (y << (16 - 4 * n)));
#else
    uint64_t lo = 0x0001000100010001u * (0xFFFFu >> (4 * n));
    return ((x >> (4 * n)) & lo) | ((x << (16 - 4 * n)) & ~lo);
#endif
}

/* Row r takes the value of row r + 1 (resp. r + 2), all columns kept: a
 * rotation of each 64-bit lane by 16 (32) bits. On little-endian targets
 * that is a 16-bit (32-bit) element shuffle, one or two instructions
 * (pshuflw/pshufhw, pshufd) where the shifts would take three. */
#if VL_LANES == 2 && defined(__has_builtin) && defined(__BYTE_ORDER__)
#if __has_builtin(__builtin_shufflevector) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define VL_SHUFFLE 1
typedef uint32_t vl_w32 __attribute__((vector_size(16)));
#endif
#endif

VL_INLINE vl_w rot_rows1(vl_w x)
{
#ifdef VL_SHUFFLE
    vl_w16 y = (vl_w16)x;
    return (vl_w)__builtin_shufflevector(y, y, 1, 2, 3, 0, 5, 6, 7, 4);
#else
    return (x >> 16) | (x << 48);
#endif
}

VL_INLINE vl_w rot_rows2(vl_w x)
{
#ifdef VL_SHUFFLE
    vl_w32 y = (vl_w32)x;
    return (vl_w)__builtin_shufflevector(y, y, 1, 0, 3, 2);
#else
    return (x >> 32) | (x << 32);
#endif
}

/* For MixColumns with a lag of |lag| ShiftRows: R moves to the next row and
 * |lag| columns on, R^2 two rows and 2 * |lag| columns on. */
VL_INLINE vl_w mc_r1(vl_w x, unsigned lag)
{
    x = rot_rows1(x);
    return lag != 0 ? rot_cols(x, lag) : x;
}

VL_INLINE vl_w mc_r2(vl_w x, unsigned lag)
{
    x = rot_rows2(x);
    return (lag & 1) != 0 ? rot_cols(x, 2) : x;
}

/* MixColumns (FIPS 197 5.1.3) on a state lagging |lag| ShiftRows behind.
 * In true positions, out = 2s + 3R(s) + R^2(s) + R^3(s) with R taking each
 * byte from the next row of its column. With the lag, the byte of row r+1
 * belonging to physical column c sits in column c + lag, so R becomes
 * mc_r1() and R^2 mc_r2(). Computed as out = 2t + R(s) + R^2(t) with
 * t = s + R(s); doubling t shifts it up one bit and reduces bit 8 by
 * x^4 + x^3 + x + 1 (0x1b). */
VL_INLINE void mix_columns(vl_w q[8], unsigned lag)
{
    const vl_w a0 = mc_r1(q[0], lag), a1 = mc_r1(q[1], lag);
    const vl_w a2 = mc_r1(q[2], lag), a3 = mc_r1(q[3], lag);
    const vl_w a4 = mc_r1(q[4], lag), a5 = mc_r1(q[5], lag);
    const vl_w a6 = mc_r1(q[6], lag), a7 = mc_r1(q[7], lag);
    const vl_w t0 = q[0] ^ a0, t1 = q[1] ^ a1, t2 = q[2] ^ a2, t3 = q[3] ^ a3;
    const vl_w t4 = q[4] ^ a4, t5 = q[5] ^ a5, t6 = q[6] ^ a6, t7 = q[7] ^ a7;

    q[0] = t7 ^ a0 ^ mc_r2(t0, lag);
    q[1] = t0 ^ t7 ^ a1 ^ mc_r2(t1, lag);
    q[2] = t1 ^ a2 ^ mc_r2(t2, lag);
    q[3] = t2 ^ t7 ^ a3 ^ mc_r2(t3, lag);
    q[4] = t3 ^ t7 ^ a4 ^ mc_r2(t4, lag);
    q[5] = t4 ^ a5 ^ mc_r2(t5, lag);
    q[6] = t5 ^ a6 ^ mc_r2(t6, lag);
    q[7] = t6 ^ a7 ^ mc_r2(t7, lag);
}

/* AddRoundKey (5.1.4); every lane gets the same round key words. Written
 * out: gcc leaves the loop form rolled, through memory. */
VL_INLINE void add_round_key(vl_w q[8], const uint64_t rk[8])
{
    q[0] ^= rk[0];
    q[1] ^= rk[1];
    q[2] ^= rk[2];
    q[3] ^= rk[3];
    q[4] ^= rk[4];
    q[5] ^= rk[5];
    q[6] ^= rk[6];
    q[7] ^= rk[7];
}

VL_INLINE void full_round(vl_w q[8], const uint64_t rk[8], unsigned lag)
{
    sub_bytes(q);
    mix_columns(q, lag);
    add_round_key(q, rk);
}

/* Cipher (FIPS 197 5.1) on the PASS_BLOCKS blocks in q. Round r runs with
 * lag r mod 4; the loop takes four rounds at a time so every lag is a
 * constant. Only the round count (public) steers the branches. */
static void encrypt_state(const vl_aes_ct *k, vl_w q[8])
{
    const uint64_t *rk = k->sk;
    const unsigned nr = k->rounds;
    unsigned r;

    add_round_key(q, rk);
    for (r = 1; r + 4 <= nr; r += 4) {
        full_round(q, rk + 8 * r, 1);
        full_round(q, rk + 8 * (r + 1), 2);
        full_round(q, rk + 8 * (r + 2), 3);
        full_round(q, rk + 8 * (r + 3), 0);
    }
    /* Rounds 9 (Nr 10), 9..11 (Nr 12) or 13 (Nr 14) remain before the last. */
    if (r < nr)
        full_round(q, rk + 8 * r++, 1);
    if (r < nr)
        full_round(q, rk + 8 * r++, 2);
    if (r < nr)
        full_round(q, rk + 8 * r++, 3);
    sub_bytes(q);
    add_round_key(q, rk + 8 * nr);
    if (nr % 4 == 2) {
        /* Lag 2: rows 1 and 3 are two columns (one byte) off. */
        for (int i = 0; i < 8; i++)
            q[i] = (q[i] & 0x0000FFFF0000FFFFu) | (rot_cols(q[i], 2) & 0xFFFF0000FFFF0000u);
    }
}

/* ---- Key schedule --------------------------------------------------- */

/* SubWord (5.2) through the bitsliced circuit: byte b goes to bit b of each
 * word, so no byte value is ever used as an index. */
static void sub_word(uint8_t w[4])
{
    vl_w q[8];

    for (int i = 0; i < 8; i++) {
        uint64_t v = 0;
        for (int b = 0; b < 4; b++)
            v |= (uint64_t)((w[b] >> i) & 1) << b;
        q[i] = w_bcast(v);
    }
    sub_bytes(q);
    for (int b = 0; b < 4; b++) {
        unsigned v = 0;
        for (int i = 0; i < 8; i++)
            v |= (unsigned)((w_lane0(q[i]) >> b) & 1) << i;
        w[b] = (uint8_t)(v ^ 0x63);
    }
    vl_memzero(q, sizeof q);
}

/* Stores round key |rk| (16 bytes, FIPS byte order) in bitsliced form for a
 * state lagging |lag| ShiftRows: physical column c of row r holds logical
 * column c - lag * r. |fold| adds the 0x63 left out of sub_bytes(). */
static void slice_round_key(uint64_t out[8], const uint8_t rk[16], unsigned lag, int fold)
{
    uint8_t buf[PASS_BYTES];
    vl_w q[8];

    for (unsigned c = 0; c < 4; c++) {
        for (unsigned r = 0; r < 4; r++) {
            uint8_t b = rk[4 * ((c - lag * r) & 3) + r];
            buf[4 * c + r] = fold ? (uint8_t)(b ^ 0x63) : b;
        }
    }
    for (int j = 1; j < PASS_BLOCKS; j++)
        memcpy(buf + 16 * j, buf, 16);
    load_state(q, buf);
    for (int i = 0; i < 8; i++)
        out[i] = w_lane0(q[i]);
    vl_memzero(buf, sizeof buf);
    vl_memzero(q, sizeof q);
}

int vl_aes_ct_init(vl_aes_ct *k, const uint8_t *key, size_t key_len)
{
    uint8_t w[16 * 15]; /* KeyExpansion words w[0..4(Nr+1)), 5.2 */
    uint8_t t[4];
    uint8_t rcon = 1;
    unsigned nk, nr;

    if (key_len != 16 && key_len != 24 && key_len != 32)
        return -1;
    nk = (unsigned)key_len / 4;
    nr = nk + 6;
    memcpy(w, key, key_len);
    for (unsigned i = nk; i < 4 * (nr + 1); i++) {
        memcpy(t, w + 4 * (i - 1), 4);
        if (i % nk == 0) {
            uint8_t t0 = t[0]; /* RotWord */
            t[0] = t[1];
            t[1] = t[2];
            t[2] = t[3];
            t[3] = t0;
            sub_word(t);
            t[0] ^= rcon;
            rcon = (uint8_t)((rcon << 1) ^ (0x1b * (rcon >> 7)));
        } else if (nk > 6 && i % nk == 4) {
            sub_word(t);
        }
        for (int b = 0; b < 4; b++)
            w[4 * i + b] = w[4 * (i - nk) + b] ^ t[b];
    }
    for (unsigned r = 0; r <= nr; r++)
        slice_round_key(k->sk + 8 * r, w + 16 * r, r % 4, r != 0);
    k->rounds = nr;
    vl_memzero(w, sizeof w);
    vl_memzero(t, sizeof t);
    return 0;
}

/* ---- Modes ---------------------------------------------------------- */

void vl_aes_ct_encrypt(const vl_aes_ct *k, uint8_t *out, const uint8_t *in, size_t nblocks)
{
    vl_w q[8];

    for (; nblocks >= PASS_BLOCKS; nblocks -= PASS_BLOCKS) {
        load_state(q, in);
        encrypt_state(k, q);
        store_state(out, q);
        in += PASS_BYTES;
        out += PASS_BYTES;
    }
    if (nblocks > 0) {
        uint8_t buf[PASS_BYTES] = {0};

        memcpy(buf, in, 16 * nblocks);
        load_state(q, buf);
        encrypt_state(k, q);
        store_state(buf, q);
        memcpy(out, buf, 16 * nblocks);
        vl_memzero(buf, sizeof buf);
    }
    vl_memzero(q, sizeof q);
}

static void xor_bytes(uint8_t *out, const uint8_t *in, const uint8_t *ks, size_t n)
{
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t a, b;
        memcpy(&a, in + i, 8);
        memcpy(&b, ks + i, 8);
        a ^= b;
        memcpy(out + i, &a, 8);
    }
    for (; i < n; i++)
        out[i] = in[i] ^ ks[i];
}

/* Encrypts the counter blocks in |blk| in place and XORs the first |n|
 * bytes of the keystream into |in|. */
static void ctr_pass(const vl_aes_ct *k, uint8_t blk[PASS_BYTES], uint8_t *out,
                     const uint8_t *in, size_t n)
{
    vl_w q[8];

    load_state(q, blk);
    encrypt_state(k, q);
    store_state(blk, q);
    xor_bytes(out, in, blk, n);
    vl_memzero(q, sizeof q);
}

void vl_aes_ct_ctr32(const vl_aes_ct *k, uint8_t ctr[16], uint8_t *out, const uint8_t *in,
                     size_t len)
{
    uint8_t blk[PASS_BYTES] = {0};
    uint32_t c = vl_load_be32(ctr + 12);

    while (len > 0) {
        size_t n = len < PASS_BYTES ? len : PASS_BYTES;
        size_t nb = (n + 15) / 16;

        /* A fixed trip count: the counter may be secret (J0 = GHASH(IV)
         * for non-96-bit IVs), and a loop bounded by nb lets the compiler
         * turn the exit test into a compare on the counter value. */
        for (size_t j = 0; j < PASS_BLOCKS; j++) {
            memcpy(blk + 16 * j, ctr, 12);
            vl_store_be32(blk + 16 * j + 12, c + (uint32_t)j); /* inc32, SP 800-38D §6.2 */
        }
        c += (uint32_t)nb;
        ctr_pass(k, blk, out, in, n);
        in += n;
        out += n;
        len -= n;
    }
    vl_store_be32(ctr + 12, c);
    vl_memzero(blk, sizeof blk);
}

void vl_aes_ct_ctr128(const vl_aes_ct *k, const uint8_t iv[16], uint8_t *out, const uint8_t *in,
                      size_t len)
{
    uint8_t blk[PASS_BYTES] = {0};
    uint64_t hi = vl_load_be64(iv), lo = vl_load_be64(iv + 8);

    while (len > 0) {
        size_t n = len < PASS_BYTES ? len : PASS_BYTES;

        /* Fixed trip count, as in vl_aes_ct_ctr32: the counter is secret
         * (the SIV V). Blocks past n are computed and discarded, and only
         * the last pass can be short, so the counter needs no rewind. */
        for (size_t j = 0; j < PASS_BLOCKS; j++) {
            vl_store_be64(blk + 16 * j, hi);
            vl_store_be64(blk + 16 * j + 8, lo);
            lo++;
            hi += (uint64_t)(lo == 0); /* carry, no branch */
        }
        ctr_pass(k, blk, out, in, n);
        in += n;
        out += n;
        len -= n;
    }
    vl_memzero(blk, sizeof blk);
}
