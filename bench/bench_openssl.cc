// OpenSSL 3 EVP, the peer most programs already link.
//
//   openssl/<gcm>/...        one EVP_CIPHER_CTX keyed once; per message only
//                            the nonce is set (EVP_CipherInit_ex2 with no key)
//   openssl-fresh/<gcm>/...  a new EVP_CIPHER_CTX per message: new, init with
//                            key and nonce, run, free (what code that keeps no
//                            state between messages pays)
//   openssl/AES-256-SIV/...  one context, re-keyed per message: OpenSSL's SIV
//                            cannot run a second message without a new key
//                            (its S2V state is consumed), so this is the real
//                            per-message cost. One empty AAD component, no
//                            nonce, as vellum's SIV rows.
//
// Ciphers are fetched once (EVP_CIPHER_fetch), so no row pays the provider
// lookup that EVP_aes_256_gcm() implies on every init.
//
// OpenSSL reads OPENSSL_ia32cap once at startup. `make bench` runs this binary
// a second time with OPENSSL_ia32cap=0 (no AES-NI, PCLMULQDQ, SSSE3, AVX...),
// and then these rows are named openssl-noasm: OpenSSL's generic x86-64 code
// (table-based AES and 4-bit-table GHASH, not constant-time), the natural
// counterpart of vellum's portable path.
#include <cctype>
#include <cstdlib>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "bench.h"

namespace vb {
namespace {

const char *cipher_name(const Alg &alg)
{
    switch (alg.id) {
    case VL_AES128_GCM: return "AES-128-GCM";
    case VL_AES256_GCM: return "AES-256-GCM";
    default: return "AES-256-SIV";
    }
}

class Cipher {
public:
    EVP_CIPHER *c = nullptr;
    explicit Cipher(const Alg &alg) : c(EVP_CIPHER_fetch(nullptr, cipher_name(alg), nullptr)) {}
    ~Cipher() { EVP_CIPHER_free(c); }
    Cipher(const Cipher &) = delete;
    Cipher &operator=(const Cipher &) = delete;
};

// GCM, reused context (fresh = false) or a new one per message (true).
class Gcm {
public:
    std::string err;

    Gcm(const Msgs &m, bool fresh) : m_(m), cipher_(*m.alg), fresh_(fresh)
    {
        if (cipher_.c == nullptr) {
            err = "EVP_CIPHER_fetch failed";
            return;
        }
        if (!fresh_) {
            ctx_ = EVP_CIPHER_CTX_new();
            if (ctx_ == nullptr ||
                !EVP_CipherInit_ex2(ctx_, cipher_.c, m.key(), nullptr, m.op == Op::seal, nullptr))
                err = "EVP_CipherInit_ex2 failed";
        }
    }
    ~Gcm() { EVP_CIPHER_CTX_free(ctx_); }
    Gcm(const Gcm &) = delete;
    Gcm &operator=(const Gcm &) = delete;

    bool run()
    {
        if (m_.op == Op::seal)
            return each(m_, [this](size_t i) { return seal(i); });
        return each(m_, [this](size_t i) { return open(i); });
    }

private:
    EVP_CIPHER_CTX *begin(size_t i, int enc)
    {
        if (!fresh_)
            return EVP_CipherInit_ex2(ctx_, nullptr, nullptr, m_.nonce(i), enc, nullptr) ? ctx_
                                                                                          : nullptr;
        EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        if (c != nullptr && !EVP_CipherInit_ex2(c, cipher_.c, m_.key(), m_.nonce(i), enc, nullptr)) {
            EVP_CIPHER_CTX_free(c);
            c = nullptr;
        }
        return c;
    }
    void end(EVP_CIPHER_CTX *c)
    {
        if (fresh_)
            EVP_CIPHER_CTX_free(c);
    }

    bool seal(size_t i)
    {
        EVP_CIPHER_CTX *c = begin(i, 1);
        if (c == nullptr)
            return false;
        uint8_t *out = m_.out(i);
        int n = 0, f = 0;
        bool ok = EVP_EncryptUpdate(c, nullptr, &n, m_.ad(), (int)m_.ad_len()) &&
                  EVP_EncryptUpdate(c, out, &n, m_.in(i), (int)m_.len) &&
                  EVP_EncryptFinal_ex(c, out + n, &f) &&
                  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, (int)kTag, out + m_.len);
        end(c);
        return ok;
    }

    bool open(size_t i)
    {
        EVP_CIPHER_CTX *c = begin(i, 0);
        if (c == nullptr)
            return false;
        const uint8_t *in = m_.in(i);
        uint8_t *out = m_.out(i);
        int n = 0, f = 0;
        bool ok = EVP_DecryptUpdate(c, nullptr, &n, m_.ad(), (int)m_.ad_len()) &&
                  EVP_DecryptUpdate(c, out, &n, in, (int)m_.len) &&
                  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, (int)kTag,
                                      const_cast<uint8_t *>(in + m_.len)) &&
                  EVP_DecryptFinal_ex(c, out + n, &f) > 0;
        end(c);
        return ok;
    }

    Msgs m_;
    Cipher cipher_;
    bool fresh_;
    EVP_CIPHER_CTX *ctx_ = nullptr;
};

// AES-256-SIV (RFC 5297): re-keyed per message on one context.
class Siv {
public:
    std::string err;

    explicit Siv(const Msgs &m) : m_(m), cipher_(*m.alg)
    {
        ctx_ = EVP_CIPHER_CTX_new();
        if (cipher_.c == nullptr || ctx_ == nullptr ||
            !EVP_CipherInit_ex2(ctx_, cipher_.c, nullptr, nullptr, m.op == Op::seal, nullptr))
            err = "AES-256-SIV setup failed";
    }
    ~Siv() { EVP_CIPHER_CTX_free(ctx_); }
    Siv(const Siv &) = delete;
    Siv &operator=(const Siv &) = delete;

    bool run()
    {
        if (m_.op == Op::seal)
            return each(m_, [this](size_t i) { return seal(i); });
        return each(m_, [this](size_t i) { return open(i); });
    }

private:
    // One AAD component of length 0: an update with a non-NULL pointer (a
    // NULL input would mean "final").
    bool seal(size_t i)
    {
        uint8_t *out = m_.out(i);
        int n = 0, f = 0;
        return EVP_CipherInit_ex2(ctx_, nullptr, m_.key(), nullptr, 1, nullptr) &&
               EVP_EncryptUpdate(ctx_, nullptr, &n, empty_, 0) &&
               EVP_EncryptUpdate(ctx_, out + kTag, &n, m_.in(i), (int)m_.len) &&
               EVP_EncryptFinal_ex(ctx_, out + kTag + n, &f) &&
               EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_GET_TAG, (int)kTag, out);
    }

    bool open(size_t i)
    {
        const uint8_t *in = m_.in(i);
        uint8_t *out = m_.out(i);
        int n = 0, f = 0;
        return EVP_CipherInit_ex2(ctx_, nullptr, m_.key(), nullptr, 0, nullptr) &&
               EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_SET_TAG, (int)kTag,
                                   const_cast<uint8_t *>(in)) &&
               EVP_DecryptUpdate(ctx_, nullptr, &n, empty_, 0) &&
               EVP_DecryptUpdate(ctx_, out, &n, in + kTag, (int)m_.len) &&
               EVP_DecryptFinal_ex(ctx_, out + n, &f) > 0;
    }

    Msgs m_;
    Cipher cipher_;
    EVP_CIPHER_CTX *ctx_ = nullptr;
    uint8_t empty_[1] = {0};
};

void register_openssl()
{
    // "openssl" normally; "openssl-noasm" when OPENSSL_ia32cap=0 turned off
    // every x86 extension; any other mask is named after its value.
    std::string name = "openssl";
    const char *cap = std::getenv("OPENSSL_ia32cap");
    if (cap != nullptr && cap[0] != '\0') {
        const std::string v = cap;
        if (v == "0" || v == "0:0") {
            name = "openssl-noasm";
        } else {
            name = "openssl-cap";
            for (char ch : v)
                name += std::isalnum((unsigned char)ch) ? ch : '_';
        }
    }
    context("openssl", OpenSSL_version(OPENSSL_VERSION));
    context("openssl_ia32cap", cap != nullptr ? cap : "(unset: all CPU features)");
    add_sizes<Gcm>(name, {VL_AES128_GCM, VL_AES256_GCM}, false);
    add_sizes<Gcm>(name + "-fresh", {VL_AES128_GCM, VL_AES256_GCM}, true);
    add_sizes<Siv>(name, {VL_AES256_SIV});
}

}  // namespace

VB_SUITE(openssl, 10, register_openssl);

}  // namespace vb
