/* The keyring's internals, shared by core/keyring*.c and core/envelope.c.
 * Not installed.
 *
 * Locks, always taken in this order (each one optional):
 *   1. kr->admin   rwlock. Exclusive: KEK and DEK record changes (create,
 *                  delete, undelete, rewrap). Shared: everything that reads
 *                  a KEK and then wraps or unwraps under it (DEK creation,
 *                  cache misses), so a rewrap never interleaves with them.
 *   2. node->mu    one (KEK, subject, alg) triple: misses, budget refills,
 *                  rotation. Held across store and KMS calls.
 *   3. kr->mu, cache->mu, sweep_mu   leaves: KMS table and backoff; node
 *                  table; the deadline thread's schedule.
 * The hot paths take none of them (RCU, keyring_rcu.h); nothing blocks
 * inside a read section, and vl_rcu_synchronize may run under any lock.
 * The deadline thread takes node->mu (alone) and sweep_mu (alone).
 *
 * File map: keyring.c (object, config, KEK registry, record checks),
 * keyring_dek.c (slow paths: misses, budget, rotation; eviction),
 * keyring_dek_admin.c (DEK get/delete/undelete/revoke), keyring_kms.c
 * (backoff, alternates, probe, rewrap), keyring_props.c (kmsProps JSON),
 * keyring_sweep.c (deadline thread), keyring_rcu.c (RCU), keyring_nonce.c
 * (GCM nonces), dek_cache.c (nodes, entries, table), envelope.c (fields,
 * hot paths). */
#ifndef VL_CORE_KEYRING_INTERNAL_H
#define VL_CORE_KEYRING_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "dek_cache.h"

#include "vellum/envelope.h"

#define VL_KR_MAX_KMS 16
#define VL_KR_STRIPES 64
#define VL_KR_ALT_KEY "encrypt.alternate.kms.key.ids"

/* One registered KMS and its retry schedule (under kr->mu). */
struct vl_kr_kms {
    char type[VL_KMS_TYPE_MAX];
    vl_kms *kms;
    int64_t retry_at_ms; /* while unavailable: no call before this */
    uint64_t delay_ms;   /* the current backoff step; 0 = healthy */
    int probing;         /* the one call allowed after the window is out */
};

/* Decrypt cache hits: thread i (its RCU reader index) owns stripe i, so
 * the hot path adds with a plain load and store on a line no other thread
 * writes (a locked add measured ~5 ns, a quarter of the hot path's budget).
 * Threads with an index past VL_KR_STRIPES share hits_shared (locked).
 * Encrypt hits cost nothing on the hot path: every seal is counted by the
 * AEAD key anyway, so hits = seals of all entries (live, and retired into
 * retired_seals) minus the seals the slow path made (slow_seals). */
struct vl_kr_stripe {
    _Alignas(64) _Atomic uint64_t hits;
};

struct vl_keyring {
    struct vl_dek_cache cache; /* first: what the hot path reads */
    uint64_t id;               /* unique per keyring in the process */
    int versioned;
    int64_t (*clock_ms)(void *arg);
    void *clock_arg;
    vl_store *store;
    uint64_t cache_ttl_ms, dek_expiry_ms;
    vl_limits limits[4]; /* per vl_alg, resolved from the config */
    uint64_t reserve_min, reserve_max;
    uint64_t backoff_initial_ms, backoff_max_ms;
    pthread_rwlock_t admin;
    pthread_mutex_t mu;
    struct vl_kr_kms kms[VL_KR_MAX_KMS];
    size_t n_kms;
    _Atomic int64_t next_sweep_ms; /* slow-path sweeps, without the thread */
    /* The deadline thread (keyring_sweep.c). hot_clock: the hot paths read
     * the clock themselves (no thread). */
    int hot_clock;
    int sweeper_on, sweep_stop;
    pid_t owner_pid;
    pthread_t sweeper;
    pthread_mutex_t sweep_mu;
    pthread_cond_t sweep_cv;
    int64_t sweep_at; /* under sweep_mu: when the thread must act next */
    struct vl_kr_stripe stripe[VL_KR_STRIPES];
    _Atomic uint64_t hits_shared;
    _Atomic uint64_t retired_seals, slow_seals;
    _Atomic uint64_t kms_wraps, kms_unwraps, kms_failures;
    _Atomic uint64_t cache_misses, cache_evictions;
    _Atomic uint64_t reservations, seals_reserved, rotations;
};

/* Set in a child after fork(): no keyring has its deadline thread there. */
extern _Atomic int vl_kr_forked;

/* Milliseconds since the epoch: the injected clock, or CLOCK_REALTIME,
 * the clock the deadline thread sleeps on. Slow paths only. */
static inline int64_t vl_kr_now(const vl_keyring *kr)
{
    if (kr->clock_ms != NULL)
        return kr->clock_ms(kr->clock_arg);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The hot paths' "now": INT64_MIN (every deadline is in the future) while
 * the deadline thread enforces deadlines; otherwise the injected clock or
 * CLOCK_REALTIME_COARSE (a ~3 ns vDSO read against ~20 ns; it never runs
 * ahead of CLOCK_REALTIME, and its 1-4 ms tick is far below any TTL). */
static inline int64_t vl_kr_hot_now(const vl_keyring *kr)
{
    if (__builtin_expect(!(kr->hot_clock | atomic_load_explicit(&vl_kr_forked,
                                                                  memory_order_relaxed)),
                         1))
        return INT64_MIN;
    if (kr->clock_ms != NULL)
        return kr->clock_ms(kr->clock_arg);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void vl_kr_count(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* One slow-path operation on a triple. */
struct vl_kr_op {
    vl_keyring *kr;
    struct vl_dek_node *node;
    const char *kek, *subject;
    vl_alg alg;
    int64_t now;
    int evict_kek; /* the KMS said the KEK is disabled or destroyed */
};

/* Names and records (keyring.c). */
int vl_kr_name_ok(const char *s, size_t cap);
/* get_kek / get_dek with every field of the untrusted record checked
 * against what was asked for: VL_ERR_FORMAT, *out zeroed, otherwise. */
int vl_kr_get_kek(vl_keyring *kr, const char *name, vl_kek_record *out);
int vl_kr_get_dek(vl_keyring *kr, const vl_dek_id *id, vl_dek_record *out);
int vl_kr_check_dek(const vl_dek_record *r, const vl_dek_id *id);
/* 1 for a permanently deleted version: the row kept, the material gone. */
static inline int vl_kr_destroyed(const vl_dek_record *r)
{
    return r->wrapped_len == 0;
}
/* VL_ERR_EXISTS when a live KEK other than |self| of |kms_type| uses
 * |key_id| and not both are shared. */
int vl_kr_key_id_free(vl_keyring *kr, const char *self, const char *kms_type,
                      const char *key_id, int shared);

/* The KMS, with backoff and alternates (keyring_kms.c). */
int vl_kr_wrap(struct vl_kr_op *op, const vl_kek_record *kek, const uint8_t *raw, size_t raw_len,
               uint8_t *out, size_t out_cap, size_t *out_len);
int vl_kr_unwrap(struct vl_kr_op *op, const vl_kek_record *kek, const uint8_t *blob,
                 size_t blob_len, uint8_t *out, size_t out_cap, size_t *out_len);

/* kmsProps (keyring_props.c). */
int vl_kr_props_alternates(const char *props, char *out, size_t cap);
int vl_kr_props_set_alternates(const char *props, const char *value, char *out, size_t cap);
/* Splits a comma-separated id list: copies the next id into |id| and
 * returns where to continue, or NULL at the end. */
const char *vl_kr_next_id(const char *list, char *id, size_t cap);

/* Cache maintenance (keyring_dek.c). All take no lock on entry. */
void vl_kr_evict_kek(vl_keyring *kr, const char *kek, int current_only);
void vl_kr_evict(vl_keyring *kr, const vl_dek_id *id, int current_only);
void vl_kr_sweep(vl_keyring *kr, int64_t now);

/* The deadline thread (keyring_sweep.c). */
void vl_kr_sweeper_start(vl_keyring *kr);
void vl_kr_sweeper_stop(vl_keyring *kr);
/* |e| was cached or (|is_current|) published: wake the thread earlier if
 * it now has something to do sooner. */
void vl_kr_deadline(vl_keyring *kr, const struct vl_dek_entry *e, int is_current);

/* The slow paths (keyring_dek.c), called outside any read section. The
 * encrypt's buffers are those vl_field_encrypt checked (room for the field),
 * and it wipes the output itself on failure. */
int vl_kr_encrypt_slow(vl_keyring *kr, const char *kek, const char *subject, vl_alg alg,
                       const uint8_t *pt, size_t pt_len, uint8_t *out, size_t *out_len);
int vl_kr_decrypt_slow(vl_keyring *kr, const char *kek, const char *subject, vl_alg alg,
                       int32_t version, const uint8_t *body, size_t body_len, uint8_t *out,
                       size_t out_cap, size_t *out_len);

/* One field seal or open with a given entry (envelope.c). vl_kr_seal's
 * buffers are those vl_field_encrypt checked: |out| has room for the field. */
int vl_kr_seal(const vl_keyring *kr, struct vl_dek_entry *e, vl_alg alg, const uint8_t *pt,
               size_t pt_len, uint8_t *out, size_t *out_len);
int vl_kr_open(struct vl_dek_entry *e, vl_alg alg, const uint8_t *body, size_t body_len,
               uint8_t *out, size_t out_cap, size_t *out_len);

#endif /* VL_CORE_KEYRING_INTERNAL_H */
