/* The layout behind the opaque vl_aead_key. Internal to core/. */
#ifndef VL_CORE_KEY_H
#define VL_CORE_KEY_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#include "impl.h"

#define VL_KEY_MAGIC UINT64_C(0x766c6b6579763031) /* "vlkeyv01" */

/* Seals counted in advance for one thread (core/usage.c): a cache line
 * that only its owner writes, once it has claimed it. */
#define VL_USAGE_SHARDS 8
struct vl_usage_shard {
    alignas(64) _Atomic uintptr_t owner; /* the owner's token; 0: free */
    _Atomic uint64_t granted_seals, used_seals, granted_bytes, used_bytes;
};

struct vl_key {
    /* Line 0, read on every call, written only by init and set_limits. */
    uint64_t magic;
    const struct vl_impl *impl;
    uint32_t alg;
    uint32_t pair_cas; /* reserve seals and bytes with one 16-byte CAS */
    _Atomic uint64_t max_seals, max_bytes, max_open_failures, rotate_at_seals;
    /* Names this key's current limits for the per-thread shards
     * (core/usage.c): new at every init and set_limits, never 0. */
    _Atomic uint64_t limits_epoch;
    /* Line 1, the counters, written by every seal (and failed open), kept
     * apart so they do not bounce the read-only lines between cores. */
    /* seals and bytes_sealed are adjacent and 16-byte aligned: on x86-64
     * one cmpxchg16b reserves both (core/usage.c). */
    alignas(64) _Atomic uint64_t seals;
    _Atomic uint64_t bytes_sealed, open_failures;
    /* seals and bytes_sealed above include what the shards were granted;
     * what they have not used yet is subtracted when usage is read. */
    struct vl_usage_shard shards[VL_USAGE_SHARDS];
    /* The path's key schedule and precomputation. */
    alignas(64) unsigned char state[VL_IMPL_STATE_BYTES];
};

_Static_assert(sizeof(struct vl_key) == VL_AEAD_KEY_BYTES, "vl_key must fill vl_aead_key");
_Static_assert(alignof(struct vl_key) <= alignof(vl_aead_key), "vl_aead_key alignment");

static inline struct vl_key *vl_key_of(vl_aead_key *k)
{
    return (struct vl_key *)(void *)k->opaque;
}

static inline const struct vl_key *vl_key_of_const(const vl_aead_key *k)
{
    return (const struct vl_key *)(const void *)k->opaque;
}

/* Usage accounting, core/usage.c. */
void vl_usage_reset(struct vl_key *key);
/* Reserve |count| seals of |bytes| in all; VL_ERR_LIMIT, with nothing
 * counted, when a limit would be passed. A reservation is never returned:
 * the caller has already checked everything that could make a seal fail.
 * A single seal (count 1) may come out of the calling thread's shard. */
int vl_usage_reserve_seal(struct vl_key *key, uint64_t count, uint64_t bytes);
/* The seals and bytes the limit check sees: used, plus what threads hold
 * granted in advance and have not spent (vl_aead_usage reports only the
 * used part). A seal is refused when these reach the limits. */
void vl_usage_counted(const struct vl_key *key, uint64_t *seals, uint64_t *bytes);
/* VL_OK while failed opens are below max_open_failures, else VL_ERR_LIMIT.
 * A plain load, no reservation: opens that pass it concurrently may each
 * still fail, so the count can pass the limit by the opens in flight at
 * that moment, after which every open is refused (see core/usage.c). */
int vl_usage_open_allowed(const struct vl_key *key);
/* Count |failed| failed opens. */
void vl_usage_count_failures(struct vl_key *key, uint64_t failed);

/* vl_aead_seal for core/envelope.c, which has checked its buffers as
 * vl_aead_seal would (the plaintext exactly in place or apart from the
 * whole output; room for body and tag; a ready key): the usage count, then
 * the path, skipping a second round of checks on the field hot path. GCM:
 * |nonce_len| bytes of nonce, no AD, out = C || T; SIV: no nonce and one
 * empty AD component (csfle-spec §4.2), out = V || C. On failure
 * (VL_ERR_LIMIT, or VL_ERR_ARG past the GCM length limit) nothing is
 * written. */
int vl_aead_seal_field(vl_aead_key *k, uint8_t *out, size_t *out_len, const uint8_t *nonce,
                       size_t nonce_len, const uint8_t *in, size_t in_len);

#endif /* VL_CORE_KEY_H */
