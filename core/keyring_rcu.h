/* A minimal read-copy-update (RCU) for the keyring's lock-free paths.
 *
 * Why: a field encrypt with a cached DEK must cost only a few ns more than
 * the raw seal (~15-30 ns for 64 bytes), so it can take no lock and do no
 * atomic read-modify-write of its own (an uncontended lock or reference
 * count costs two locked instructions; contended, a cache-line bounce per
 * call). Yet cached DEKs must be wiped and freed on eviction while other
 * threads may be sealing with them. RCU gives exactly that: readers only
 * store to a counter of their own; a writer unpublishes an object, waits
 * until every reader that might still see it has left its read section
 * (vl_rcu_synchronize), then wipes and frees it.
 *
 * The scheme is liburcu's "memb" flavour: a reader marks its section by
 * making its counter odd (entry) and even again (exit); a writer first
 * runs membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), which makes every
 * running thread of the process execute a full barrier, so readers need
 * only a compiler barrier. Without membarrier (old kernel, seccomp) readers
 * fall back to a seq_cst fence and writers fence too: slower, still right.
 *
 * Rules: a read section never blocks, never nests, and never calls
 * vl_rcu_synchronize (it would wait for itself). Reader records are
 * per thread, recycled at thread exit, never freed. After fork() the
 * child's records of threads that no longer exist are reset. */
#ifndef VL_CORE_KEYRING_RCU_H
#define VL_CORE_KEYRING_RCU_H

#include <stdatomic.h>
#include <stdint.h>

struct vl_rcu_reader {
    _Atomic uint64_t ctr; /* odd while the owning thread is in a read section */
    _Atomic int in_use;   /* owned by a live thread */
    unsigned index;       /* stable small number, for striped counters */
    struct vl_rcu_reader *next; /* the global list; append-only */
};

extern _Thread_local struct vl_rcu_reader *vl_rcu_self;
/* 1 until membarrier is registered: readers then need a real fence. */
extern _Atomic int vl_rcu_need_fence;

/* The calling thread's record, allocated or recycled; NULL when out of
 * memory (the caller then takes its locked slow path). */
struct vl_rcu_reader *vl_rcu_register(void);

/* Enters a read section; NULL means "could not": use the slow path. */
static inline struct vl_rcu_reader *vl_rcu_enter(void)
{
    struct vl_rcu_reader *r = vl_rcu_self;
    if (__builtin_expect(r == NULL, 0) && (r = vl_rcu_register()) == NULL)
        return NULL;
    uint64_t c = atomic_load_explicit(&r->ctr, memory_order_relaxed);
    atomic_store_explicit(&r->ctr, c + 1, memory_order_relaxed);
    /* The counter store must be visible before the section's first load
     * of a shared pointer: membarrier on the writer side provides the
     * hardware ordering, the signal fence stops the compiler. */
    if (atomic_load_explicit(&vl_rcu_need_fence, memory_order_relaxed))
        atomic_thread_fence(memory_order_seq_cst);
    else
        atomic_signal_fence(memory_order_seq_cst);
    return r;
}

/* Leaves the section: a release store, so every use of a protected
 * object happens before a writer can observe the even counter. */
static inline void vl_rcu_exit(struct vl_rcu_reader *r)
{
    uint64_t c = atomic_load_explicit(&r->ctr, memory_order_relaxed);
    atomic_store_explicit(&r->ctr, c + 1, memory_order_release);
}

/* Waits until every read section that started before the call has
 * ended. Objects unpublished before the call may then be freed. */
void vl_rcu_synchronize(void);

#endif /* VL_CORE_KEYRING_RCU_H */
