/* OpenSSL EVP as the oracle for fuzz/aead_diff.c (the library never links
 * OpenSSL; the fuzz targets may). One EVP_CIPHER_CTX per process, reset
 * between calls, so the oracle costs little next to vellum. */
#ifndef VL_FUZZ_OSSL_H
#define VL_FUZZ_OSSL_H

#include <stddef.h>
#include <stdint.h>

/* OpenSSL's GCM takes IVs of 1..128 bytes (its iv buffer is 128 bytes). */
#define FZ_OSSL_GCM_MAX_IV 128

/* GCM, 16-byte tag: out = C || T. key_len 16 or 32. 1 on success. */
int fz_ossl_gcm_seal(const uint8_t *key, size_t key_len, const uint8_t *nonce, size_t nonce_len,
                     const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t pt_len,
                     uint8_t *out);
/* GCM open of C || T (in_len >= 16): 1 when the tag verifies, with the
 * in_len - 16 plaintext bytes in |out|. */
int fz_ossl_gcm_open(const uint8_t *key, size_t key_len, const uint8_t *nonce, size_t nonce_len,
                     const uint8_t *ad, size_t ad_len, const uint8_t *in, size_t in_len,
                     uint8_t *out);
/* AES-256-SIV (64-byte key), S2V over [ad, nonce if nonce_len > 0, pt]:
 * out = V || C. OpenSSL 3.0 cannot handle an empty plaintext
 * (openssl#26580): pt_len == 0 returns 0. */
int fz_ossl_siv_seal(const uint8_t *key, const uint8_t *ad, size_t ad_len, const uint8_t *nonce,
                     size_t nonce_len, const uint8_t *pt, size_t pt_len, uint8_t *out);

#endif /* VL_FUZZ_OSSL_H */
