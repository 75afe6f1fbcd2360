/* Portable constant-time AES-GCM (SP 800-38D) for the portable path's
 * struct vl_gcm_ops (core/impl.h): CTR on the bitsliced AES of core/aes_ct.h
 * and GHASH on the masked multiplies of core/ghash_ct.h. Not installed. */
#ifndef VL_CORE_GCM_CT_H
#define VL_CORE_GCM_CT_H

#include <stddef.h>
#include <stdint.h>

#include "aes_ct.h"
#include "ghash_ct.h"

/* Key state, all of it secret: the expanded AES key and the GHASH
 * precomputation from H = E_K(0^128). */
typedef struct vl_gcm_ct {
    vl_aes_ct aes;
    vl_ghash_ct gh;
} vl_gcm_ct;

/* The struct vl_gcm_ops functions; |st| is a vl_gcm_ct. See core/impl.h. */
void vl_gcm_ct_init(void *st, const uint8_t *key, size_t key_len);
void vl_gcm_ct_seal(const void *st, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                    size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                    size_t ad_len);
void vl_gcm_ct_open(const void *st, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                    size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                    size_t ad_len);

#endif /* VL_CORE_GCM_CT_H */
