/* vellum: authenticated encryption (AES-128-GCM, AES-256-GCM, AES-256-SIV).
 *
 * A vl_aead_key is caller-owned, fixed-size and never allocates. It holds the
 * expanded key, the CPU path chosen at vl_aead_init, and the key's usage
 * counters. Once initialised, one key may be used by any number of threads at
 * once for seal and open, and vl_aead_set_limits may change limits while
 * they run (each limit is one atomic word; a seal sees the old or the new
 * value). vl_aead_init and vl_aead_wipe must not race with other calls on
 * the same key.
 *
 * Buffers: every (pointer, length) pair may have a NULL pointer only when its
 * length is 0. The plaintext/ciphertext body of the output must either start
 * exactly where the input body starts (in place) or not overlap the input at
 * all; any partial overlap is refused with VL_ERR_ARG. The nonce and AD must
 * not overlap the output.
 *
 * Failure: every function that writes an output zeroes the whole output
 * buffer (out_cap bytes, or in_len and the tag for detached forms) and sets
 * *out_len to 0 on any failure, so a caller that ignores the return value
 * still never sees unauthenticated plaintext. One exception: an input
 * length over the algorithm's maximum (GCM plaintext, SP 800-38D §5.2.1.1)
 * returns VL_ERR_ARG before any buffer is touched, since such a length does
 * not describe a buffer the caller really has. */
#ifndef VELLUM_AEAD_H
#define VELLUM_AEAD_H

#include <stddef.h>
#include <stdint.h>

#include "vellum/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define VL_MUST_CHECK __attribute__((warn_unused_result))
#else
#define VL_MUST_CHECK
#endif

/* Size of the opaque key. Fixed for the ABI; every path's state fits in it. */
#define VL_AEAD_KEY_BYTES 3072
#define VL_AEAD_TAG_BYTES 16
/* SIV: at most this many AD components (RFC 5297 §7 caps S2V at 126
 * components before the plaintext; a nonce counts as one). */
#define VL_SIV_MAX_COMPONENTS 126

typedef enum { VL_AES128_GCM = 1, VL_AES256_GCM = 2, VL_AES256_SIV = 3 } vl_alg;

typedef struct vl_aead_key {
#if defined(__cplusplus)
    alignas(64) unsigned char opaque[VL_AEAD_KEY_BYTES];
#else
    _Alignas(64) unsigned char opaque[VL_AEAD_KEY_BYTES];
#endif
} vl_aead_key;

/* One read-only byte string, for S2V's vector of AD components. */
typedef struct vl_slice {
    const uint8_t *ptr;
    size_t len;
} vl_slice;

/* vl_aead_init sets up |k| for |alg| with |key|: 16 bytes for AES-128-GCM,
 * 32 for AES-256-GCM, 64 for AES-256-SIV (K1 for S2V, then K2 for CTR, as in
 * RFC 5297 §2.6). The CPU path is chosen here (or forced by the VELLUM_IMPL
 * environment variable, read once per process) and kept in the key. Usage
 * counters start at 0 with the algorithm's default limits.
 * Returns VL_ERR_ARG for a bad algorithm or key length, VL_ERR_UNSUPPORTED
 * when VELLUM_IMPL names a path this CPU cannot run (never a silent
 * fallback). On failure |k| is left wiped. */
int vl_aead_init(vl_aead_key *k, vl_alg alg, const uint8_t *key, size_t key_len) VL_MUST_CHECK;

/* vl_aead_wipe zeroizes all of |k| (key schedule, subkeys, counters). */
void vl_aead_wipe(vl_aead_key *k);

/* vl_aead_impl returns the name of the path |k| runs on: "portable",
 * "aesni", "vaes-avx2", "vaes-avx512" or "armv8-ce"; "none" for a key that
 * is not initialised. */
const char *vl_aead_impl(const vl_aead_key *k);

/* vl_aead_alg returns the algorithm of an initialised key, or 0. */
vl_alg vl_aead_alg(const vl_aead_key *k);

/* vl_aead_seal encrypts and authenticates |in| with |ad|.
 * GCM: |out| = C || T, in_len + 16 bytes. |nonce_len| >= 1 (12 is the
 *   recommended length; others are hashed per SP 800-38D §7.1). Inputs over
 *   the SP 800-38D §5.2.1.1 limits (plaintext 2^36 - 32 bytes) are VL_ERR_ARG.
 *   Never reuse a (key, nonce) pair.
 * SIV: |out| = V || C (RFC 5297), in_len + 16 bytes. |nonce_len| may be 0
 *   (deterministic: S2V over [ad, plaintext]); otherwise S2V runs over
 *   [ad, nonce, plaintext]. The body C is at out + 16, so "in place" means
 *   in == out + 16.
 * Returns VL_ERR_LIMIT, writing nothing, once the key's max_seals or
 * max_bytes would be exceeded: the key must be rotated. */
int vl_aead_seal(vl_aead_key *k, uint8_t *out, size_t *out_len, size_t out_cap,
                 const uint8_t *nonce, size_t nonce_len, const uint8_t *in, size_t in_len,
                 const uint8_t *ad, size_t ad_len) VL_MUST_CHECK;

/* vl_aead_open reverses vl_aead_seal. |in| is C || T (GCM) or V || C (SIV);
 * |out| receives in_len - 16 bytes (SIV in place: out == in + 16).
 * Returns VL_ERR_AUTH with |out| zeroed when the tag does not verify, and
 * counts the failure; once max_open_failures is reached every further open
 * returns VL_ERR_LIMIT. */
int vl_aead_open(vl_aead_key *k, uint8_t *out, size_t *out_len, size_t out_cap,
                 const uint8_t *nonce, size_t nonce_len, const uint8_t *in, size_t in_len,
                 const uint8_t *ad, size_t ad_len) VL_MUST_CHECK;

/* Detached forms: the body and the 16-byte tag (GCM T, SIV V) travel apart.
 * |out| has room for |in_len| bytes and may equal |in| (in place). */
int vl_aead_seal_detached(vl_aead_key *k, uint8_t *out, uint8_t tag[VL_AEAD_TAG_BYTES],
                          const uint8_t *nonce, size_t nonce_len, const uint8_t *in,
                          size_t in_len, const uint8_t *ad, size_t ad_len) VL_MUST_CHECK;
int vl_aead_open_detached(vl_aead_key *k, uint8_t *out, const uint8_t tag[VL_AEAD_TAG_BYTES],
                          const uint8_t *nonce, size_t nonce_len, const uint8_t *in,
                          size_t in_len, const uint8_t *ad, size_t ad_len) VL_MUST_CHECK;

/* RFC 5297 S2V over a vector of AD components (SIV keys only; others get
 * VL_ERR_UNSUPPORTED). S2V runs over ad[0..ad_count), then the nonce when
 * nonce_len > 0, then the plaintext. ad_count may be 0 (no AD component at
 * all, unlike vl_aead_seal, which always passes exactly one). At most
 * VL_SIV_MAX_COMPONENTS components in all. Output layout as vl_aead_seal. */
int vl_aead_siv_seal_v(vl_aead_key *k, uint8_t *out, size_t *out_len, size_t out_cap,
                       const vl_slice *ad, size_t ad_count, const uint8_t *nonce,
                       size_t nonce_len, const uint8_t *in, size_t in_len) VL_MUST_CHECK;
int vl_aead_siv_open_v(vl_aead_key *k, uint8_t *out, size_t *out_len, size_t out_cap,
                       const vl_slice *ad, size_t ad_count, const uint8_t *nonce,
                       size_t nonce_len, const uint8_t *in, size_t in_len) VL_MUST_CHECK;

/* Batch: many messages under one key in one call. Each message is sealed
 * (or opened) exactly as vl_aead_seal (vl_aead_open) would, with its own
 * status and out_len; limits are reserved message by message, in order.
 * Each message's buffers follow the single-call rules; buffers of different
 * messages must not overlap (the fast paths interleave messages).
 * Returns VL_OK when every message succeeded, otherwise the first failing
 * message's status. */
typedef struct vl_aead_msg {
    const uint8_t *nonce;
    size_t nonce_len;
    const uint8_t *ad;
    size_t ad_len;
    const uint8_t *in;
    size_t in_len;
    uint8_t *out;
    size_t out_cap;
    size_t out_len; /* set by the call */
    int status;     /* set by the call */
} vl_aead_msg;

int vl_aead_seal_batch(vl_aead_key *k, vl_aead_msg *msgs, size_t count) VL_MUST_CHECK;
int vl_aead_open_batch(vl_aead_key *k, vl_aead_msg *msgs, size_t count) VL_MUST_CHECK;

/* Usage accounting (SP 800-38D §8.3; CFRG "Usage Limits on AEAD Algorithms").
 * Counts are exact under any number of threads, and limits hold: with
 * max_seals = N never N + 1 seals succeed, and max_bytes is never passed.
 * A thread that seals many messages in a row under one key is granted up to
 * 64 seals (and their bytes) in advance in its own part of the key, so it
 * need not take a lock per seal; vl_aead_usage reports only what was used.
 * The last 512 seals (and 2 MiB) before a limit are never granted, so
 * threads that seal until refused get exactly N, less what a thread that
 * stopped sealing under the key still holds (at most 64 seals per thread,
 * returned when it seals under the key again): a seal can be refused while
 * vl_aead_usage shows a little under a limit, and vl_aead_should_rotate is
 * then already 1. A key must not be shared between processes through
 * shared memory. Failed opens
 * are checked before an open and counted after it (a reservation would put
 * two locked operations on every successful open): under concurrent
 * forgeries the count may pass max_open_failures by the opens in flight at
 * that moment (at most one per thread), after which every open is refused.
 * A limit equal to UINT64_MAX means "no limit". */
typedef struct { uint64_t seals, bytes_sealed, open_failures; } vl_usage;
typedef struct { uint64_t max_seals, max_bytes, max_open_failures, rotate_at_seals; } vl_limits;

void vl_aead_usage(const vl_aead_key *k, vl_usage *u);
/* vl_aead_set_limits replaces the key's limits; counters are kept. Raising a
 * limit above the default is allowed but gives up the guarantee the default
 * documents. Returns VL_ERR_ARG for an uninitialised key or NULL limits. */
int vl_aead_set_limits(vl_aead_key *k, const vl_limits *l);
void vl_aead_get_limits(const vl_aead_key *k, vl_limits *l);
/* vl_aead_default_limits fills |l| with the defaults for |alg| (see
 * core/usage.c for the derivation of each number). VL_ERR_ARG for a bad alg. */
int vl_aead_default_limits(vl_alg alg, vl_limits *l);
/* vl_aead_should_rotate returns 1 once seals >= rotate_at_seals or a hard
 * limit is reached (counting seals granted in advance, see above): time to
 * move to a fresh key before seals start failing. */
int vl_aead_should_rotate(const vl_aead_key *k);

#ifdef __cplusplus
}
#endif

#endif /* VELLUM_AEAD_H */
