/* Portable constant-time AES-SIV (RFC 5297) for the portable path's
 * struct vl_siv_ops (core/impl.h): S2V over AES-CMAC (core/cmac_ct.h) and
 * CTR over the bitsliced AES (core/aes_ct.h). Not installed. */
#ifndef VL_CORE_SIV_CT_H
#define VL_CORE_SIV_CT_H

#include <stddef.h>
#include <stdint.h>

#include "aes_ct.h"
#include "cmac_ct.h"
#include "vellum/aead.h"

/* Key state, all of it secret. Besides the two expanded keys it holds what
 * S2V computes from K1 alone (RFC 5297 §2.4), so no message pays for it:
 * D0, CMAC of an empty string, and D after one empty AD component, the state
 * every single-AD seal with empty AD (field encryption) starts from. */
typedef struct vl_siv_ct {
    vl_cmac_ct mac; /* K1: S2V */
    vl_aes_ct ctr;  /* K2: CTR */
    _Alignas(16) uint8_t d0[16];        /* CMAC(K1, <zero>) */
    _Alignas(16) uint8_t mac_empty[16]; /* CMAC(K1, <empty>) */
    _Alignas(16) uint8_t d_empty[16];   /* dbl(d0) ^ mac_empty */
} vl_siv_ct;

/* vl_siv_ct_init_key sets up |s| from K1 || K2, two AES keys of the same size:
 * |key_len| 32, 48 or 64 (AES-SIV-CMAC-256/-384/-512). Returns 0, or -1 with
 * |s| zeroed for any other length. The AEAD uses only 64 (vl_siv_ct_init);
 * the others serve RFC 5297 Appendix A and the Wycheproof groups in tests. */
int vl_siv_ct_init_key(vl_siv_ct *s, const uint8_t *key, size_t key_len);

/* The struct vl_siv_ops functions; |st| is a vl_siv_ct. See core/impl.h. */
void vl_siv_ct_init(void *st, const uint8_t key[64]);
void vl_siv_ct_s2v(const void *st, uint8_t v[16], const vl_slice *ad, size_t ad_count,
                   const uint8_t *nonce, size_t nonce_len, const uint8_t *pt, size_t len);
void vl_siv_ct_ctr(const void *st, const uint8_t v[16], uint8_t *out, const uint8_t *in,
                   size_t len);

#endif /* VL_CORE_SIV_CT_H */
