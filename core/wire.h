/* Confluent CSFLE field bytes (csfle-spec.md §4): the optional 5-byte DEK
 * version prefix, then the AEAD body (GCM: IV || C || T; SIV: V || C). */
#ifndef VL_CORE_WIRE_H
#define VL_CORE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "vellum/aead.h"

#define VL_GCM_NONCE_BYTES 12

/* Writes 0x00 || be32(version) (MAGIC_BYTE_V0, signed int32 big-endian). */
void vl_wire_put_version(uint8_t out[5], int32_t version);
/* Splits untrusted field bytes. versioned = 0: version 1, body = all.
 * VL_ERR_FORMAT for a missing/bad magic byte, version < 1, or a body
 * shorter than the algorithm's minimum (GCM 28 bytes, SIV 16). */
int vl_wire_field_split(vl_alg alg, int versioned, const uint8_t *in, size_t in_len,
                        int32_t *version, const uint8_t **body, size_t *body_len);

#endif /* VL_CORE_WIRE_H */
