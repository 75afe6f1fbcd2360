// vellum itself: every CPU path in vl_impl_list() that this CPU supports,
// each forced per key with vl_aead_init_impl (VELLUM_IMPL plays no part), so
// a path added to core/dispatch.c shows up here with no change.
//
//   vellum/<path>/<alg>/seal|open/<len>             vl_aead_seal / vl_aead_open
//   vellum/<path>/<alg>/seal-batch|open-batch/<n>x<len>  one vl_aead_*_batch call
//   vellum/<path>/<alg>/seal-loop|open-loop/<n>x<len>    the same n messages, one
//                                                        vl_aead_seal/open each
#include <cstdint>

#include "bench.h"

namespace vb {
namespace {

// Initialises |k| for m's algorithm on |impl| with every usage limit lifted:
// a long run must never stop on the byte budget (GCM's default max_bytes is
// reached after hours of 64 KiB seals, not in practice, but never is better).
std::string init_key(vl_aead_key *k, const Msgs &m, const vl_impl *impl)
{
    int rc = vl_aead_init_impl(k, m.alg->id, m.key(), m.alg->key_len, impl);
    if (rc != VL_OK)
        return std::string("vl_aead_init_impl: ") + vl_strerror(rc);
    const vl_limits none = {UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX};
    rc = vl_aead_set_limits(k, &none);
    if (rc != VL_OK)
        return std::string("vl_aead_set_limits: ") + vl_strerror(rc);
    return "";
}

// Message by message through the single-message API.
class Single {
public:
    std::string err;

    Single(const Msgs &m, const vl_impl *impl) : m_(m) { err = init_key(&k_, m, impl); }
    ~Single() { vl_aead_wipe(&k_); }
    Single(const Single &) = delete;
    Single &operator=(const Single &) = delete;

    bool run()
    {
        if (m_.op == Op::seal)
            return each(m_, [this](size_t i) {
                size_t n;
                return vl_aead_seal(&k_, m_.out(i), &n, m_.out_len(), m_.nonce(i),
                                    m_.nonce_len(), m_.in(i), m_.in_len(), m_.ad(),
                                    m_.ad_len()) == VL_OK;
            });
        return each(m_, [this](size_t i) {
            size_t n;
            return vl_aead_open(&k_, m_.out(i), &n, m_.out_len(), m_.nonce(i), m_.nonce_len(),
                                m_.in(i), m_.in_len(), m_.ad(), m_.ad_len()) == VL_OK;
        });
    }

private:
    vl_aead_key k_;
    Msgs m_;
};

// All messages in one vl_aead_seal_batch / vl_aead_open_batch call.
class Batch {
public:
    std::string err;

    Batch(const Msgs &m, const vl_impl *impl) : m_(m)
    {
        err = init_key(&k_, m, impl);
        for (size_t i = 0; i < m.count; i++)
            msgs_[i] = vl_aead_msg{m.nonce(i), m.nonce_len(), m.ad(), m.ad_len(), m.in(i),
                                   m.in_len(), m.out(i), m.out_len(), 0, 0};
    }
    ~Batch() { vl_aead_wipe(&k_); }
    Batch(const Batch &) = delete;
    Batch &operator=(const Batch &) = delete;

    bool run()
    {
        if (m_.op == Op::seal)
            return vl_aead_seal_batch(&k_, msgs_, m_.count) == VL_OK;
        return vl_aead_open_batch(&k_, msgs_, m_.count) == VL_OK;
    }

private:
    vl_aead_key k_;
    Msgs m_;
    vl_aead_msg msgs_[kMaxMsgs];
};

void register_vellum()
{
    size_t n;
    const vl_impl *const *list = vl_impl_list(&n);
    std::string compiled, run;
    for (size_t p = 0; p < n; p++) {
        const vl_impl *impl = list[p];
        compiled += (compiled.empty() ? "" : " ") + std::string(impl->name);
        if (!impl->supported())
            continue;
        run += (run.empty() ? "" : " ") + std::string(impl->name);
        const std::string name = std::string("vellum/") + impl->name;
        add_sizes<Single>(name, {VL_AES128_GCM, VL_AES256_GCM, VL_AES256_SIV}, impl);
        for (const Alg &alg : kAlgs)
            for (Op op : {Op::seal, Op::open})
                for (const Shape &s : kBatches) {
                    const Msgs m = msgs(alg, op, s.len, s.count);
                    const bool seal = op == Op::seal;
                    add_case<Batch>(name, seal ? "seal-batch" : "open-batch", m, impl);
                    add_case<Single>(name, seal ? "seal-loop" : "open-loop", m, impl);
                }
    }
    context("vellum_paths_compiled", compiled);
    context("vellum_paths", run);
}

}  // namespace

VB_SUITE(vellum, 0, register_vellum);

}  // namespace vb
