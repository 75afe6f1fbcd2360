/* vellum: the KMS interface. A KMS holds key-encryption keys (KEKs) that
 * never leave it; vellum asks it to wrap and unwrap data-encryption keys.
 *
 * A provider is a struct of function pointers (vl_kms_ops) plus its own
 * context, linked statically by the host. Semantically wrap/unwrap are an
 * AEAD's seal/open under the KEK named |kek_id| (Tink's "remote AEAD").
 * Every provider failure is reported as one fixed code, never as provider
 * text:
 *   VL_ERR_KMS_UNAVAILABLE  network, timeout, KMS down: retryable
 *   VL_ERR_KMS_DENIED       credentials or permissions
 *   VL_ERR_KEY_DISABLED     the KEK exists but may not be used now
 *   VL_ERR_KEY_DESTROYED    the KEK is gone for good
 *   VL_ERR_NOT_FOUND        no KEK with that id
 *   VL_ERR_AUTH             the wrapped blob was altered (or another KEK's)
 * vl_kms_wrap/unwrap map any other code a provider returns to
 * VL_ERR_KMS_UNAVAILABLE. Wrapped blobs are untrusted input: at most
 * VL_KMS_MAX_BLOB bytes, parsed with bounds checks. */
#ifndef VELLUM_KMS_H
#define VELLUM_KMS_H

#include <stddef.h>
#include <stdint.h>

#include "vellum/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest wrapped blob accepted anywhere (Tink's KmsEnvelopeAead cap). */
#define VL_KMS_MAX_BLOB 4096
/* Largest plaintext a KMS wraps: a serialized key (Confluent wraps the Tink
 * key proto, at most 66 bytes for AES-256-SIV). */
#define VL_KMS_MAX_KEY 256

typedef struct vl_kms vl_kms;

typedef struct vl_kms_ops {
    size_t size;      /* sizeof(vl_kms_ops): lets the table grow compatibly */
    const char *name; /* provider name, e.g. "local-kms" */
    /* Wrap |key| (<= VL_KMS_MAX_KEY bytes) under |kek_id| into |out|. */
    int (*wrap)(vl_kms *kms, const char *kek_id, const uint8_t *key, size_t key_len,
                uint8_t *out, size_t out_cap, size_t *out_len);
    /* Unwrap |blob| under |kek_id| into |out|; VL_ERR_AUTH when altered. */
    int (*unwrap)(vl_kms *kms, const char *kek_id, const uint8_t *blob, size_t blob_len,
                  uint8_t *out, size_t out_cap, size_t *out_len);
    /* Optional (NULL: vl_kms_probe does a wrap + unwrap round trip). */
    int (*probe)(vl_kms *kms, const char *kek_id);
    /* Releases the provider, wiping any secret it holds. A provider that
     * allocated its vl_kms frees it here; one the host keeps on the stack
     * does not, so hosts may build providers without the heap. */
    void (*close)(vl_kms *kms);
} vl_kms_ops;

struct vl_kms {
    const vl_kms_ops *ops;
    void *ctx; /* the provider's own state */
};

/* Front ends over the ops: argument and size checks, error mapping, and the
 * output zeroed on failure. */
int vl_kms_wrap(vl_kms *kms, const char *kek_id, const uint8_t *key, size_t key_len,
                uint8_t *out, size_t out_cap, size_t *out_len);
int vl_kms_unwrap(vl_kms *kms, const char *kek_id, const uint8_t *blob, size_t blob_len,
                  uint8_t *out, size_t out_cap, size_t *out_len);
/* Key access validation, run before going live: wraps a fresh random key
 * under |kek_id|, unwraps it and compares. VL_OK or the failure's code. */
int vl_kms_probe(vl_kms *kms, const char *kek_id);
/* Calls ops->close (NULL is a no-op); see vl_kms_ops.close for who frees. */
void vl_kms_close(vl_kms *kms);

/* local-kms: FOR TESTS AND DEMOS ONLY. The KEK is not in any KMS; it is
 * derived from |secret| exactly as Confluent's local KMS derives it
 * (HKDF-SHA256 with no salt and empty info, 16 bytes, used as an
 * AES-128-GCM key; the kek_id plays no part), and wraps as
 * IV(12) || AES-128-GCM(KEK, IV, key, AD = "") || TAG(16). So DEKs it wraps
 * are readable by Confluent's clients configured with the same secret, and
 * anyone who knows the secret can unwrap them. */
int vl_kms_local_new(vl_kms **out, const char *secret, size_t secret_len);

#ifdef __cplusplus
}
#endif

#endif /* VELLUM_KMS_H */
