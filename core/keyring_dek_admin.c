/* DEK records: get, delete, undelete, revoke (include/vellum/envelope.h).
 *
 * Decisions (registry semantics, csfle-spec.md §7.4):
 *   - Soft delete marks the version(s) deleted: decrypt goes on, encrypt
 *     moves to a new version (keyring_dek.c) at its next call.
 *   - Hard delete needs every named version soft-deleted first
 *     (VL_ERR_BUSY otherwise, nothing changed). It keeps the row as a
 *     tombstone with the material wiped (see keyring.c), and evicts and
 *     zeroizes the cached keys at once: decrypt then reports
 *     VL_ERR_KEY_DESTROYED, and so does encrypt while the latest version
 *     is destroyed.
 *   - Undelete fails with VL_ERR_KEY_DISABLED while the KEK is
 *     soft-deleted, and cannot bring back a destroyed version
 *     (VL_ERR_KEY_DESTROYED; with version -1 destroyed versions are
 *     skipped and the call fails only when nothing else was there).
 *   - vl_dek_get of a destroyed version is VL_ERR_KEY_DESTROYED.
 *   - vl_dek_revoke only touches the cache; the next use unwraps again. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "keyring_internal.h"

static int id_ok(const vl_dek_id *id)
{
    return id != NULL && vl_kr_name_ok(id->kek_name, VL_NAME_MAX) &&
           vl_kr_name_ok(id->subject, VL_NAME_MAX) &&
           (id->alg == VL_AES128_GCM || id->alg == VL_AES256_GCM || id->alg == VL_AES256_SIV) &&
           (id->version >= 1 || id->version == -1);
}

int vl_dek_get(vl_keyring *kr, const vl_dek_id *id, vl_dek_record *out)
{
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (kr == NULL || !id_ok(id) || out == NULL)
        return VL_ERR_ARG;
    int rc = vl_kr_get_dek(kr, id, out);
    if (rc == VL_OK && vl_kr_destroyed(out)) {
        memset(out, 0, sizeof *out);
        rc = VL_ERR_KEY_DESTROYED;
    }
    return rc;
}

/* The records an id names: one version, or every version of the
 * (kek, subject, alg) with version -1. */
struct rec_list {
    const vl_dek_id *id;
    vl_dek_record *v;
    size_t n, cap;
};

static int rec_push(struct rec_list *l, const vl_dek_record *r)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        vl_dek_record *v = malloc(cap * sizeof *v);
        if (v == NULL)
            return VL_ERR_NOMEM;
        if (l->n > 0)
            memcpy(v, l->v, l->n * sizeof *v);
        vl_memzero(l->v, l->cap * sizeof *l->v);
        free(l->v);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *r;
    return VL_OK;
}

static int rec_match(void *arg, const vl_dek_record *r)
{
    struct rec_list *l = arg;
    if (memchr(r->subject, '\0', sizeof r->subject) == NULL)
        return VL_ERR_FORMAT;
    if (strcmp(r->subject, l->id->subject) != 0 || r->alg != l->id->alg)
        return VL_OK;
    vl_dek_id exact = *l->id;
    exact.version = r->version;
    int rc = vl_kr_check_dek(r, &exact);
    return rc == VL_OK ? rec_push(l, r) : rc;
}

static int rec_collect(vl_keyring *kr, const vl_dek_id *id, struct rec_list *l)
{
    *l = (struct rec_list){id, NULL, 0, 0};
    if (id->version != -1) {
        vl_dek_record r;
        int rc = vl_kr_get_dek(kr, id, &r);
        if (rc == VL_OK)
            rc = rec_push(l, &r);
        vl_memzero(&r, sizeof r);
        return rc;
    }
    int rc = kr->store->ops->each_dek(kr->store, id->kek_name, rec_match, l);
    return rc == VL_OK && l->n == 0 ? VL_ERR_NOT_FOUND : rc;
}

static void rec_free(struct rec_list *l)
{
    vl_memzero(l->v, l->cap * sizeof *l->v);
    free(l->v);
}

static int soft_delete(vl_keyring *kr, struct rec_list *l)
{
    int rc = VL_OK;
    for (size_t i = 0; i < l->n && rc == VL_OK; i++) {
        if (l->v[i].deleted)
            continue;
        l->v[i].deleted = 1;
        rc = kr->store->ops->put_dek(kr->store, &l->v[i], 0);
    }
    return rc;
}

/* All named versions must be soft-deleted before any is destroyed. */
static int hard_delete(vl_keyring *kr, struct rec_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (!l->v[i].deleted)
            return VL_ERR_BUSY;
    int rc = VL_OK;
    for (size_t i = 0; i < l->n && rc == VL_OK; i++) {
        vl_dek_record *r = &l->v[i];
        if (vl_kr_destroyed(r))
            continue;
        vl_memzero(r->wrapped, sizeof r->wrapped);
        r->wrapped_len = 0;
        rc = kr->store->ops->put_dek(kr->store, r, 0);
    }
    return rc;
}

int vl_dek_delete(vl_keyring *kr, const vl_dek_id *id, int permanent)
{
    if (kr == NULL || !id_ok(id))
        return VL_ERR_ARG;
    struct rec_list l;
    pthread_rwlock_wrlock(&kr->admin);
    int rc = rec_collect(kr, id, &l);
    if (rc == VL_OK)
        rc = permanent ? hard_delete(kr, &l) : soft_delete(kr, &l);
    pthread_rwlock_unlock(&kr->admin);
    rec_free(&l);
    /* Evict even after a partial failure: what was written stays written,
     * and an eviction is only a cache miss later. */
    if (rc == VL_OK || rc == VL_ERR_IO)
        vl_kr_evict(kr, id, !permanent);
    return rc;
}

static int undelete_all(vl_keyring *kr, struct rec_list *l)
{
    int rc = VL_OK;
    size_t destroyed = 0;
    for (size_t i = 0; i < l->n && rc == VL_OK; i++) {
        vl_dek_record *r = &l->v[i];
        if (vl_kr_destroyed(r)) {
            destroyed++;
            continue;
        }
        if (!r->deleted)
            continue;
        r->deleted = 0;
        rc = kr->store->ops->put_dek(kr->store, r, 0);
    }
    return rc == VL_OK && destroyed == l->n ? VL_ERR_KEY_DESTROYED : rc;
}

int vl_dek_undelete(vl_keyring *kr, const vl_dek_id *id)
{
    if (kr == NULL || !id_ok(id))
        return VL_ERR_ARG;
    vl_kek_record kek;
    struct rec_list l = {id, NULL, 0, 0};
    pthread_rwlock_wrlock(&kr->admin);
    int rc = vl_kr_get_kek(kr, id->kek_name, &kek);
    if (rc == VL_OK && kek.deleted)
        rc = VL_ERR_KEY_DISABLED;
    if (rc == VL_OK)
        rc = rec_collect(kr, id, &l);
    if (rc == VL_OK)
        rc = undelete_all(kr, &l);
    pthread_rwlock_unlock(&kr->admin);
    rec_free(&l);
    return rc;
}

int vl_dek_revoke(vl_keyring *kr, const vl_dek_id *id)
{
    if (kr == NULL || !id_ok(id))
        return VL_ERR_ARG;
    vl_kr_evict(kr, id, 0);
    return VL_OK;
}
