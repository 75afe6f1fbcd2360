/* AES-128/256-GCM on VAES + VPCLMULQDQ with 512-bit registers: the
 * "vaes-avx512" path's struct vl_gcm_ops (core/impl.h). Callers must check
 * vl_x86_has_vaes_avx512() first. Not installed. */
#ifndef VL_ARCH_X86_GCM_VAES_AVX512_H
#define VL_ARCH_X86_GCM_VAES_AVX512_H

#include <stddef.h>
#include <stdint.h>
#include <immintrin.h>

/* Powers of H kept in the key: H^1..H^36. One stitched iteration hashes 32
 * blocks with H^32..H^1; a tail of up to 32 blocks, or a short message's
 * 16 AD and 16 data blocks, plus the length block needs up to H^33. */
#define VL_GCM_AVX512_POWERS 36

/* Key state, all of it secret. GHASH elements are byte-reflected (each
 * 16-byte block reversed, so x^0 is bit 127) and the powers are stored
 * multiplied by x^-1, which folds the reflection's one-bit shift into the
 * key. Each power table ends with four zero entries, so a 4-lane load
 * that starts on the last powers stays inside the table. */
typedef struct vl_gcm_vaes_avx512 {
    __m512i rk[15];                               /* round keys, in all 4 lanes */
    __m128i h_pow[VL_GCM_AVX512_POWERS + 4];      /* [i] = H^(36-i) * x^-1 */
    __m128i h_fold[VL_GCM_AVX512_POWERS + 4];     /* [i] = lo ^ hi of h_pow[i], twice */
    unsigned rounds;                              /* 10 or 14 */
} vl_gcm_vaes_avx512;

/* The struct vl_gcm_ops functions; |st| is a vl_gcm_vaes_avx512. See core/impl.h. */
void vl_gcm_vaes_avx512_init(void *st, const uint8_t *key, size_t key_len);
void vl_gcm_vaes_avx512_seal(const void *st, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                             size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                             size_t ad_len);
void vl_gcm_vaes_avx512_open(const void *st, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                             size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                             size_t ad_len);

#endif /* VL_ARCH_X86_GCM_VAES_AVX512_H */
