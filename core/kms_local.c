/* local-kms (csfle-spec.md §2): FOR TESTS AND DEMOS ONLY. The KEK is
 * derived from a secret exactly as Confluent's LocalKmsClient derives it,
 * and blobs are IV(12) || AES-128-GCM(KEK, IV, key, AD = "") || TAG(16),
 * so what it wraps is readable by Confluent's clients with the same secret.
 *
 * Decisions:
 *   - kek_id is ignored: every local-kms KEK is the same key (§2, "the
 *     kmsKeyId has no effect on the cryptography").
 *   - AD is empty, as the format fixes it (STYLE.md §4.9 defers to it).
 *   - A blob shorter than 28 bytes (Confluent: "ciphertext too short"), or
 *     one whose plaintext would exceed VL_KMS_MAX_KEY (nothing this KMS
 *     wrapped), is VL_ERR_AUTH: kms.h lists AUTH for altered blobs.
 *   - An empty secret is VL_ERR_ARG: Confluent treats it as absent ("cannot
 *     load secret").
 *   - The KEK's usage limits are the AEAD defaults (2^32 random-IV seals,
 *     SP 800-38D §8.3); reaching one is VL_ERR_KEY_DISABLED ("may not be
 *     used now"), not a silent pass-through of VL_ERR_LIMIT.
 * The provider allocates one 64-byte aligned block holding both the
 * vl_kms and the AES-128-GCM key; close wipes and frees it. */
#include <stdlib.h>

#include "internal.h"
#include "kms_local.h"
#include "rand.h"
#include "sha256.h"

#include "vellum/aead.h"
#include "vellum/kms.h"

#define IV_BYTES 12
#define OVERHEAD (IV_BYTES + VL_AEAD_TAG_BYTES) /* 28 */

struct local_kms {
    vl_aead_key kek; /* first: keeps its 64-byte alignment */
    vl_kms kms;
};

int vl_kms_local_derive_kek(uint8_t kek[VL_KMS_LOCAL_KEK_BYTES], const char *secret,
                            size_t secret_len)
{
    if (kek == NULL || secret == NULL)
        return VL_ERR_ARG;
    /* RFC 5869 with salt = none (HashLen zeros) and info = "". */
    return vl_hkdf_sha256(kek, VL_KMS_LOCAL_KEK_BYTES, (const uint8_t *)secret, secret_len, NULL,
                          0, NULL, 0);
}

static int map_aead(int rc)
{
    return rc == VL_ERR_LIMIT ? VL_ERR_KEY_DISABLED : rc;
}

static int local_wrap(vl_kms *kms, const char *kek_id, const uint8_t *key, size_t key_len,
                      uint8_t *out, size_t out_cap, size_t *out_len)
{
    struct local_kms *lk = kms->ctx;
    size_t n = 0;
    (void)kek_id;
    if (out_cap < OVERHEAD || out_cap - OVERHEAD < key_len)
        return VL_ERR_ARG;
    int rc = vl_random(out, IV_BYTES);
    if (rc != VL_OK)
        return rc;
    rc = vl_aead_seal(&lk->kek, out + IV_BYTES, &n, out_cap - IV_BYTES, out, IV_BYTES, key,
                      key_len, NULL, 0);
    if (rc != VL_OK)
        return map_aead(rc);
    *out_len = IV_BYTES + n;
    return VL_OK;
}

static int local_unwrap(vl_kms *kms, const char *kek_id, const uint8_t *blob, size_t blob_len,
                        uint8_t *out, size_t out_cap, size_t *out_len)
{
    struct local_kms *lk = kms->ctx;
    (void)kek_id;
    if (blob_len < OVERHEAD || blob_len - OVERHEAD > VL_KMS_MAX_KEY)
        return VL_ERR_AUTH;
    if (out_cap < blob_len - OVERHEAD)
        return VL_ERR_ARG;
    return map_aead(vl_aead_open(&lk->kek, out, out_len, out_cap, blob, IV_BYTES,
                                 blob + IV_BYTES, blob_len - IV_BYTES, NULL, 0));
}

static void local_close(vl_kms *kms)
{
    struct local_kms *lk = kms->ctx;
    vl_aead_wipe(&lk->kek);
    vl_memzero(lk, sizeof *lk);
    free(lk);
}

static const vl_kms_ops LOCAL_OPS = {
    .size = sizeof(vl_kms_ops),
    .name = "local-kms",
    .wrap = local_wrap,
    .unwrap = local_unwrap,
    .probe = NULL, /* the front end's wrap + unwrap round trip */
    .close = local_close,
};

int vl_kms_local_new(vl_kms **out, const char *secret, size_t secret_len)
{
    uint8_t kek[VL_KMS_LOCAL_KEK_BYTES];
    if (out == NULL)
        return VL_ERR_ARG;
    *out = NULL;
    if (secret == NULL || secret_len == 0)
        return VL_ERR_ARG;
    /* sizeof is a multiple of the 64-byte alignment, as C11 aligned_alloc
     * requires. */
    struct local_kms *lk = aligned_alloc(_Alignof(struct local_kms), sizeof *lk);
    if (lk == NULL)
        return VL_ERR_NOMEM;
    int rc = vl_kms_local_derive_kek(kek, secret, secret_len);
    if (rc == VL_OK)
        rc = vl_aead_init(&lk->kek, VL_AES128_GCM, kek, sizeof kek);
    vl_memzero(kek, sizeof kek);
    if (rc != VL_OK) {
        vl_memzero(lk, sizeof *lk);
        free(lk);
        return rc;
    }
    lk->kms.ops = &LOCAL_OPS;
    lk->kms.ctx = lk;
    *out = &lk->kms;
    return VL_OK;
}
