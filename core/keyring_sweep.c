/* Cache eviction: the deadline thread, which enforces cache TTL and
 * rotation deadlines in the background so the hot paths read no clock,
 * and the evictions callers ask for (revoke, deletes, a KMS saying a KEK
 * is disabled or destroyed).
 *
 * Why: a clock read (vDSO clock_gettime, even CLOCK_REALTIME_COARSE) costs
 * ~3.5 ns on the hot path, a quarter of the keyring's whole budget over a
 * 64-byte seal. And without a thread, "unwrapped DEKs stay in memory at
 * most cache_ttl" can only be enforced at the next call: an idle process
 * would keep its keys. With it, keys are wiped on time even when idle.
 *
 * How: with the system clock (vl_keyring_config.clock_ms NULL), each
 * keyring runs one thread that sleeps until the earliest deadline it was
 * told of (vl_kr_deadline, called whenever an entry is published or
 * cached), then, under each node's mutex, unpublishes every current entry
 * whose enc_until_ms has come (age rotation, retry of a failed rotation)
 * and evicts (wipes) every entry within |slack| of its TTL. TTL evictions
 * are coalesced by evicting up to slack = min(1 s, ttl / 64) early, so a
 * warm-up of many subjects costs at most ~1 wake-up per slack, not one per
 * entry; early is always allowed. enc_until deadlines are exact (an early
 * unpublish would only be re-published by the slow path). Deadlines are
 * CLOCK_REALTIME milliseconds, the clock the slow paths read.
 *
 * Where the thread cannot run, the hot paths read the clock on every call
 * instead (hot_clock): an injected clock (tests move time by hand), a
 * failed pthread_create, and every keyring in a child process after
 * fork(), where the parent's thread does not exist. */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "keyring_internal.h"
#include "keyring_rcu.h"

_Atomic int vl_kr_forked;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
    atomic_store_explicit(&vl_kr_forked, 1, memory_order_relaxed);
}

static void fork_hook(void)
{
    (void)pthread_atfork(NULL, NULL, on_fork_child);
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int64_t sweep_slack(const vl_keyring *kr)
{
    uint64_t s = kr->cache_ttl_ms / 64;
    return s < 1000 ? (int64_t)s : 1000;
}

/* The earliest moment the thread has to act for |e|. */
static int64_t entry_due(const vl_keyring *kr, const struct vl_dek_entry *e, int is_current)
{
    int64_t due = e->expires_ms - sweep_slack(kr);
    if (is_current)
        due = min64(due, atomic_load_explicit(&e->enc_until_ms, memory_order_relaxed));
    return due;
}

void vl_kr_deadline(vl_keyring *kr, const struct vl_dek_entry *e, int is_current)
{
    /* After fork() the thread is gone (and its mutex may be in any
     * state): every keyring then checks time on its hot paths. */
    if (!kr->sweeper_on || atomic_load_explicit(&vl_kr_forked, memory_order_relaxed))
        return;
    int64_t due = entry_due(kr, e, is_current);
    pthread_mutex_lock(&kr->sweep_mu);
    if (due < kr->sweep_at) {
        kr->sweep_at = due;
        pthread_cond_signal(&kr->sweep_cv);
    }
    pthread_mutex_unlock(&kr->sweep_mu);
}

/* One node: act on what is due, return the node's next deadline. */
static int64_t expire_node(vl_keyring *kr, struct vl_dek_node *n, int64_t now,
                           struct vl_dek_entry **retired, size_t *evicted)
{
    int64_t next = INT64_MAX;
    pthread_mutex_lock(&n->mu);
    struct vl_dek_entry *cur = atomic_load_explicit(&n->current, memory_order_relaxed);
    if (cur != NULL && now >= atomic_load_explicit(&cur->enc_until_ms, memory_order_relaxed))
        atomic_store_explicit(&n->current, NULL, memory_order_release);
    *evicted += vl_dek_node_unlink_if(n, -1, now + sweep_slack(kr), retired);
    cur = atomic_load_explicit(&n->current, memory_order_relaxed);
    for (struct vl_dek_entry *e = atomic_load_explicit(&n->versions, memory_order_relaxed);
         e != NULL; e = atomic_load_explicit(&e->next, memory_order_relaxed))
        next = min64(next, entry_due(kr, e, e == cur));
    pthread_mutex_unlock(&n->mu);
    return next;
}

static int64_t expire_all(vl_keyring *kr, int64_t now)
{
    struct vl_dek_entry *retired = NULL;
    size_t evicted = 0;
    int64_t next = INT64_MAX;
    for (struct vl_dek_node *n = vl_dek_cache_first(&kr->cache); n != NULL; n = n->all_next)
        next = min64(next, expire_node(kr, n, now, &retired, &evicted));
    vl_kr_count(&kr->cache_evictions, evicted);
    vl_dek_retire(retired, &kr->retired_seals);
    return next;
}

static struct timespec abs_time(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    return ts;
}

static void *sweeper(void *arg)
{
    vl_keyring *kr = arg;
    pthread_mutex_lock(&kr->sweep_mu);
    while (!kr->sweep_stop) {
        int64_t now = vl_kr_now(kr);
        if (now < kr->sweep_at) {
            struct timespec ts = abs_time(kr->sweep_at);
            if (kr->sweep_at == INT64_MAX)
                pthread_cond_wait(&kr->sweep_cv, &kr->sweep_mu);
            else
                (void)pthread_cond_timedwait(&kr->sweep_cv, &kr->sweep_mu, &ts);
            continue;
        }
        kr->sweep_at = INT64_MAX;
        pthread_mutex_unlock(&kr->sweep_mu);
        int64_t next = expire_all(kr, now);
        pthread_mutex_lock(&kr->sweep_mu);
        kr->sweep_at = min64(kr->sweep_at, next);
    }
    pthread_mutex_unlock(&kr->sweep_mu);
    return NULL;
}

void vl_kr_sweeper_start(vl_keyring *kr)
{
    pthread_once(&fork_once, fork_hook);
    kr->hot_clock = 1;
    kr->owner_pid = getpid();
    if (kr->clock_ms != NULL)
        return;
    if (pthread_mutex_init(&kr->sweep_mu, NULL) != 0)
        return;
    if (pthread_cond_init(&kr->sweep_cv, NULL) != 0) {
        pthread_mutex_destroy(&kr->sweep_mu);
        return;
    }
    kr->sweep_at = INT64_MAX;
    kr->sweep_stop = 0;
    kr->sweeper_on = 1;
    if (pthread_create(&kr->sweeper, NULL, sweeper, kr) != 0) {
        kr->sweeper_on = 0;
        pthread_cond_destroy(&kr->sweep_cv);
        pthread_mutex_destroy(&kr->sweep_mu);
        return;
    }
    kr->hot_clock = 0;
}

void vl_kr_sweeper_stop(vl_keyring *kr)
{
    if (!kr->sweeper_on)
        return;
    /* In a forked child the thread does not exist: nothing to join. */
    if (getpid() == kr->owner_pid) {
        pthread_mutex_lock(&kr->sweep_mu);
        kr->sweep_stop = 1;
        pthread_cond_signal(&kr->sweep_cv);
        pthread_mutex_unlock(&kr->sweep_mu);
        pthread_join(kr->sweeper, NULL);
        pthread_cond_destroy(&kr->sweep_cv);
        pthread_mutex_destroy(&kr->sweep_mu);
    }
    kr->sweeper_on = 0;
}

/* ---------------------------------------------------------------- on demand */

/* Under the node's mutex: current only (encrypt stops, decrypt keeps the
 * key) or the matching versions themselves. *stopped is set when an
 * entry was taken out of encryption. */
static size_t evict_node(struct vl_dek_node *n, int32_t version, int current_only,
                         struct vl_dek_entry **retired, int *stopped)
{
    if (!current_only)
        return vl_dek_node_unlink_if(n, version, INT64_MIN, retired);
    struct vl_dek_entry *cur = atomic_load_explicit(&n->current, memory_order_relaxed);
    if (cur != NULL && (version == -1 || cur->version == version)) {
        atomic_store_explicit(&n->current, NULL, memory_order_release);
        *stopped = 1;
    }
    return 0;
}

/* After an unpublish: wait out encrypts already past the lookup, so when
 * a delete returns no field under the deleted key is still being made
 * (a hard delete right after must not strand a field). */
static void settle(vl_keyring *kr, struct vl_dek_entry *retired, size_t count, int stopped)
{
    vl_kr_count(&kr->cache_evictions, count);
    if (retired != NULL)
        vl_dek_retire(retired, &kr->retired_seals); /* waits too */
    else if (stopped)
        vl_rcu_synchronize();
}

void vl_kr_evict(vl_keyring *kr, const vl_dek_id *id, int current_only)
{
    int rc, stopped = 0;
    struct vl_dek_entry *retired = NULL;
    struct vl_dek_node *n =
        vl_dek_cache_node(&kr->cache, id->kek_name, id->subject, id->alg, 0, &rc);
    if (n == NULL)
        return;
    pthread_mutex_lock(&n->mu);
    size_t count = evict_node(n, id->version, current_only, &retired, &stopped);
    pthread_mutex_unlock(&n->mu);
    settle(kr, retired, count, stopped);
}

void vl_kr_evict_kek(vl_keyring *kr, const char *kek, int current_only)
{
    struct vl_dek_entry *retired = NULL;
    size_t count = 0;
    int stopped = 0;
    for (struct vl_dek_node *n = vl_dek_cache_first(&kr->cache); n != NULL; n = n->all_next) {
        if (strcmp(n->kek, kek) != 0)
            continue;
        pthread_mutex_lock(&n->mu);
        count += evict_node(n, -1, current_only, &retired, &stopped);
        pthread_mutex_unlock(&n->mu);
    }
    settle(kr, retired, count, stopped);
}

/* Without the deadline thread: drops entries past their TTL everywhere,
 * at most once per interval, from whichever slow path comes along (the
 * hot paths refuse expired entries anyway). */
void vl_kr_sweep(vl_keyring *kr, int64_t now)
{
    if (!(kr->hot_clock | atomic_load_explicit(&vl_kr_forked, memory_order_relaxed)))
        return; /* the deadline thread does it */
    int64_t due = atomic_load_explicit(&kr->next_sweep_ms, memory_order_relaxed);
    int64_t every = kr->cache_ttl_ms / 4 < 60000 ? (int64_t)(kr->cache_ttl_ms / 4) : 60000;
    int64_t next = now > INT64_MAX - every ? INT64_MAX : now + every;
    if (now < due || !atomic_compare_exchange_strong_explicit(&kr->next_sweep_ms, &due, next,
                                                              memory_order_relaxed,
                                                              memory_order_relaxed))
        return;
    struct vl_dek_entry *retired = NULL;
    size_t count = 0;
    for (struct vl_dek_node *n = vl_dek_cache_first(&kr->cache); n != NULL; n = n->all_next) {
        if (pthread_mutex_trylock(&n->mu) != 0)
            continue; /* busy with a miss; its own paths check the TTL */
        count += vl_dek_node_unlink_if(n, -1, now, &retired);
        pthread_mutex_unlock(&n->mu);
    }
    vl_kr_count(&kr->cache_evictions, count);
    vl_dek_retire(retired, &kr->retired_seals);
}
