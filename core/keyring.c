/* The keyring object and the KEK registry (include/vellum/envelope.h).
 *
 * Decisions:
 *   - The store is the only truth for KEK and DEK records; the keyring
 *     caches unwrapped DEKs, never records. Changes made through this
 *     keyring take effect at once (the affected cache entries are
 *     unpublished); changes another process makes in a shared store are
 *     seen at this process's next store read for that triple: a miss, a
 *     budget refill (every reserve_min..reserve_max seals) or the cache
 *     TTL, whichever comes first.
 *   - Registry rules as Confluent's DEK Registry applies them
 *     (csfle-spec.md §7.4): soft delete of a KEK needs every DEK under it
 *     soft-deleted first (VL_ERR_BUSY); hard delete needs a soft delete
 *     first (VL_ERR_BUSY) and no DEK that still holds material;
 *     re-creating a soft-deleted KEK with the same KMS type, key id and
 *     shared flag undeletes it; any other create of an existing name is
 *     VL_ERR_EXISTS.
 *   - The key-id rule (envelope.h) is checked under the admin lock, so it
 *     holds within a process; two processes creating KEKs with the same
 *     key id at the same instant through a shared store can both succeed
 *     (the store has no such constraint to enforce it atomically).
 *   - A hard-deleted DEK version stays in the store as a tombstone
 *     (deleted, wrapped_len 0, material wiped): version numbers never come
 *     back, and a reader of old data gets VL_ERR_KEY_DESTROYED, not
 *     VL_ERR_AUTH from a new key under a recycled number. Tombstones do
 *     not block a KEK's hard delete, and they outlive it. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "keyring_internal.h"

#define DEFAULT_TTL_MS (6 * 3600 * UINT64_C(1000))
#define DEFAULT_RESERVE_MIN 64
#define DEFAULT_RESERVE_MAX 65536
#define DEFAULT_BACKOFF_INITIAL_MS 100
#define DEFAULT_BACKOFF_MAX_MS 30000

static _Atomic uint64_t next_keyring_id = 1;

int vl_kr_name_ok(const char *s, size_t cap)
{
    return s != NULL && s[0] != '\0' && memchr(s, '\0', cap) != NULL;
}

/* ---------------------------------------------------------------- config */

static uint64_t or_default(uint64_t v, uint64_t def)
{
    return v != 0 ? v : def;
}

/* Per algorithm: its defaults, each non-zero field of the config over
 * them, and rotate_at_seals clamped to max_seals (so a config giving only
 * max_seals rotates at it). */
static int resolve_limits(vl_keyring *kr, const vl_limits *cfg)
{
    for (int alg = VL_AES128_GCM; alg <= VL_AES256_SIV; alg++) {
        vl_limits *l = &kr->limits[alg];
        int rc = vl_aead_default_limits((vl_alg)alg, l);
        if (rc != VL_OK)
            return rc;
        l->max_seals = or_default(cfg->max_seals, l->max_seals);
        l->max_bytes = or_default(cfg->max_bytes, l->max_bytes);
        l->max_open_failures = or_default(cfg->max_open_failures, l->max_open_failures);
        l->rotate_at_seals = or_default(cfg->rotate_at_seals, l->rotate_at_seals);
        if (l->rotate_at_seals > l->max_seals)
            l->rotate_at_seals = l->max_seals;
    }
    return VL_OK;
}

static int store_ok(const vl_store *s)
{
    const vl_store_ops *o = s != NULL ? s->ops : NULL;
    return o != NULL && o->size >= sizeof *o && o->put_kek && o->get_kek && o->each_kek &&
           o->delete_kek && o->put_dek && o->get_dek && o->each_dek && o->delete_dek &&
           o->reserve;
}

static int apply_config(vl_keyring *kr, const vl_keyring_config *cfg)
{
    if (!store_ok(cfg->store) || (cfg->dek_expiry_s > 0 && !cfg->versioned) ||
        cfg->dek_expiry_s > (uint64_t)INT64_MAX / 1000 || cfg->cache_ttl_ms > (uint64_t)INT64_MAX)
        return VL_ERR_ARG;
    kr->store = cfg->store;
    kr->versioned = cfg->versioned != 0;
    kr->clock_ms = cfg->clock_ms;
    kr->clock_arg = cfg->clock_arg;
    kr->cache_ttl_ms = or_default(cfg->cache_ttl_ms, DEFAULT_TTL_MS);
    kr->dek_expiry_ms = cfg->dek_expiry_s * 1000;
    kr->reserve_min = or_default(cfg->reserve_min, DEFAULT_RESERVE_MIN);
    kr->reserve_max = or_default(cfg->reserve_max, DEFAULT_RESERVE_MAX);
    kr->backoff_initial_ms = or_default(cfg->backoff_initial_ms, DEFAULT_BACKOFF_INITIAL_MS);
    kr->backoff_max_ms = or_default(cfg->backoff_max_ms, DEFAULT_BACKOFF_MAX_MS);
    if (kr->reserve_min > kr->reserve_max || kr->backoff_initial_ms > kr->backoff_max_ms ||
        kr->backoff_max_ms > (uint64_t)INT64_MAX / 4)
        return VL_ERR_ARG;
    return resolve_limits(kr, &cfg->dek_limits);
}

/* A reader-preferring rwlock would let a stream of cache misses starve a
 * rewrap forever; glibc's writer preference fixes that. */
static int admin_init(pthread_rwlock_t *l)
{
    pthread_rwlockattr_t a;
    if (pthread_rwlockattr_init(&a) != 0)
        return VL_ERR_NOMEM;
    (void)pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(l, &a) == 0 ? VL_OK : VL_ERR_NOMEM;
    pthread_rwlockattr_destroy(&a);
    return rc;
}

static int locks_init(vl_keyring *kr)
{
    if (admin_init(&kr->admin) != VL_OK)
        return VL_ERR_NOMEM;
    if (pthread_mutex_init(&kr->mu, NULL) != 0) {
        pthread_rwlock_destroy(&kr->admin);
        return VL_ERR_NOMEM;
    }
    return VL_OK;
}

int vl_keyring_new(vl_keyring **out, const vl_keyring_config *cfg)
{
    if (out == NULL)
        return VL_ERR_ARG;
    *out = NULL;
    if (cfg == NULL)
        return VL_ERR_ARG;
    vl_keyring *kr = aligned_alloc(64, sizeof *kr);
    if (kr == NULL)
        return VL_ERR_NOMEM;
    memset(kr, 0, sizeof *kr);
    int rc = apply_config(kr, cfg);
    if (rc == VL_OK)
        rc = vl_dek_cache_init(&kr->cache);
    if (rc == VL_OK && (rc = locks_init(kr)) != VL_OK)
        vl_dek_cache_free(&kr->cache);
    if (rc != VL_OK) {
        free(kr);
        return rc;
    }
    kr->id = atomic_fetch_add_explicit(&next_keyring_id, 1, memory_order_relaxed);
    vl_kr_sweeper_start(kr);
    *out = kr;
    return VL_OK;
}

void vl_keyring_free(vl_keyring *kr)
{
    if (kr == NULL)
        return;
    vl_kr_sweeper_stop(kr);
    vl_dek_cache_free(&kr->cache);
    pthread_rwlock_destroy(&kr->admin);
    pthread_mutex_destroy(&kr->mu);
    vl_memzero(kr, sizeof *kr);
    free(kr);
}

int vl_keyring_register_kms(vl_keyring *kr, const char *kms_type, vl_kms *kms)
{
    if (kr == NULL || !vl_kr_name_ok(kms_type, VL_KMS_TYPE_MAX) || kms == NULL || kms->ops == NULL)
        return VL_ERR_ARG;
    int rc = VL_OK;
    pthread_mutex_lock(&kr->mu);
    size_t i = 0;
    while (i < kr->n_kms && strcmp(kr->kms[i].type, kms_type) != 0)
        i++;
    if (i == VL_KR_MAX_KMS) {
        rc = VL_ERR_NOMEM;
    } else {
        struct vl_kr_kms *k = &kr->kms[i];
        memset(k, 0, sizeof *k);
        strcpy(k->type, kms_type);
        k->kms = kms;
        if (i == kr->n_kms)
            kr->n_kms++;
    }
    pthread_mutex_unlock(&kr->mu);
    return rc;
}

static uint64_t load(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* Seals under every entry ever cached, less those the slow path made.
 * Under each node's mutex no entry on its list can be freed. An entry
 * between unlink and free is briefly counted nowhere: stats lag by it. */
static uint64_t encrypt_hits(vl_keyring *kr)
{
    uint64_t seals = load(&kr->retired_seals);
    for (struct vl_dek_node *n = vl_dek_cache_first(&kr->cache); n != NULL; n = n->all_next) {
        pthread_mutex_lock(&n->mu);
        for (struct vl_dek_entry *e = atomic_load_explicit(&n->versions, memory_order_relaxed);
             e != NULL; e = atomic_load_explicit(&e->next, memory_order_relaxed)) {
            vl_usage u;
            vl_aead_usage(&e->key, &u);
            seals += u.seals;
        }
        pthread_mutex_unlock(&n->mu);
    }
    uint64_t slow = load(&kr->slow_seals);
    return seals > slow ? seals - slow : 0;
}

void vl_keyring_stats_get(vl_keyring *kr, vl_keyring_stats *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof *out);
    if (kr == NULL)
        return;
    out->cache_hits = load(&kr->hits_shared) + encrypt_hits(kr);
    for (size_t i = 0; i < VL_KR_STRIPES; i++)
        out->cache_hits += load(&kr->stripe[i].hits);
    out->kms_wraps = load(&kr->kms_wraps);
    out->kms_unwraps = load(&kr->kms_unwraps);
    out->kms_failures = load(&kr->kms_failures);
    out->cache_misses = load(&kr->cache_misses);
    out->cache_evictions = load(&kr->cache_evictions);
    out->reservations = load(&kr->reservations);
    out->seals_reserved = load(&kr->seals_reserved);
    out->rotations = load(&kr->rotations);
}

/* ---------------------------------------------------------------- records */

static int str_in(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static int flag_ok(int v)
{
    return v == 0 || v == 1;
}

static int check_kek(const vl_kek_record *r, const char *name)
{
    if (!str_in(r->name, sizeof r->name) || !str_in(r->kms_type, sizeof r->kms_type) ||
        !str_in(r->kms_key_id, sizeof r->kms_key_id) ||
        !str_in(r->kms_props, sizeof r->kms_props) || !str_in(r->doc, sizeof r->doc))
        return VL_ERR_FORMAT;
    if (strcmp(r->name, name) != 0 || r->kms_type[0] == '\0' || r->kms_key_id[0] == '\0' ||
        !flag_ok(r->shared) || !flag_ok(r->deleted))
        return VL_ERR_FORMAT;
    return VL_OK;
}

int vl_kr_get_kek(vl_keyring *kr, const char *name, vl_kek_record *out)
{
    int rc = kr->store->ops->get_kek(kr->store, name, out);
    if (rc == VL_OK)
        rc = check_kek(out, name);
    if (rc != VL_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

int vl_kr_check_dek(const vl_dek_record *r, const vl_dek_id *id)
{
    if (!str_in(r->kek_name, sizeof r->kek_name) || !str_in(r->subject, sizeof r->subject))
        return VL_ERR_FORMAT;
    if (strcmp(r->kek_name, id->kek_name) != 0 || strcmp(r->subject, id->subject) != 0 ||
        r->alg != id->alg || r->version < 1 || (id->version != -1 && r->version != id->version))
        return VL_ERR_FORMAT;
    if (r->wrapped_len > VL_KMS_MAX_BLOB || !flag_ok(r->deleted) ||
        (r->wrapped_len == 0 && !r->deleted))
        return VL_ERR_FORMAT;
    return VL_OK;
}

int vl_kr_get_dek(vl_keyring *kr, const vl_dek_id *id, vl_dek_record *out)
{
    int rc = kr->store->ops->get_dek(kr->store, id, out);
    if (rc == VL_OK)
        rc = vl_kr_check_dek(out, id);
    if (rc != VL_OK)
        vl_memzero(out, sizeof *out);
    return rc;
}

struct key_id_arg {
    const char *self, *kms_type, *key_id;
    int shared;
};

static int key_id_taken(void *arg, const vl_kek_record *r)
{
    const struct key_id_arg *a = arg;
    if (!str_in(r->name, sizeof r->name) || !str_in(r->kms_type, sizeof r->kms_type) ||
        !str_in(r->kms_key_id, sizeof r->kms_key_id))
        return VL_ERR_FORMAT;
    if (r->deleted || strcmp(r->name, a->self) == 0 || strcmp(r->kms_type, a->kms_type) != 0 ||
        strcmp(r->kms_key_id, a->key_id) != 0)
        return VL_OK;
    return a->shared && r->shared ? VL_OK : VL_ERR_EXISTS;
}

int vl_kr_key_id_free(vl_keyring *kr, const char *self, const char *kms_type,
                      const char *key_id, int shared)
{
    struct key_id_arg a = {self, kms_type, key_id, shared};
    return kr->store->ops->each_kek(kr->store, key_id_taken, &a);
}

/* ---------------------------------------------------------------- KEKs */

static int kek_args_ok(const char *name, const char *kms_type, const char *kms_key_id,
                       const char *doc)
{
    return vl_kr_name_ok(name, VL_NAME_MAX) && vl_kr_name_ok(kms_type, VL_KMS_TYPE_MAX) &&
           vl_kr_name_ok(kms_key_id, VL_KMS_KEY_ID_MAX) &&
           (doc == NULL || memchr(doc, '\0', VL_DOC_MAX) != NULL);
}

static int kek_insert(vl_keyring *kr, const char *name, const char *kms_type,
                      const char *kms_key_id, int shared, const char *doc)
{
    vl_kek_record r;
    memset(&r, 0, sizeof r);
    strcpy(r.name, name);
    strcpy(r.kms_type, kms_type);
    strcpy(r.kms_key_id, kms_key_id);
    strcpy(r.doc, doc != NULL ? doc : "");
    r.shared = shared;
    r.ts_ms = vl_kr_now(kr);
    int rc = vl_kr_key_id_free(kr, name, kms_type, kms_key_id, shared);
    return rc == VL_OK ? kr->store->ops->put_kek(kr->store, &r, 1) : rc;
}

/* Re-creating a soft-deleted KEK with the same content undeletes it. */
static int kek_revive(vl_keyring *kr, vl_kek_record *cur, const char *kms_type,
                      const char *kms_key_id, int shared)
{
    if (!cur->deleted || strcmp(cur->kms_type, kms_type) != 0 ||
        strcmp(cur->kms_key_id, kms_key_id) != 0 || cur->shared != shared)
        return VL_ERR_EXISTS;
    int rc = vl_kr_key_id_free(kr, cur->name, kms_type, kms_key_id, shared);
    cur->deleted = 0;
    return rc == VL_OK ? kr->store->ops->put_kek(kr->store, cur, 0) : rc;
}

int vl_kek_create(vl_keyring *kr, const char *name, const char *kms_type,
                  const char *kms_key_id, int shared, const char *doc)
{
    if (kr == NULL || !kek_args_ok(name, kms_type, kms_key_id, doc))
        return VL_ERR_ARG;
    shared = shared != 0;
    vl_kek_record cur;
    pthread_rwlock_wrlock(&kr->admin);
    int rc = vl_kr_get_kek(kr, name, &cur);
    if (rc == VL_OK)
        rc = kek_revive(kr, &cur, kms_type, kms_key_id, shared);
    else if (rc == VL_ERR_NOT_FOUND)
        rc = kek_insert(kr, name, kms_type, kms_key_id, shared, doc);
    pthread_rwlock_unlock(&kr->admin);
    return rc;
}

int vl_kek_get(vl_keyring *kr, const char *name, vl_kek_record *out)
{
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (kr == NULL || !vl_kr_name_ok(name, VL_NAME_MAX) || out == NULL)
        return VL_ERR_ARG;
    return vl_kr_get_kek(kr, name, out);
}

struct dek_scan {
    int live;     /* DEKs not deleted */
    int material; /* DEKs still holding wrapped material */
};

static int count_deks(void *arg, const vl_dek_record *r)
{
    struct dek_scan *s = arg;
    if (r->wrapped_len > VL_KMS_MAX_BLOB)
        return VL_ERR_FORMAT;
    s->live += !r->deleted;
    s->material += r->wrapped_len != 0;
    return VL_OK;
}

static int kek_soft_delete(vl_keyring *kr, vl_kek_record *cur)
{
    struct dek_scan s = {0, 0};
    if (cur->deleted)
        return VL_OK;
    int rc = kr->store->ops->each_dek(kr->store, cur->name, count_deks, &s);
    if (rc == VL_OK && s.live > 0)
        rc = VL_ERR_BUSY;
    cur->deleted = 1;
    return rc == VL_OK ? kr->store->ops->put_kek(kr->store, cur, 0) : rc;
}

static int kek_hard_delete(vl_keyring *kr, const vl_kek_record *cur)
{
    struct dek_scan s = {0, 0};
    if (!cur->deleted)
        return VL_ERR_BUSY;
    int rc = kr->store->ops->each_dek(kr->store, cur->name, count_deks, &s);
    if (rc == VL_OK && s.material > 0)
        rc = VL_ERR_BUSY;
    return rc == VL_OK ? kr->store->ops->delete_kek(kr->store, cur->name) : rc;
}

int vl_kek_delete(vl_keyring *kr, const char *name, int permanent)
{
    if (kr == NULL || !vl_kr_name_ok(name, VL_NAME_MAX))
        return VL_ERR_ARG;
    vl_kek_record cur;
    pthread_rwlock_wrlock(&kr->admin);
    int rc = vl_kr_get_kek(kr, name, &cur);
    if (rc == VL_OK)
        rc = permanent ? kek_hard_delete(kr, &cur) : kek_soft_delete(kr, &cur);
    pthread_rwlock_unlock(&kr->admin);
    /* Soft: encrypt stops at once, decrypt keeps its cache. Hard: the
     * cache goes too (nothing with material is left, but be thorough). */
    if (rc == VL_OK)
        vl_kr_evict_kek(kr, name, !permanent);
    return rc;
}

int vl_kek_undelete(vl_keyring *kr, const char *name)
{
    if (kr == NULL || !vl_kr_name_ok(name, VL_NAME_MAX))
        return VL_ERR_ARG;
    vl_kek_record cur;
    pthread_rwlock_wrlock(&kr->admin);
    int rc = vl_kr_get_kek(kr, name, &cur);
    if (rc == VL_OK && cur.deleted) {
        rc = vl_kr_key_id_free(kr, name, cur.kms_type, cur.kms_key_id, cur.shared);
        cur.deleted = 0;
        if (rc == VL_OK)
            rc = kr->store->ops->put_kek(kr->store, &cur, 0);
    }
    pthread_rwlock_unlock(&kr->admin);
    return rc;
}
