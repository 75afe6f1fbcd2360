/* The keyring's side of the KMS: the retry schedule, alternate key ids,
 * key access probes and KEK rewrap.
 *
 * Backoff (per registered KMS): a call that fails with
 * VL_ERR_KMS_UNAVAILABLE opens a window of backoff_initial_ms, doubling on
 * each further failure up to backoff_max_ms. Inside the window every call
 * that needs this KMS fails fast with VL_ERR_KMS_UNAVAILABLE without
 * reaching it; after the window exactly one call goes through (the others
 * keep failing fast while it is out); any answer from the KMS other than
 * "unavailable" closes the window. There is no background thread: the
 * keyring "retries" with the next call that needs the KMS, so processing
 * resumes by itself as soon as the KMS answers again. What the cache can
 * serve never waits for the KMS.
 *
 * A KMS answer of VL_ERR_KEY_DISABLED or VL_ERR_KEY_DESTROYED sets
 * op->evict_kek; the caller drops every cached DEK of that KEK once it
 * holds no node lock. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "keyring_internal.h"

/* Under kr->mu. */
static struct vl_kr_kms *binding(vl_keyring *kr, const char *type)
{
    for (size_t i = 0; i < kr->n_kms; i++)
        if (strcmp(kr->kms[i].type, type) == 0)
            return &kr->kms[i];
    return NULL;
}

/* May a call reach the KMS of |type| now? |force| (an explicit probe)
 * ignores the window. */
static vl_kms *gate_enter(vl_keyring *kr, const char *type, int64_t now, int force, int *rc)
{
    vl_kms *kms = NULL;
    *rc = VL_OK;
    pthread_mutex_lock(&kr->mu);
    struct vl_kr_kms *b = binding(kr, type);
    if (b == NULL) {
        *rc = VL_ERR_UNSUPPORTED; /* no KMS registered for this kms_type */
    } else if (!force && b->delay_ms != 0 && (now < b->retry_at_ms || b->probing)) {
        *rc = VL_ERR_KMS_UNAVAILABLE;
    } else {
        b->probing |= b->delay_ms != 0;
        kms = b->kms;
    }
    pthread_mutex_unlock(&kr->mu);
    return kms;
}

/* Records the outcome. Several calls failing together open (or extend)
 * the window once, not once each. */
static void gate_leave(vl_keyring *kr, const char *type, int rc)
{
    int64_t now = vl_kr_now(kr);
    pthread_mutex_lock(&kr->mu);
    struct vl_kr_kms *b = binding(kr, type);
    if (b != NULL && rc == VL_ERR_KMS_UNAVAILABLE) {
        if (b->delay_ms == 0 || now >= b->retry_at_ms) {
            uint64_t d = b->delay_ms == 0 ? kr->backoff_initial_ms : b->delay_ms * 2;
            b->delay_ms = d < kr->backoff_max_ms ? d : kr->backoff_max_ms;
            b->retry_at_ms = now + (int64_t)b->delay_ms;
        }
        b->probing = 0;
    } else if (b != NULL) {
        b->delay_ms = 0;
        b->retry_at_ms = 0;
        b->probing = 0;
    }
    pthread_mutex_unlock(&kr->mu);
}

static void note_outcome(struct vl_kr_op *op, int rc)
{
    if (rc != VL_OK)
        vl_kr_count(&op->kr->kms_failures, 1);
    if (rc == VL_ERR_KEY_DISABLED || rc == VL_ERR_KEY_DESTROYED)
        op->evict_kek = 1;
}

int vl_kr_wrap(struct vl_kr_op *op, const vl_kek_record *kek, const uint8_t *raw, size_t raw_len,
               uint8_t *out, size_t out_cap, size_t *out_len)
{
    int rc;
    vl_kms *kms = gate_enter(op->kr, kek->kms_type, op->now, 0, &rc);
    if (kms == NULL)
        return rc;
    vl_kr_count(&op->kr->kms_wraps, 1);
    rc = vl_kms_wrap(kms, kek->kms_key_id, raw, raw_len, out, out_cap, out_len);
    gate_leave(op->kr, kek->kms_type, rc);
    note_outcome(op, rc);
    return rc;
}

static int unwrap_one(struct vl_kr_op *op, vl_kms *kms, const char *key_id, const uint8_t *blob,
                      size_t blob_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    vl_kr_count(&op->kr->kms_unwraps, 1);
    return vl_kms_unwrap(kms, key_id, blob, blob_len, out, out_cap, out_len);
}

/* After the primary key id refused the blob: each alternate in turn
 * (Confluent's KmsClientWrapper order). The primary's answer stands
 * unless an alternate succeeds or the KMS becomes unavailable. */
static int unwrap_alternates(struct vl_kr_op *op, vl_kms *kms, const vl_kek_record *kek,
                             int rc, const uint8_t *blob, size_t blob_len, uint8_t *out,
                             size_t out_cap, size_t *out_len)
{
    char list[VL_KMS_PROPS_MAX], id[VL_KMS_KEY_ID_MAX];
    if (vl_kr_props_alternates(kek->kms_props, list, sizeof list) != VL_OK)
        return rc;
    for (const char *p = vl_kr_next_id(list, id, sizeof id); p != NULL;
         p = vl_kr_next_id(p, id, sizeof id)) {
        if (id[0] == '\0' || strcmp(id, kek->kms_key_id) == 0)
            continue;
        int r = unwrap_one(op, kms, id, blob, blob_len, out, out_cap, out_len);
        if (r == VL_OK || r == VL_ERR_KMS_UNAVAILABLE)
            return r;
    }
    return rc;
}

int vl_kr_unwrap(struct vl_kr_op *op, const vl_kek_record *kek, const uint8_t *blob,
                 size_t blob_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    int rc;
    vl_kms *kms = gate_enter(op->kr, kek->kms_type, op->now, 0, &rc);
    if (kms == NULL)
        return rc;
    rc = unwrap_one(op, kms, kek->kms_key_id, blob, blob_len, out, out_cap, out_len);
    if (rc != VL_OK && rc != VL_ERR_KMS_UNAVAILABLE)
        rc = unwrap_alternates(op, kms, kek, rc, blob, blob_len, out, out_cap, out_len);
    gate_leave(op->kr, kek->kms_type, rc);
    note_outcome(op, rc);
    return rc;
}

int vl_kek_probe(vl_keyring *kr, const char *name)
{
    if (kr == NULL || !vl_kr_name_ok(name, VL_NAME_MAX))
        return VL_ERR_ARG;
    vl_kek_record kek;
    struct vl_kr_op op = {.kr = kr, .kek = name, .now = vl_kr_now(kr)};
    int rc = vl_kr_get_kek(kr, name, &kek);
    vl_kms *kms = rc == VL_OK ? gate_enter(kr, kek.kms_type, op.now, 1, &rc) : NULL;
    if (kms != NULL) {
        rc = vl_kms_probe(kms, kek.kms_key_id);
        gate_leave(kr, kek.kms_type, rc);
        note_outcome(&op, rc);
    }
    if (op.evict_kek)
        vl_kr_evict_kek(kr, name, 0);
    return rc;
}

/* ---------------------------------------------------------------- rewrap
 *
 * Crash-safe order, one store write at a time, every DEK readable after
 * each of them:
 *   0. the new key id is probed (wrap + unwrap): a key the KMS refuses
 *      fails the call before anything is written;
 *   1. the KEK points at the new key id, the old one parked in kmsProps'
 *      alternates (unwrap tries it after the primary);
 *   2. each DEK version with material: unwrap, wrap under the new id,
 *      update the record (all or nothing per record);
 *   3. every DEK is now under the new id: the alternates are cleared.
 * A failure stops at the record it failed on and returns its code; the
 * KEK keeps the alternates, so running the rewrap again completes it.
 * The admin lock keeps this process's DEK creation out meanwhile; another
 * process creating DEKs under the same KEK during a rewrap may still wrap
 * under the old id, readable through the alternate until step 3. */

struct dek_ref {
    char subject[VL_NAME_MAX];
    vl_alg alg;
    int32_t version;
};

struct ref_list {
    struct dek_ref *v;
    size_t n, cap;
};

static int collect(void *arg, const vl_dek_record *r)
{
    struct ref_list *l = arg;
    if (memchr(r->subject, '\0', sizeof r->subject) == NULL)
        return VL_ERR_FORMAT;
    if (r->wrapped_len == 0)
        return VL_OK; /* destroyed: nothing to rewrap */
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct dek_ref *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return VL_ERR_NOMEM;
        l->v = v;
        l->cap = cap;
    }
    struct dek_ref *d = &l->v[l->n++];
    strcpy(d->subject, r->subject);
    d->alg = r->alg;
    d->version = r->version;
    return VL_OK;
}

/* Step 2 for one record, re-read now so nothing another writer changed
 * since the listing is written back stale. */
static int rewrap_one(struct vl_kr_op *op, const vl_kek_record *kek, const struct dek_ref *d)
{
    vl_keyring *kr = op->kr;
    vl_dek_id id = {kek->name, d->subject, d->alg, d->version};
    vl_dek_record rec;
    uint8_t raw[VL_KMS_MAX_KEY];
    size_t raw_len = 0, len = 0;
    int rc = vl_kr_get_dek(kr, &id, &rec);
    if (rc != VL_OK || vl_kr_destroyed(&rec))
        return rc == VL_ERR_NOT_FOUND ? VL_OK : rc;
    rc = vl_kr_unwrap(op, kek, rec.wrapped, rec.wrapped_len, raw, sizeof raw, &raw_len);
    if (rc == VL_OK)
        rc = vl_kr_wrap(op, kek, raw, raw_len, rec.wrapped, sizeof rec.wrapped, &len);
    vl_memzero(raw, sizeof raw);
    if (rc == VL_OK) {
        rec.wrapped_len = len;
        rc = kr->store->ops->put_dek(kr->store, &rec, 0);
    }
    vl_memzero(&rec, sizeof rec);
    return rc;
}

/* Step 1: alternates = old id, then the others already there. */
static int park_old_id(vl_keyring *kr, vl_kek_record *kek, const char *new_id)
{
    char list[VL_KMS_PROPS_MAX], alts[VL_KMS_PROPS_MAX], id[VL_KMS_KEY_ID_MAX];
    char props[VL_KMS_PROPS_MAX];
    int rc = vl_kr_props_alternates(kek->kms_props, list, sizeof list);
    if (rc != VL_OK)
        return rc;
    if (strlen(kek->kms_key_id) >= sizeof alts)
        return VL_ERR_ARG;
    strcpy(alts, kek->kms_key_id);
    for (const char *p = vl_kr_next_id(list, id, sizeof id); p != NULL;
         p = vl_kr_next_id(p, id, sizeof id)) {
        if (id[0] == '\0' || strcmp(id, new_id) == 0 || strcmp(id, kek->kms_key_id) == 0)
            continue;
        if (strlen(alts) + 1 + strlen(id) >= sizeof alts)
            return VL_ERR_ARG;
        strcat(alts, ",");
        strcat(alts, id);
    }
    rc = vl_kr_props_set_alternates(kek->kms_props, alts, props, sizeof props);
    if (rc != VL_OK)
        return rc;
    strcpy(kek->kms_props, props);
    strcpy(kek->kms_key_id, new_id);
    return kr->store->ops->put_kek(kr->store, kek, 0);
}

static int clear_alternates(vl_keyring *kr, vl_kek_record *kek)
{
    char props[VL_KMS_PROPS_MAX];
    int rc = vl_kr_props_set_alternates(kek->kms_props, "", props, sizeof props);
    if (rc != VL_OK || strcmp(props, kek->kms_props) == 0)
        return rc;
    strcpy(kek->kms_props, props);
    return kr->store->ops->put_kek(kr->store, kek, 0);
}

/* Before anything is written: can the new key id wrap and unwrap? */
static int probe_new_id(struct vl_kr_op *op, const vl_kek_record *kek, const char *new_id)
{
    int rc;
    vl_kms *kms = gate_enter(op->kr, kek->kms_type, op->now, 0, &rc);
    if (kms == NULL)
        return rc;
    rc = vl_kms_probe(kms, new_id);
    gate_leave(op->kr, kek->kms_type, rc);
    if (rc != VL_OK)
        vl_kr_count(&op->kr->kms_failures, 1);
    return rc;
}

static int rewrap_locked(struct vl_kr_op *op, const char *new_id)
{
    vl_keyring *kr = op->kr;
    vl_kek_record kek;
    struct ref_list refs = {NULL, 0, 0};
    int rc = vl_kr_get_kek(kr, op->kek, &kek);
    if (rc == VL_OK)
        rc = vl_kr_key_id_free(kr, op->kek, kek.kms_type, new_id, kek.shared);
    if (rc == VL_OK)
        rc = probe_new_id(op, &kek, new_id);
    if (rc == VL_OK && strcmp(kek.kms_key_id, new_id) != 0)
        rc = park_old_id(kr, &kek, new_id);
    if (rc == VL_OK)
        rc = kr->store->ops->each_dek(kr->store, op->kek, collect, &refs);
    for (size_t i = 0; rc == VL_OK && i < refs.n; i++)
        rc = rewrap_one(op, &kek, &refs.v[i]);
    if (rc == VL_OK)
        rc = clear_alternates(kr, &kek);
    free(refs.v);
    return rc;
}

int vl_kek_rewrap(vl_keyring *kr, const char *name, const char *new_kms_key_id)
{
    if (kr == NULL || !vl_kr_name_ok(name, VL_NAME_MAX) ||
        !vl_kr_name_ok(new_kms_key_id, VL_KMS_KEY_ID_MAX))
        return VL_ERR_ARG;
    struct vl_kr_op op = {.kr = kr, .kek = name, .now = vl_kr_now(kr)};
    pthread_rwlock_wrlock(&kr->admin);
    int rc = rewrap_locked(&op, new_kms_key_id);
    pthread_rwlock_unlock(&kr->admin);
    if (op.evict_kek)
        vl_kr_evict_kek(kr, name, 0);
    return rc;
}
