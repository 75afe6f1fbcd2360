/* Per-key usage accounting and the default limits.
 *
 * Default limits, all aimed at an attacker advantage of at most about 2^-57
 * per key (the target the CFRG draft "Usage Limits on AEAD Algorithms",
 * draft-irtf-cfrg-aead-limits, uses in its worked examples):
 *
 * AES-GCM (128 and 256)
 *   max_seals = 2^32: SP 800-38D §8.3, the total number of invocations with
 *     randomly generated IVs (vellum's envelope layer draws 96-bit nonces).
 *   max_bytes = 2^40 (2^36 blocks): the draft's confidentiality bound
 *     (sigma + q + 1)^2 / 2^129 with sigma <= 2^36 blocks and q <= 2^32
 *     messages gives about 2^-56.9.
 *   max_open_failures = 2^36: the draft's integrity bound 2v(l + 1) / 2^128
 *     with l <= 2^32 blocks (the longest GCM message) gives 2^-59.
 * AES-256-SIV
 *   The draft does not cover SIV. S2V is a CMAC-based PRF with a birthday
 *   bound of about sigma^2 / 2^128, sigma counting every block S2V and CTR
 *   process. max_bytes = 2^39 (2^35 blocks of data) and max_seals = 2^32
 *   (at most about 2^34 blocks of per-message overhead) keep sigma below
 *   2^35.6, about 2^-56.8. max_open_failures = 2^36 as for GCM.
 * rotate_at_seals = max_seals / 2: the should-rotate flag rises half way,
 *   so a host has the second half of the budget to roll a new key out
 *   before seals start failing (compare s2n's key_update_pending). */
#include "key.h"

#include "vellum/aead.h"

int vl_aead_default_limits(vl_alg alg, vl_limits *l)
{
    if (l == NULL)
        return VL_ERR_ARG;
    switch (alg) {
    case VL_AES128_GCM:
    case VL_AES256_GCM:
        l->max_seals = UINT64_C(1) << 32;
        l->max_bytes = UINT64_C(1) << 40;
        break;
    case VL_AES256_SIV:
        l->max_seals = UINT64_C(1) << 32;
        l->max_bytes = UINT64_C(1) << 39;
        break;
    default:
        return VL_ERR_ARG;
    }
    l->max_open_failures = UINT64_C(1) << 36;
    l->rotate_at_seals = l->max_seals / 2;
    return VL_OK;
}

/* A process-wide sequence for limits epochs: a key re-initialised at the
 * same address, or given new limits, never matches a thread's binding to
 * the old one, so no grant made under old limits is spent. */
static uint64_t next_limits_epoch(void)
{
    static _Atomic uint64_t seq;
    return atomic_fetch_add_explicit(&seq, 1, memory_order_relaxed) + 1;
}

static void store_limits(struct vl_key *key, const vl_limits *l)
{
    atomic_store_explicit(&key->max_seals, l->max_seals, memory_order_relaxed);
    atomic_store_explicit(&key->max_bytes, l->max_bytes, memory_order_relaxed);
    atomic_store_explicit(&key->max_open_failures, l->max_open_failures, memory_order_relaxed);
    atomic_store_explicit(&key->rotate_at_seals, l->rotate_at_seals, memory_order_relaxed);
    /* Grants made under the old limits end at their holder's next seal. */
    atomic_store_explicit(&key->limits_epoch, next_limits_epoch(), memory_order_relaxed);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define VL_PAIR_CAS 1

/* CMPXCHG16B exists on every x86-64 CPU but the first AMD64 parts; check,
 * once: CPUID traps to the hypervisor on VMs (about 7 us here), which would
 * dominate every vl_aead_init. A race only probes twice. */
static uint32_t cpu_has_cx16(void)
{
    static atomic_uint cached; /* 0 = unknown, else 1 + the answer */
    unsigned v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v == 0) {
        unsigned a, b, c, d;
        v = 1 + (__get_cpuid(1, &a, &b, &c, &d) ? (c >> 13) & 1 : 0);
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return v - 1;
}

/* One locked compare-and-swap of the 16-byte pair at |p| (seals, bytes):
 * half the cost of two locked adds, and the pair moves as one. */
static int cas_pair(_Atomic uint64_t *p, uint64_t *lo, uint64_t *hi, uint64_t new_lo,
                    uint64_t new_hi)
{
    unsigned char ok;
    __asm__ __volatile__("lock cmpxchg16b %1\n\tsete %0"
                         : "=q"(ok), "+m"(*(volatile __int128 *)(void *)p), "+a"(*lo), "+d"(*hi)
                         : "b"(new_lo), "c"(new_hi)
                         : "memory", "cc");
    return ok;
}
#endif

void vl_usage_reset(struct vl_key *key)
{
    vl_limits l;
    (void)vl_aead_default_limits((vl_alg)key->alg, &l);
    store_limits(key, &l);
    atomic_init(&key->seals, 0);
    atomic_init(&key->bytes_sealed, 0);
    atomic_init(&key->open_failures, 0);
    for (size_t i = 0; i < VL_USAGE_SHARDS; i++) {
        struct vl_usage_shard *sh = &key->shards[i];
        atomic_init(&sh->owner, 0);
        atomic_init(&sh->granted_seals, 0);
        atomic_init(&sh->used_seals, 0);
        atomic_init(&sh->granted_bytes, 0);
        atomic_init(&sh->used_bytes, 0);
    }
#ifdef VL_PAIR_CAS
    key->pair_cas = cpu_has_cx16();
#endif
}

/* Add |n| to |*c| unless the sum would pass |max|. Returns 1 when added.
 * The compare-and-swap loop makes the check and the add one step, so N
 * threads racing for the last unit cannot all win. */
static int add_below(_Atomic uint64_t *c, uint64_t n, uint64_t max)
{
    uint64_t cur = atomic_load_explicit(c, memory_order_relaxed);
    do {
        if (n > max || cur > max - n)
            return 0;
    } while (!atomic_compare_exchange_weak_explicit(c, &cur, cur + n, memory_order_relaxed,
                                                    memory_order_relaxed));
    return 1;
}

/* Counts |count| seals and |bytes| unless that would leave less than
 * |spare_seals| and |spare_bytes| below the limits. Returns 1 when counted. */
static int count_below(struct vl_key *key, uint64_t count, uint64_t bytes, uint64_t spare_seals,
                       uint64_t spare_bytes)
{
    uint64_t max_seals = atomic_load_explicit(&key->max_seals, memory_order_relaxed);
    uint64_t max_bytes = atomic_load_explicit(&key->max_bytes, memory_order_relaxed);
    /* count + spare and bytes + spare cannot wrap: callers pass a spare
     * only with a small count and bytes. */
    if (count + spare_seals > max_seals || bytes + spare_bytes > max_bytes)
        return 0;
    max_seals -= spare_seals;
    max_bytes -= spare_bytes;
#ifdef VL_PAIR_CAS
    if (key->pair_cas) {
        /* The two loads may tear; the CAS then fails and reloads both. */
        uint64_t s = atomic_load_explicit(&key->seals, memory_order_relaxed);
        uint64_t b = atomic_load_explicit(&key->bytes_sealed, memory_order_relaxed);
        do {
            if (s > max_seals - count || b > max_bytes - bytes)
                return 0;
        } while (!cas_pair(&key->seals, &s, &b, s + count, b + bytes));
        return 1;
    }
#endif
    if (!add_below(&key->seals, count, max_seals))
        return 0;
    if (!add_below(&key->bytes_sealed, bytes, max_bytes)) {
        /* Give the seals back: these messages do not fit the byte budget. */
        atomic_fetch_sub_explicit(&key->seals, count, memory_order_relaxed);
        return 0;
    }
    return 1;
}

/* Per-thread shards: seals counted in advance, exactly.
 *
 * Counting every seal with a locked instruction costs more than sealing a
 * short message: the lock waits for the previous message's stores, so
 * back-to-back seals cannot overlap. So a thread that keeps sealing under one
 * key claims one of the key's VL_USAGE_SHARDS shards (a cache line only it
 * writes) and has seals and bytes granted to it in advance, up to SHARD_MAX
 * at a time, with one locked operation on the key's counters; it then
 * spends them with plain stores to its shard. vl_aead_usage subtracts what
 * the shards hold unspent, so the counts are exact (a read racing a grant
 * may be off by that grant for that moment).
 * - A grant is at most 1/8 of the seals the thread has done in a row on the
 *   key: a thread moving between keys is never granted anything.
 * - Bytes are granted for messages as long as the longest one so far;
 *   messages over SHARD_MAX_MSG bytes are counted one by one (their cost
 *   hides the lock), as is any message when all shards are taken.
 * - A thread that moves to another key leaves its grant in its shard, still
 *   subtracted as unspent; it gives it back when it returns. New limits (a
 *   new limits_epoch) end every grant the same way: the holder gives back
 *   what is unspent before it seals again.
 * - Within SHARD_SPARE_* of a limit (what all shards could hold) nothing
 *   is granted: the last seals are counted one by one. Threads that seal
 *   until refused get exactly max_seals, unless a thread that stopped
 *   sealing under the key still holds a grant (at most SHARD_MAX seals per
 *   shard): a seal can then be refused while vl_aead_usage shows less than
 *   max_seals. vl_usage_counted gives what the limit check sees.
 * - A key must not be shared between processes (shared memory): shard
 *   owners are threads of one process. */
#define SHARD_MAX 64
#define SHARD_MAX_MSG 4096
#define SHARD_SPARE_SEALS ((uint64_t)SHARD_MAX * VL_USAGE_SHARDS)
#define SHARD_SPARE_BYTES ((uint64_t)SHARD_MAX * VL_USAGE_SHARDS * SHARD_MAX_MSG)

/* What the calling thread knows about the key it last sealed under. Its
 * address is the thread's token in shard owners: unique among live
 * threads; a new thread that gets a dead one's address inherits its shards
 * and gives back what they hold. */
struct binding {
    const struct vl_key *key;
    uint64_t epoch;
    struct vl_usage_shard *shard; /* the thread's shard in key, or NULL */
    uint64_t run;                 /* seals counted for this thread under key/epoch */
    uint64_t per;                 /* bytes per granted seal */
    int claimed;                  /* the thread owns a shard in some key */
};

static _Thread_local struct binding thread_binding;

static uint64_t load(_Atomic uint64_t *p)
{
    return atomic_load_explicit(p, memory_order_relaxed);
}

static void store(_Atomic uint64_t *p, uint64_t v)
{
    atomic_store_explicit(p, v, memory_order_relaxed);
}

/* Returns to the key's counters what the caller's own shard holds unspent.
 * The grant shrinks first, so a racing vl_aead_usage over-counts for a
 * moment rather than under-counts. */
static void give_back(struct vl_key *key, struct vl_usage_shard *sh)
{
    uint64_t seals = load(&sh->granted_seals) - load(&sh->used_seals);
    uint64_t bytes = load(&sh->granted_bytes) - load(&sh->used_bytes);
    store(&sh->granted_seals, load(&sh->used_seals));
    store(&sh->granted_bytes, load(&sh->used_bytes));
    if (seals != 0)
        atomic_fetch_sub_explicit(&key->seals, seals, memory_order_relaxed);
    if (bytes != 0)
        atomic_fetch_sub_explicit(&key->bytes_sealed, bytes, memory_order_relaxed);
}

static struct vl_usage_shard *own_shard(struct vl_key *key)
{
    const uintptr_t me = (uintptr_t)&thread_binding;
    for (size_t i = 0; i < VL_USAGE_SHARDS; i++)
        if (atomic_load_explicit(&key->shards[i].owner, memory_order_relaxed) == me)
            return &key->shards[i];
    return NULL;
}

static struct vl_usage_shard *claim_shard(struct vl_key *key)
{
    for (size_t i = 0; i < VL_USAGE_SHARDS; i++) {
        uintptr_t free_owner = 0;
        if (atomic_compare_exchange_strong_explicit(&key->shards[i].owner, &free_owner,
                                                    (uintptr_t)&thread_binding,
                                                    memory_order_relaxed, memory_order_relaxed)) {
            thread_binding.claimed = 1;
            return &key->shards[i];
        }
    }
    return NULL;
}

/* The thread starts sealing under |key| (another key, or new limits): it
 * takes back its shard there, if it has one, and returns the shard's
 * unspent grant (made under other limits, or left when the thread moved
 * away) so the budget is not stranded. */
static void rebind(struct vl_key *key, struct binding *b, uint64_t epoch)
{
    *b = (struct binding){key, epoch, NULL, 0, 0, b->claimed};
    if (b->claimed && (b->shard = own_shard(key)) != NULL)
        give_back(key, b->shard);
}

/* Grants the caller's shard n seals of b->per bytes each, unless that comes
 * within the spare of a limit. The grant is counted before the shard shows
 * it (release), so a vl_aead_usage that sees the grant sees the count. */
static int grant(struct vl_key *key, struct binding *b, uint64_t n)
{
    if (b->shard == NULL) {
        /* A shard of a dead thread whose token this one inherited. */
        if ((b->shard = own_shard(key)) != NULL)
            give_back(key, b->shard);
        else if ((b->shard = claim_shard(key)) == NULL)
            return 0; /* all taken: this thread counts one by one */
    }
    if (!count_below(key, n, n * b->per, SHARD_SPARE_SEALS, SHARD_SPARE_BYTES))
        return 0;
    struct vl_usage_shard *sh = b->shard;
    give_back(key, sh); /* bytes a longer message could not use */
    atomic_store_explicit(&sh->granted_seals, load(&sh->used_seals) + n, memory_order_release);
    atomic_store_explicit(&sh->granted_bytes, load(&sh->used_bytes) + n * b->per,
                          memory_order_release);
    b->run += n;
    return 1;
}

/* Spends one granted seal of |bytes| from the caller's shard, if it holds
 * enough. */
static inline int spend(struct vl_usage_shard *sh, uint64_t bytes)
{
    uint64_t used_seals = load(&sh->used_seals), used_bytes = load(&sh->used_bytes);
    if (used_seals == load(&sh->granted_seals) || bytes > load(&sh->granted_bytes) - used_bytes)
        return 0;
    store(&sh->used_seals, used_seals + 1);
    store(&sh->used_bytes, used_bytes + bytes);
    return 1;
}

/* A single seal the caller's shard cannot cover: a new grant when the
 * thread has a run on this key, else one exact count. */
__attribute__((noinline)) static int reserve_one(struct vl_key *key, uint64_t bytes,
                                                 uint64_t epoch)
{
    struct binding *b = &thread_binding;
    if (b->key != key || b->epoch != epoch)
        rebind(key, b, epoch);
    uint64_t n = b->run / 8 < SHARD_MAX ? b->run / 8 : SHARD_MAX;
    if (n >= 2 && bytes <= SHARD_MAX_MSG) {
        b->per = bytes > b->per ? bytes : b->per;
        if (grant(key, b, n) && spend(b->shard, bytes))
            return VL_OK;
    }
    if (!count_below(key, 1, bytes, 0, 0))
        return VL_ERR_LIMIT;
    b->run++;
    return VL_OK;
}

int vl_usage_reserve_seal(struct vl_key *key, uint64_t count, uint64_t bytes)
{
    if (count == 1) {
        const struct binding *b = &thread_binding;
        uint64_t epoch = load(&key->limits_epoch);
        if (b->key == key && b->epoch == epoch && b->shard != NULL && spend(b->shard, bytes))
            return VL_OK;
        return reserve_one(key, bytes, epoch);
    }
    return count_below(key, count, bytes, 0, 0) ? VL_OK : VL_ERR_LIMIT;
}

/* Failed opens are checked with a load and counted after the fact rather
 * than reserved: a reservation costs two locked operations on every
 * successful open, which is the common case. The price is that the count
 * may pass max_open_failures by the number of opens in flight when it is
 * reached (one per thread at most); the defaults (2^36) leave orders of
 * magnitude of margin for that, and every open after it is refused. */
int vl_usage_open_allowed(const struct vl_key *key)
{
    struct vl_key *k = (struct vl_key *)key;
    uint64_t max = atomic_load_explicit(&k->max_open_failures, memory_order_relaxed);
    uint64_t failures = atomic_load_explicit(&k->open_failures, memory_order_relaxed);
    return failures < max ? VL_OK : VL_ERR_LIMIT;
}

void vl_usage_count_failures(struct vl_key *key, uint64_t failed)
{
    if (failed)
        atomic_fetch_add_explicit(&key->open_failures, failed, memory_order_relaxed);
}

void vl_usage_counted(const struct vl_key *key, uint64_t *seals, uint64_t *bytes)
{
    struct vl_key *k = (struct vl_key *)key;
    *seals = load(&k->seals);
    *bytes = load(&k->bytes_sealed);
}

static int key_ok(const vl_aead_key *k)
{
    return k != NULL && vl_key_of_const(k)->magic == VL_KEY_MAGIC;
}

void vl_aead_usage(const vl_aead_key *k, vl_usage *u)
{
    if (u == NULL)
        return;
    if (!key_ok(k)) {
        *u = (vl_usage){0, 0, 0};
        return;
    }
    /* The fields are read one by one; an atomic snapshot of all three is
     * not needed for accounting and would cost a lock. */
    struct vl_key *key = vl_key_of((vl_aead_key *)k);
    /* Grants first (acquire: a grant seen means its count is seen), then
     * the counts, minus what the shards hold unspent. */
    uint64_t unspent_seals = 0, unspent_bytes = 0;
    for (size_t i = 0; i < VL_USAGE_SHARDS; i++) {
        struct vl_usage_shard *sh = &key->shards[i];
        unspent_seals += atomic_load_explicit(&sh->granted_seals, memory_order_acquire) -
                         load(&sh->used_seals);
        unspent_bytes += atomic_load_explicit(&sh->granted_bytes, memory_order_acquire) -
                         load(&sh->used_bytes);
    }
    u->seals = load(&key->seals) - unspent_seals;
    u->bytes_sealed = load(&key->bytes_sealed) - unspent_bytes;
    u->open_failures = load(&key->open_failures);
}

int vl_aead_set_limits(vl_aead_key *k, const vl_limits *l)
{
    if (!key_ok(k) || l == NULL)
        return VL_ERR_ARG;
    store_limits(vl_key_of(k), l);
    return VL_OK;
}

void vl_aead_get_limits(const vl_aead_key *k, vl_limits *l)
{
    if (l == NULL)
        return;
    if (!key_ok(k)) {
        *l = (vl_limits){0, 0, 0, 0};
        return;
    }
    struct vl_key *key = vl_key_of((vl_aead_key *)k);
    l->max_seals = atomic_load_explicit(&key->max_seals, memory_order_relaxed);
    l->max_bytes = atomic_load_explicit(&key->max_bytes, memory_order_relaxed);
    l->max_open_failures = atomic_load_explicit(&key->max_open_failures, memory_order_relaxed);
    l->rotate_at_seals = atomic_load_explicit(&key->rotate_at_seals, memory_order_relaxed);
}

int vl_aead_should_rotate(const vl_aead_key *k)
{
    if (!key_ok(k))
        return 0;
    vl_limits l;
    uint64_t seals, bytes;
    vl_aead_get_limits(k, &l);
    /* What the limit check sees: seals granted in advance count, so the
     * flag is up whenever a seal could be refused. */
    const struct vl_key *key = vl_key_of_const(k);
    vl_usage_counted(key, &seals, &bytes);
    uint64_t failures = atomic_load_explicit(&((struct vl_key *)key)->open_failures,
                                             memory_order_relaxed);
    return seals >= l.rotate_at_seals || seals >= l.max_seals || bytes >= l.max_bytes ||
           failures >= l.max_open_failures;
}
