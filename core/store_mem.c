/* The in-memory record store: two malloc'd arrays behind one mutex.
 *
 * Lookups scan linearly: the store is meant for tests and for a single
 * process with a modest number of DEK versions, where a scan of a few
 * hundred records costs less than the KMS call that follows a cache miss.
 * Wrapped DEK material is wiped wherever a record leaves the store (delete,
 * array growth, close): it is wrapped, but a copy left in freed memory is
 * still a copy nobody accounts for.
 *
 * each_kek / each_dek call |fn| on a sorted snapshot taken under the lock
 * and run it with the lock released, so a callback may call back into the
 * store (the keyring's KEK rewrap puts each DEK it visits). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store_int.h"

typedef struct mem_store {
    pthread_mutex_t mu;
    vl_kek_record *keks;
    size_t nkek, kcap;
    vl_dek_record *deks;
    size_t ndek, dcap;
} mem_store;

static mem_store *mem_of(vl_store *s)
{
    return (mem_store *)s->ctx;
}

/* Makes room for one more element of |elem| bytes. Grows by hand rather
 * than with realloc so the old array can be wiped before it is freed. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return VL_OK;
    size_t ncap = *cap ? *cap * 2 : 8;
    if (ncap > SIZE_MAX / elem)
        return VL_ERR_NOMEM;
    void *p = malloc(ncap * elem);
    if (p == NULL)
        return VL_ERR_NOMEM;
    if (n > 0)
        memcpy(p, *arr, n * elem);
    vl_memzero(*arr, *cap * elem);
    free(*arr);
    *arr = p;
    *cap = ncap;
    return VL_OK;
}

/* Removes element |i| of |*n| by moving the last one into its place
 * (order is not kept: iteration sorts) and wipes the freed slot. */
static void remove_at(void *arr, size_t *n, size_t i, size_t elem)
{
    unsigned char *a = arr;
    size_t last = *n - 1;
    if (i != last)
        memcpy(a + i * elem, a + last * elem, elem);
    vl_memzero(a + last * elem, elem);
    *n = last;
}

static vl_kek_record *find_kek(mem_store *m, const char *name)
{
    for (size_t i = 0; i < m->nkek; i++)
        if (strcmp(m->keks[i].name, name) == 0)
            return &m->keks[i];
    return NULL;
}

/* The record with identity |id|; version -1 picks the highest version. */
static vl_dek_record *find_dek(mem_store *m, const vl_dek_id *id)
{
    vl_dek_record *best = NULL;
    for (size_t i = 0; i < m->ndek; i++) {
        vl_dek_record *r = &m->deks[i];
        if (vl_store_dek_match(r, id) && (best == NULL || r->version > best->version))
            best = r;
    }
    return best;
}

static int mem_put_kek(vl_store *s, const vl_kek_record *r, int create)
{
    if (vl_store_check_kek(r) != VL_OK)
        return VL_ERR_ARG;
    mem_store *m = mem_of(s);
    int rc = VL_OK;
    pthread_mutex_lock(&m->mu);
    vl_kek_record *cur = find_kek(m, r->name);
    if (cur != NULL && create) {
        rc = VL_ERR_EXISTS;
    } else if (cur != NULL) {
        *cur = *r;
    } else if ((rc = grow((void **)&m->keks, &m->kcap, m->nkek, sizeof *m->keks)) == VL_OK) {
        m->keks[m->nkek++] = *r;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int mem_get_kek(vl_store *s, const char *name, vl_kek_record *out)
{
    if (!vl_store_str_ok(name, VL_NAME_MAX, 1) || out == NULL)
        return VL_ERR_ARG;
    mem_store *m = mem_of(s);
    pthread_mutex_lock(&m->mu);
    const vl_kek_record *cur = find_kek(m, name);
    if (cur != NULL)
        *out = *cur;
    pthread_mutex_unlock(&m->mu);
    return cur != NULL ? VL_OK : VL_ERR_NOT_FOUND;
}

static int mem_each_kek(vl_store *s, int (*fn)(void *arg, const vl_kek_record *r), void *arg)
{
    if (fn == NULL)
        return VL_ERR_ARG;
    mem_store *m = mem_of(s);
    pthread_mutex_lock(&m->mu);
    size_t n = m->nkek;
    vl_kek_record *snap = n ? malloc(n * sizeof *snap) : NULL;
    if (snap != NULL)
        memcpy(snap, m->keks, n * sizeof *snap);
    pthread_mutex_unlock(&m->mu);
    if (n > 0 && snap == NULL)
        return VL_ERR_NOMEM;
    if (n > 1)
        qsort(snap, n, sizeof *snap, vl_store_kek_cmp);
    int rc = VL_OK;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = fn(arg, &snap[i]);
    free(snap);
    return rc;
}

static int mem_delete_kek(vl_store *s, const char *name)
{
    if (!vl_store_str_ok(name, VL_NAME_MAX, 1))
        return VL_ERR_ARG;
    mem_store *m = mem_of(s);
    pthread_mutex_lock(&m->mu);
    vl_kek_record *cur = find_kek(m, name);
    if (cur != NULL)
        remove_at(m->keks, &m->nkek, (size_t)(cur - m->keks), sizeof *m->keks);
    pthread_mutex_unlock(&m->mu);
    return cur != NULL ? VL_OK : VL_ERR_NOT_FOUND;
}

static vl_dek_id id_of(const vl_dek_record *r)
{
    vl_dek_id id = {r->kek_name, r->subject, r->alg, r->version};
    return id;
}

/* An update keeps the larger reserved_seals: a record read before another
 * process reserved must not hand that reservation back when written. */
static int mem_put_dek(vl_store *s, const vl_dek_record *r, int create)
{
    if (vl_store_check_dek(r) != VL_OK)
        return VL_ERR_ARG;
    mem_store *m = mem_of(s);
    vl_dek_id id = id_of(r);
    int rc = VL_OK;
    pthread_mutex_lock(&m->mu);
    vl_dek_record *cur = find_dek(m, &id);
    if (cur != NULL && create) {
        rc = VL_ERR_EXISTS;
    } else if (cur != NULL) {
        uint64_t reserved = cur->reserved_seals;
        *cur = *r;
        if (reserved > cur->reserved_seals)
            cur->reserved_seals = reserved;
    } else if ((rc = grow((void **)&m->deks, &m->dcap, m->ndek, sizeof *m->deks)) == VL_OK) {
        cur = &m->deks[m->ndek++];
        *cur = *r;
    }
    /* Only wrapped[0, wrapped_len) is the record: what the caller left
     * past it (an older, longer blob, say) is not kept. */
    if (rc == VL_OK)
        vl_memzero(cur->wrapped + cur->wrapped_len, sizeof cur->wrapped - cur->wrapped_len);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int mem_get_dek(vl_store *s, const vl_dek_id *id, vl_dek_record *out)
{
    if (vl_store_check_id(id, 1) != VL_OK || out == NULL)
        return VL_ERR_ARG;
    mem_store *m = mem_of(s);
    pthread_mutex_lock(&m->mu);
    const vl_dek_record *cur = find_dek(m, id);
    if (cur != NULL)
        *out = *cur;
    pthread_mutex_unlock(&m->mu);
    return cur != NULL ? VL_OK : VL_ERR_NOT_FOUND;
}

/* Copies the DEKs under |kek_name| (NULL: all) into a fresh array. */
static int snapshot_deks(mem_store *m, const char *kek_name, vl_dek_record **out, size_t *n)
{
    size_t k = 0;
    vl_dek_record *snap = NULL;
    pthread_mutex_lock(&m->mu);
    if (m->ndek > 0)
        snap = malloc(m->ndek * sizeof *snap);
    for (size_t i = 0; snap != NULL && i < m->ndek; i++)
        if (kek_name == NULL || strcmp(m->deks[i].kek_name, kek_name) == 0)
            snap[k++] = m->deks[i];
    int rc = (m->ndek > 0 && snap == NULL) ? VL_ERR_NOMEM : VL_OK;
    pthread_mutex_unlock(&m->mu);
    *out = snap;
    *n = k;
    return rc;
}

static int mem_each_dek(vl_store *s, const char *kek_name,
                        int (*fn)(void *arg, const vl_dek_record *r), void *arg)
{
    if (fn == NULL || (kek_name != NULL && !vl_store_str_ok(kek_name, VL_NAME_MAX, 1)))
        return VL_ERR_ARG;
    vl_dek_record *snap;
    size_t n;
    int rc = snapshot_deks(mem_of(s), kek_name, &snap, &n);
    if (rc != VL_OK)
        return rc;
    if (n > 1)
        qsort(snap, n, sizeof *snap, vl_store_dek_cmp);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = fn(arg, &snap[i]);
    if (snap != NULL)
        vl_memzero(snap, n * sizeof *snap);
    free(snap);
    return rc;
}

/* Deleting and reserving name one exact version: "the latest" would race
 * with a concurrent rotation. */
static int mem_delete_dek(vl_store *s, const vl_dek_id *id)
{
    if (vl_store_check_id(id, 0) != VL_OK)
        return VL_ERR_ARG;
    mem_store *m = mem_of(s);
    pthread_mutex_lock(&m->mu);
    vl_dek_record *cur = find_dek(m, id);
    if (cur != NULL)
        remove_at(m->deks, &m->ndek, (size_t)(cur - m->deks), sizeof *m->deks);
    pthread_mutex_unlock(&m->mu);
    return cur != NULL ? VL_OK : VL_ERR_NOT_FOUND;
}

static int mem_reserve(vl_store *s, const vl_dek_id *id, uint64_t want, uint64_t max,
                       uint64_t *start, uint64_t *granted)
{
    if (start == NULL || granted == NULL)
        return VL_ERR_ARG;
    *start = 0;
    *granted = 0;
    if (vl_store_check_id(id, 0) != VL_OK)
        return VL_ERR_ARG;
    mem_store *m = mem_of(s);
    pthread_mutex_lock(&m->mu);
    vl_dek_record *cur = find_dek(m, id);
    if (cur != NULL) {
        *start = cur->reserved_seals;
        *granted = vl_store_grant(cur->reserved_seals, want, max);
        cur->reserved_seals += *granted;
    }
    pthread_mutex_unlock(&m->mu);
    return cur != NULL ? VL_OK : VL_ERR_NOT_FOUND;
}

static void mem_close(vl_store *s)
{
    mem_store *m = mem_of(s);
    vl_memzero(m->deks, m->dcap * sizeof *m->deks);
    free(m->deks);
    free(m->keks);
    pthread_mutex_destroy(&m->mu);
    free(m);
    free(s);
}

static const vl_store_ops mem_ops = {
    .size = sizeof(vl_store_ops),
    .name = "memory",
    .put_kek = mem_put_kek,
    .get_kek = mem_get_kek,
    .each_kek = mem_each_kek,
    .delete_kek = mem_delete_kek,
    .put_dek = mem_put_dek,
    .get_dek = mem_get_dek,
    .each_dek = mem_each_dek,
    .delete_dek = mem_delete_dek,
    .reserve = mem_reserve,
    .close = mem_close,
};

int vl_store_mem_new(vl_store **out)
{
    if (out == NULL)
        return VL_ERR_ARG;
    *out = NULL;
    vl_store *s = calloc(1, sizeof *s);
    mem_store *m = calloc(1, sizeof *m);
    if (s == NULL || m == NULL || pthread_mutex_init(&m->mu, NULL) != 0) {
        free(s);
        free(m);
        return VL_ERR_NOMEM;
    }
    s->ops = &mem_ops;
    s->ctx = m;
    *out = s;
    return VL_OK;
}
