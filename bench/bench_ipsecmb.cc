// Intel ipsec-mb, direct GCM API (x86-64 only).
//
//   ipsec-mb/<gcm>/...       the manager init_mb_mgr_auto() picks (its arch is
//                            printed and kept in the JSON context)
//   ipsec-mb-avx2/<gcm>/...  init_mb_mgr_avx2(), when the CPU has AVX2: the
//                            peer of vellum's vaes-avx2 path
//
// Per message: IMB_AES{128,256}_GCM_ENC / _DEC with a stack gcm_context_data
// and the key expanded once (IMB_AES*_GCM_PRE). _DEC only computes the tag;
// the compare (constant time) is part of the timed open, as in every library.
#if defined(__x86_64__)

#include <cstdlib>

#include <intel-ipsec-mb.h>

#include "bench.h"

namespace vb {
namespace {

class Imb {
public:
    std::string err;

    Imb(const Msgs &m, IMB_MGR *mgr) : m_(m), mgr_(mgr), aes256_(m.alg->id == VL_AES256_GCM)
    {
        key_ = (gcm_key_data *)std::aligned_alloc(64, (sizeof(gcm_key_data) + 63) / 64 * 64);
        if (key_ == nullptr) {
            err = "out of memory";
            return;
        }
        if (aes256_)
            IMB_AES256_GCM_PRE(mgr_, m.key(), key_);
        else
            IMB_AES128_GCM_PRE(mgr_, m.key(), key_);
        if (imb_get_errno(mgr_) != 0)
            err = std::string("IMB_AES*_GCM_PRE: ") + imb_get_strerror(imb_get_errno(mgr_));
    }
    ~Imb() { std::free(key_); }
    Imb(const Imb &) = delete;
    Imb &operator=(const Imb &) = delete;

    bool run()
    {
        if (m_.op == Op::seal)
            return each(m_, [this](size_t i) {
                gcm_context_data ctx;
                uint8_t *out = m_.out(i);
                if (aes256_)
                    IMB_AES256_GCM_ENC(mgr_, key_, &ctx, out, m_.in(i), m_.len, m_.nonce(i),
                                       m_.ad(), m_.ad_len(), out + m_.len, kTag);
                else
                    IMB_AES128_GCM_ENC(mgr_, key_, &ctx, out, m_.in(i), m_.len, m_.nonce(i),
                                       m_.ad(), m_.ad_len(), out + m_.len, kTag);
                return true;
            });
        return each(m_, [this](size_t i) {
            gcm_context_data ctx;
            alignas(16) uint8_t tag[kTag];
            const uint8_t *in = m_.in(i);
            if (aes256_)
                IMB_AES256_GCM_DEC(mgr_, key_, &ctx, m_.out(i), in, m_.len, m_.nonce(i), m_.ad(),
                                   m_.ad_len(), tag, kTag);
            else
                IMB_AES128_GCM_DEC(mgr_, key_, &ctx, m_.out(i), in, m_.len, m_.nonce(i), m_.ad(),
                                   m_.ad_len(), tag, kTag);
            return tag_equal(tag, in + m_.len);
        });
    }

private:
    Msgs m_;
    IMB_MGR *mgr_;
    bool aes256_;
    gcm_key_data *key_ = nullptr;
};

const char *arch_name(IMB_ARCH a)
{
    switch (a) {
    case IMB_ARCH_NOAESNI: return "NOAESNI";
    case IMB_ARCH_SSE: return "SSE";
    case IMB_ARCH_AVX: return "AVX";
    case IMB_ARCH_AVX2: return "AVX2";
    case IMB_ARCH_AVX512: return "AVX512";
    default: return "NONE";
    }
}

// The arch and, from the CPU flags the manager detected, the tier of code it
// runs (ipsec-mb picks type 2 when all the flags it needs are present).
std::string describe(IMB_MGR *mgr, IMB_ARCH arch)
{
    std::string s = arch_name(arch);
    const uint64_t f = mgr->features;
    if (arch == IMB_ARCH_AVX512)
        s += (f & IMB_CPUFLAGS_AVX512_T2) == IMB_CPUFLAGS_AVX512_T2
                 ? " type 2 (VAES + VPCLMULQDQ GCM kernels)"
                 : " type 1 (AES-NI GCM kernels)";
    else if (arch == IMB_ARCH_AVX2)
        s += (f & IMB_CPUFLAGS_AVX2_T2) == IMB_CPUFLAGS_AVX2_T2 ? " type 2" : " type 1";
    // Checked against the static library's symbols: 1.3's AVX2 manager points
    // gcm*_enc at aes_gcm_enc_*_avx_gen4, 128-bit AES-NI + PCLMULQDQ code;
    // that release has no VAES-AVX2 GCM.
    if (arch == IMB_ARCH_AVX2 && imb_get_version() < IMB_VERSION(1, 4, 0))
        s += " (GCM: avx_gen4 kernels, 128-bit AES-NI + PCLMULQDQ; no VAES)";
    return s;
}

void register_ipsecmb()
{
    context("ipsec_mb", imb_get_version_str());
    IMB_MGR *autom = alloc_mb_mgr(0);
    if (autom == nullptr) {
        context("ipsec_mb_arch", "alloc_mb_mgr failed: not measured");
        return;
    }
    IMB_ARCH arch = IMB_ARCH_NONE;
    init_mb_mgr_auto(autom, &arch);
    if (imb_get_errno(autom) != 0 || arch == IMB_ARCH_NONE || arch == IMB_ARCH_NOAESNI) {
        context("ipsec_mb_arch", std::string(arch_name(arch)) + ": not measured");
        free_mb_mgr(autom);
        return;
    }
    const std::string desc = describe(autom, arch);
    std::fprintf(stderr, "vellum_bench: ipsec-mb %s: init_mb_mgr_auto chose %s\n",
                 imb_get_version_str(), desc.c_str());
    context("ipsec_mb_arch", desc);
    add_sizes<Imb>("ipsec-mb", {VL_AES128_GCM, VL_AES256_GCM}, autom);

    if ((autom->features & IMB_CPUFLAGS_AVX2) != IMB_CPUFLAGS_AVX2) {
        context("ipsec_mb_avx2", "CPU lacks AVX2: not measured");
        return;
    }
    IMB_MGR *avx2 = alloc_mb_mgr(0);
    if (avx2 == nullptr)
        return;
    init_mb_mgr_avx2(avx2);
    if (imb_get_errno(avx2) != 0) {
        context("ipsec_mb_avx2", std::string("init_mb_mgr_avx2: ") +
                                     imb_get_strerror(imb_get_errno(avx2)));
        free_mb_mgr(avx2);
        return;
    }
    context("ipsec_mb_avx2", describe(avx2, IMB_ARCH_AVX2));
    add_sizes<Imb>("ipsec-mb-avx2", {VL_AES128_GCM, VL_AES256_GCM}, avx2);
    // Both managers live as long as the process: benchmarks run after this.
}

}  // namespace

VB_SUITE(ipsecmb, 30, register_ipsecmb);

}  // namespace vb

#endif  // __x86_64__
