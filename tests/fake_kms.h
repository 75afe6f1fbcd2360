/* Test doubles for the envelope layer (STYLE.md §4.11): an in-memory KMS
 * that fails on command and counts its calls, and a clock the test moves.
 *
 * fake KMS: every key id it knows has its own random AES-256-GCM key;
 * wrap = IV(12) || AES-256-GCM(key, IV, plaintext, AD = key id) || TAG(16),
 * so a blob unwraps only under the key id that wrapped it (VL_ERR_AUTH
 * otherwise, as a real KMS refuses another key's ciphertext). Unknown ids
 * are VL_ERR_NOT_FOUND unless auto-create is on; each id can be disabled
 * or destroyed; the whole KMS can be told to fail every call, or the next
 * n calls, with any code. Thread-safe. */
#ifndef VT_FAKE_KMS_H
#define VT_FAKE_KMS_H

#include <stdatomic.h>
#include <stdint.h>

#include "vellum/kms.h"

typedef struct fake_kms fake_kms;

enum fake_key_state { FAKE_KEY_ENABLED, FAKE_KEY_DISABLED, FAKE_KEY_DESTROYED };

struct fake_kms_counts {
    unsigned long wraps, unwraps, probes; /* calls that reached the KMS */
    unsigned long failed;                 /* of those, how many failed */
};

fake_kms *fake_kms_new(void);
void fake_kms_free(fake_kms *f);
/* The vl_kms to register with a keyring (owned by |f|). */
vl_kms *fake_kms_handle(fake_kms *f);
/* Adds a key id (no-op if known). With auto-create, wrap under an
 * unknown id adds it first. */
void fake_kms_add_key(fake_kms *f, const char *key_id);
void fake_kms_auto_create(fake_kms *f, int on);
void fake_kms_set_state(fake_kms *f, const char *key_id, enum fake_key_state st);
/* Every call fails with |code| until fake_kms_fail(f, VL_OK). */
void fake_kms_fail(fake_kms *f, int code);
/* The next |n| calls fail with |code|; later ones behave normally. */
void fake_kms_fail_next(fake_kms *f, int code, int n);
/* Calls after the next |n| successful ones fail with |code|. */
void fake_kms_fail_after(fake_kms *f, int code, int n);
void fake_kms_counts(fake_kms *f, struct fake_kms_counts *c);
/* Unwraps |blob| under |key_id| directly (what the KMS holds), bypassing
 * failures and counters: lets a test inspect stored records. */
int fake_kms_peek(fake_kms *f, const char *key_id, const uint8_t *blob, size_t blob_len,
                  uint8_t *out, size_t out_cap, size_t *out_len);

/* A clock for vl_keyring_config.clock_ms. */
struct fake_clock {
    _Atomic int64_t ms;
};
int64_t fake_clock_now(void *arg);
void fake_clock_advance(struct fake_clock *c, int64_t ms);

#endif /* VT_FAKE_KMS_H */
