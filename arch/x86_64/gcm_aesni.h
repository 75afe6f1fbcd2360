/* AES-128/256-GCM on AES-NI and PCLMULQDQ with 128-bit registers (the
 * "aesni" path), for struct vl_gcm_ops (core/impl.h). Not installed. */
#ifndef VL_ARCH_X86_GCM_AESNI_H
#define VL_ARCH_X86_GCM_AESNI_H

#include <stddef.h>
#include <stdint.h>
#include <immintrin.h>

#include "aes_x86.h"

/* Powers of H kept for aggregated reduction: eight for the 8-block loop,
 * a ninth so a tail of eight blocks plus the length block share one
 * reduction. */
#define VL_GCM_AESNI_POWERS 9

/* Key state, all of it secret. h[i] is H^(i+1) in GHASH's byte-reversed
 * form, multiplied by x (see gcm_aesni.c); hk[i] is its high half xor its
 * low half, in both halves (the Karatsuba middle operand). */
typedef struct vl_gcm_aesni {
    vl_aes_x86 aes;
    __m128i h[VL_GCM_AESNI_POWERS];
    __m128i hk[VL_GCM_AESNI_POWERS];
} vl_gcm_aesni;

/* The struct vl_gcm_ops functions; |st| is a vl_gcm_aesni. See core/impl.h.
 * Call only when vl_x86_has_aesni() (arch/x86_64/cpu_x86.h). */
void vl_gcm_aesni_init(void *st, const uint8_t *key, size_t key_len);
void vl_gcm_aesni_seal(const void *st, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                       size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                       size_t ad_len);
void vl_gcm_aesni_open(const void *st, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                       size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                       size_t ad_len);

#endif /* VL_ARCH_X86_GCM_AESNI_H */
