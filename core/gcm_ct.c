/* Portable constant-time AES-GCM, SP 800-38D §7.1 (seal) and §7.2 (open,
 * minus the tag comparison, which the front end does in constant time).
 *
 * - H = E_K(0^128) is turned into the GHASH precomputation at init and
 *   then wiped; nothing per message depends on the key alone.
 * - E_K(J0), needed for the tag, comes out of the same CTR call as the
 *   first seven keystream blocks. The bitsliced AES encrypts eight blocks
 *   per pass (four in its one-lane build), so a message of up to 112 bytes
 *   (48 there) costs one pass, not two, and a longer one no more passes
 *   than its keystream alone needs.
 * - The rest runs in CHUNK-byte pieces, CTR then GHASH on seal and GHASH then
 *   CTR on open, so GHASH reads data that is still in L1 and in-place open
 *   hashes each ciphertext block before it is overwritten.
 * Branches depend on lengths only, which are public. For an IV other than
 * 96 bits, J0 = GHASH_H(IV ...) is as secret as H, so the counter blocks
 * are secret too (vl_aes_ct_ctr32 must not branch on them). Stack copies of
 * J0, E_K(J0), keystream and the GHASH state are wiped before returning. */
#include "gcm_ct.h"

#include <string.h>

#include "impl.h"
#include "internal.h"

_Static_assert(sizeof(vl_gcm_ct) <= VL_IMPL_STATE_BYTES, "vl_gcm_ct must fit the impl state");
_Static_assert(_Alignof(vl_gcm_ct) <= 64, "the impl state is only 64-byte aligned");

/* Bytes of data per CTR/GHASH step: whole AES passes (128 bytes) and whole
 * four-block GHASH groups, small enough to stay in L1 between the two
 * (512 to 16384 measure the same at 16 KiB). */
#define CHUNK 1024
/* Keystream bytes produced together with E_K(J0): seven blocks, so the
 * first call fills one eight-block AES pass (or two four-block ones). */
#define HEAD 112

void vl_gcm_ct_init(void *st, const uint8_t *key, size_t key_len)
{
    vl_gcm_ct *s = st;
    _Alignas(16) uint8_t h[16] = {0};

    /* key_len is 16 or 32 (core/impl.h), which vl_aes_ct_init accepts. */
    (void)vl_aes_ct_init(&s->aes, key, key_len);
    /* §7.1 step 1: H = CIPH_K(0^128). */
    vl_aes_ct_encrypt(&s->aes, h, h, 1);
    vl_ghash_ct_init(&s->gh, h);
    vl_memzero(h, sizeof h);
}

/* GHASH over the block [a]64 || [b]64 (big-endian bit counts). */
static void ghash_lengths(const vl_gcm_ct *s, uint8_t y[16], uint64_t a_bytes, uint64_t b_bytes)
{
    uint8_t blk[16];

    vl_store_be64(blk, a_bytes * 8);
    vl_store_be64(blk + 8, b_bytes * 8);
    vl_ghash_ct_update(&s->gh, y, blk, 16);
}

/* §7.1 step 2: the pre-counter block J0. */
static void derive_j0(const vl_gcm_ct *s, uint8_t j0[16], const uint8_t *iv, size_t iv_len)
{
    if (iv_len == 12) {
        /* J0 = IV || 0^31 || 1. */
        memcpy(j0, iv, 12);
        vl_store_be32(j0 + 12, 1);
        return;
    }
    /* J0 = GHASH_H(IV || 0^(s+64) || [len(IV)]64). */
    memset(j0, 0, 16);
    vl_ghash_ct_update(&s->gh, j0, iv, iv_len);
    ghash_lengths(s, j0, 0, iv_len);
}

static void xor_bytes(uint8_t *out, const uint8_t *in, const uint8_t *ks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(in[i] ^ ks[i]);
}

/* §7.1 steps 2-6 (and §7.2 steps 3-8 when |decrypt|): out = GCTR(inc32(J0), in),
 * tag = E_K(J0) xor GHASH(A pad || C pad || [len(A)]64 || [len(C)]64), where
 * C is |out| on seal and |in| on open. */
static void gcm_crypt(const vl_gcm_ct *s, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                      size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                      size_t ad_len, int decrypt)
{
    static const uint8_t zero[16 + HEAD];
    /* ks = E_K(J0) || the first keystream blocks; ctr = next counter. */
    _Alignas(16) uint8_t ks[16 + HEAD];
    _Alignas(16) uint8_t ctr[16];
    _Alignas(16) uint8_t y[16] = {0};
    size_t head = len < HEAD ? len : HEAD;

    derive_j0(s, ctr, nonce, nonce_len);
    vl_aes_ct_ctr32(&s->aes, ctr, ks, zero, 16 + head);

    vl_ghash_ct_update(&s->gh, y, ad, ad_len);

    /* The first |head| bytes, from the keystream already in hand. A short
     * head is the whole message, so only the last GHASH call sees a
     * partial block. */
    if (head > 0) {
        if (decrypt)
            vl_ghash_ct_update(&s->gh, y, in, head);
        xor_bytes(out, in, ks + 16, head);
        if (!decrypt)
            vl_ghash_ct_update(&s->gh, y, out, head);
    }
    for (size_t off = head; off < len; off += CHUNK) {
        size_t n = len - off < CHUNK ? len - off : CHUNK;

        if (decrypt)
            vl_ghash_ct_update(&s->gh, y, in + off, n);
        vl_aes_ct_ctr32(&s->aes, ctr, out + off, in + off, n);
        if (!decrypt)
            vl_ghash_ct_update(&s->gh, y, out + off, n);
    }

    /* §7.1 steps 5-6: S = GHASH(... || [len(A)]64 || [len(C)]64),
     * T = MSB_128(GCTR(J0, S)) = E_K(J0) xor S. */
    ghash_lengths(s, y, ad_len, len);
    for (int i = 0; i < 16; i++)
        tag[i] = (uint8_t)(ks[i] ^ y[i]);

    vl_memzero(ks, sizeof ks);
    vl_memzero(ctr, sizeof ctr);
    vl_memzero(y, sizeof y);
}

void vl_gcm_ct_seal(const void *st, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                    size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                    size_t ad_len)
{
    gcm_crypt(st, out, tag, nonce, nonce_len, in, len, ad, ad_len, 0);
}

void vl_gcm_ct_open(const void *st, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                    size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                    size_t ad_len)
{
    gcm_crypt(st, out, tag, nonce, nonce_len, in, len, ad, ad_len, 1);
}
