/* SHA-256 (FIPS 180-4), HMAC-SHA256 (RFC 2104) and HKDF-SHA256 (RFC 5869),
 * for the local KMS's key derivation. Constant-time in the key. */
#ifndef VL_CORE_SHA256_H
#define VL_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define VL_SHA256_BYTES 32

typedef struct vl_sha256_ctx {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t buf_len;
} vl_sha256_ctx;

void vl_sha256_init(vl_sha256_ctx *c);
void vl_sha256_update(vl_sha256_ctx *c, const void *data, size_t len);
void vl_sha256_final(vl_sha256_ctx *c, uint8_t out[VL_SHA256_BYTES]); /* wipes c */
void vl_sha256(uint8_t out[VL_SHA256_BYTES], const void *data, size_t len);

void vl_hmac_sha256(uint8_t out[VL_SHA256_BYTES], const uint8_t *key, size_t key_len,
                    const uint8_t *msg, size_t msg_len);

/* RFC 5869 extract-then-expand; an absent or empty salt is HashLen zeros.
 * out_len <= 255 * 32. Returns VL_OK or VL_ERR_ARG. */
int vl_hkdf_sha256(uint8_t *out, size_t out_len, const uint8_t *ikm, size_t ikm_len,
                   const uint8_t *salt, size_t salt_len, const uint8_t *info, size_t info_len);

#endif /* VL_CORE_SHA256_H */
