/* x86-64 feature probe. Every bit a path executes is required, and the
 * register state must be enabled by the OS (XCR0), since CPUID alone can
 * report AVX-512 on a system that does not save ZMM state, and qemu
 * reports VAES without AVX-512 (Intel SDM Vol. 1 §13.3, §15.2). */
#include <cpuid.h>
#include <stdatomic.h>
#include <stdint.h>

#include "cpu_x86.h"

enum {
    F_AESNI = 1 << 0,
    F_VAES_AVX2 = 1 << 1,
    F_VAES_AVX512 = 1 << 2,
    F_PROBED = 1 << 30,
};

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static int probe(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return F_PROBED;
    int ssse3 = (c >> 9) & 1, sse41 = (c >> 19) & 1, pclmul = (c >> 1) & 1;
    int aes = (c >> 25) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    int flags = F_PROBED;
    if (aes && pclmul && ssse3 && sse41)
        flags |= F_AESNI;
    if (!(flags & F_AESNI) || !osxsave || !avx || __get_cpuid_max(0, 0) < 7)
        return flags;
    uint64_t xcr0 = xgetbv0();
    int ymm_ok = (xcr0 & 0x6) == 0x6;       /* SSE + AVX state */
    int zmm_ok = (xcr0 & 0xe6) == 0xe6;     /* + opmask, ZMM_Hi256, Hi16_ZMM */
    __cpuid_count(7, 0, a, b, c, d);
    int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1, avx512bw = (b >> 30) & 1;
    int avx512vl = (b >> 31) & 1, vaes = (c >> 9) & 1, vpclmul = (c >> 10) & 1;
    if (ymm_ok && avx2 && vaes && vpclmul)
        flags |= F_VAES_AVX2;
    if ((flags & F_VAES_AVX2) && zmm_ok && avx512f && avx512bw && avx512vl)
        flags |= F_VAES_AVX512;
    return flags;
}

/* The probe is pure, so a race only computes the same value twice. */
static atomic_int features;

static int has(int bit)
{
    int f = atomic_load_explicit(&features, memory_order_relaxed);
    if (!f) {
        f = probe();
        atomic_store_explicit(&features, f, memory_order_relaxed);
    }
    return (f & bit) != 0;
}

int vl_x86_has_aesni(void)
{
    return has(F_AESNI);
}

int vl_x86_has_vaes_avx2(void)
{
    return has(F_VAES_AVX2);
}

int vl_x86_has_vaes_avx512(void)
{
    return has(F_VAES_AVX512);
}
