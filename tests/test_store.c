/* Record stores (include/vellum/store.h): one conformance suite run against
 * the in-memory store (suite store_mem) and the SQLite store on a file in a
 * fresh mkdtemp directory (suite store_sqlite), then what only a file can
 * show (suite sqlite): persistence, processes racing on one file, a
 * process killed with SIGKILL while reserving, rows corrupted behind the
 * store's back, secure deletion.
 *
 * Reservations are checked as ranges [start, start + granted): every range
 * any thread or process was handed must be disjoint from every other, and
 * together they must add up to the stored reserved_seals exactly. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sqlite3.h>

#include "vellum/store.h"

/* ---- fixture: one store, maybe on a file in a private directory -------- */

static struct {
    vl_store *s;
    int sqlite;
    char dir[PATH_MAX - 64];
    char path[PATH_MAX];
} F;

static void make_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(F.dir, sizeof F.dir, "%s/vellum-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(F.dir), "mkdtemp: %s", strerror(errno));
    snprintf(F.path, sizeof F.path, "%s/store.db", F.dir);
}

static void open_store(void)
{
    int rc = F.sqlite ? vl_store_sqlite_open(&F.s, F.path) : vl_store_mem_new(&F.s);
    cr_assert_eq(rc, VL_OK, "open: %s", vl_strerror(rc));
    cr_assert_not_null(F.s);
}

static void reopen(void)
{
    vl_store_close(F.s);
    F.s = NULL;
    open_store();
}

static void setup_mem(void)
{
    memset(&F, 0, sizeof F);
    open_store();
}

static void setup_sqlite(void)
{
    memset(&F, 0, sizeof F);
    F.sqlite = 1;
    make_dir();
    open_store();
}

/* Closes the store and removes the directory with whatever SQLite left. */
static void teardown(void)
{
    vl_store_close(F.s);
    F.s = NULL;
    if (F.dir[0] == '\0')
        return;
    DIR *d = opendir(F.dir);
    struct dirent *e;
    char p[PATH_MAX + 256];
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(p, sizeof p, "%s/%s", F.dir, e->d_name);
            unlink(p);
        }
    }
    if (d != NULL)
        closedir(d);
    rmdir(F.dir);
}

/* A test body run once per store. */
#define CONFORMANCE(name)                                                     \
    static void conf_##name(void);                                            \
    Test(store_mem, name, .init = setup_mem, .fini = teardown)                \
    {                                                                         \
        conf_##name();                                                        \
    }                                                                         \
    Test(store_sqlite, name, .init = setup_sqlite, .fini = teardown)          \
    {                                                                         \
        conf_##name();                                                        \
    }                                                                         \
    static void conf_##name(void)

/* ---- records ----------------------------------------------------------- */

static void kek(vl_kek_record *r, const char *name)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->kms_type, sizeof r->kms_type, "local-kms");
    snprintf(r->kms_key_id, sizeof r->kms_key_id, "projects/p/keys/%s", name);
    snprintf(r->kms_props, sizeof r->kms_props, "{\"region\":\"eu\"}");
    snprintf(r->doc, sizeof r->doc, "doc of %s", name);
    r->shared = 1;
    r->ts_ms = INT64_C(1700000000000);
}

static void dek(vl_dek_record *r, const char *kek_name, const char *subject, vl_alg alg,
                int32_t version)
{
    memset(r, 0, sizeof *r);
    snprintf(r->kek_name, sizeof r->kek_name, "%s", kek_name);
    snprintf(r->subject, sizeof r->subject, "%s", subject);
    r->alg = alg;
    r->version = version;
    r->wrapped_len = 40 + (size_t)version % 50;
    for (size_t i = 0; i < r->wrapped_len; i++)
        r->wrapped[i] = (uint8_t)(i * 7 + (size_t)version + (size_t)alg);
    r->ts_ms = INT64_C(1700000000000) + version;
}

static vl_dek_id id_of(const char *kek_name, const char *subject, vl_alg alg, int32_t version)
{
    vl_dek_id id = {kek_name, subject, alg, version};
    return id;
}

static void assert_kek_eq(const vl_kek_record *a, const vl_kek_record *b)
{
    cr_assert_str_eq(a->name, b->name);
    cr_assert_str_eq(a->kms_type, b->kms_type);
    cr_assert_str_eq(a->kms_key_id, b->kms_key_id);
    cr_assert_str_eq(a->kms_props, b->kms_props);
    cr_assert_str_eq(a->doc, b->doc);
    cr_assert_eq(a->shared, b->shared);
    cr_assert_eq(a->deleted, b->deleted);
    cr_assert_eq(a->ts_ms, b->ts_ms);
}

static void assert_dek_eq(const vl_dek_record *a, const vl_dek_record *b)
{
    cr_assert_str_eq(a->kek_name, b->kek_name);
    cr_assert_str_eq(a->subject, b->subject);
    cr_assert_eq(a->alg, b->alg);
    cr_assert_eq(a->version, b->version);
    cr_assert_eq(a->wrapped_len, b->wrapped_len);
    cr_assert_eq(memcmp(a->wrapped, b->wrapped, a->wrapped_len), 0);
    cr_assert_eq(a->ts_ms, b->ts_ms);
    cr_assert_eq(a->deleted, b->deleted);
    cr_assert_eq(a->reserved_seals, b->reserved_seals);
}

static void put_dek(vl_store *s, const char *kek_name, const char *subject, vl_alg alg,
                    int32_t version)
{
    vl_dek_record r;
    dek(&r, kek_name, subject, alg, version);
    int rc = s->ops->put_dek(s, &r, 1);
    cr_assert_eq(rc, VL_OK, "put_dek: %s", vl_strerror(rc));
}

static uint64_t reserved_of(vl_store *s, const vl_dek_id *id)
{
    vl_dek_record r;
    int rc = s->ops->get_dek(s, id, &r);
    cr_assert_eq(rc, VL_OK, "get_dek: %s", vl_strerror(rc));
    return r.reserved_seals;
}

/* ---- iteration collectors ------------------------------------------------ */

typedef struct visit {
    char names[16][VL_NAME_MAX * 2 + 16];
    int32_t versions[16];
    size_t n;
    size_t stop_after; /* return 7 after this many; 0 = never */
} visit;

static int on_kek(void *arg, const vl_kek_record *r)
{
    visit *v = arg;
    if (v->n < 16)
        snprintf(v->names[v->n], sizeof v->names[0], "%s", r->name);
    v->n++;
    return v->stop_after != 0 && v->n == v->stop_after ? 7 : 0;
}

static int on_dek(void *arg, const vl_dek_record *r)
{
    visit *v = arg;
    if (v->n < 16) {
        snprintf(v->names[v->n], sizeof v->names[0], "%s/%s/%d", r->kek_name, r->subject,
                 (int)r->alg);
        v->versions[v->n] = r->version;
    }
    v->n++;
    return v->stop_after != 0 && v->n == v->stop_after ? 7 : 0;
}

/* ---- KEKs ---------------------------------------------------------------- */

CONFORMANCE(kek_create_get_update)
{
    vl_store *s = F.s;
    vl_kek_record a, got;
    kek(&a, "payments");
    cr_assert_eq(s->ops->get_kek(s, "payments", &got), VL_ERR_NOT_FOUND);
    cr_assert_eq(s->ops->put_kek(s, &a, 1), VL_OK);
    cr_assert_eq(s->ops->get_kek(s, "payments", &got), VL_OK);
    assert_kek_eq(&got, &a);

    /* create on a taken name: VL_ERR_EXISTS and nothing changes */
    vl_kek_record b = a;
    snprintf(b.doc, sizeof b.doc, "other");
    cr_assert_eq(s->ops->put_kek(s, &b, 1), VL_ERR_EXISTS);
    cr_assert_eq(s->ops->get_kek(s, "payments", &got), VL_OK);
    assert_kek_eq(&got, &a);

    /* update replaces every field */
    b.deleted = 1;
    b.shared = 0;
    b.ts_ms = -5;
    b.kms_props[0] = '\0';
    cr_assert_eq(s->ops->put_kek(s, &b, 0), VL_OK);
    cr_assert_eq(s->ops->get_kek(s, "payments", &got), VL_OK);
    assert_kek_eq(&got, &b);

    /* update of a missing name inserts */
    vl_kek_record c;
    kek(&c, "orders");
    cr_assert_eq(s->ops->put_kek(s, &c, 0), VL_OK);
    cr_assert_eq(s->ops->get_kek(s, "orders", &got), VL_OK);
    assert_kek_eq(&got, &c);
}

CONFORMANCE(kek_full_length_fields)
{
    vl_store *s = F.s;
    vl_kek_record a, got;
    kek(&a, "x");
    memset(a.name, 'n', sizeof a.name - 1);
    memset(a.kms_key_id, 'i', sizeof a.kms_key_id - 1);
    memset(a.kms_props, 'p', sizeof a.kms_props - 1);
    memset(a.doc, 'd', sizeof a.doc - 1);
    memset(a.kms_type, 't', sizeof a.kms_type - 1);
    cr_assert_eq(s->ops->put_kek(s, &a, 1), VL_OK);
    cr_assert_eq(s->ops->get_kek(s, a.name, &got), VL_OK);
    assert_kek_eq(&got, &a);
}

CONFORMANCE(kek_each_and_delete)
{
    vl_store *s = F.s;
    visit v = {0};
    cr_assert_eq(s->ops->each_kek(s, on_kek, &v), VL_OK);
    cr_assert_eq(v.n, 0);
    const char *names[] = {"charlie", "alpha", "bravo"};
    for (size_t i = 0; i < 3; i++) {
        vl_kek_record r;
        kek(&r, names[i]);
        cr_assert_eq(s->ops->put_kek(s, &r, 1), VL_OK);
    }
    memset(&v, 0, sizeof v);
    cr_assert_eq(s->ops->each_kek(s, on_kek, &v), VL_OK);
    cr_assert_eq(v.n, 3);
    cr_assert_str_eq(v.names[0], "alpha");
    cr_assert_str_eq(v.names[1], "bravo");
    cr_assert_str_eq(v.names[2], "charlie");

    /* a non-zero return stops the walk and is returned */
    memset(&v, 0, sizeof v);
    v.stop_after = 2;
    cr_assert_eq(s->ops->each_kek(s, on_kek, &v), 7);
    cr_assert_eq(v.n, 2);

    cr_assert_eq(s->ops->delete_kek(s, "bravo"), VL_OK);
    cr_assert_eq(s->ops->delete_kek(s, "bravo"), VL_ERR_NOT_FOUND);
    vl_kek_record got;
    cr_assert_eq(s->ops->get_kek(s, "bravo", &got), VL_ERR_NOT_FOUND);
    memset(&v, 0, sizeof v);
    cr_assert_eq(s->ops->each_kek(s, on_kek, &v), VL_OK);
    cr_assert_eq(v.n, 2);
    cr_assert_str_eq(v.names[0], "alpha");
    cr_assert_str_eq(v.names[1], "charlie");
    /* the name is free again */
    kek(&got, "bravo");
    cr_assert_eq(s->ops->put_kek(s, &got, 1), VL_OK);
}

/* ---- DEKs ---------------------------------------------------------------- */

CONFORMANCE(dek_create_get_update)
{
    vl_store *s = F.s;
    vl_dek_record a, got;
    dek(&a, "k", "orders-value", VL_AES256_GCM, 1);
    vl_dek_id id = id_of("k", "orders-value", VL_AES256_GCM, 1);
    cr_assert_eq(s->ops->get_dek(s, &id, &got), VL_ERR_NOT_FOUND);
    cr_assert_eq(s->ops->put_dek(s, &a, 1), VL_OK);
    cr_assert_eq(s->ops->get_dek(s, &id, &got), VL_OK);
    assert_dek_eq(&got, &a);

    /* the race two rotating processes run: exactly one create wins */
    vl_dek_record b = a;
    b.wrapped[0] ^= 1;
    cr_assert_eq(s->ops->put_dek(s, &b, 1), VL_ERR_EXISTS);
    cr_assert_eq(s->ops->get_dek(s, &id, &got), VL_OK);
    assert_dek_eq(&got, &a);

    /* update: material erased, soft-deleted, an empty blob stays empty */
    b.wrapped_len = 0;
    b.deleted = 1;
    cr_assert_eq(s->ops->put_dek(s, &b, 0), VL_OK);
    cr_assert_eq(s->ops->get_dek(s, &id, &got), VL_OK);
    assert_dek_eq(&got, &b);

    /* the largest blob there is */
    b.wrapped_len = VL_KMS_MAX_BLOB;
    memset(b.wrapped, 0xa5, sizeof b.wrapped);
    cr_assert_eq(s->ops->put_dek(s, &b, 0), VL_OK);
    cr_assert_eq(s->ops->get_dek(s, &id, &got), VL_OK);
    assert_dek_eq(&got, &b);

    /* the same version under another alg, subject or KEK is another DEK */
    vl_dek_record c;
    dek(&c, "k", "orders-value", VL_AES256_SIV, 1);
    cr_assert_eq(s->ops->put_dek(s, &c, 1), VL_OK);
    dek(&c, "k", "orders-key", VL_AES256_GCM, 1);
    cr_assert_eq(s->ops->put_dek(s, &c, 1), VL_OK);
    dek(&c, "k2", "orders-value", VL_AES256_GCM, 1);
    cr_assert_eq(s->ops->put_dek(s, &c, 1), VL_OK);
    cr_assert_eq(s->ops->get_dek(s, &id, &got), VL_OK);
    assert_dek_eq(&got, &b);

    /* update of a missing version inserts */
    dek(&c, "k", "orders-value", VL_AES256_GCM, 2);
    cr_assert_eq(s->ops->put_dek(s, &c, 0), VL_OK);
    id.version = 2;
    cr_assert_eq(s->ops->get_dek(s, &id, &got), VL_OK);
    assert_dek_eq(&got, &c);
}

CONFORMANCE(dek_latest_version)
{
    vl_store *s = F.s;
    put_dek(s, "k", "s", VL_AES128_GCM, 1);
    put_dek(s, "k", "s", VL_AES128_GCM, 3);
    put_dek(s, "k", "s", VL_AES128_GCM, 2);
    /* neighbours with higher versions must not leak into the answer */
    put_dek(s, "k", "s", VL_AES256_GCM, 9);
    put_dek(s, "k", "t", VL_AES128_GCM, 8);
    put_dek(s, "k2", "s", VL_AES128_GCM, 7);
    put_dek(s, "k", "s2", VL_AES128_GCM, 6);

    vl_dek_record got;
    vl_dek_id id = id_of("k", "s", VL_AES128_GCM, -1);
    cr_assert_eq(s->ops->get_dek(s, &id, &got), VL_OK);
    cr_assert_eq(got.version, 3);

    /* soft-deleted versions count ("deleted or not") */
    got.deleted = 1;
    cr_assert_eq(s->ops->put_dek(s, &got, 0), VL_OK);
    cr_assert_eq(s->ops->get_dek(s, &id, &got), VL_OK);
    cr_assert_eq(got.version, 3);
    cr_assert_eq(got.deleted, 1);

    put_dek(s, "k", "s", VL_AES128_GCM, INT32_MAX);
    cr_assert_eq(s->ops->get_dek(s, &id, &got), VL_OK);
    cr_assert_eq(got.version, INT32_MAX);

    vl_dek_id none = id_of("k", "nobody", VL_AES128_GCM, -1);
    cr_assert_eq(s->ops->get_dek(s, &none, &got), VL_ERR_NOT_FOUND);
    none = id_of("k", "s", VL_AES256_SIV, -1);
    cr_assert_eq(s->ops->get_dek(s, &none, &got), VL_ERR_NOT_FOUND);
}

CONFORMANCE(dek_each_filters_and_stops)
{
    vl_store *s = F.s;
    put_dek(s, "k2", "a", VL_AES128_GCM, 1);
    put_dek(s, "k1", "b", VL_AES256_SIV, 2);
    put_dek(s, "k1", "b", VL_AES256_SIV, 1);
    put_dek(s, "k1", "a", VL_AES256_GCM, 1);
    put_dek(s, "k1", "a", VL_AES128_GCM, 1);

    visit v = {0};
    cr_assert_eq(s->ops->each_dek(s, NULL, on_dek, &v), VL_OK);
    cr_assert_eq(v.n, 5);
    /* sorted by (kek, subject, alg, version) */
    cr_assert_str_eq(v.names[0], "k1/a/1");
    cr_assert_str_eq(v.names[1], "k1/a/2");
    cr_assert_str_eq(v.names[2], "k1/b/3");
    cr_assert_eq(v.versions[2], 1);
    cr_assert_str_eq(v.names[3], "k1/b/3");
    cr_assert_eq(v.versions[3], 2);
    cr_assert_str_eq(v.names[4], "k2/a/1");

    memset(&v, 0, sizeof v);
    cr_assert_eq(s->ops->each_dek(s, "k1", on_dek, &v), VL_OK);
    cr_assert_eq(v.n, 4);
    memset(&v, 0, sizeof v);
    cr_assert_eq(s->ops->each_dek(s, "k2", on_dek, &v), VL_OK);
    cr_assert_eq(v.n, 1);
    memset(&v, 0, sizeof v);
    cr_assert_eq(s->ops->each_dek(s, "k3", on_dek, &v), VL_OK);
    cr_assert_eq(v.n, 0);

    memset(&v, 0, sizeof v);
    v.stop_after = 3;
    cr_assert_eq(s->ops->each_dek(s, NULL, on_dek, &v), 7);
    cr_assert_eq(v.n, 3);
}

/* A callback may call back into the store: the keyring's KEK rewrap puts
 * every DEK it visits. */
static int rewrap(void *arg, const vl_dek_record *r)
{
    vl_store *s = arg;
    vl_dek_record copy = *r;
    copy.wrapped[0] ^= 0xff;
    int rc = s->ops->put_dek(s, &copy, 0);
    vl_dek_id id = id_of(r->kek_name, r->subject, r->alg, -1);
    vl_dek_record latest;
    return rc != VL_OK ? rc : s->ops->get_dek(s, &id, &latest);
}

CONFORMANCE(each_callback_may_reenter)
{
    vl_store *s = F.s;
    put_dek(s, "k", "a", VL_AES128_GCM, 1);
    put_dek(s, "k", "a", VL_AES128_GCM, 2);
    put_dek(s, "k", "b", VL_AES128_GCM, 1);
    cr_assert_eq(s->ops->each_dek(s, "k", rewrap, s), VL_OK);
    vl_dek_record want, got;
    dek(&want, "k", "a", VL_AES128_GCM, 2);
    want.wrapped[0] ^= 0xff;
    vl_dek_id id = id_of("k", "a", VL_AES128_GCM, 2);
    cr_assert_eq(s->ops->get_dek(s, &id, &got), VL_OK);
    assert_dek_eq(&got, &want);
}

CONFORMANCE(dek_delete)
{
    vl_store *s = F.s;
    put_dek(s, "k", "s", VL_AES128_GCM, 1);
    put_dek(s, "k", "s", VL_AES128_GCM, 2);
    vl_dek_id v2 = id_of("k", "s", VL_AES128_GCM, 2);
    vl_dek_id latest = id_of("k", "s", VL_AES128_GCM, -1);
    vl_dek_record got;
    /* delete names one version; "latest" would race a rotation */
    cr_assert_eq(s->ops->delete_dek(s, &latest), VL_ERR_ARG);
    cr_assert_eq(s->ops->delete_dek(s, &v2), VL_OK);
    cr_assert_eq(s->ops->delete_dek(s, &v2), VL_ERR_NOT_FOUND);
    cr_assert_eq(s->ops->get_dek(s, &v2, &got), VL_ERR_NOT_FOUND);
    cr_assert_eq(s->ops->get_dek(s, &latest, &got), VL_OK);
    cr_assert_eq(got.version, 1);
    vl_dek_id other = id_of("k", "s", VL_AES256_GCM, 1);
    cr_assert_eq(s->ops->delete_dek(s, &other), VL_ERR_NOT_FOUND);
    /* a deleted version's number may be created again */
    put_dek(s, "k", "s", VL_AES128_GCM, 2);
    cr_assert_eq(reserved_of(s, &v2), 0);
}

/* ---- reservations ----------------------------------------------------------- */

static void expect_reserve(vl_store *s, const vl_dek_id *id, uint64_t want, uint64_t max,
                           uint64_t start, uint64_t granted)
{
    uint64_t st = 1, g = 1;
    int rc = s->ops->reserve(s, id, want, max, &st, &g);
    cr_assert_eq(rc, VL_OK, "reserve: %s", vl_strerror(rc));
    cr_assert_eq(st, start, "start %llu, expected %llu", (unsigned long long)st,
                 (unsigned long long)start);
    cr_assert_eq(g, granted, "granted %llu, expected %llu", (unsigned long long)g,
                 (unsigned long long)granted);
    cr_assert_eq(reserved_of(s, id), start + granted);
}

CONFORMANCE(reserve_arithmetic)
{
    vl_store *s = F.s;
    put_dek(s, "k", "s", VL_AES256_GCM, 1);
    vl_dek_id id = id_of("k", "s", VL_AES256_GCM, 1);
    expect_reserve(s, &id, 10, 100, 0, 10);
    expect_reserve(s, &id, 0, 100, 10, 0);
    expect_reserve(s, &id, 85, 100, 10, 85);
    expect_reserve(s, &id, 10, 100, 95, 5); /* partial: only 5 left */
    expect_reserve(s, &id, 10, 100, 100, 0); /* exhausted */
    expect_reserve(s, &id, 1, 50, 100, 0);  /* max below what is reserved */
    expect_reserve(s, &id, 3, 103, 100, 3); /* a larger max reopens it */

    uint64_t st = 9, g = 9;
    vl_dek_id missing = id_of("k", "s", VL_AES256_GCM, 2);
    cr_assert_eq(s->ops->reserve(s, &missing, 1, 10, &st, &g), VL_ERR_NOT_FOUND);
    cr_assert(st == 0 && g == 0);
    vl_dek_id latest = id_of("k", "s", VL_AES256_GCM, -1);
    cr_assert_eq(s->ops->reserve(s, &latest, 1, 10, &st, &g), VL_ERR_ARG);
    cr_assert_eq(s->ops->reserve(s, &id, 1, 200, NULL, &g), VL_ERR_ARG);
    cr_assert_eq(s->ops->reserve(s, &id, 1, 200, &st, NULL), VL_ERR_ARG);
    cr_assert_eq(s->ops->reserve(s, NULL, 1, 200, &st, &g), VL_ERR_ARG);
    cr_assert_eq(reserved_of(s, &id), 103);
}

CONFORMANCE(reserve_uint64_bounds)
{
    vl_store *s = F.s;
    vl_dek_record r;
    dek(&r, "k", "s", VL_AES128_GCM, 1);
    r.reserved_seals = UINT64_MAX - 5;
    cr_assert_eq(s->ops->put_dek(s, &r, 1), VL_OK);
    vl_dek_id id = id_of("k", "s", VL_AES128_GCM, 1);
    expect_reserve(s, &id, 10, UINT64_MAX, UINT64_MAX - 5, 5);
    expect_reserve(s, &id, 1, UINT64_MAX, UINT64_MAX, 0);
    expect_reserve(s, &id, UINT64_MAX, UINT64_MAX, UINT64_MAX, 0);

    /* the whole range in one grant */
    put_dek(s, "k", "s", VL_AES128_GCM, 2);
    id.version = 2;
    expect_reserve(s, &id, UINT64_MAX, UINT64_MAX, 0, UINT64_MAX);

    /* across 2^63, where a signed 64-bit column changes sign */
    dek(&r, "k", "s", VL_AES128_GCM, 3);
    r.reserved_seals = (uint64_t)INT64_MAX - 1;
    cr_assert_eq(s->ops->put_dek(s, &r, 1), VL_OK);
    id.version = 3;
    expect_reserve(s, &id, 4, UINT64_MAX, (uint64_t)INT64_MAX - 1, 4);
    expect_reserve(s, &id, UINT64_MAX, (uint64_t)INT64_MAX + 10, (uint64_t)INT64_MAX + 3, 7);
    expect_reserve(s, &id, 1, (uint64_t)INT64_MAX, (uint64_t)INT64_MAX + 10, 0);
    if (F.sqlite) {
        reopen();
        s = F.s;
        cr_assert_eq(reserved_of(s, &id), (uint64_t)INT64_MAX + 10);
    }
}

CONFORMANCE(update_never_lowers_reserved)
{
    vl_store *s = F.s;
    put_dek(s, "k", "s", VL_AES128_GCM, 1);
    vl_dek_id id = id_of("k", "s", VL_AES128_GCM, 1);
    vl_dek_record stale;
    cr_assert_eq(s->ops->get_dek(s, &id, &stale), VL_OK);
    expect_reserve(s, &id, 50, 1000, 0, 50);

    /* a record read before the reservation, written back after it */
    stale.deleted = 1;
    cr_assert_eq(s->ops->put_dek(s, &stale, 0), VL_OK);
    vl_dek_record got;
    cr_assert_eq(s->ops->get_dek(s, &id, &got), VL_OK);
    cr_assert_eq(got.deleted, 1);
    cr_assert_eq(got.reserved_seals, 50);

    /* raising through put is allowed (the safe direction) */
    stale.reserved_seals = 70;
    cr_assert_eq(s->ops->put_dek(s, &stale, 0), VL_OK);
    cr_assert_eq(reserved_of(s, &id), 70);
    expect_reserve(s, &id, 5, 1000, 70, 5);
}

/* ---- validation ------------------------------------------------------------- */

CONFORMANCE(bad_keks_refused)
{
    vl_store *s = F.s;
    vl_kek_record r, got;
    kek(&r, "good");
    cr_assert_eq(s->ops->put_kek(s, &r, 1), VL_OK);

    for (int c = 0; c < 9; c++) {
        kek(&r, "good");
        switch (c) {
        case 0: memset(r.name, 'a', sizeof r.name); break;
        case 1: r.name[0] = '\0'; break;
        case 2: memset(r.kms_type, 't', sizeof r.kms_type); break;
        case 3: memset(r.kms_key_id, 'i', sizeof r.kms_key_id); break;
        case 4: memset(r.kms_props, 'p', sizeof r.kms_props); break;
        case 5: memset(r.doc, 'd', sizeof r.doc); break;
        case 6: r.shared = 2; break;
        case 7: r.deleted = -1; break;
        case 8: r.doc[0] = 'X'; r.shared = 1; r.deleted = 7; break;
        }
        cr_assert_eq(s->ops->put_kek(s, &r, 0), VL_ERR_ARG, "case %d", c);
        cr_assert_eq(s->ops->put_kek(s, &r, 1), VL_ERR_ARG, "case %d", c);
    }
    cr_assert_eq(s->ops->put_kek(s, NULL, 0), VL_ERR_ARG);
    /* nothing changed */
    kek(&r, "good");
    cr_assert_eq(s->ops->get_kek(s, "good", &got), VL_OK);
    assert_kek_eq(&got, &r);
    visit v = {0};
    cr_assert_eq(s->ops->each_kek(s, on_kek, &v), VL_OK);
    cr_assert_eq(v.n, 1);

    char longname[VL_NAME_MAX + 10];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    cr_assert_eq(s->ops->get_kek(s, longname, &got), VL_ERR_ARG);
    cr_assert_eq(s->ops->get_kek(s, "", &got), VL_ERR_ARG);
    cr_assert_eq(s->ops->get_kek(s, NULL, &got), VL_ERR_ARG);
    cr_assert_eq(s->ops->get_kek(s, "good", NULL), VL_ERR_ARG);
    cr_assert_eq(s->ops->delete_kek(s, NULL), VL_ERR_ARG);
    cr_assert_eq(s->ops->delete_kek(s, longname), VL_ERR_ARG);
    cr_assert_eq(s->ops->each_kek(s, NULL, NULL), VL_ERR_ARG);
}

CONFORMANCE(bad_deks_refused)
{
    vl_store *s = F.s;
    vl_dek_record r, got;
    put_dek(s, "k", "s", VL_AES128_GCM, 1);

    for (int c = 0; c < 11; c++) {
        dek(&r, "k", "s", VL_AES128_GCM, 1);
        switch (c) {
        case 0: r.wrapped_len = VL_KMS_MAX_BLOB + 1; break;
        case 1: r.wrapped_len = SIZE_MAX; break;
        case 2: r.alg = (vl_alg)0; break;
        case 3: r.alg = (vl_alg)4; break;
        case 4: r.version = 0; break;
        case 5: r.version = -1; break;
        case 6: r.version = INT32_MIN; break;
        case 7: memset(r.kek_name, 'k', sizeof r.kek_name); break;
        case 8: r.subject[0] = '\0'; break;
        case 9: memset(r.subject, 's', sizeof r.subject); break;
        case 10: r.deleted = 2; break;
        }
        cr_assert_eq(s->ops->put_dek(s, &r, 0), VL_ERR_ARG, "case %d", c);
        cr_assert_eq(s->ops->put_dek(s, &r, 1), VL_ERR_ARG, "case %d", c);
    }
    cr_assert_eq(s->ops->put_dek(s, NULL, 1), VL_ERR_ARG);
    dek(&r, "k", "s", VL_AES128_GCM, 1);
    vl_dek_id id = id_of("k", "s", VL_AES128_GCM, 1);
    cr_assert_eq(s->ops->get_dek(s, &id, &got), VL_OK);
    assert_dek_eq(&got, &r);

    /* ids: version 0 or below -1, bad alg, empty or NULL names */
    vl_dek_id bad[] = {
        id_of("k", "s", VL_AES128_GCM, 0),  id_of("k", "s", VL_AES128_GCM, -2),
        id_of("k", "s", (vl_alg)0, 1),      id_of("k", "s", (vl_alg)99, 1),
        id_of("", "s", VL_AES128_GCM, 1),   id_of("k", "", VL_AES128_GCM, 1),
        id_of(NULL, "s", VL_AES128_GCM, 1), id_of("k", NULL, VL_AES128_GCM, 1),
    };
    uint64_t st, g;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(s->ops->get_dek(s, &bad[i], &got), VL_ERR_ARG, "id %zu", i);
        cr_assert_eq(s->ops->delete_dek(s, &bad[i]), VL_ERR_ARG, "id %zu", i);
        cr_assert_eq(s->ops->reserve(s, &bad[i], 1, 9, &st, &g), VL_ERR_ARG, "id %zu", i);
    }
    cr_assert_eq(s->ops->get_dek(s, NULL, &got), VL_ERR_ARG);
    cr_assert_eq(s->ops->get_dek(s, &id, NULL), VL_ERR_ARG);
    cr_assert_eq(s->ops->each_dek(s, NULL, NULL, NULL), VL_ERR_ARG);
    cr_assert_eq(s->ops->each_dek(s, "", on_dek, NULL), VL_ERR_ARG);
    cr_assert_eq(reserved_of(s, &id), 0);
}

Test(store, close_null_and_ops_table)
{
    vl_store_close(NULL);
    vl_store *s;
    cr_assert_eq(vl_store_mem_new(NULL), VL_ERR_ARG);
    cr_assert_eq(vl_store_mem_new(&s), VL_OK);
    cr_assert_eq(s->ops->size, sizeof(vl_store_ops));
    cr_assert_str_eq(s->ops->name, "memory");
    vl_store_close(s);
}

/* ---- racing threads ---------------------------------------------------------- */

typedef struct range {
    uint64_t start, n;
} range;

static int range_cmp(const void *a, const void *b)
{
    const range *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

/* Sorts |r| and asserts the ranges are pairwise disjoint; returns the sum
 * of their lengths. */
static uint64_t assert_disjoint(range *r, size_t n)
{
    qsort(r, n, sizeof *r, range_cmp);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert_gt(r[i].n, 0);
        if (i > 0)
            cr_assert_geq(r[i].start, r[i - 1].start + r[i - 1].n,
                          "ranges overlap: [%llu,+%llu) and [%llu,+%llu)",
                          (unsigned long long)r[i - 1].start, (unsigned long long)r[i - 1].n,
                          (unsigned long long)r[i].start, (unsigned long long)r[i].n);
        total += r[i].n;
    }
    return total;
}

typedef struct racer {
    vl_store *s;
    pthread_barrier_t *go;
    uint64_t max, seed;
    range *out;
    size_t n, cap;
    int err;
} racer;

/* Reserves 1..17 at a time until the budget is gone, recording ranges.
 * No cr_assert here: Criterion's asserts belong to the test's thread. */
static void *reserve_until_exhausted(void *arg)
{
    racer *r = arg;
    vl_dek_id id = id_of("k", "s", VL_AES256_GCM, 1);
    pthread_barrier_wait(r->go);
    for (uint64_t i = 0;; i++) {
        uint64_t st, g, want = 1 + (r->seed * 31 + i * 7) % 17;
        if ((r->err = r->s->ops->reserve(r->s, &id, want, r->max, &st, &g)) != VL_OK || g == 0)
            break;
        if (r->n == r->cap) {
            r->cap = r->cap ? 2 * r->cap : 64;
            r->out = realloc(r->out, r->cap * sizeof *r->out);
            if (r->out == NULL) {
                r->err = VL_ERR_NOMEM;
                break;
            }
        }
        r->out[r->n++] = (range){st, g};
    }
    return NULL;
}

CONFORMANCE(threads_reserve_disjoint)
{
    enum { T = 4 };
    vl_store *s = F.s;
    /* Every SQLite reservation is an fsync: keep that run short. */
    uint64_t max = F.sqlite ? 3000 : 200000;
    put_dek(s, "k", "s", VL_AES256_GCM, 1);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, T);
    racer r[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        r[i] = (racer){.s = s, .go = &go, .max = max, .seed = (uint64_t)i};
        cr_assert_eq(pthread_create(&th[i], NULL, reserve_until_exhausted, &r[i]), 0);
    }
    size_t total_n = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(r[i].err, VL_OK, "thread %d: %s", i, vl_strerror(r[i].err));
        total_n += r[i].n;
    }
    pthread_barrier_destroy(&go);
    range *all = malloc(total_n * sizeof *all);
    cr_assert_not_null(all);
    size_t k = 0;
    for (int i = 0; i < T; i++) {
        if (r[i].n > 0) /* a thread may find the budget gone already */
            memcpy(all + k, r[i].out, r[i].n * sizeof *all);
        k += r[i].n;
        free(r[i].out);
    }
    cr_assert_eq(assert_disjoint(all, k), max);
    cr_assert_eq(all[0].start, 0);
    free(all);
    vl_dek_id id = id_of("k", "s", VL_AES256_GCM, 1);
    cr_assert_eq(reserved_of(s, &id), max);
}

/* ---- SQLite only: persistence ------------------------------------------------ */

Test(sqlite, persists_across_reopen, .init = setup_sqlite, .fini = teardown)
{
    vl_store *s = F.s;
    cr_assert_str_eq(s->ops->name, "sqlite");
    cr_assert_eq(s->ops->size, sizeof(vl_store_ops));
    vl_kek_record k, kgot;
    kek(&k, "k");
    cr_assert_eq(s->ops->put_kek(s, &k, 1), VL_OK);
    vl_dek_record d, dgot;
    dek(&d, "k", "s", VL_AES256_SIV, 4);
    d.wrapped_len = VL_KMS_MAX_BLOB;
    memset(d.wrapped, 0x3c, sizeof d.wrapped);
    cr_assert_eq(s->ops->put_dek(s, &d, 1), VL_OK);
    vl_dek_id id = id_of("k", "s", VL_AES256_SIV, 4);
    expect_reserve(s, &id, 1000, 5000, 0, 1000);

    reopen();
    s = F.s;
    cr_assert_eq(s->ops->get_kek(s, "k", &kgot), VL_OK);
    assert_kek_eq(&kgot, &k);
    cr_assert_eq(s->ops->get_dek(s, &id, &dgot), VL_OK);
    d.reserved_seals = 1000;
    assert_dek_eq(&dgot, &d);
    expect_reserve(s, &id, 1000, 5000, 1000, 1000);
    /* a second store on the same file sees every change at once */
    vl_store *s2;
    cr_assert_eq(vl_store_sqlite_open(&s2, F.path), VL_OK);
    cr_assert_eq(reserved_of(s2, &id), 2000);
    cr_assert_eq(s2->ops->delete_kek(s2, "k"), VL_OK);
    cr_assert_eq(s->ops->get_kek(s, "k", &kgot), VL_ERR_NOT_FOUND);
    vl_store_close(s2);
}

Test(sqlite, open_errors, .init = setup_sqlite, .fini = teardown)
{
    vl_store *s = (vl_store *)&F; /* must be reset to NULL on failure */
    cr_assert_eq(vl_store_sqlite_open(NULL, F.path), VL_ERR_ARG);
    cr_assert_eq(vl_store_sqlite_open(&s, NULL), VL_ERR_ARG);
    cr_assert_null(s);
    cr_assert_eq(vl_store_sqlite_open(&s, ""), VL_ERR_ARG);
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/no/such/dir/x.db", F.dir);
    cr_assert_eq(vl_store_sqlite_open(&s, p), VL_ERR_IO);
    cr_assert_null(s);

    /* not a database at all */
    snprintf(p, sizeof p, "%s/garbage.db", F.dir);
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f);
    for (int i = 0; i < 8192; i++)
        fputc((i * 37) & 0xff, f);
    fclose(f);
    cr_assert_eq(vl_store_sqlite_open(&s, p), VL_ERR_FORMAT);
    cr_assert_null(s);
}

/* Runs |sql| on the store's file through a connection of our own. */
static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, msg ? msg : "?");
    sqlite3_free(msg);
    sqlite3_close(db);
}

Test(sqlite, foreign_schema_refused, .init = setup_sqlite, .fini = teardown)
{
    vl_store_close(F.s);
    F.s = NULL;
    vl_store *s;
    /* a schema version from the future */
    raw_exec(F.path, "PRAGMA user_version = 99");
    cr_assert_eq(vl_store_sqlite_open(&s, F.path), VL_ERR_FORMAT);
    /* our version number, but not our tables */
    raw_exec(F.path, "PRAGMA user_version = 1; DROP TABLE deks;"
                     "CREATE TABLE deks (x INTEGER)");
    cr_assert_eq(vl_store_sqlite_open(&s, F.path), VL_ERR_FORMAT);
    cr_assert_null(s);
}

/* ---- SQLite only: corrupted rows ------------------------------------------- */

/* One bad value written behind the store's back into a file holding one
 * good KEK "k" and one good DEK (k, s, AES-128-GCM, 1), and what each call
 * must then return. A row whose identity columns changed is simply not
 * found by a lookup, but iteration meets it. */
typedef struct corruption {
    const char *sql;
    int get_kek, get_latest, get_v1, reserve, each_kek, each_dek_all, each_dek_k;
} corruption;

#define OK VL_OK
#define FMT VL_ERR_FORMAT
#define NF VL_ERR_NOT_FOUND
static const corruption corruptions[] = {
    /* DEK material and fields */
    {"UPDATE deks SET wrapped = zeroblob(4097)", OK, FMT, FMT, OK, OK, FMT, FMT},
    {"UPDATE deks SET wrapped = zeroblob(1000000)", OK, FMT, FMT, OK, OK, FMT, FMT},
    {"UPDATE deks SET wrapped = 'text, not a blob'", OK, FMT, FMT, OK, OK, FMT, FMT},
    {"UPDATE deks SET wrapped = 42", OK, FMT, FMT, OK, OK, FMT, FMT},
    {"UPDATE deks SET deleted = 2", OK, FMT, FMT, OK, OK, FMT, FMT},
    {"UPDATE deks SET ts_ms = 1.5", OK, FMT, FMT, OK, OK, FMT, FMT},
    {"UPDATE deks SET ts_ms = 'yesterday'", OK, FMT, FMT, OK, OK, FMT, FMT},
    {"UPDATE deks SET reserved_seals = 'lots'", OK, FMT, FMT, FMT, OK, FMT, FMT},
    {"UPDATE deks SET reserved_seals = 2.5", OK, FMT, FMT, FMT, OK, FMT, FMT},
    {"UPDATE deks SET reserved_seals = x'00'", OK, FMT, FMT, FMT, OK, FMT, FMT},
    /* DEK identity: "latest" still finds a bad version, an exact lookup
     * does not */
    {"UPDATE deks SET version = 0", OK, FMT, NF, NF, OK, FMT, FMT},
    {"UPDATE deks SET version = -3", OK, FMT, NF, NF, OK, FMT, FMT},
    {"UPDATE deks SET version = 1099511627776", OK, FMT, NF, NF, OK, FMT, FMT},
    {"UPDATE deks SET version = 'one'", OK, FMT, NF, NF, OK, FMT, FMT},
    {"UPDATE deks SET alg = 99", OK, NF, NF, NF, OK, FMT, FMT},
    {"UPDATE deks SET alg = 0", OK, NF, NF, NF, OK, FMT, FMT},
    {"UPDATE deks SET subject = CAST(x'730074' AS TEXT)", OK, NF, NF, NF, OK, FMT, FMT},
    {"UPDATE deks SET subject = x'73'", OK, NF, NF, NF, OK, FMT, FMT},
    {"UPDATE deks SET kek_name = printf('%.300c', 'k')", OK, NF, NF, NF, OK, FMT, OK},
    {"UPDATE deks SET kek_name = x'6b'", OK, NF, NF, NF, OK, FMT, OK},
    /* KEK rows */
    {"UPDATE keks SET doc = zeroblob(4)", FMT, OK, OK, OK, FMT, OK, OK},
    {"UPDATE keks SET shared = 5", FMT, OK, OK, OK, FMT, OK, OK},
    {"UPDATE keks SET deleted = -1", FMT, OK, OK, OK, FMT, OK, OK},
    {"UPDATE keks SET kms_props = printf('%.2048c', 'p')", FMT, OK, OK, OK, FMT, OK, OK},
    {"UPDATE keks SET kms_type = printf('%.64c', 't')", FMT, OK, OK, OK, FMT, OK, OK},
    {"UPDATE keks SET kms_key_id = CAST(x'610062' AS TEXT)", FMT, OK, OK, OK, FMT, OK, OK},
    {"UPDATE keks SET ts_ms = 'noon'", FMT, OK, OK, OK, FMT, OK, OK},
    {"UPDATE keks SET name = CAST(x'6b0078' AS TEXT)", NF, OK, OK, OK, FMT, OK, OK},
    {"UPDATE keks SET name = ''", NF, OK, OK, OK, FMT, OK, OK},
};
#undef OK
#undef FMT
#undef NF

static int count_kek(void *arg, const vl_kek_record *r)
{
    (void)r;
    (*(int *)arg)++;
    return 0;
}

static int count_dek(void *arg, const vl_dek_record *r)
{
    (void)r;
    (*(int *)arg)++;
    return 0;
}

/* A fresh file with the good records, then |sql| through our own
 * connection, then the store opened on it again. */
static void corrupt_fresh_file(const char *sql)
{
    vl_store_close(F.s);
    F.s = NULL;
    unlink(F.path);
    open_store();
    vl_kek_record k;
    kek(&k, "k");
    cr_assert_eq(F.s->ops->put_kek(F.s, &k, 1), VL_OK);
    put_dek(F.s, "k", "s", VL_AES128_GCM, 1);
    vl_store_close(F.s);
    F.s = NULL;
    raw_exec(F.path, sql);
    open_store();
}

/* each_* must fail before calling back at all: a malformed row fails the
 * whole walk. */
static void expect_each(int rc, int want, int calls, const char *what, const char *sql)
{
    cr_assert_eq(rc, want, "%s: %s returned %d", sql, what, rc);
    if (want != VL_OK)
        cr_assert_eq(calls, 0, "%s: %s called back %d times", sql, what, calls);
}

Test(sqlite, corrupted_rows_are_format_errors, .init = setup_sqlite, .fini = teardown)
{
    vl_dek_id v1 = id_of("k", "s", VL_AES128_GCM, 1);
    vl_dek_id latest = id_of("k", "s", VL_AES128_GCM, -1);
    for (size_t c = 0; c < sizeof corruptions / sizeof corruptions[0]; c++) {
        const corruption *x = &corruptions[c];
        corrupt_fresh_file(x->sql);
        vl_store *s = F.s;
        vl_kek_record kr;
        vl_dek_record dr;
        uint64_t st, g;
        cr_assert_eq(s->ops->get_kek(s, "k", &kr), x->get_kek, "%s: get_kek", x->sql);
        cr_assert_eq(s->ops->get_dek(s, &latest, &dr), x->get_latest, "%s: latest", x->sql);
        cr_assert_eq(s->ops->get_dek(s, &v1, &dr), x->get_v1, "%s: get v1", x->sql);
        cr_assert_eq(s->ops->reserve(s, &v1, 1, 10, &st, &g), x->reserve, "%s: reserve", x->sql);
        int n = 0;
        expect_each(s->ops->each_kek(s, count_kek, &n), x->each_kek, n, "each_kek", x->sql);
        n = 0;
        expect_each(s->ops->each_dek(s, NULL, count_dek, &n), x->each_dek_all, n, "each_dek",
                    x->sql);
        n = 0;
        expect_each(s->ops->each_dek(s, "k", count_dek, &n), x->each_dek_k, n, "each_dek(k)",
                    x->sql);
    }
}

/* Damage inside the B-tree pages (a torn sector, a bad copy): every call
 * returns a code, none crashes. Which code depends on where the damage
 * falls; SQLite reports most of it as SQLITE_CORRUPT (VL_ERR_FORMAT). */
Test(sqlite, damaged_file_no_crash, .init = setup_sqlite, .fini = teardown)
{
    for (int i = 1; i <= 200; i++) {
        char subj[32];
        snprintf(subj, sizeof subj, "subject-%d", i);
        put_dek(F.s, "k", subj, VL_AES256_GCM, 1);
    }
    vl_store_close(F.s);
    F.s = NULL;
    FILE *f = fopen(F.path, "r+b");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    cr_assert_gt(size, 3 * 4096);
    for (long off = 4096 + 100; off + 64 < size; off += 2039) { /* past the header page */
        fseek(f, off, SEEK_SET);
        for (int j = 0; j < 64; j++)
            fputc(0xff ^ j, f);
    }
    fclose(f);
    int rc = vl_store_sqlite_open(&F.s, F.path);
    if (rc != VL_OK) {
        cr_assert(rc == VL_ERR_FORMAT || rc == VL_ERR_IO, "open: %s", vl_strerror(rc));
        return;
    }
    int n = 0, count[4] = {0}; /* OK, FORMAT, IO, NOT_FOUND */
    rc = F.s->ops->each_dek(F.s, NULL, count_dek, &n);
    cr_assert(rc == VL_OK || rc == VL_ERR_FORMAT || rc == VL_ERR_IO, "%s", vl_strerror(rc));
    for (int i = 1; i <= 200; i++) {
        char subj[32];
        vl_dek_record r;
        snprintf(subj, sizeof subj, "subject-%d", i);
        vl_dek_id id = id_of("k", subj, VL_AES256_GCM, 1);
        rc = F.s->ops->get_dek(F.s, &id, &r);
        cr_assert(rc == VL_OK || rc == VL_ERR_FORMAT || rc == VL_ERR_IO || rc == VL_ERR_NOT_FOUND,
                  "%s", vl_strerror(rc));
        count[rc == VL_OK ? 0 : rc == VL_ERR_FORMAT ? 1 : rc == VL_ERR_IO ? 2 : 3]++;
    }
    cr_log_info("damaged file: get_dek ok %d, format %d, io %d, not found %d", count[0],
                count[1], count[2], count[3]);
}

/* Deleting a DEK erases its wrapped bytes from the file (secure_delete),
 * once the WAL is checkpointed (closing the last connection does that). */
Test(sqlite, delete_erases_material, .init = setup_sqlite, .fini = teardown)
{
    vl_dek_record r;
    dek(&r, "k", "s", VL_AES128_GCM, 1);
    for (size_t i = 0; i < 64; i++)
        r.wrapped[i] = (uint8_t)(0xc0 ^ (i * 29));
    r.wrapped_len = 64;
    cr_assert_eq(F.s->ops->put_dek(F.s, &r, 1), VL_OK);
    put_dek(F.s, "k", "other", VL_AES128_GCM, 1); /* the page stays in use */
    reopen();
    vl_dek_id id = id_of("k", "s", VL_AES128_GCM, 1);
    cr_assert_eq(F.s->ops->delete_dek(F.s, &id), VL_OK);
    vl_store_close(F.s);
    F.s = NULL;

    FILE *f = fopen(F.path, "rb");
    cr_assert_not_null(f);
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    cr_assert_gt(n, 0);
    cr_assert_null(memmem(buf, n, r.wrapped, 64), "wrapped bytes still in the file");
    open_store();
}

/* ---- SQLite only: processes ---------------------------------------------------- */

static void write_range(int fd, uint64_t start, uint64_t n)
{
    range r = {start, n};
    /* 16 bytes <= PIPE_BUF: one atomic write, never torn by a kill */
    if (write(fd, &r, sizeof r) != (ssize_t)sizeof r)
        _exit(90);
}

/* 1 and a range, 0 at end of file. */
static int read_range(int fd, range *r)
{
    size_t got = 0;
    while (got < sizeof *r) {
        ssize_t k = read(fd, (char *)r + got, sizeof *r - got);
        if (k < 0 && errno == EINTR)
            continue;
        cr_assert_geq(k, 0, "read: %s", strerror(errno));
        if (k == 0) {
            cr_assert_eq(got, 0, "torn range record");
            return 0;
        }
        got += (size_t)k;
    }
    return 1;
}

/* A child: waits for |go|, opens the file, races to create version 1,
 * reserves until exhausted. Exit 0 if it created the DEK, 1 if another
 * process did, 2 + something on failure. */
static void child_race(const char *path, int go_fd, int out_fd, uint64_t max, int seed)
{
    char c;
    if (read(go_fd, &c, 1) != 1)
        _exit(3);
    vl_store *s;
    if (vl_store_sqlite_open(&s, path) != VL_OK)
        _exit(4);
    vl_dek_record r;
    memset(&r, 0, sizeof r);
    strcpy(r.kek_name, "k");
    strcpy(r.subject, "s");
    r.alg = VL_AES256_GCM;
    r.version = 1;
    int created = s->ops->put_dek(s, &r, 1);
    if (created != VL_OK && created != VL_ERR_EXISTS)
        _exit(5);
    vl_dek_id id = {"k", "s", VL_AES256_GCM, 1};
    for (uint64_t i = 0;; i++) {
        uint64_t st, g;
        if (s->ops->reserve(s, &id, 1 + (i * 5 + (uint64_t)seed) % 13, max, &st, &g) != VL_OK)
            _exit(6);
        if (g == 0)
            break;
        write_range(out_fd, st, g);
    }
    vl_store_close(s);
    _exit(created == VL_OK ? 0 : 1);
}

Test(sqlite, processes_reserve_disjoint, .init = setup_sqlite, .fini = teardown)
{
    enum { P = 3 };
    const uint64_t max = 2500;
    /* the children create the file themselves, all at the same moment */
    vl_store_close(F.s);
    F.s = NULL;
    unlink(F.path);
    int go[2], out[2];
    cr_assert_eq(pipe(go), 0);
    cr_assert_eq(pipe(out), 0);
    pid_t pid[P];
    for (int i = 0; i < P; i++) {
        pid[i] = fork();
        cr_assert_geq(pid[i], 0);
        if (pid[i] == 0) {
            close(go[1]);
            close(out[0]);
            child_race(F.path, go[0], out[1], max, i);
        }
    }
    close(go[0]);
    close(out[1]);
    cr_assert_eq(write(go[1], "GGG", P), P);
    close(go[1]);

    size_t n = 0, cap = 1024;
    range *all = malloc(cap * sizeof *all);
    cr_assert_not_null(all);
    while (read_range(out[0], &all[n])) {
        if (++n == cap) {
            all = realloc(all, (cap *= 2) * sizeof *all);
            cr_assert_not_null(all);
        }
    }
    close(out[0]);
    int creators = 0;
    for (int i = 0; i < P; i++) {
        int status;
        cr_assert_eq(waitpid(pid[i], &status, 0), pid[i]);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) <= 1, "child %d: status %d", i,
                  status);
        creators += WEXITSTATUS(status) == 0;
    }
    cr_assert_eq(creators, 1, "exactly one process creates version 1");
    cr_assert_eq(assert_disjoint(all, n), max);
    cr_assert_eq(all[0].start, 0);
    free(all);
    open_store();
    vl_dek_id id = id_of("k", "s", VL_AES256_GCM, 1);
    cr_assert_eq(reserved_of(F.s, &id), max);
}

/* A child that reserves forever and reports each range before "using" it. */
static void child_reserve_forever(const char *path, int out_fd)
{
    vl_store *s;
    if (vl_store_sqlite_open(&s, path) != VL_OK)
        _exit(4);
    vl_dek_id id = {"k", "s", VL_AES128_GCM, 1};
    for (uint64_t i = 0;; i++) {
        uint64_t st, g;
        if (s->ops->reserve(s, &id, 1 + i % 7, UINT64_MAX, &st, &g) != VL_OK || g == 0)
            _exit(6);
        write_range(out_fd, st, g);
    }
}

static int integrity_ok(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int ok = 0;
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK) {
        ok = sqlite3_step(st) == SQLITE_ROW &&
             strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return ok;
}

Test(sqlite, sigkill_while_reserving, .init = setup_sqlite, .fini = teardown)
{
    enum { ROUNDS = 8 };
    put_dek(F.s, "k", "s", VL_AES128_GCM, 1);
    vl_store_close(F.s);
    F.s = NULL;
    vl_dek_id id = id_of("k", "s", VL_AES128_GCM, 1);
    size_t n = 0, cap = 4096;
    range *all = malloc(cap * sizeof *all);
    cr_assert_not_null(all);
    uint64_t end = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int out[2];
        cr_assert_eq(pipe(out), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            close(out[0]);
            child_reserve_forever(F.path, out[1]);
        }
        close(out[1]);
        /* let it run a varying number of reservations, then kill it at a
         * varying point of the next one: at once (usually before its
         * COMMIT), or 1 to 7 ms later (inside or after the COMMIT's fsync:
         * reserve takes ~4 ms on an fsync-bound disk) */
        size_t target = n + 5 + (size_t)round * 17;
        while (n < target && read_range(out[0], &all[n]))
            n++;
        if (round % 2 == 1)
            usleep((useconds_t)(round * 1000));
        cr_assert_eq(kill(pid, SIGKILL), 0);
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status %d", status);
        /* ranges still in the pipe were reported too */
        while (n < cap && read_range(out[0], &all[n]))
            n++;
        close(out[0]);
        cr_assert_lt(n, cap);
        for (size_t i = 0; i < n; i++)
            if (all[i].start + all[i].n > end)
                end = all[i].start + all[i].n;

        cr_assert(integrity_ok(F.path), "round %d: integrity_check failed", round);
        open_store();
        uint64_t reserved = reserved_of(F.s, &id);
        cr_assert_geq(reserved, end, "round %d: reserved %llu < reported end %llu", round,
                      (unsigned long long)reserved, (unsigned long long)end);
        /* > 0: killed after a commit, before reporting (the range is lost,
         * never reused); 0: killed before or inside a commit */
        cr_log_info("round %d: %zu ranges, reserved - reported end = %llu", round, n,
                    (unsigned long long)(reserved - end));
        vl_store_close(F.s);
        F.s = NULL;
    }
    cr_assert_gt(n, (size_t)ROUNDS * 5);
    assert_disjoint(all, n);
    free(all);
    /* nothing handed out before can be handed out again */
    open_store();
    uint64_t st, g;
    cr_assert_eq(F.s->ops->reserve(F.s, &id, 10, UINT64_MAX, &st, &g), VL_OK);
    cr_assert_geq(st, end);
    cr_assert_eq(g, 10);
}
