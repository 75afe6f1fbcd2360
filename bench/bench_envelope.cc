// The envelope layer: what a producer pays per field on top of the AEAD.
//
//   envelope/<store>/<alg>/field-encrypt/64          DEK cached (the steady state)
//   envelope/<store>/<alg>/field-decrypt/64          DEK cached
//   envelope/<store>/<alg>/field-encrypt-miss/64     DEK evicted before every
//                                                    call: unwrapped again through
//                                                    the local KMS each time
//
// <store> is "mem" (the in-memory store) or "sqlite" (a file in a temporary
// folder, synchronous=FULL): with SQLite the durable seal reservations are
// amortised over chunks, and the counter seals_per_reservation shows how far.
// Compare field-encrypt with vellum/<default path>/<alg>/seal/64 (raw
// vl_aead_seal; note that row carries 13 bytes of AD and this one none).
// Checked before timing: every field decrypts back to the plaintext.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <unistd.h>

#include "bench.h"

extern "C" {
#include "vellum/envelope.h"
#include "vellum/kms.h"
#include "vellum/store.h"
}

namespace vb {
namespace {

constexpr size_t kFieldLen = 64;
const char *const kSecret = "vellum-bench-secret";

// A keyring on |store_kind| with the local KMS, one KEK, and the DEK of
// (kek, "bench-value", alg) created by a first encrypt.
class Envelope {
public:
    std::string err;

    Envelope(const Alg &alg, const std::string &store_kind) : alg_(alg)
    {
        int rc = open_store(store_kind);
        if (rc == VL_OK)
            rc = vl_kms_local_new(&kms_, kSecret, std::strlen(kSecret));
        vl_keyring_config cfg{};
        cfg.store = store_;
        // Lift the per-version limits so long runs never rotate mid-timing.
        cfg.dek_limits = {UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX};
        if (rc == VL_OK)
            rc = vl_keyring_new(&kr_, &cfg);
        if (rc == VL_OK)
            rc = vl_keyring_register_kms(kr_, "local-kms", kms_);
        if (rc == VL_OK)
            rc = vl_kek_create(kr_, "bench-kek", "local-kms", "bench", 0, "");
        if (rc == VL_OK)
            rc = encrypt();
        if (rc != VL_OK)
            err = std::string("envelope setup: ") + vl_strerror(rc);
    }
    ~Envelope()
    {
        vl_keyring_free(kr_);
        vl_kms_close(kms_);
        vl_store_close(store_);
        if (!dir_.empty()) {
            unlink((dir_ + "/store.db").c_str());
            unlink((dir_ + "/store.db-wal").c_str());
            unlink((dir_ + "/store.db-shm").c_str());
            rmdir(dir_.c_str());
        }
    }
    Envelope(const Envelope &) = delete;
    Envelope &operator=(const Envelope &) = delete;

    int encrypt()
    {
        return vl_field_encrypt(kr_, "bench-kek", "bench-value", alg_.id, data().pt, kFieldLen,
                                field_, sizeof field_, &field_len_);
    }
    int decrypt()
    {
        size_t n;
        return vl_field_decrypt(kr_, "bench-kek", "bench-value", alg_.id, field_, field_len_,
                                plain_, sizeof plain_, &n);
    }
    int evict()
    {
        const vl_dek_id id = {"bench-kek", "bench-value", alg_.id, -1};
        return vl_dek_revoke(kr_, &id);
    }
    // "" when the current field decrypts to the plaintext.
    std::string check()
    {
        size_t n = 0;
        int rc = vl_field_decrypt(kr_, "bench-kek", "bench-value", alg_.id, field_, field_len_,
                                  plain_, sizeof plain_, &n);
        if (rc != VL_OK)
            return std::string("field decrypt: ") + vl_strerror(rc);
        if (n != kFieldLen || std::memcmp(plain_, data().pt, kFieldLen) != 0)
            return "the field does not decrypt to the plaintext";
        return "";
    }
    vl_keyring_stats stats()
    {
        vl_keyring_stats s{};
        vl_keyring_stats_get(kr_, &s);
        return s;
    }

private:
    int open_store(const std::string &kind)
    {
        if (kind == "mem")
            return vl_store_mem_new(&store_);
        char tmpl[] = "/tmp/vellum-bench-XXXXXX";
        if (mkdtemp(tmpl) == nullptr)
            return VL_ERR_IO;
        dir_ = tmpl;
        return vl_store_sqlite_open(&store_, (dir_ + "/store.db").c_str());
    }

    const Alg &alg_;
    vl_store *store_ = nullptr;
    vl_kms *kms_ = nullptr;
    vl_keyring *kr_ = nullptr;
    std::string dir_;
    uint8_t field_[kFieldLen + 64];
    size_t field_len_ = 0;
    uint8_t plain_[kFieldLen + 64];
};

enum class What { encrypt, decrypt, encrypt_miss };

void run_case(benchmark::State &st, const Alg &alg, const std::string &store, What what,
              const std::string &name)
{
    Envelope e(alg, store);
    std::string why = e.err.empty() ? e.check() : e.err;
    if (!why.empty()) {
        check_failed(name, why);
        st.SkipWithError(why.c_str());
        return;
    }
    const vl_keyring_stats before = e.stats();
    const uint64_t w0 = ticks(), c0 = cpu_ns();
    for (auto _ : st) {
        int rc = VL_OK;
        if (what == What::encrypt_miss)
            rc = e.evict();
        if (rc == VL_OK)
            rc = what == What::decrypt ? e.decrypt() : e.encrypt();
        if (rc != VL_OK) {
            st.SkipWithError(vl_strerror(rc));
            return;
        }
    }
    const uint64_t c1 = cpu_ns(), w1 = ticks();
    why = e.check();
    if (!why.empty()) {
        check_failed(name, why);
        st.SkipWithError(why.c_str());
        return;
    }
    const vl_keyring_stats after = e.stats();
    const double iters = (double)st.iterations();
    st.SetBytesProcessed((int64_t)(iters * kFieldLen));
    st.counters["ns_per_msg"] = (double)(c1 - c0) / iters;
    st.counters["cpb"] = (double)(c1 - c0) * 1e-9 * ticks_hz() / (iters * kFieldLen);
    st.counters["wall_ns_per_msg"] = (double)(w1 - w0) / ticks_hz() * 1e9 / iters;
    const double reservations = (double)(after.reservations - before.reservations);
    if (what != What::decrypt && reservations > 0)
        st.counters["seals_per_reservation"] = iters / reservations;
    st.counters["kms_unwraps"] =
        (double)(after.kms_unwraps - before.kms_unwraps) / (iters > 0 ? iters : 1);
}

void add(const Alg &alg, const std::string &store, What what, const char *op)
{
    const std::string name = std::string("envelope/") + store + "/" + alg.name + "/" + op + "/" +
                             std::to_string(kFieldLen);
    check_add(name, [&alg, store]() {
        Envelope e(alg, store);
        return e.err.empty() ? e.check() : e.err;
    });
    benchmark::RegisterBenchmark(name.c_str(), [&alg, store, what, name](benchmark::State &st) {
        run_case(st, alg, store, what, name);
    });
}

void register_envelope()
{
    for (const Alg &alg : kAlgs) {
        add(alg, "mem", What::encrypt, "field-encrypt");
        add(alg, "mem", What::decrypt, "field-decrypt");
        add(alg, "mem", What::encrypt_miss, "field-encrypt-miss");
    }
    // SQLite: the reservation cost, amortised; one algorithm is enough.
    add(kAlgs[1], "sqlite", What::encrypt, "field-encrypt");
}

}  // namespace

VB_SUITE(envelope, 40, register_envelope);

}  // namespace vb
