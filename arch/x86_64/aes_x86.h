/* AES-NI key expansion shared by every x86-64 path (FIPS 197 §5.2).
 * Users are built with at least the aesni ISA flags (Makefile). */
#ifndef VL_ARCH_X86_AES_H
#define VL_ARCH_X86_AES_H

#include <stddef.h>
#include <stdint.h>
#include <immintrin.h>

/* Round keys for AES-128 (11) or AES-256 (15); rounds = 10 or 14. */
typedef struct vl_aes_x86 {
    __m128i rk[15];
    unsigned rounds;
} vl_aes_x86;

/* key_len 16 or 32. */
void vl_aes_x86_expand(vl_aes_x86 *k, const uint8_t *key, size_t key_len);

#endif /* VL_ARCH_X86_AES_H */
