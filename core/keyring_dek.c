/* DEK versions: the encrypt and decrypt slow paths (cache misses, seal
 * budget, rotation) and cache eviction.
 *
 * Which version encrypt uses (establish), read from the store each time
 * the cached choice runs out:
 *   - no version yet: create version 1;
 *   - the latest is destroyed: VL_ERR_KEY_DESTROYED (vl_dek_rotate starts
 *     a new version explicitly);
 *   - the latest is soft-deleted, too old (dek_expiry_s), past the soft
 *     limit (rotate_at_seals, counted in the store across processes) or
 *     used up here (hard limit, byte limit): create latest + 1;
 *   - otherwise use it.
 * A new version is generated, wrapped through the KMS, and stored with a
 * create-only put before anything is sealed under it; VL_ERR_EXISTS means
 * another thread or process made that version first, and its record is
 * used instead. Together with the node mutex (one rotation at a time per
 * triple in a process) this gives exactly one new version per rotation
 * event. When a soft-limit or age rotation cannot reach the KMS, the old
 * version goes on (up to its hard limit, as Confluent's client keeps the
 * old DEK) and the rotation is retried after backoff_initial_ms.
 * Without versioning every field is version 1, so nothing rotates: past
 * the soft limit the version runs to its hard limit, then VL_ERR_LIMIT.
 *
 * Seal budget: an entry's vl_aead_key has max_seals = the seals this
 * process reserved for that version from the store. When a seal returns
 * VL_ERR_LIMIT, the next chunk is reserved (durable before it is used);
 * the chunk doubles when the last one lasted under CHUNK_FAST_MS and
 * halves past CHUNK_SLOW_MS, within reserve_min..reserve_max. A grant of
 * 0 means the version reached its soft (or, after a failed rotation,
 * hard) limit in the store. Each refill also re-reads the KEK and DEK
 * records, which is how deletions by other processes reach this one. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "key.h"
#include "keyring_internal.h"
#include "keyring_rcu.h"
#include "rand.h"
#include "tink_key.h"

#define CHUNK_FAST_MS 1000
#define CHUNK_SLOW_MS 10000
#define MAX_ROUNDS 16
/* Seal attempts per call: a round is lost only to other threads' seals
 * draining a fresh chunk first (they made progress), so this bound is
 * never reached in practice; it only rules out an endless loop. */
#define MAX_SEAL_ROUNDS 256
#define AGAIN 1 /* internal: state changed under us, decide again */

static const vl_limits *limits_of(const struct vl_kr_op *op)
{
    return &op->kr->limits[op->alg];
}

static size_t raw_len_of(vl_alg alg)
{
    return alg == VL_AES128_GCM ? 16 : alg == VL_AES256_GCM ? 32 : 64;
}

static int64_t add_sat(int64_t t, uint64_t d)
{
    return d > (uint64_t)(INT64_MAX - (t > 0 ? t : 0)) ? INT64_MAX : t + (int64_t)d;
}

static vl_dek_id id_of(const struct vl_kr_op *op, int32_t version)
{
    vl_dek_id id = {op->kek, op->subject, op->alg, version};
    return id;
}

static int alg_ok(vl_alg a)
{
    return a == VL_AES128_GCM || a == VL_AES256_GCM || a == VL_AES256_SIV;
}

static int names_ok(const char *kek, const char *subject)
{
    return vl_kr_name_ok(kek, VL_NAME_MAX) && vl_kr_name_ok(subject, VL_NAME_MAX);
}

/* ---------------------------------------------------------------- entries */

/* Unwraps |rec| into a new entry on the node's version list. */
static int entry_from_record(struct vl_kr_op *op, const vl_kek_record *kek,
                             const vl_dek_record *rec, struct vl_dek_entry **out)
{
    uint8_t proto[VL_KMS_MAX_KEY], raw[64];
    size_t proto_len = 0, raw_len = 0;
    int rc = vl_kr_unwrap(op, kek, rec->wrapped, rec->wrapped_len, proto, sizeof proto,
                          &proto_len);
    if (rc == VL_OK)
        rc = vl_tink_key_decode(op->alg, proto, proto_len, raw, sizeof raw, &raw_len);
    if (rc == VL_OK)
        rc = vl_dek_entry_new(out, op->alg, raw, raw_len, limits_of(op), rec->version,
                              rec->ts_ms, add_sat(op->now, op->kr->cache_ttl_ms));
    vl_memzero(proto, sizeof proto);
    vl_memzero(raw, sizeof raw);
    if (rc == VL_OK) {
        vl_dek_node_add(op->node, *out);
        vl_kr_deadline(op->kr, *out, 0);
    }
    return rc;
}

/* Generates version |version|, wraps it and stores it (create-only).
 * AGAIN when another writer created that version first. */
static int create_version(struct vl_kr_op *op, const vl_kek_record *kek, int32_t version,
                          struct vl_dek_entry **out)
{
    uint8_t raw[64], proto[VL_TINK_KEY_MAX];
    size_t raw_len = raw_len_of(op->alg), proto_len = 0;
    vl_dek_record rec;
    memset(&rec, 0, sizeof rec);
    strcpy(rec.kek_name, op->kek);
    strcpy(rec.subject, op->subject);
    rec.alg = op->alg;
    rec.version = version;
    rec.ts_ms = op->now;
    int rc = vl_random(raw, raw_len);
    if (rc == VL_OK)
        rc = vl_tink_key_encode(op->alg, raw, raw_len, proto, sizeof proto, &proto_len);
    if (rc == VL_OK)
        rc = vl_kr_wrap(op, kek, proto, proto_len, rec.wrapped, sizeof rec.wrapped,
                        &rec.wrapped_len);
    if (rc == VL_OK)
        rc = op->kr->store->ops->put_dek(op->kr->store, &rec, 1);
    if (rc == VL_OK)
        rc = vl_dek_entry_new(out, op->alg, raw, raw_len, limits_of(op), version, rec.ts_ms,
                              add_sat(op->now, op->kr->cache_ttl_ms));
    vl_memzero(raw, sizeof raw);
    vl_memzero(proto, sizeof proto);
    if (rc == VL_OK) {
        vl_dek_node_add(op->node, *out);
        if (version > 1)
            vl_kr_count(&op->kr->rotations, 1);
    }
    return rc == VL_ERR_EXISTS ? AGAIN : rc;
}

static void adapt_chunk(const vl_keyring *kr, struct vl_dek_entry *e, int64_t now)
{
    if (e->chunk == 0)
        e->chunk = kr->reserve_min;
    else if (now - e->chunk_ms < CHUNK_FAST_MS)
        e->chunk = e->chunk * 2 < kr->reserve_max ? e->chunk * 2 : kr->reserve_max;
    else if (now - e->chunk_ms > CHUNK_SLOW_MS)
        e->chunk = e->chunk / 2 > kr->reserve_min ? e->chunk / 2 : kr->reserve_min;
    e->chunk_ms = now;
}

/* Reserves the entry's next chunk in the store and raises its max_seals;
 * *granted 0: the version is at its soft (or hard) limit. */
static int reserve_chunk(struct vl_kr_op *op, struct vl_dek_entry *e, uint64_t *granted)
{
    const vl_limits *l = limits_of(op);
    uint64_t cap = e->past_soft ? l->max_seals : l->rotate_at_seals, start = 0;
    vl_dek_id id = id_of(op, e->version);
    vl_store *s = op->kr->store;
    adapt_chunk(op->kr, e, op->now);
    *granted = 0;
    int rc = s->ops->reserve(s, &id, e->chunk, cap, &start, granted);
    if (rc != VL_OK || *granted == 0)
        return rc;
    if (*granted > e->chunk || start > UINT64_MAX - *granted || start + *granted > cap)
        return VL_ERR_FORMAT; /* a store granting more than asked is broken */
    vl_kr_count(&op->kr->reservations, 1);
    vl_kr_count(&op->kr->seals_reserved, *granted);
    vl_limits kl;
    vl_aead_get_limits(&e->key, &kl);
    e->granted += *granted;
    kl.max_seals = e->granted;
    return vl_aead_set_limits(&e->key, &kl);
}

/* Seals counted against the entry's key, including what threads were
 * granted in advance and hold unspent (core/usage.c): the key refuses a
 * seal when these reach max_seals, so this, not vl_aead_usage, says
 * whether the entry needs its next chunk. */
static uint64_t seals_of(const struct vl_dek_entry *e)
{
    uint64_t seals, bytes;
    vl_usage_counted(vl_key_of_const(&e->key), &seals, &bytes);
    return seals;
}
static void unpublish(struct vl_dek_node *n, struct vl_dek_entry *e)
{
    if (atomic_load_explicit(&n->current, memory_order_relaxed) == e)
        atomic_store_explicit(&n->current, NULL, memory_order_release);
}

/* Makes |e| current with budget; AGAIN when the store has no seal left
 * under the entry's cap (the caller decides anew: rotation or done). */
static int publish(struct vl_kr_op *op, struct vl_dek_entry *e, int64_t enc_until)
{
    uint64_t granted = 1;
    int rc = VL_OK;
    if (seals_of(e) >= e->granted)
        rc = reserve_chunk(op, e, &granted);
    if (rc != VL_OK)
        return rc;
    if (granted == 0) {
        e->done |= e->past_soft || limits_of(op)->rotate_at_seals == limits_of(op)->max_seals;
        return AGAIN;
    }
    atomic_store_explicit(&e->enc_until_ms, enc_until < e->expires_ms ? enc_until : e->expires_ms,
                          memory_order_relaxed);
    atomic_store_explicit(&op->node->current, e, memory_order_release);
    vl_kr_deadline(op->kr, e, 1);
    return VL_OK;
}

/* ---------------------------------------------------------------- establish */

enum verdict { USE, NEW_DELETED, NEW_SOFT, NEW_AGE, NEW_DONE };

static enum verdict judge(const struct vl_kr_op *op, const vl_dek_record *rec)
{
    const struct vl_dek_entry *e = vl_dek_node_version(op->node, rec->version);
    if (rec->deleted)
        return NEW_DELETED;
    if (e != NULL && e->done)
        return NEW_DONE;
    if (op->kr->dek_expiry_ms != 0 && op->now - rec->ts_ms >= (int64_t)op->kr->dek_expiry_ms)
        return NEW_AGE;
    /* Also when a failed rotation left the version running past its soft
     * limit: the retry is due (enc_until_ms ran out), so try again. */
    if (rec->reserved_seals >= limits_of(op)->rotate_at_seals)
        return NEW_SOFT;
    return USE;
}

/* The KEK, live; a missing KEK whose DEKs were destroyed is reported as
 * destroyed (it was hard-deleted), otherwise as not found. */
static int live_kek(struct vl_kr_op *op, vl_kek_record *kek)
{
    int rc = vl_kr_get_kek(op->kr, op->kek, kek);
    if (rc == VL_OK && kek->deleted)
        return VL_ERR_KEY_DISABLED;
    if (rc != VL_ERR_NOT_FOUND)
        return rc;
    vl_dek_record rec;
    vl_dek_id id = id_of(op, -1);
    if (vl_kr_get_dek(op->kr, &id, &rec) == VL_OK && vl_kr_destroyed(&rec))
        rc = VL_ERR_KEY_DESTROYED;
    vl_memzero(&rec, sizeof rec);
    return rc;
}

/* Uses the stored version |rec| (cached or unwrapped now). */
static int adopt(struct vl_kr_op *op, const vl_kek_record *kek, const vl_dek_record *rec,
                 int past_soft, int64_t enc_until)
{
    struct vl_dek_entry *e = vl_dek_node_version(op->node, rec->version), *retired = NULL;
    if (e != NULL && op->now >= e->expires_ms) {
        /* Cached for decrypt, TTL over, not swept yet: never republish. */
        vl_dek_node_unlink(op->node, e, &retired);
        vl_kr_count(&op->kr->cache_evictions, 1);
        vl_dek_retire(retired, &op->kr->retired_seals);
        retired = NULL;
        e = NULL;
    }
    int fresh = e == NULL;
    int rc = fresh ? entry_from_record(op, kek, rec, &e) : VL_OK;
    if (rc != VL_OK)
        return rc;
    e->past_soft |= past_soft;
    rc = publish(op, e, enc_until);
    if (rc != VL_OK && rc != AGAIN && fresh) {
        /* The store would not reserve for the record it just returned
         * (gone meanwhile, or a record that lied about its version):
         * leave the cache as it was. */
        vl_dek_node_unlink(op->node, e, &retired);
        vl_dek_retire(retired, &op->kr->retired_seals);
    }
    return rc;
}

/* When a version created at |ts_ms| is due for age rotation. */
static int64_t rotation_due(const struct vl_kr_op *op, int64_t ts_ms)
{
    return op->kr->dek_expiry_ms != 0 ? add_sat(ts_ms, op->kr->dek_expiry_ms) : INT64_MAX;
}

static int start_version(struct vl_kr_op *op, const vl_kek_record *kek, int32_t version)
{
    struct vl_dek_entry *e = NULL;
    int rc = create_version(op, kek, version, &e);
    return rc == VL_OK ? publish(op, e, rotation_due(op, op->now)) : rc;
}

/* Versioning off: version 1 for ever. */
static int keep_v1(struct vl_kr_op *op, const vl_kek_record *kek, const vl_dek_record *rec,
                   enum verdict why)
{
    if (why == NEW_DELETED)
        return VL_ERR_KEY_DISABLED;
    if (why == NEW_DONE)
        return VL_ERR_LIMIT;
    return adopt(op, kek, rec, why == NEW_SOFT, INT64_MAX);
}

/* A soft-limit or age rotation the KMS could not serve: keep the old
 * version and try again after the first backoff step. */
static int fall_back(struct vl_kr_op *op, const vl_kek_record *kek, const vl_dek_record *rec,
                     enum verdict why)
{
    int64_t retry = add_sat(op->now, op->kr->backoff_initial_ms);
    int rc = adopt(op, kek, rec, why == NEW_SOFT, retry);
    return rc == VL_OK ? VL_OK : VL_ERR_KMS_UNAVAILABLE;
}

static int establish_once(struct vl_kr_op *op)
{
    vl_kek_record kek;
    vl_dek_record rec;
    vl_dek_id id = id_of(op, op->kr->versioned ? -1 : 1);
    int rc = live_kek(op, &kek);
    if (rc != VL_OK)
        return rc;
    rc = vl_kr_get_dek(op->kr, &id, &rec);
    if (rc == VL_ERR_NOT_FOUND)
        return start_version(op, &kek, 1);
    if (rc != VL_OK)
        return rc;
    if (vl_kr_destroyed(&rec))
        return VL_ERR_KEY_DESTROYED;
    enum verdict why = judge(op, &rec);
    if (why == USE)
        return adopt(op, &kek, &rec, 0, rotation_due(op, rec.ts_ms));
    if (!op->kr->versioned)
        return keep_v1(op, &kek, &rec, why);
    if (rec.version == INT32_MAX)
        return VL_ERR_LIMIT;
    rc = start_version(op, &kek, rec.version + 1);
    if (rc == VL_ERR_KMS_UNAVAILABLE && (why == NEW_SOFT || why == NEW_AGE))
        rc = fall_back(op, &kek, &rec, why);
    return rc;
}

/* Publishes an entry fit for encryption in node->current. */
static int establish(struct vl_kr_op *op)
{
    int rc = AGAIN;
    for (int i = 0; i < MAX_ROUNDS && rc == AGAIN; i++)
        rc = establish_once(op);
    return rc == AGAIN ? VL_ERR_LIMIT : rc;
}

/* ---------------------------------------------------------------- encrypt */

/* The current entry if encrypt may use it now; otherwise unpublishes it
 * (and evicts it, when its cache time is over) and returns NULL. */
static struct vl_dek_entry *usable_current(struct vl_kr_op *op)
{
    struct vl_dek_entry *e = atomic_load_explicit(&op->node->current, memory_order_relaxed);
    if (e == NULL || op->now < atomic_load_explicit(&e->enc_until_ms, memory_order_relaxed))
        return e;
    unpublish(op->node, e);
    if (op->now >= e->expires_ms) {
        struct vl_dek_entry *retired = NULL;
        vl_dek_node_unlink(op->node, e, &retired);
        vl_kr_count(&op->kr->cache_evictions, 1);
        vl_dek_retire(retired, &op->kr->retired_seals);
    }
    return NULL;
}

/* 1 when the store still has the KEK live and the version live. */
static int still_live(struct vl_kr_op *op, const struct vl_dek_entry *e)
{
    vl_kek_record kek;
    vl_dek_record rec;
    vl_dek_id id = id_of(op, e->version);
    int live = vl_kr_get_kek(op->kr, op->kek, &kek) == VL_OK && !kek.deleted &&
               vl_kr_get_dek(op->kr, &id, &rec) == VL_OK && !rec.deleted;
    vl_memzero(&rec, sizeof rec);
    return live;
}

/* 1 when the byte budget (not the seal budget) refused |len| bytes. */
static int bytes_exhausted(const struct vl_dek_entry *e, size_t len)
{
    uint64_t seals, bytes;
    vl_limits l;
    vl_usage_counted(vl_key_of_const(&e->key), &seals, &bytes);
    vl_aead_get_limits(&e->key, &l);
    return bytes > l.max_bytes || l.max_bytes - bytes < (uint64_t)len;
}

/* A seal under |e| returned VL_ERR_LIMIT: more budget, or retire it from
 * encryption so the next round picks (or creates) another version. */
static int refill(struct vl_kr_op *op, struct vl_dek_entry *e, size_t len)
{
    uint64_t granted = 0;
    if (atomic_load_explicit(&op->node->current, memory_order_relaxed) != e)
        return VL_OK; /* replaced meanwhile */
    if (bytes_exhausted(e, len)) {
        e->done = 1;
        unpublish(op->node, e);
        return VL_OK;
    }
    if (seals_of(e) < e->granted)
        return VL_OK; /* another thread refilled it meanwhile */
    int rc = reserve_chunk(op, e, &granted);
    if (rc == VL_ERR_NOT_FOUND || (rc == VL_OK && granted > 0 && !still_live(op, e))) {
        unpublish(op->node, e); /* deleted elsewhere: establish will see it */
        return VL_OK;
    }
    if (rc == VL_OK && granted == 0) {
        e->done |= e->past_soft || limits_of(op)->rotate_at_seals == limits_of(op)->max_seals;
        unpublish(op->node, e);
    }
    return rc;
}

static int encrypt_locked(struct vl_kr_op *op, const uint8_t *pt, size_t pt_len, uint8_t *out,
                          size_t *out_len)
{
    for (int i = 0; i < MAX_SEAL_ROUNDS; i++) {
        struct vl_dek_entry *e = usable_current(op);
        int rc = e != NULL ? VL_OK : establish(op);
        if (rc != VL_OK)
            return rc;
        if (e == NULL)
            continue;
        rc = vl_kr_seal(op->kr, e, op->alg, pt, pt_len, out, out_len);
        if (rc == VL_OK)
            vl_kr_count(&op->kr->slow_seals, 1);
        if (rc != VL_ERR_LIMIT)
            return rc;
        rc = refill(op, e, pt_len);
        if (rc != VL_OK)
            return rc;
    }
    return VL_ERR_LIMIT;
}

static void finish(struct vl_kr_op *op)
{
    if (op->evict_kek)
        vl_kr_evict_kek(op->kr, op->kek, 0);
    vl_kr_sweep(op->kr, op->now);
}

static int begin(struct vl_kr_op *op, vl_keyring *kr, const char *kek, const char *subject,
                 vl_alg alg, int64_t now)
{
    int rc = VL_OK;
    *op = (struct vl_kr_op){.kr = kr, .kek = kek, .subject = subject, .alg = alg, .now = now};
    if (!names_ok(kek, subject) || !alg_ok(alg))
        return VL_ERR_ARG;
    op->node = vl_dek_cache_node(&kr->cache, kek, subject, alg, 1, &rc);
    vl_kr_count(&kr->cache_misses, 1);
    return rc;
}

int vl_kr_encrypt_slow(vl_keyring *kr, const char *kek, const char *subject, vl_alg alg,
                       const uint8_t *pt, size_t pt_len, uint8_t *out, size_t *out_len)
{
    struct vl_kr_op op;
    int rc = begin(&op, kr, kek, subject, alg, vl_kr_now(kr));
    if (rc != VL_OK)
        return rc;
    if ((uint64_t)pt_len > kr->limits[alg].max_bytes)
        return VL_ERR_LIMIT; /* no version could ever take it */
    pthread_rwlock_rdlock(&kr->admin);
    pthread_mutex_lock(&op.node->mu);
    rc = encrypt_locked(&op, pt, pt_len, out, out_len);
    pthread_mutex_unlock(&op.node->mu);
    pthread_rwlock_unlock(&kr->admin);
    finish(&op);
    return rc;
}

/* ---------------------------------------------------------------- rotate */

static int rotate_locked(struct vl_kr_op *op, int32_t *new_version)
{
    vl_kek_record kek;
    vl_dek_record rec;
    vl_dek_id id = id_of(op, -1);
    int rc = live_kek(op, &kek);
    for (int i = 0; i < MAX_ROUNDS && rc == VL_OK; i++) {
        struct vl_dek_entry *e = NULL;
        int32_t next = 1;
        rc = vl_kr_get_dek(op->kr, &id, &rec);
        if (rc == VL_OK && rec.version == INT32_MAX)
            return VL_ERR_LIMIT;
        if (rc == VL_OK)
            next = rec.version + 1;
        else if (rc != VL_ERR_NOT_FOUND)
            return rc;
        rc = create_version(op, &kek, next, &e);
        if (rc == AGAIN) {
            rc = VL_OK; /* another writer took |next|: go past it */
            continue;
        }
        if (rc == VL_OK) {
            unpublish(op->node, atomic_load_explicit(&op->node->current, memory_order_relaxed));
            *new_version = next;
            return VL_OK;
        }
    }
    return rc == VL_OK ? VL_ERR_LIMIT : rc;
}

int vl_dek_rotate(vl_keyring *kr, const char *kek, const char *subject, vl_alg alg,
                  int32_t *new_version)
{
    struct vl_kr_op op;
    int32_t v = 0;
    if (new_version != NULL)
        *new_version = 0;
    if (kr == NULL)
        return VL_ERR_ARG;
    if (!kr->versioned)
        return VL_ERR_UNSUPPORTED; /* fields would all say version 1 */
    int rc = begin(&op, kr, kek, subject, alg, vl_kr_now(kr));
    if (rc != VL_OK)
        return rc;
    pthread_rwlock_rdlock(&kr->admin);
    pthread_mutex_lock(&op.node->mu);
    rc = rotate_locked(&op, &v);
    pthread_mutex_unlock(&op.node->mu);
    pthread_rwlock_unlock(&kr->admin);
    finish(&op);
    if (rc == VL_OK && new_version != NULL)
        *new_version = v;
    return rc;
}

/* ---------------------------------------------------------------- decrypt */

static int load_version(struct vl_kr_op *op, int32_t version, struct vl_dek_entry **out)
{
    vl_kek_record kek;
    vl_dek_record rec;
    vl_dek_id id = id_of(op, version);
    int rc = vl_kr_get_dek(op->kr, &id, &rec);
    if (rc == VL_OK && vl_kr_destroyed(&rec))
        rc = VL_ERR_KEY_DESTROYED;
    if (rc == VL_OK)
        rc = vl_kr_get_kek(op->kr, op->kek, &kek); /* soft-deleted still decrypts */
    if (rc == VL_OK)
        rc = entry_from_record(op, &kek, &rec, out);
    vl_memzero(&rec, sizeof rec);
    return rc;
}

static int decrypt_locked(struct vl_kr_op *op, int32_t version, const uint8_t *body,
                          size_t body_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    struct vl_dek_entry *e = vl_dek_node_version(op->node, version), *retired = NULL;
    if (e != NULL && op->now >= e->expires_ms) {
        vl_dek_node_unlink(op->node, e, &retired);
        vl_kr_count(&op->kr->cache_evictions, 1);
        vl_dek_retire(retired, &op->kr->retired_seals);
        e = NULL;
    }
    int rc = e != NULL ? VL_OK : load_version(op, version, &e);
    return rc == VL_OK ? vl_kr_open(e, op->alg, body, body_len, out, out_cap, out_len) : rc;
}

int vl_kr_decrypt_slow(vl_keyring *kr, const char *kek, const char *subject, vl_alg alg,
                       int32_t version, const uint8_t *body, size_t body_len, uint8_t *out,
                       size_t out_cap, size_t *out_len)
{
    struct vl_kr_op op;
    int rc = begin(&op, kr, kek, subject, alg, vl_kr_now(kr));
    if (rc != VL_OK)
        return rc;
    pthread_rwlock_rdlock(&kr->admin);
    pthread_mutex_lock(&op.node->mu);
    rc = decrypt_locked(&op, version, body, body_len, out, out_cap, out_len);
    pthread_mutex_unlock(&op.node->mu);
    pthread_rwlock_unlock(&kr->admin);
    finish(&op);
    return rc;
}
