/* AArch64 CPU features, probed once (getauxval(AT_HWCAP)). Not installed. */
#ifndef VL_ARCH_ARM_CPU_H
#define VL_ARCH_ARM_CPU_H

/* 1 when the CPU (as the kernel reports it) has everything the armv8-ce
 * path executes: AESE/AESMC (HWCAP_AES) and PMULL/PMULL2 with 64-bit
 * elements (HWCAP_PMULL). */
int vl_arm_has_ce(void);

#endif /* VL_ARCH_ARM_CPU_H */
