/* The DEK material Confluent's clients wrap: a serialized Tink key proto
 * (csfle-spec.md §3). AesGcmKey {uint32 version = 1; bytes key_value = 3;}
 * for AES-GCM, AesSivKey {uint32 version = 1; bytes key_value = 2;} for
 * AES-SIV; version 0 is omitted on the wire. */
#ifndef VL_CORE_TINK_KEY_H
#define VL_CORE_TINK_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "vellum/aead.h"

/* Largest encoding (AES-256-SIV: 2 + 64 bytes). */
#define VL_TINK_KEY_MAX 80

/* Encodes |key| for |alg| (16, 32 or 64 bytes as vl_aead_init wants). */
int vl_tink_key_encode(vl_alg alg, const uint8_t *key, size_t key_len, uint8_t *out,
                       size_t out_cap, size_t *out_len);
/* Decodes untrusted proto bytes: tag, varint and length checked, unknown
 * fields skipped, version must be 0, key length must fit |alg|.
 * VL_ERR_FORMAT otherwise; |key| is zeroed on failure. */
int vl_tink_key_decode(vl_alg alg, const uint8_t *in, size_t in_len, uint8_t *key,
                       size_t key_cap, size_t *key_len);

#endif /* VL_CORE_TINK_KEY_H */
