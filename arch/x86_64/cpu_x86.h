/* x86-64 CPU features, probed once (CPUID + XGETBV). */
#ifndef VL_ARCH_X86_CPU_H
#define VL_ARCH_X86_CPU_H

/* 1 when the CPU and the OS support everything the path uses. */
int vl_x86_has_aesni(void);       /* AES-NI, PCLMULQDQ, SSSE3, SSE4.1 */
int vl_x86_has_vaes_avx2(void);   /* + AVX, AVX2, VAES, VPCLMULQDQ; YMM state enabled */
int vl_x86_has_vaes_avx512(void); /* + AVX512F/BW/VL, VAES, VPCLMULQDQ; ZMM state enabled */

#endif /* VL_ARCH_X86_CPU_H */
