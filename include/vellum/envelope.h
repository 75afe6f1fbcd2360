/* vellum: the envelope layer. A keyring owns KEK records (keys you keep in
 * your KMS) and the DEK versions wrapped under them; it generates, wraps,
 * caches, rotates and retires DEKs, and encrypts fields in Confluent's
 * client-side field-level encryption (CSFLE) wire format:
 *
 *   field = [0x00 || be32(version)]   only when versioning is on
 *           || IV(12) || C || TAG(16)  AES-128-GCM / AES-256-GCM
 *           || V(16) || C              AES-256-SIV (one empty AD component)
 *
 * with empty associated data, as Confluent's clients write it. A DEK is
 * identified by (KEK name, subject, algorithm, version); what a KMS wraps
 * is the DEK's serialized Tink key proto, so records move between vellum
 * and a Confluent DEK Registry unchanged.
 *
 * Threads: every function may be called from any number of threads on one
 * keyring. Field encryption with a cached DEK takes no lock.
 *
 * Usage limits hold across processes and restarts: each process reserves a
 * DEK version's seal budget from the store in chunks, durably, before any
 * seal uses it, so no version ever exceeds its max_seals in total. */
#ifndef VELLUM_ENVELOPE_H
#define VELLUM_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "vellum/aead.h"
#include "vellum/kms.h"
#include "vellum/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VL_FIELD_VERSION_BYTES 5

typedef struct vl_keyring vl_keyring;

typedef struct vl_keyring_config {
    vl_store *store;        /* required; not owned */
    uint64_t cache_ttl_ms;  /* unwrapped DEKs kept at most this long; 0 = 6 hours */
    /* A DEK version older than this gets a successor on the next encrypt
     * (Confluent's encrypt.dek.expiry.days, in seconds here); 0 = never. */
    uint64_t dek_expiry_s;
    /* Write and expect the 5-byte version prefix. Confluent's clients turn
     * it on exactly when encrypt.dek.expiry.days > 0. Off: version 1. */
    int versioned;
    /* Per DEK version; all zero = the algorithm's defaults (core/usage.c).
     * rotate_at_seals starts a new version, max_seals is never passed. */
    vl_limits dek_limits;
    /* Seal budget reserved from the store per round trip; the chunk adapts
     * to the seal rate between these bounds. 0 = 64 and 65536. */
    uint64_t reserve_min, reserve_max;
    /* Retry schedule while the KMS is unavailable: exponential from
     * backoff_initial_ms up to backoff_max_ms. 0 = 100 ms and 30 s. */
    uint64_t backoff_initial_ms, backoff_max_ms;
    /* Milliseconds since the epoch; NULL = the system clock. For tests. */
    int64_t (*clock_ms)(void *arg);
    void *clock_arg;
} vl_keyring_config;

int vl_keyring_new(vl_keyring **out, const vl_keyring_config *cfg);
/* Frees the keyring, zeroizing every cached DEK. */
void vl_keyring_free(vl_keyring *kr);
/* KEKs whose kms_type is |kms_type| are served by |kms| (not owned). */
int vl_keyring_register_kms(vl_keyring *kr, const char *kms_type, vl_kms *kms);

/* KEKs. Registering a kms_key_id that another live (not deleted) KEK of the
 * same kms_type already uses is VL_ERR_EXISTS unless both are shared. */
int vl_kek_create(vl_keyring *kr, const char *name, const char *kms_type,
                  const char *kms_key_id, int shared, const char *doc);
int vl_kek_get(vl_keyring *kr, const char *name, vl_kek_record *out);
/* Soft delete (permanent = 0): decrypt still works, encrypt refuses with
 * VL_ERR_KEY_DISABLED; VL_ERR_BUSY while live DEKs remain. Permanent: only
 * after a soft delete and with no DEKs at all; the record is erased. */
int vl_kek_delete(vl_keyring *kr, const char *name, int permanent);
int vl_kek_undelete(vl_keyring *kr, const char *name);
/* Key access validation through the KEK's KMS (vl_kms_probe). */
int vl_kek_probe(vl_keyring *kr, const char *name);
/* KEK rotation without touching data: unwrap every DEK of |name| and wrap
 * it again under |new_kms_key_id| (a new key, or key version, in the same
 * KMS), then point the KEK at it. All or nothing per DEK record. */
int vl_kek_rewrap(vl_keyring *kr, const char *name, const char *new_kms_key_id);

/* DEKs. id->version -1 means the latest. */
int vl_dek_get(vl_keyring *kr, const vl_dek_id *id, vl_dek_record *out);
/* Starts a new version now; its number in *new_version (may be NULL). */
int vl_dek_rotate(vl_keyring *kr, const char *kek, const char *subject, vl_alg alg,
                  int32_t *new_version);
/* Soft delete (permanent = 0): decrypt works, encrypt moves to a new
 * version where the KEK allows. Permanent: only after a soft delete; the
 * material is erased from the store and the cache, and decrypt refuses
 * with VL_ERR_KEY_DESTROYED. id->version -1: every version of the subject. */
int vl_dek_delete(vl_keyring *kr, const vl_dek_id *id, int permanent);
int vl_dek_undelete(vl_keyring *kr, const vl_dek_id *id);
/* Evicts (and zeroizes) cached DEKs now; id->version -1: all versions. */
int vl_dek_revoke(vl_keyring *kr, const vl_dek_id *id);

/* Fields. encrypt uses the latest version of (kek, subject, alg), creating
 * and wrapping version 1 on first use and a successor when the current one
 * reaches rotate_at_seals or dek_expiry_s. decrypt takes the version from
 * the prefix (1 when versioning is off) and unwraps through the KMS on a
 * cache miss. out_cap >= in_len + vl_field_overhead() for encrypt. */
int vl_field_encrypt(vl_keyring *kr, const char *kek, const char *subject, vl_alg alg,
                     const uint8_t *pt, size_t pt_len, uint8_t *out, size_t out_cap,
                     size_t *out_len);
int vl_field_decrypt(vl_keyring *kr, const char *kek, const char *subject, vl_alg alg,
                     const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
                     size_t *out_len);
size_t vl_field_overhead(vl_alg alg, int versioned);

typedef struct vl_keyring_stats {
    uint64_t kms_wraps, kms_unwraps, kms_failures;
    uint64_t cache_hits, cache_misses, cache_evictions;
    uint64_t reservations, seals_reserved, rotations;
} vl_keyring_stats;
void vl_keyring_stats_get(vl_keyring *kr, vl_keyring_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* VELLUM_ENVELOPE_H */
