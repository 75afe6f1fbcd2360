/* Portable constant-time AES-CMAC (NIST SP 800-38B; RFC 4493) on the
 * bitsliced AES of core/aes_ct.h. Serves S2V in core/siv_ct.c, which needs
 * the chain split in two: whole blocks (vl_cmac_ct_blocks), then the last
 * block with its subkey (vl_cmac_ct_final). Not installed. */
#ifndef VL_CORE_CMAC_CT_H
#define VL_CORE_CMAC_CT_H

#include <stddef.h>
#include <stdint.h>

#include "aes_ct.h"

/* Expanded key and the subkeys K1, K2 of SP 800-38B §6.1. Secret: wipe it
 * with vl_memzero when done. */
typedef struct vl_cmac_ct {
    vl_aes_ct aes;
    _Alignas(16) uint8_t k1[16];
    _Alignas(16) uint8_t k2[16];
} vl_cmac_ct;

/* vl_cmac_ct_init expands |key| (16, 24 or 32 bytes) and derives K1, K2.
 * Returns 0, or -1 for any other length, leaving |c| zeroed. */
int vl_cmac_ct_init(vl_cmac_ct *c, const uint8_t *key, size_t key_len);

/* vl_cmac_ct_mac sets |tag| to the full 128-bit CMAC of |msg| (any |len|,
 * including 0). |tag| may overlap |msg|. */
void vl_cmac_ct_mac(const vl_cmac_ct *c, uint8_t tag[16], const uint8_t *msg, size_t len);

/* The two halves of vl_cmac_ct_mac, for callers that build the message's
 * last block themselves (S2V's xorend and pad). Start with |x| = 0^128.
 *
 * vl_cmac_ct_blocks runs the CBC-MAC chain x = AES_K(x ^ M_i) over |nblocks|
 * whole blocks read in place from |in| (SP 800-38B §6.2 step 6, i < n). The
 * message's last block must not go through here, even when it is whole. */
void vl_cmac_ct_blocks(const vl_cmac_ct *c, uint8_t x[16], const uint8_t *in, size_t nblocks);

/* vl_cmac_ct_final absorbs the message's last block (|last_len| 1..16, or 0
 * for the empty message only) and leaves the tag in |x|: a whole block is
 * XORed with K1, a partial one padded 10* and XORed with K2 (§6.2 steps 3-4). */
void vl_cmac_ct_final(const vl_cmac_ct *c, uint8_t x[16], const uint8_t *last, size_t last_len);

/* vl_cmac_ct_head returns how many leading bytes of a |len|-byte message go
 * through vl_cmac_ct_blocks: a multiple of 16 leaving 1..16 bytes (0 when
 * len == 0) for vl_cmac_ct_final. */
static inline size_t vl_cmac_ct_head(size_t len)
{
    return len == 0 ? 0 : (len - 1) & ~(size_t)15;
}

/* vl_cmac_ct_dbl sets out = in * x in GF(2^128) with the polynomial
 * x^128 + x^7 + x^2 + x + 1 (SP 800-38B §6.1; RFC 5297 §2.3 "dbl"), without
 * a branch on the top bit. |out| may equal |in|. */
void vl_cmac_ct_dbl(uint8_t out[16], const uint8_t in[16]);

#endif /* VL_CORE_CMAC_CT_H */
