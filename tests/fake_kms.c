/* The fake KMS and clock of fake_kms.h. Keys are vellum AES-256-GCM keys
 * (the AEAD layer is tested on its own); nonces come from getrandom. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "fake_kms.h"
#include "vellum/aead.h"

#define MAX_KEYS 512
#define IV 12

struct slot {
    char id[256];
    vl_aead_key key;
    enum fake_key_state state;
};

struct fake_kms {
    vl_kms kms;
    pthread_mutex_t mu;
    struct slot keys[MAX_KEYS];
    int nkeys;
    int auto_create;
    int fail_code;              /* every call, when not VL_OK */
    int fail_next_code, fail_next_n;
    int fail_after_code, fail_after_n; /* n successes left, then fail */
    struct fake_kms_counts counts;
};

static struct slot *find(fake_kms *f, const char *id)
{
    for (int i = 0; i < f->nkeys; i++)
        if (strcmp(f->keys[i].id, id) == 0)
            return &f->keys[i];
    return NULL;
}

static struct slot *add(fake_kms *f, const char *id)
{
    struct slot *s = find(f, id);
    if (s != NULL || f->nkeys == MAX_KEYS || strlen(id) >= sizeof s->id)
        return s;
    uint8_t k[32];
    if (getrandom(k, sizeof k, 0) != (ssize_t)sizeof k)
        abort();
    s = &f->keys[f->nkeys];
    if (vl_aead_init(&s->key, VL_AES256_GCM, k, sizeof k) != VL_OK)
        abort();
    strcpy(s->id, id);
    s->state = FAKE_KEY_ENABLED;
    f->nkeys++;
    return s;
}

/* Under f->mu: the injected failure for this call, or VL_OK. */
static int injected(fake_kms *f)
{
    if (f->fail_code != VL_OK)
        return f->fail_code;
    if (f->fail_next_n > 0) {
        f->fail_next_n--;
        return f->fail_next_code;
    }
    if (f->fail_after_code != VL_OK) {
        if (f->fail_after_n == 0)
            return f->fail_after_code;
        f->fail_after_n--;
    }
    return VL_OK;
}

/* Under f->mu: the key for a call, or the error the KMS answers. */
static int usable(fake_kms *f, const char *id, int create, struct slot **out)
{
    int rc = injected(f);
    if (rc != VL_OK)
        return rc;
    struct slot *s = create && f->auto_create ? add(f, id) : find(f, id);
    if (s == NULL)
        return VL_ERR_NOT_FOUND;
    if (s->state == FAKE_KEY_DISABLED)
        return VL_ERR_KEY_DISABLED;
    if (s->state == FAKE_KEY_DESTROYED)
        return VL_ERR_KEY_DESTROYED;
    *out = s;
    return VL_OK;
}

static int seal(struct slot *s, const uint8_t *key, size_t key_len, uint8_t *out, size_t out_cap,
                size_t *out_len)
{
    size_t n = 0;
    if (out_cap < IV + key_len + 16 || getrandom(out, IV, 0) != IV)
        return VL_ERR_ARG;
    int rc = vl_aead_seal(&s->key, out + IV, &n, out_cap - IV, out, IV, key, key_len,
                          (const uint8_t *)s->id, strlen(s->id));
    *out_len = rc == VL_OK ? n + IV : 0;
    return rc;
}

static int open_blob(struct slot *s, const uint8_t *blob, size_t blob_len, uint8_t *out,
                     size_t out_cap, size_t *out_len)
{
    if (blob_len < IV + 16)
        return VL_ERR_AUTH;
    int rc = vl_aead_open(&s->key, out, out_len, out_cap, blob, IV, blob + IV, blob_len - IV,
                          (const uint8_t *)s->id, strlen(s->id));
    return rc == VL_ERR_ARG ? VL_ERR_AUTH : rc;
}

static int f_wrap(vl_kms *kms, const char *id, const uint8_t *key, size_t key_len, uint8_t *out,
                  size_t out_cap, size_t *out_len)
{
    fake_kms *f = kms->ctx;
    struct slot *s = NULL;
    pthread_mutex_lock(&f->mu);
    f->counts.wraps++;
    int rc = usable(f, id, 1, &s);
    if (rc == VL_OK)
        rc = seal(s, key, key_len, out, out_cap, out_len);
    f->counts.failed += rc != VL_OK;
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int f_unwrap(vl_kms *kms, const char *id, const uint8_t *blob, size_t blob_len,
                    uint8_t *out, size_t out_cap, size_t *out_len)
{
    fake_kms *f = kms->ctx;
    struct slot *s = NULL;
    pthread_mutex_lock(&f->mu);
    f->counts.unwraps++;
    int rc = usable(f, id, 0, &s);
    if (rc == VL_OK)
        rc = open_blob(s, blob, blob_len, out, out_cap, out_len);
    f->counts.failed += rc != VL_OK;
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static int f_probe(vl_kms *kms, const char *id)
{
    fake_kms *f = kms->ctx;
    struct slot *s = NULL;
    pthread_mutex_lock(&f->mu);
    f->counts.probes++;
    int rc = usable(f, id, 0, &s);
    f->counts.failed += rc != VL_OK;
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static const vl_kms_ops fake_ops = {
    .size = sizeof(vl_kms_ops),
    .name = "fake-kms",
    .wrap = f_wrap,
    .unwrap = f_unwrap,
    .probe = f_probe,
    .close = NULL, /* fake_kms_free owns it */
};

fake_kms *fake_kms_new(void)
{
    fake_kms *f = aligned_alloc(64, sizeof *f); /* a multiple of its 64-byte alignment */
    if (f == NULL)
        abort();
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->kms.ops = &fake_ops;
    f->kms.ctx = f;
    return f;
}

void fake_kms_free(fake_kms *f)
{
    if (f == NULL)
        return;
    for (int i = 0; i < f->nkeys; i++)
        vl_aead_wipe(&f->keys[i].key);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

vl_kms *fake_kms_handle(fake_kms *f)
{
    return &f->kms;
}

void fake_kms_add_key(fake_kms *f, const char *key_id)
{
    pthread_mutex_lock(&f->mu);
    add(f, key_id);
    pthread_mutex_unlock(&f->mu);
}

void fake_kms_auto_create(fake_kms *f, int on)
{
    pthread_mutex_lock(&f->mu);
    f->auto_create = on;
    pthread_mutex_unlock(&f->mu);
}

void fake_kms_set_state(fake_kms *f, const char *key_id, enum fake_key_state st)
{
    pthread_mutex_lock(&f->mu);
    struct slot *s = add(f, key_id);
    if (s != NULL)
        s->state = st;
    pthread_mutex_unlock(&f->mu);
}

void fake_kms_fail(fake_kms *f, int code)
{
    pthread_mutex_lock(&f->mu);
    f->fail_code = code;
    pthread_mutex_unlock(&f->mu);
}

void fake_kms_fail_next(fake_kms *f, int code, int n)
{
    pthread_mutex_lock(&f->mu);
    f->fail_next_code = code;
    f->fail_next_n = n;
    pthread_mutex_unlock(&f->mu);
}

void fake_kms_fail_after(fake_kms *f, int code, int n)
{
    pthread_mutex_lock(&f->mu);
    f->fail_after_code = code;
    f->fail_after_n = n;
    pthread_mutex_unlock(&f->mu);
}

void fake_kms_counts(fake_kms *f, struct fake_kms_counts *c)
{
    pthread_mutex_lock(&f->mu);
    *c = f->counts;
    pthread_mutex_unlock(&f->mu);
}

int fake_kms_peek(fake_kms *f, const char *key_id, const uint8_t *blob, size_t blob_len,
                  uint8_t *out, size_t out_cap, size_t *out_len)
{
    pthread_mutex_lock(&f->mu);
    struct slot *s = find(f, key_id);
    int rc = s != NULL ? open_blob(s, blob, blob_len, out, out_cap, out_len) : VL_ERR_NOT_FOUND;
    pthread_mutex_unlock(&f->mu);
    return rc;
}

int64_t fake_clock_now(void *arg)
{
    return atomic_load(&((struct fake_clock *)arg)->ms);
}

void fake_clock_advance(struct fake_clock *c, int64_t ms)
{
    atomic_fetch_add(&c->ms, ms);
}
