/* SHA-256 (FIPS 180-4 §6.2), HMAC-SHA256 (RFC 2104) and HKDF-SHA256
 * (RFC 5869), for the local KMS's KEK derivation (csfle-spec.md §2).
 *
 * Nothing here branches on or indexes memory by data: the only table, K,
 * is indexed by the round number, and every branch depends on lengths.
 * Intermediate key material (HMAC pads, PRK, T(i)) is wiped before return. */
#include "sha256.h"

#include "internal.h"

#include "vellum/error.h"

/* FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube
 * roots of the first 64 primes. */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

/* FIPS 180-4 §5.3.3: the initial hash value. */
static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

#define HMAC_BLOCK 64

static inline uint32_t rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

/* FIPS 180-4 §4.1.2, functions (4.2)-(4.7). */
static inline uint32_t ch(uint32_t x, uint32_t y, uint32_t z)
{
    return (x & y) ^ (~x & z);
}

static inline uint32_t maj(uint32_t x, uint32_t y, uint32_t z)
{
    return (x & y) ^ (x & z) ^ (y & z);
}

static inline uint32_t bsig0(uint32_t x)
{
    return rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22);
}

static inline uint32_t bsig1(uint32_t x)
{
    return rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25);
}

static inline uint32_t ssig0(uint32_t x)
{
    return rotr(x, 7) ^ rotr(x, 18) ^ (x >> 3);
}

static inline uint32_t ssig1(uint32_t x)
{
    return rotr(x, 17) ^ rotr(x, 19) ^ (x >> 10);
}

/* FIPS 180-4 §6.2.2: one 512-bit block. The schedule is kept as a 16-word
 * ring, W[t] = W[t mod 16]. */
static void compress(uint32_t h[8], const uint8_t block[64])
{
    uint32_t w[16], s[8];
    for (int t = 0; t < 16; t++)
        w[t] = vl_load_be32(block + 4 * t);
    memcpy(s, h, sizeof s);
    for (int t = 0; t < 64; t++) {
        if (t >= 16)
            w[t & 15] += ssig1(w[(t - 2) & 15]) + w[(t - 7) & 15] + ssig0(w[(t - 15) & 15]);
        uint32_t t1 = s[7] + bsig1(s[4]) + ch(s[4], s[5], s[6]) + K[t] + w[t & 15];
        uint32_t t2 = bsig0(s[0]) + maj(s[0], s[1], s[2]);
        s[7] = s[6];
        s[6] = s[5];
        s[5] = s[4];
        s[4] = s[3] + t1;
        s[3] = s[2];
        s[2] = s[1];
        s[1] = s[0];
        s[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++)
        h[i] += s[i];
    vl_memzero(w, sizeof w);
    vl_memzero(s, sizeof s);
}

void vl_sha256_init(vl_sha256_ctx *c)
{
    for (int i = 0; i < 8; i++)
        c->h[i] = H0[i];
    c->len = 0;
    c->buf_len = 0;
    memset(c->buf, 0, sizeof c->buf);
}

/* c->len counts bytes; the length field of §5.1.1 is 8 * len mod 2^64. */
void vl_sha256_update(vl_sha256_ctx *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (len == 0)
        return;
    c->len += len;
    if (c->buf_len > 0) {
        size_t take = 64 - c->buf_len < len ? 64 - c->buf_len : len;
        memcpy(c->buf + c->buf_len, p, take);
        c->buf_len += take;
        p += take;
        len -= take;
        if (c->buf_len < 64)
            return;
        compress(c->h, c->buf);
        c->buf_len = 0;
    }
    for (; len >= 64; p += 64, len -= 64)
        compress(c->h, p);
    if (len > 0)
        memcpy(c->buf, p, len);
    c->buf_len = len;
}

/* FIPS 180-4 §5.1.1 padding: 0x80, zeros to 56 mod 64, then the message
 * length in bits as a 64-bit big-endian integer. */
void vl_sha256_final(vl_sha256_ctx *c, uint8_t out[VL_SHA256_BYTES])
{
    uint64_t bits = c->len << 3;
    size_t n = c->buf_len;
    c->buf[n++] = 0x80;
    if (n > 56) {
        memset(c->buf + n, 0, 64 - n);
        compress(c->h, c->buf);
        n = 0;
    }
    memset(c->buf + n, 0, 56 - n);
    vl_store_be64(c->buf + 56, bits);
    compress(c->h, c->buf);
    for (int i = 0; i < 8; i++)
        vl_store_be32(out + 4 * i, c->h[i]);
    vl_memzero(c, sizeof *c);
}

void vl_sha256(uint8_t out[VL_SHA256_BYTES], const void *data, size_t len)
{
    vl_sha256_ctx c;
    vl_sha256_init(&c);
    vl_sha256_update(&c, data, len);
    vl_sha256_final(&c, out);
}

/* RFC 2104 §2: K0 is the key zero-padded to B = 64 bytes, or H(key) padded
 * when the key is longer than B. The pad XOR runs over all 64 bytes, so
 * the key's length is the only thing that shapes the control flow. */
static void hmac_start(vl_sha256_ctx *c, const uint8_t k0[HMAC_BLOCK], uint8_t pad)
{
    uint8_t block[HMAC_BLOCK];
    for (int i = 0; i < HMAC_BLOCK; i++)
        block[i] = (uint8_t)(k0[i] ^ pad);
    vl_sha256_init(c);
    vl_sha256_update(c, block, sizeof block);
    vl_memzero(block, sizeof block);
}

static void hmac_key(uint8_t k0[HMAC_BLOCK], const uint8_t *key, size_t key_len)
{
    memset(k0, 0, HMAC_BLOCK);
    if (key_len > HMAC_BLOCK)
        vl_sha256(k0, key, key_len);
    else if (key_len > 0)
        memcpy(k0, key, key_len);
}

/* HMAC over the concatenation of up to three message parts, so HKDF's
 * T(i) = HMAC(PRK, T(i-1) || info || i) needs no scratch copy. */
static void hmac3(uint8_t out[VL_SHA256_BYTES], const uint8_t *key, size_t key_len,
                  const uint8_t *m1, size_t l1, const uint8_t *m2, size_t l2,
                  const uint8_t *m3, size_t l3)
{
    uint8_t k0[HMAC_BLOCK], inner[VL_SHA256_BYTES];
    vl_sha256_ctx c;
    hmac_key(k0, key, key_len);
    hmac_start(&c, k0, 0x36); /* ipad */
    vl_sha256_update(&c, m1, l1);
    vl_sha256_update(&c, m2, l2);
    vl_sha256_update(&c, m3, l3);
    vl_sha256_final(&c, inner);
    hmac_start(&c, k0, 0x5c); /* opad */
    vl_sha256_update(&c, inner, sizeof inner);
    vl_sha256_final(&c, out);
    vl_memzero(k0, sizeof k0);
    vl_memzero(inner, sizeof inner);
}

void vl_hmac_sha256(uint8_t out[VL_SHA256_BYTES], const uint8_t *key, size_t key_len,
                    const uint8_t *msg, size_t msg_len)
{
    hmac3(out, key, key_len, msg, msg_len, NULL, 0, NULL, 0);
}

/* RFC 5869 §2.3: T(0) = empty, T(i) = HMAC(PRK, T(i-1) || info || i),
 * OKM = the first L bytes of T(1) || T(2) || ... */
static void hkdf_expand(uint8_t *out, size_t out_len, const uint8_t prk[VL_SHA256_BYTES],
                        const uint8_t *info, size_t info_len)
{
    uint8_t t[VL_SHA256_BYTES];
    size_t t_len = 0;
    for (uint8_t i = 1; out_len > 0; i++) {
        hmac3(t, prk, VL_SHA256_BYTES, t, t_len, info, info_len, &i, 1);
        t_len = VL_SHA256_BYTES;
        size_t take = out_len < t_len ? out_len : t_len;
        memcpy(out, t, take);
        out += take;
        out_len -= take;
    }
    vl_memzero(t, sizeof t);
}

int vl_hkdf_sha256(uint8_t *out, size_t out_len, const uint8_t *ikm, size_t ikm_len,
                   const uint8_t *salt, size_t salt_len, const uint8_t *info, size_t info_len)
{
    static const uint8_t zero_salt[VL_SHA256_BYTES];
    uint8_t prk[VL_SHA256_BYTES];
    if ((out == NULL && out_len != 0) || (ikm == NULL && ikm_len != 0) ||
        (salt == NULL && salt_len != 0) || (info == NULL && info_len != 0) ||
        out_len > 255 * VL_SHA256_BYTES)
        return VL_ERR_ARG;
    /* §2.2: "if not provided, [salt] is set to a string of HashLen zeros". */
    if (salt == NULL || salt_len == 0) {
        salt = zero_salt;
        salt_len = sizeof zero_salt;
    }
    hmac3(prk, salt, salt_len, ikm, ikm_len, NULL, 0, NULL, 0); /* §2.2 extract */
    hkdf_expand(out, out_len, prk, info, info_len);
    vl_memzero(prk, sizeof prk);
    return VL_OK;
}
