/* AES-128/256-GCM on VAES + VPCLMULQDQ with 256-bit registers: the
 * "vaes-avx2" path's struct vl_gcm_ops (core/impl.h). Call only after
 * vl_x86_has_vaes_avx2() (cpu_x86.h). Not installed. */
#ifndef VL_ARCH_X86_GCM_VAES_AVX2_H
#define VL_ARCH_X86_GCM_VAES_AVX2_H

#include <stddef.h>
#include <stdint.h>
#include <immintrin.h>

/* Blocks multiplied by H^n..H^1 before one reduction: the 16 of a 256-byte
 * chunk, or a tail of up to 16 blocks plus the length block. */
#define VL_GCM_AVX2_POWERS 17

/* Key state, all of it secret; lives in the key's impl state (64-byte
 * aligned). Powers of H are byte-reflected and premultiplied by x
 * (gcm_vaes_avx2.c), stored highest first so that two adjacent entries load
 * as one register: hpow[i] = H^(17-i), hpow[17] = 0 (padding for a
 * register whose second block is empty). hkar[i] holds the xor of the two
 * 64-bit halves of hpow[i] in both halves (Karatsuba's middle factor). */
typedef struct vl_gcm_vaes_avx2 {
    __m256i rk[15];    /* AES round keys, each in both 128-bit lanes */
    uint32_t rounds;   /* 10 or 14 */
    uint32_t pad[3];   /* puts hpow[1] (H^16) on a 64-byte boundary */
    __m128i hpow[VL_GCM_AVX2_POWERS + 1];
    __m128i hkar[VL_GCM_AVX2_POWERS + 1];
} vl_gcm_vaes_avx2;

/* vl_gcm_ops.init: key_len is 16 or 32. */
void vl_gcm_vaes_avx2_init(void *st, const uint8_t *key, size_t key_len);
/* vl_gcm_ops.seal: out = C, tag = T (SP 800-38D §7.1). out == in allowed. */
void vl_gcm_vaes_avx2_seal(const void *st, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                           size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                           size_t ad_len);
/* vl_gcm_ops.open: out = P, tag = the tag of |in| (§7.2 without the
 * comparison, which the caller makes in constant time). out == in allowed. */
void vl_gcm_vaes_avx2_open(const void *st, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                           size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                           size_t ad_len);

#endif /* VL_ARCH_X86_GCM_VAES_AVX2_H */
