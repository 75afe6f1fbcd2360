/* Portable constant-time AES (bitsliced): no secret-dependent branch or
 * memory index. Used by the portable path and as the reference the fast
 * paths are checked against. FIPS 197. */
#ifndef VL_CORE_AES_CT_H
#define VL_CORE_AES_CT_H

#include <stddef.h>
#include <stdint.h>

/* Expanded key; layout private to core/aes_ct.c. At most 1024 bytes.
 * sk holds round keys 0..Nr, eight bitsliced words each. */
typedef struct vl_aes_ct {
    _Alignas(16) uint64_t sk[120];
    unsigned rounds;
} vl_aes_ct;

/* key_len 16, 24 or 32 (24 only serves the CMAC vectors). Returns 0, or -1
 * for any other length. */
int vl_aes_ct_init(vl_aes_ct *k, const uint8_t *key, size_t key_len);

/* ECB over |nblocks| 16-byte blocks; out == in allowed. */
void vl_aes_ct_encrypt(const vl_aes_ct *k, uint8_t *out, const uint8_t *in, size_t nblocks);

/* GCM counter mode (SP 800-38D §6.5): keystream blocks E(ctr), E(inc32(ctr))...
 * XORed into |in|, any |len| (a partial last block uses one counter).
 * On return |ctr| holds the next unused counter block. out == in allowed. */
void vl_aes_ct_ctr32(const vl_aes_ct *k, uint8_t ctr[16], uint8_t *out, const uint8_t *in,
                     size_t len);

/* Counter mode with a 128-bit big-endian increment (RFC 5297 §2.5 CTR).
 * |iv| is the first counter block. out == in allowed. */
void vl_aes_ct_ctr128(const vl_aes_ct *k, const uint8_t iv[16], uint8_t *out, const uint8_t *in,
                      size_t len);

#endif /* VL_CORE_AES_CT_H */
