/* RCU reader registry and grace periods; see keyring_rcu.h for the why.
 *
 * Decisions:
 *   - One process-wide list of reader records, shared by every keyring: a
 *     writer waits for all readers, not only its keyring's, which costs a
 *     few extra µs on a rare path and keeps the reader side to two stores.
 *   - Records are never freed: a writer may be walking the list at any
 *     time. A thread's record is recycled (in_use back to 0) by a
 *     pthread key destructor when the thread exits.
 *   - fork(): only the forking thread exists in the child, so every other
 *     record is reset there; otherwise a record left odd by a thread that
 *     was mid-section at the fork would block the child's writers forever.
 *   - The wait spins with sched_yield: read sections are a few dozen ns
 *     and never block. */
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "keyring_rcu.h"

_Thread_local struct vl_rcu_reader *vl_rcu_self;
_Atomic int vl_rcu_need_fence = 1;

static _Atomic(struct vl_rcu_reader *) readers;
static _Atomic unsigned next_index;
static int use_membarrier;
static pthread_key_t exit_key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void on_thread_exit(void *arg)
{
    struct vl_rcu_reader *r = arg;
    vl_rcu_self = NULL;
    atomic_store_explicit(&r->in_use, 0, memory_order_release);
}

static void on_fork_child(void)
{
    struct vl_rcu_reader *r = atomic_load_explicit(&readers, memory_order_acquire);
    for (; r != NULL; r = r->next) {
        if (r == vl_rcu_self)
            continue;
        atomic_store_explicit(&r->ctr, 0, memory_order_relaxed);
        atomic_store_explicit(&r->in_use, 0, memory_order_relaxed);
    }
}

static void init_once(void)
{
    (void)pthread_key_create(&exit_key, on_thread_exit);
    (void)pthread_atfork(NULL, NULL, on_fork_child);
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0) {
        use_membarrier = 1;
        atomic_store_explicit(&vl_rcu_need_fence, 0, memory_order_release);
    }
}

/* A record left by an exited thread, claimed, or NULL. */
static struct vl_rcu_reader *recycle(void)
{
    struct vl_rcu_reader *r = atomic_load_explicit(&readers, memory_order_acquire);
    for (; r != NULL; r = r->next) {
        int free_slot = 0;
        if (atomic_compare_exchange_strong_explicit(&r->in_use, &free_slot, 1,
                                                    memory_order_acquire, memory_order_relaxed))
            return r;
    }
    return NULL;
}

static struct vl_rcu_reader *fresh(void)
{
    struct vl_rcu_reader *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    atomic_init(&r->ctr, 0);
    atomic_init(&r->in_use, 1);
    r->index = atomic_fetch_add_explicit(&next_index, 1, memory_order_relaxed);
    struct vl_rcu_reader *head = atomic_load_explicit(&readers, memory_order_relaxed);
    do {
        r->next = head;
    } while (!atomic_compare_exchange_weak_explicit(&readers, &head, r, memory_order_release,
                                                    memory_order_relaxed));
    return r;
}

struct vl_rcu_reader *vl_rcu_register(void)
{
    pthread_once(&once, init_once);
    struct vl_rcu_reader *r = recycle();
    if (r == NULL)
        r = fresh();
    if (r == NULL)
        return NULL;
    if (pthread_setspecific(exit_key, r) != 0) {
        /* Without the destructor the record would leak at thread exit,
         * which is harmless; keep it rather than fail the call. */
    }
    vl_rcu_self = r;
    return r;
}

static void full_barrier_everywhere(void)
{
    if (use_membarrier &&
        syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
        return;
    /* membarrier was never registered, so readers fence themselves and a
     * fence here completes the pairing. (A registered private-expedited
     * membarrier does not fail; should it ever, readers are told to fence
     * from now on as well.) */
    atomic_store_explicit(&vl_rcu_need_fence, 1, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst);
}

void vl_rcu_synchronize(void)
{
    pthread_once(&once, init_once);
    full_barrier_everywhere();
    struct vl_rcu_reader *r = atomic_load_explicit(&readers, memory_order_acquire);
    for (; r != NULL; r = r->next) {
        if (r == vl_rcu_self)
            continue; /* never called inside our own section */
        uint64_t c = atomic_load_explicit(&r->ctr, memory_order_acquire);
        if ((c & 1) == 0)
            continue;
        while (atomic_load_explicit(&r->ctr, memory_order_acquire) == c)
            sched_yield();
    }
}
