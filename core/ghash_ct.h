/* Portable constant-time GHASH (SP 800-38D §6.4): carry-less multiplication
 * with integer multiplies on masked operands, no table indexed by a secret. */
#ifndef VL_CORE_GHASH_CT_H
#define VL_CORE_GHASH_CT_H

#include <stddef.h>
#include <stdint.h>

/* Precomputed from H: the masked parts of H..H^4 and of their bit
 * reversals (layout private to core/ghash_ct.c). Secret. At most 512 bytes. */
typedef struct vl_ghash_ct {
    uint64_t h[64];
} vl_ghash_ct;

void vl_ghash_ct_init(vl_ghash_ct *g, const uint8_t h[16]);

/* Y = (Y xor X_i) * H over the blocks of |data|; a partial last block is
 * zero-padded (how GCM hashes A and C). */
void vl_ghash_ct_update(const vl_ghash_ct *g, uint8_t y[16], const uint8_t *data, size_t len);

#endif /* VL_CORE_GHASH_CT_H */
