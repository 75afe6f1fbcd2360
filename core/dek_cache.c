/* The DEK cache; see dek_cache.h for its shape and locking.
 *
 * Decisions:
 *   - Nodes are never removed before vl_keyring_free: they hold names,
 *     not keys, and their number is bounded by the triples a process
 *     uses. That makes the table insert-only (no tombstones) and lets a
 *     thread keep a hint pointer to a node (envelope.c).
 *   - The table stays at most half full; growing copies the node pointers
 *     into a table twice the size, publishes it, and frees the old one
 *     after a grace period (readers may still be probing it).
 *   - The hash is keyed with a per-keyring random seed: subjects often
 *     derive from topic names other people choose. */
#include <stdlib.h>

#include "dek_cache.h"
#include "internal.h"
#include "keyring_rcu.h"
#include "rand.h"

#define INITIAL_SLOTS 64
#define MIX_K UINT64_C(0x9E3779B97F4A7C15)

static struct vl_dek_table *table_new(size_t slots)
{
    struct vl_dek_table *t = calloc(1, sizeof *t + slots * sizeof t->slot[0]);
    if (t != NULL)
        t->mask = slots - 1;
    return t;
}

int vl_dek_cache_init(struct vl_dek_cache *c)
{
    memset(c, 0, sizeof *c);
    int rc = vl_random(&c->seed, sizeof c->seed);
    if (rc != VL_OK)
        return rc;
    struct vl_dek_table *t = table_new(INITIAL_SLOTS);
    if (t == NULL)
        return VL_ERR_NOMEM;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(t);
        return VL_ERR_NOMEM;
    }
    atomic_init(&c->table, t);
    atomic_init(&c->all, NULL);
    return VL_OK;
}

static void entry_free(struct vl_dek_entry *e)
{
    vl_aead_wipe(&e->key);
    vl_memzero(e, sizeof *e);
    free(e);
}

void vl_dek_cache_free(struct vl_dek_cache *c)
{
    struct vl_dek_node *n = atomic_load_explicit(&c->all, memory_order_acquire);
    while (n != NULL) {
        struct vl_dek_node *next = n->all_next;
        struct vl_dek_entry *e = atomic_load_explicit(&n->versions, memory_order_acquire);
        while (e != NULL) {
            struct vl_dek_entry *en = atomic_load_explicit(&e->next, memory_order_relaxed);
            entry_free(e);
            e = en;
        }
        pthread_mutex_destroy(&n->mu);
        free(n);
        n = next;
    }
    free(atomic_load_explicit(&c->table, memory_order_relaxed));
    pthread_mutex_destroy(&c->mu);
    memset(c, 0, sizeof *c);
}

static uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * MIX_K;
    return h ^ (h >> 29);
}

/* Eight bytes at a time; the tail is copied into a zeroed word, so no
 * byte past the NUL is read. */
static uint64_t hash_str(uint64_t h, const char *s)
{
    size_t n = strlen(s);
    for (; n >= 8; s += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = mix(h, w);
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    return mix(h, w ^ ((uint64_t)n << 59));
}

uint64_t vl_dek_hash(uint64_t seed, const char *kek, const char *subject, vl_alg alg)
{
    return mix(hash_str(hash_str(seed, kek), subject), (uint64_t)alg);
}

static void table_put(struct vl_dek_table *t, struct vl_dek_node *n)
{
    size_t i = n->hash & t->mask;
    while (atomic_load_explicit(&t->slot[i], memory_order_relaxed) != NULL)
        i = (i + 1) & t->mask;
    atomic_store_explicit(&t->slot[i], n, memory_order_release);
}

/* Under c->mu: a table with room for one more node at half load. */
static int table_reserve(struct vl_dek_cache *c)
{
    struct vl_dek_table *old = atomic_load_explicit(&c->table, memory_order_relaxed);
    if ((c->count + 1) * 2 <= old->mask + 1)
        return VL_OK;
    struct vl_dek_table *t = table_new((old->mask + 1) * 2);
    if (t == NULL)
        return VL_ERR_NOMEM;
    for (size_t i = 0; i <= old->mask; i++) {
        struct vl_dek_node *n = atomic_load_explicit(&old->slot[i], memory_order_relaxed);
        if (n != NULL)
            table_put(t, n);
    }
    atomic_store_explicit(&c->table, t, memory_order_release);
    vl_rcu_synchronize();
    free(old);
    return VL_OK;
}

static struct vl_dek_node *node_new(const char *kek, const char *subject, vl_alg alg,
                                    uint64_t h)
{
    struct vl_dek_node *n = calloc(1, sizeof *n);
    if (n == NULL)
        return NULL;
    if (pthread_mutex_init(&n->mu, NULL) != 0) {
        free(n);
        return NULL;
    }
    atomic_init(&n->current, NULL);
    atomic_init(&n->versions, NULL);
    n->hash = h;
    n->alg = alg;
    strcpy(n->kek, kek); /* lengths checked by the caller */
    strcpy(n->subject, subject);
    return n;
}

static struct vl_dek_node *node_insert(struct vl_dek_cache *c, const char *kek,
                                       const char *subject, vl_alg alg, uint64_t h, int *rc)
{
    struct vl_dek_node *n = vl_dek_cache_find(c, h, kek, subject, alg);
    if (n != NULL)
        return n;
    *rc = table_reserve(c);
    if (*rc != VL_OK)
        return NULL;
    n = node_new(kek, subject, alg, h);
    if (n == NULL) {
        *rc = VL_ERR_NOMEM;
        return NULL;
    }
    n->all_next = atomic_load_explicit(&c->all, memory_order_relaxed);
    atomic_store_explicit(&c->all, n, memory_order_release);
    table_put(atomic_load_explicit(&c->table, memory_order_relaxed), n);
    c->count++;
    return n;
}

struct vl_dek_node *vl_dek_cache_node(struct vl_dek_cache *c, const char *kek,
                                      const char *subject, vl_alg alg, int create, int *rc)
{
    uint64_t h = vl_dek_hash(c->seed, kek, subject, alg);
    *rc = VL_OK;
    pthread_mutex_lock(&c->mu);
    struct vl_dek_node *n = vl_dek_cache_find(c, h, kek, subject, alg);
    if (n == NULL && create)
        n = node_insert(c, kek, subject, alg, h, rc);
    pthread_mutex_unlock(&c->mu);
    return n;
}

int vl_dek_entry_new(struct vl_dek_entry **out, vl_alg alg, const uint8_t *raw, size_t raw_len,
                     const vl_limits *lim, int32_t version, int64_t created_ms,
                     int64_t expires_ms)
{
    *out = NULL;
    struct vl_dek_entry *e = aligned_alloc(64, sizeof *e);
    if (e == NULL)
        return VL_ERR_NOMEM;
    memset(e, 0, sizeof *e);
    int rc = vl_aead_init(&e->key, alg, raw, raw_len);
    vl_limits l = *lim;
    l.max_seals = 0; /* nothing may be sealed before a reservation */
    l.rotate_at_seals = UINT64_MAX; /* the keyring rotates, from the store's count */
    if (rc == VL_OK)
        rc = vl_aead_set_limits(&e->key, &l);
    if (rc != VL_OK) {
        entry_free(e);
        return rc;
    }
    atomic_init(&e->next, NULL);
    e->version = version;
    e->created_ms = created_ms;
    e->expires_ms = expires_ms;
    atomic_init(&e->enc_until_ms, expires_ms);
    *out = e;
    return VL_OK;
}

void vl_dek_node_add(struct vl_dek_node *n, struct vl_dek_entry *e)
{
    atomic_store_explicit(&e->next, atomic_load_explicit(&n->versions, memory_order_relaxed),
                          memory_order_relaxed);
    atomic_store_explicit(&n->versions, e, memory_order_release);
}

/* Unlinks |e| found after |link|; readers standing on e still follow its
 * next pointer, which stays intact until the grace period ends. */
static void unlink_at(struct vl_dek_node *n, _Atomic(struct vl_dek_entry *) *link,
                      struct vl_dek_entry *e, struct vl_dek_entry **retired)
{
    atomic_store_explicit(link, atomic_load_explicit(&e->next, memory_order_relaxed),
                          memory_order_release);
    if (atomic_load_explicit(&n->current, memory_order_relaxed) == e)
        atomic_store_explicit(&n->current, NULL, memory_order_release);
    e->retired_next = *retired;
    *retired = e;
}

void vl_dek_node_unlink(struct vl_dek_node *n, struct vl_dek_entry *e,
                        struct vl_dek_entry **retired)
{
    _Atomic(struct vl_dek_entry *) *link = &n->versions;
    struct vl_dek_entry *cur;
    while ((cur = atomic_load_explicit(link, memory_order_relaxed)) != NULL) {
        if (cur == e) {
            unlink_at(n, link, e, retired);
            return;
        }
        link = &cur->next;
    }
}

size_t vl_dek_node_unlink_if(struct vl_dek_node *n, int32_t version, int64_t expired_before,
                             struct vl_dek_entry **retired)
{
    _Atomic(struct vl_dek_entry *) *link = &n->versions;
    struct vl_dek_entry *cur;
    size_t count = 0;
    while ((cur = atomic_load_explicit(link, memory_order_relaxed)) != NULL) {
        int hit = expired_before > INT64_MIN ? cur->expires_ms <= expired_before
                                             : (version == -1 || cur->version == version);
        if (!hit) {
            link = &cur->next;
            continue;
        }
        unlink_at(n, link, cur, retired);
        count++;
    }
    return count;
}

void vl_dek_retire(struct vl_dek_entry *retired, _Atomic uint64_t *seals)
{
    if (retired == NULL)
        return;
    vl_rcu_synchronize();
    while (retired != NULL) {
        struct vl_dek_entry *next = retired->retired_next;
        vl_usage u;
        vl_aead_usage(&retired->key, &u); /* final: no reader is left */
        atomic_fetch_add_explicit(seals, u.seals, memory_order_relaxed);
        entry_free(retired);
        retired = next;
    }
}
