/* AES-256-SIV (RFC 5297) on the ARMv8 Crypto Extensions: the "armv8-ce"
 * path's struct vl_siv_ops (core/impl.h). Call only after vl_arm_has_ce()
 * (cpu_arm.h). The key state is in armv8_ce.h. Not installed. */
#ifndef VL_ARCH_ARM_SIV_ARMV8_CE_H
#define VL_ARCH_ARM_SIV_ARMV8_CE_H

#include <stddef.h>
#include <stdint.h>

#include "impl.h"

void vl_siv_armv8_ce_init(void *st, const uint8_t key[64]);
void vl_siv_armv8_ce_s2v(const void *st, uint8_t v[16], const vl_slice *ad, size_t ad_count,
                         const uint8_t *nonce, size_t nonce_len, const uint8_t *pt, size_t len);
void vl_siv_armv8_ce_ctr(const void *st, const uint8_t v[16], uint8_t *out, const uint8_t *in,
                         size_t len);
void vl_siv_armv8_ce_s2v_batch(const void *st, uint8_t (*v)[16], const struct vl_s2v_job *jobs,
                               size_t n);

#endif /* VL_ARCH_ARM_SIV_ARMV8_CE_H */
