/* The DEK cache: unwrapped DEK versions, ready to seal and open, found
 * without a lock.
 *
 * Shape:
 *   node   one per (KEK name, subject, algorithm) ever used by this
 *          keyring; lives until vl_keyring_free and holds no secret. It
 *          carries |current| (the version encrypt uses, NULL when encrypt
 *          must go to the slow path) and |versions| (every cached version,
 *          most recently cached first, for decrypt), plus the mutex that
 *          serializes that triple's misses, budget refills and rotations.
 *   entry  one cached DEK version: the vl_aead_key (whose max_seals is
 *          the seal budget this process has reserved from the store), the
 *          cache deadline, and the budget bookkeeping.
 *   table  open addressing over node pointers, insert-only (nodes are
 *          never removed), grown by copying under the cache mutex.
 *
 * Concurrency: readers (the hot paths) run inside an RCU read section
 * (keyring_rcu.h) and only load pointers. Every change happens under the
 * node's mutex (entries) or the cache mutex (table). An entry is
 * unpublished (unlinked and taken out of |current|), then, after
 * vl_rcu_synchronize, wiped with vl_aead_wipe and freed. */
#ifndef VL_CORE_DEK_CACHE_H
#define VL_CORE_DEK_CACHE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vellum/aead.h"
#include "vellum/store.h"

struct vl_dek_entry {
    vl_aead_key key; /* first, for its 64-byte alignment */
    _Atomic(struct vl_dek_entry *) next; /* the node's version list */
    struct vl_dek_entry *retired_next;   /* the retire list (never read by readers) */
    int32_t version;
    int64_t created_ms; /* the DEK record's ts_ms */
    int64_t expires_ms; /* cache TTL: nothing uses the entry from here on */
    /* Encrypt uses the entry while now < enc_until_ms: the cache deadline,
     * or earlier when the version's age rotation (or a retry of a failed
     * rotation) is due. */
    _Atomic int64_t enc_until_ms;
    /* Seal budget, under the node's mutex. */
    uint64_t granted;   /* reserved by this process; the key's max_seals */
    uint64_t chunk;     /* size of the next reservation */
    int64_t chunk_ms;   /* when the last reservation was made */
    int past_soft;      /* rotation failed: reserve up to the hard limit */
    int done;           /* no more seals under this version */
};

struct vl_dek_node {
    _Atomic(struct vl_dek_entry *) current;
    _Atomic(struct vl_dek_entry *) versions;
    uint64_t hash;
    vl_alg alg;
    pthread_mutex_t mu;
    struct vl_dek_node *all_next; /* every node, newest first */
    char kek[VL_NAME_MAX];
    char subject[VL_NAME_MAX];
};

struct vl_dek_table {
    size_t mask;
    _Atomic(struct vl_dek_node *) slot[];
};

struct vl_dek_cache {
    _Atomic(struct vl_dek_table *) table;
    uint64_t seed; /* per keyring: subject names may come from outside */
    pthread_mutex_t mu;
    _Atomic(struct vl_dek_node *) all;
    size_t count;
};

int vl_dek_cache_init(struct vl_dek_cache *c);
/* Wipes and frees every entry and node. No other thread may be using it. */
void vl_dek_cache_free(struct vl_dek_cache *c);

uint64_t vl_dek_hash(uint64_t seed, const char *kek, const char *subject, vl_alg alg);

/* Inside a read section, or with the cache mutex held. */
static inline struct vl_dek_node *vl_dek_cache_find(const struct vl_dek_cache *c, uint64_t h,
                                                    const char *kek, const char *subject,
                                                    vl_alg alg)
{
    const struct vl_dek_table *t = atomic_load_explicit(&c->table, memory_order_acquire);
    for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
        struct vl_dek_node *n = atomic_load_explicit(&t->slot[i], memory_order_acquire);
        if (n == NULL)
            return NULL;
        if (n->hash == h && n->alg == alg && strcmp(n->subject, subject) == 0 &&
            strcmp(n->kek, kek) == 0)
            return n;
    }
}

/* The cached entry of |version|, or NULL; inside a read section or with
 * the node's mutex held. */
static inline struct vl_dek_entry *vl_dek_node_version(const struct vl_dek_node *n,
                                                       int32_t version)
{
    struct vl_dek_entry *e = atomic_load_explicit(&n->versions, memory_order_acquire);
    while (e != NULL && e->version != version)
        e = atomic_load_explicit(&e->next, memory_order_acquire);
    return e;
}

/* The node for the triple, created when |create|; NULL when absent (or
 * out of memory: *rc says which). Names are checked by the caller. */
struct vl_dek_node *vl_dek_cache_node(struct vl_dek_cache *c, const char *kek,
                                      const char *subject, vl_alg alg, int create, int *rc);

/* A new entry for |alg| with the raw key |raw|; max_seals starts at 0 (no
 * budget yet), the other limits from |lim|. */
int vl_dek_entry_new(struct vl_dek_entry **out, vl_alg alg, const uint8_t *raw, size_t raw_len,
                     const vl_limits *lim, int32_t version, int64_t created_ms,
                     int64_t expires_ms);
/* Under the node's mutex: publish |e| at the head of the version list. */
void vl_dek_node_add(struct vl_dek_node *n, struct vl_dek_entry *e);
/* Under the node's mutex: unlink |e| (and clear |current| if it is e),
 * chaining it onto *retired. */
void vl_dek_node_unlink(struct vl_dek_node *n, struct vl_dek_entry *e,
                        struct vl_dek_entry **retired);
/* Under the node's mutex: unlink every entry whose version matches
 * (-1: all) or, with |expired_before| > INT64_MIN, every entry expired by
 * then. Returns how many. */
size_t vl_dek_node_unlink_if(struct vl_dek_node *n, int32_t version, int64_t expired_before,
                             struct vl_dek_entry **retired);
/* Waits for readers, then adds each chained entry's final seal count to
 * *seals and wipes and frees it. Call with no read section open; any
 * locks may be held. */
void vl_dek_retire(struct vl_dek_entry *retired, _Atomic uint64_t *seals);

/* Walks every node (nodes are never freed, so no lock is needed). */
static inline struct vl_dek_node *vl_dek_cache_first(struct vl_dek_cache *c)
{
    return atomic_load_explicit(&c->all, memory_order_acquire);
}

#endif /* VL_CORE_DEK_CACHE_H */
