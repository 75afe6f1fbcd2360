/* AArch64 feature probe. The kernel reports the ARMv8 Crypto Extensions in
 * AT_HWCAP (Documentation/arch/arm64/elf_hwcaps.rst): HWCAP_AES for
 * AESE/AESD/AESMC/AESIMC and HWCAP_PMULL for PMULL/PMULL2 on 64-bit lanes
 * (ID_AA64ISAR0_EL1.AES = 0b0010). A build whose baseline already has both
 * (-march=armv8-a+crypto for everything) needs no probe. Built without ISA
 * flags: this file executes no crypto instruction. */
#include <stdatomic.h>

#include "cpu_arm.h"

#if defined(__ARM_FEATURE_CRYPTO) || (defined(__ARM_FEATURE_AES) && defined(__ARM_FEATURE_PMULL))
#define VL_ARM_CE_BASELINE 1
#else
#define VL_ARM_CE_BASELINE 0
#include <sys/auxv.h>
#ifndef HWCAP_AES
#define HWCAP_AES (1UL << 3)
#endif
#ifndef HWCAP_PMULL
#define HWCAP_PMULL (1UL << 4)
#endif
#endif

enum {
    F_CE = 1 << 0,
    F_PROBED = 1 << 30,
};

static int probe(void)
{
#if VL_ARM_CE_BASELINE
    return F_PROBED | F_CE;
#else
    const unsigned long want = HWCAP_AES | HWCAP_PMULL;
    return F_PROBED | ((getauxval(AT_HWCAP) & want) == want ? F_CE : 0);
#endif
}

/* The probe is pure, so a race only computes the same value twice. */
static atomic_int features;

int vl_arm_has_ce(void)
{
    int f = atomic_load_explicit(&features, memory_order_relaxed);
    if (!f) {
        f = probe();
        atomic_store_explicit(&features, f, memory_order_relaxed);
    }
    /* The lane layouts of arch/aarch64 assume little-endian (the default
     * AArch64 ABI); a big-endian build keeps to the portable path. */
#if defined(__AARCH64EB__)
    return 0;
#else
    return (f & F_CE) != 0;
#endif
}
