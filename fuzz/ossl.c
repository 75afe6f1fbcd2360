/* OpenSSL EVP oracles for the differential fuzz target; see ossl.h. */
#include "ossl.h"

#include <openssl/evp.h>
#include <string.h>

#include "fuzz.h"

static EVP_CIPHER_CTX *ctx(void)
{
    static EVP_CIPHER_CTX *c;
    if (c == NULL)
        c = EVP_CIPHER_CTX_new();
    FZ_CHECK(c != NULL, "EVP_CIPHER_CTX_new");
    EVP_CIPHER_CTX_reset(c);
    return c;
}

static EVP_CIPHER *fetch(EVP_CIPHER **slot, const char *name)
{
    if (*slot == NULL)
        *slot = EVP_CIPHER_fetch(NULL, name, NULL);
    FZ_CHECK(*slot != NULL, "OpenSSL has no %s", name);
    return *slot;
}

/* A valid pointer for zero-length updates: OpenSSL's SIV treats a NULL
 * input as "finish", not as an empty AD component. */
static const uint8_t empty_byte[1];
#define NZ(p) ((p) != NULL ? (p) : empty_byte)

int fz_ossl_gcm_seal(const uint8_t *key, size_t key_len, const uint8_t *nonce, size_t nonce_len,
                     const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t pt_len,
                     uint8_t *out)
{
    static EVP_CIPHER *c128, *c256;
    EVP_CIPHER *cipher = key_len == 16 ? fetch(&c128, "AES-128-GCM") : fetch(&c256, "AES-256-GCM");
    EVP_CIPHER_CTX *c = ctx();
    int outl = 0, fin = 0;
    if (nonce_len == 0 || nonce_len > FZ_OSSL_GCM_MAX_IV)
        return 0;
    if (EVP_EncryptInit_ex(c, cipher, NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, (int)nonce_len, NULL) != 1 ||
        EVP_EncryptInit_ex(c, NULL, NULL, key, nonce) != 1)
        return 0;
    if (ad_len > 0 && EVP_EncryptUpdate(c, NULL, &outl, ad, (int)ad_len) != 1)
        return 0;
    outl = 0;
    if (pt_len > 0 && EVP_EncryptUpdate(c, out, &outl, pt, (int)pt_len) != 1)
        return 0;
    if (EVP_EncryptFinal_ex(c, out + outl, &fin) != 1 || (size_t)(outl + fin) != pt_len)
        return 0;
    return EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, out + pt_len) == 1;
}

int fz_ossl_gcm_open(const uint8_t *key, size_t key_len, const uint8_t *nonce, size_t nonce_len,
                     const uint8_t *ad, size_t ad_len, const uint8_t *in, size_t in_len,
                     uint8_t *out)
{
    static EVP_CIPHER *c128, *c256;
    EVP_CIPHER *cipher = key_len == 16 ? fetch(&c128, "AES-128-GCM") : fetch(&c256, "AES-256-GCM");
    EVP_CIPHER_CTX *c = ctx();
    int outl = 0, fin = 0;
    uint8_t tag[16];
    if (in_len < 16 || nonce_len == 0 || nonce_len > FZ_OSSL_GCM_MAX_IV)
        return 0;
    size_t len = in_len - 16;
    memcpy(tag, in + len, 16);
    if (EVP_DecryptInit_ex(c, cipher, NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, (int)nonce_len, NULL) != 1 ||
        EVP_DecryptInit_ex(c, NULL, NULL, key, nonce) != 1)
        return 0;
    if (ad_len > 0 && EVP_DecryptUpdate(c, NULL, &outl, ad, (int)ad_len) != 1)
        return 0;
    outl = 0;
    if (len > 0 && EVP_DecryptUpdate(c, out, &outl, in, (int)len) != 1)
        return 0;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, tag) != 1)
        return 0;
    return EVP_DecryptFinal_ex(c, out + outl, &fin) == 1 && (size_t)(outl + fin) == len;
}

int fz_ossl_siv_seal(const uint8_t *key, const uint8_t *ad, size_t ad_len, const uint8_t *nonce,
                     size_t nonce_len, const uint8_t *pt, size_t pt_len, uint8_t *out)
{
    static EVP_CIPHER *siv;
    EVP_CIPHER *cipher = fetch(&siv, "AES-256-SIV");
    EVP_CIPHER_CTX *c = ctx();
    int outl = 0, fin = 0;
    if (pt_len == 0)
        return 0;
    if (EVP_EncryptInit_ex(c, cipher, NULL, key, NULL) != 1 ||
        EVP_EncryptUpdate(c, NULL, &outl, NZ(ad), (int)ad_len) != 1)
        return 0;
    if (nonce_len > 0 && EVP_EncryptUpdate(c, NULL, &outl, nonce, (int)nonce_len) != 1)
        return 0;
    outl = 0;
    if (EVP_EncryptUpdate(c, out + 16, &outl, pt, (int)pt_len) != 1 ||
        EVP_EncryptFinal_ex(c, out + 16 + outl, &fin) != 1 || (size_t)(outl + fin) != pt_len)
        return 0;
    return EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, out) == 1;
}
