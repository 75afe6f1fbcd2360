// libsodium crypto_aead_aes256gcm (AES-256-GCM only; hardware-only in
// libsodium: it needs AES-NI and PCLMULQDQ, else these rows are absent).
//
//   libsodium/AES-256-GCM/...      crypto_aead_aes256gcm_encrypt/_decrypt:
//                                  the key schedule and H are recomputed on
//                                  every message
//   libsodium-pre/AES-256-GCM/...  _beforenm once, then _encrypt_afternm /
//                                  _decrypt_afternm (precomputed state)
#include <sodium.h>

#include "bench.h"

namespace vb {
namespace {

class Sodium {
public:
    std::string err;

    Sodium(const Msgs &m, bool pre) : m_(m), pre_(pre)
    {
        if (pre_ && crypto_aead_aes256gcm_beforenm(&st_, m.key()) != 0)
            err = "crypto_aead_aes256gcm_beforenm failed";
    }

    bool run()
    {
        if (m_.op == Op::seal)
            return each(m_, [this](size_t i) {
                unsigned long long n;
                if (pre_)
                    return crypto_aead_aes256gcm_encrypt_afternm(m_.out(i), &n, m_.in(i), m_.len,
                                                                 m_.ad(), m_.ad_len(), nullptr,
                                                                 m_.nonce(i), &st_) == 0;
                return crypto_aead_aes256gcm_encrypt(m_.out(i), &n, m_.in(i), m_.len, m_.ad(),
                                                     m_.ad_len(), nullptr, m_.nonce(i),
                                                     m_.key()) == 0;
            });
        return each(m_, [this](size_t i) {
            unsigned long long n;
            if (pre_)
                return crypto_aead_aes256gcm_decrypt_afternm(m_.out(i), &n, nullptr, m_.in(i),
                                                             m_.in_len(), m_.ad(), m_.ad_len(),
                                                             m_.nonce(i), &st_) == 0;
            return crypto_aead_aes256gcm_decrypt(m_.out(i), &n, nullptr, m_.in(i), m_.in_len(),
                                                 m_.ad(), m_.ad_len(), m_.nonce(i),
                                                 m_.key()) == 0;
        });
    }

private:
    Msgs m_;
    bool pre_;
    crypto_aead_aes256gcm_state st_;
};

void register_sodium()
{
    if (sodium_init() < 0) {
        context("libsodium", "sodium_init failed: not measured");
        return;
    }
    if (!crypto_aead_aes256gcm_is_available()) {
        context("libsodium", std::string(sodium_version_string()) +
                                 " (crypto_aead_aes256gcm unavailable on this CPU: not measured)");
        return;
    }
    context("libsodium", sodium_version_string());
    add_sizes<Sodium>("libsodium", {VL_AES256_GCM}, false);
    add_sizes<Sodium>("libsodium-pre", {VL_AES256_GCM}, true);
}

}  // namespace

VB_SUITE(libsodium, 20, register_sodium);

}  // namespace vb
