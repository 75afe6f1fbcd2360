/* AES-128/256-GCM on the ARMv8 Crypto Extensions (AESE/AESMC, PMULL/PMULL2):
 * the "armv8-ce" path's struct vl_gcm_ops (core/impl.h). Call only after
 * vl_arm_has_ce() (cpu_arm.h). The key state is private to
 * gcm_armv8_ce.c. Not installed. */
#ifndef VL_ARCH_ARM_GCM_ARMV8_CE_H
#define VL_ARCH_ARM_GCM_ARMV8_CE_H

#include <stddef.h>
#include <stdint.h>

void vl_gcm_armv8_ce_init(void *st, const uint8_t *key, size_t key_len);
void vl_gcm_armv8_ce_seal(const void *st, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                          size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                          size_t ad_len);
void vl_gcm_armv8_ce_open(const void *st, uint8_t *out, uint8_t tag[16], const uint8_t *nonce,
                          size_t nonce_len, const uint8_t *in, size_t len, const uint8_t *ad,
                          size_t ad_len);

#endif /* VL_ARCH_ARM_GCM_ARMV8_CE_H */
