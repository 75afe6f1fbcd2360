/* The keyring and field encryption (include/vellum/envelope.h), against
 * the in-memory store, the fake KMS and a fake clock (tests/fake_kms.h):
 *
 *   keyring_life     round trips for every algorithm, versioned or not;
 *                    Confluent's own fixtures through the local KMS
 *   keyring_kek      KEK registry rules
 *   keyring_rotate   rotation by count and by age, explicit rotation,
 *                    four threads across rotation boundaries, durable
 *                    seal budgets across a restart
 *   keyring_delete   soft/hard delete of DEKs and KEKs in every order,
 *                    undelete
 *   keyring_cache    TTL, revoke, KMS disabled/destroyed eviction
 *   keyring_kms      backoff schedule, suspend and resume with nothing
 *                    lost, rotation while the KMS is down
 *   keyring_rewrap   KEK rotation without touching data
 *   keyring_bad      truncated, oversized and garbage fields and stored
 *                    records: clean errors, state unchanged */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "base64.h"
#include "fake_kms.h"
#include "tink_key.h"
#include "vellum/envelope.h"

#define KEK "kek1"
#define KEY1 "key-1"
#define SUBJ "topic1-value"
#define FIELD_MAX 4096
#define ALT "encrypt.alternate.kms.key.ids" /* Confluent's kmsProps key */

#define OK(x)                                                                       \
    do {                                                                            \
        int rc_ = (x);                                                              \
        cr_assert_eq(rc_, VL_OK, "%s: %s", #x, vl_strerror(rc_));                  \
    } while (0)
#define RC(want, x)                                                                 \
    do {                                                                            \
        int rc_ = (x), want_ = (want);                                              \
        cr_assert_eq(rc_, want_, "%s: got %d (%s), want %d (%s)", #x, rc_,         \
                     vl_strerror(rc_), want_, vl_strerror(want_));                 \
    } while (0)

static const vl_alg ALGS[] = {VL_AES128_GCM, VL_AES256_GCM, VL_AES256_SIV};

/* ---- fixture ------------------------------------------------------------ */

struct opts {
    int versioned;
    uint64_t expiry_s, ttl_ms, reserve_min, reserve_max;
    vl_limits limits;
};

static struct {
    vl_store *store;
    fake_kms *kms;
    struct fake_clock clock;
    vl_keyring *kr;
    struct opts o;
} T;

static vl_keyring *keyring_on(vl_store *store, const struct opts *o)
{
    vl_keyring_config cfg = {
        .store = store,
        .cache_ttl_ms = o->ttl_ms,
        .dek_expiry_s = o->expiry_s,
        .versioned = o->versioned,
        .dek_limits = o->limits,
        .reserve_min = o->reserve_min,
        .reserve_max = o->reserve_max,
        .backoff_initial_ms = 100,
        .backoff_max_ms = 400,
        .clock_ms = fake_clock_now,
        .clock_arg = &T.clock,
    };
    vl_keyring *kr = NULL;
    OK(vl_keyring_new(&kr, &cfg));
    OK(vl_keyring_register_kms(kr, "fake-kms", fake_kms_handle(T.kms)));
    return kr;
}

static void open_with(const struct opts *o)
{
    T.o = *o;
    atomic_store(&T.clock.ms, INT64_C(1700000000000));
    OK(vl_store_mem_new(&T.store));
    T.kms = fake_kms_new();
    fake_kms_add_key(T.kms, KEY1);
    T.kr = keyring_on(T.store, o);
    OK(vl_kek_create(T.kr, KEK, "fake-kms", KEY1, 0, "test KEK"));
}

static void setup_versioned(void)
{
    struct opts o = {.versioned = 1};
    open_with(&o);
}

static void setup_plain(void)
{
    struct opts o = {.versioned = 0};
    open_with(&o);
}

static void teardown(void)
{
    vl_keyring_free(T.kr);
    vl_store_close(T.store);
    fake_kms_free(T.kms);
    memset(&T, 0, sizeof T);
}

/* Reopens the keyring on the same store: a process restart. */
static void restart(void)
{
    vl_keyring_free(T.kr);
    T.kr = keyring_on(T.store, &T.o);
}

/* ---- helpers ------------------------------------------------------------ */

struct field {
    uint8_t b[FIELD_MAX];
    size_t n;
};

static int enc_on(vl_keyring *kr, const char *subject, vl_alg alg, const void *pt, size_t len,
                  struct field *f)
{
    return vl_field_encrypt(kr, KEK, subject, alg, pt, len, f->b, sizeof f->b, &f->n);
}

static int enc(const char *subject, vl_alg alg, const char *pt, struct field *f)
{
    return enc_on(T.kr, subject, alg, pt, strlen(pt), f);
}

static int dec_on(vl_keyring *kr, const char *subject, vl_alg alg, const struct field *f,
                  char *pt, size_t cap)
{
    size_t n = 0;
    int rc = vl_field_decrypt(kr, KEK, subject, alg, f->b, f->n, (uint8_t *)pt, cap - 1, &n);
    pt[rc == VL_OK ? n : 0] = '\0';
    return rc;
}

static int dec(const char *subject, vl_alg alg, const struct field *f, char *pt, size_t cap)
{
    return dec_on(T.kr, subject, alg, f, pt, cap);
}

/* Decrypts and compares with |want|. */
static void round_trip(const char *subject, vl_alg alg, const struct field *f, const char *want)
{
    char pt[FIELD_MAX];
    OK(dec(subject, alg, f, pt, sizeof pt));
    cr_assert_str_eq(pt, want);
}

static int32_t version_of(const struct field *f)
{
    cr_assert_geq(f->n, 5);
    cr_assert_eq(f->b[0], 0);
    return (int32_t)((uint32_t)f->b[1] << 24 | (uint32_t)f->b[2] << 16 | (uint32_t)f->b[3] << 8 |
                     f->b[4]);
}

static vl_dek_record *dek_rec(const char *subject, vl_alg alg, int32_t version)
{
    static vl_dek_record r;
    vl_dek_id id = {KEK, subject, alg, version};
    OK(T.store->ops->get_dek(T.store, &id, &r));
    return &r;
}

static int32_t latest_version(const char *subject, vl_alg alg)
{
    return dek_rec(subject, alg, -1)->version;
}

static unsigned long unwraps(void)
{
    struct fake_kms_counts c;
    fake_kms_counts(T.kms, &c);
    return c.unwraps;
}

static unsigned long wraps(void)
{
    struct fake_kms_counts c;
    fake_kms_counts(T.kms, &c);
    return c.wraps;
}

static void all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(p[i], 0, "byte %zu not zeroed", i);
}

static vl_dek_id dek_id(const char *subject, vl_alg alg, int32_t version)
{
    vl_dek_id id = {KEK, subject, alg, version};
    return id;
}

/* ======================================================================== */
/* keyring_life                                                              */

static void lifecycle(vl_alg alg, int versioned)
{
    static const size_t lens[] = {0, 1, 15, 16, 64, 1000};
    char pt[1001], back[1100];
    struct field f, g;
    memset(pt, 'a', sizeof pt);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        pt[lens[i]] = '\0';
        OK(enc(SUBJ, alg, pt, &f));
        cr_assert_eq(f.n, lens[i] + vl_field_overhead(alg, versioned));
        if (versioned)
            cr_assert_eq(version_of(&f), 1);
        OK(dec(SUBJ, alg, &f, back, sizeof back));
        cr_assert_str_eq(back, pt);
        pt[lens[i]] = 'a';
    }
    OK(enc(SUBJ, alg, "same", &f));
    OK(enc(SUBJ, alg, "same", &g));
    /* SIV is deterministic; GCM draws a fresh nonce each time. */
    cr_assert_eq(f.n == g.n && memcmp(f.b, g.b, f.n) == 0, alg == VL_AES256_SIV);
    /* The stored DEK is what Confluent stores: the KMS-wrapped Tink proto. */
    vl_dek_record *r = dek_rec(SUBJ, alg, 1);
    uint8_t proto[256], key[64];
    size_t proto_len, key_len;
    OK(fake_kms_peek(T.kms, KEY1, r->wrapped, r->wrapped_len, proto, sizeof proto, &proto_len));
    OK(vl_tink_key_decode(alg, proto, proto_len, key, sizeof key, &key_len));
    cr_assert_eq(key_len, alg == VL_AES128_GCM ? 16u : alg == VL_AES256_GCM ? 32u : 64u);
    cr_assert_eq(r->deleted, 0);
    cr_assert_eq(r->ts_ms, atomic_load(&T.clock.ms));
}

Test(keyring_life, every_alg_versioned, .init = setup_versioned, .fini = teardown)
{
    for (size_t i = 0; i < 3; i++)
        lifecycle(ALGS[i], 1);
    vl_keyring_stats st;
    vl_keyring_stats_get(T.kr, &st);
    cr_assert_eq(st.kms_wraps, 3);   /* one DEK per algorithm */
    cr_assert_eq(st.kms_unwraps, 0); /* created here, so already cached */
    cr_assert_gt(st.cache_hits, 0);
}

Test(keyring_life, every_alg_plain, .init = setup_plain, .fini = teardown)
{
    for (size_t i = 0; i < 3; i++)
        lifecycle(ALGS[i], 0);
}

Test(keyring_life, other_keyring_unwraps_once, .init = setup_versioned, .fini = teardown)
{
    struct field f[3];
    char pt[64];
    for (int i = 0; i < 3; i++)
        OK(enc(SUBJ, ALGS[i], "shared store", &f[i]));
    vl_keyring *kr2 = keyring_on(T.store, &T.o);
    unsigned long before = unwraps();
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 3; i++) {
            OK(dec_on(kr2, SUBJ, ALGS[i], &f[i], pt, sizeof pt));
            cr_assert_str_eq(pt, "shared store");
        }
    cr_assert_eq(unwraps() - before, 3);
    vl_keyring_free(kr2);
}

Test(keyring_life, overhead_and_args, .init = setup_versioned, .fini = teardown)
{
    cr_assert_eq(vl_field_overhead(VL_AES128_GCM, 0), 28);
    cr_assert_eq(vl_field_overhead(VL_AES256_GCM, 1), 33);
    cr_assert_eq(vl_field_overhead(VL_AES256_SIV, 0), 16);
    cr_assert_eq(vl_field_overhead(VL_AES256_SIV, 1), 21);
    cr_assert_eq(vl_field_overhead((vl_alg)9, 1), 0);
    uint8_t out[64];
    size_t n = 99;
    memset(out, 0xee, sizeof out);
    RC(VL_ERR_ARG, vl_field_encrypt(T.kr, KEK, SUBJ, VL_AES256_GCM, (const uint8_t *)"x", 1,
                                    out, 33, &n)); /* one byte short */
    cr_assert_eq(n, 0);
    all_zero(out, 33);
    RC(VL_ERR_ARG, vl_field_encrypt(T.kr, NULL, SUBJ, VL_AES256_GCM, out, 1, out + 40, 20, &n));
    RC(VL_ERR_ARG, vl_field_encrypt(T.kr, KEK, SUBJ, (vl_alg)0, out, 1, out + 40, 20, &n));
    RC(VL_ERR_ARG, vl_field_encrypt(NULL, KEK, SUBJ, VL_AES256_GCM, out, 1, out + 40, 20, &n));
    char longname[VL_NAME_MAX + 8];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    struct field f;
    RC(VL_ERR_ARG, enc(longname, VL_AES256_GCM, "x", &f));
    /* Plaintext overlapping the prefix/nonce area: refused. In place:
     * fine. */
    uint8_t buf[128];
    memset(buf, 'p', sizeof buf);
    RC(VL_ERR_ARG, vl_field_encrypt(T.kr, KEK, SUBJ, VL_AES256_GCM, buf + 3, 10, buf,
                                    sizeof buf, &n));
    memset(buf + 17, 'q', 10);
    OK(vl_field_encrypt(T.kr, KEK, SUBJ, VL_AES256_GCM, buf + 17, 10, buf, sizeof buf, &n));
    cr_assert_eq(n, 43);
    struct field g;
    memcpy(g.b, buf, n);
    g.n = n;
    round_trip(SUBJ, VL_AES256_GCM, &g, "qqqqqqqqqq");
    /* A KEK whose kms_type has no registered KMS. */
    OK(vl_kek_create(T.kr, "nokms", "no-such-kms", "k", 0, NULL));
    RC(VL_ERR_UNSUPPORTED, vl_field_encrypt(T.kr, "nokms", SUBJ, VL_AES256_GCM,
                                            (const uint8_t *)"x", 1, f.b, sizeof f.b, &f.n));
}

Test(keyring_life, config_rules)
{
    vl_store *s;
    vl_keyring *kr = (vl_keyring *)1;
    OK(vl_store_mem_new(&s));
    vl_keyring_config cfg = {.store = s, .dek_expiry_s = 1, .versioned = 0};
    RC(VL_ERR_ARG, vl_keyring_new(&kr, &cfg)); /* expiry needs the version prefix */
    cr_assert_null(kr);
    cfg = (vl_keyring_config){.store = s, .reserve_min = 10, .reserve_max = 5};
    RC(VL_ERR_ARG, vl_keyring_new(&kr, &cfg));
    cfg = (vl_keyring_config){.store = NULL};
    RC(VL_ERR_ARG, vl_keyring_new(&kr, &cfg));
    RC(VL_ERR_ARG, vl_keyring_new(&kr, NULL));
    cfg = (vl_keyring_config){.store = s};
    OK(vl_keyring_new(&kr, &cfg));
    RC(VL_ERR_ARG, vl_keyring_register_kms(kr, "", NULL));
    vl_keyring_free(kr);
    vl_keyring_free(NULL);
    vl_store_close(s);
}

/* Confluent's cross-client fixtures (csfle-spec.md §5), through the
 * local KMS with secret "mysecret": stored records and fields written by
 * Confluent's clients decrypt, and SIV re-encrypts to the same bytes. */
static void import_dek(vl_keyring *kr, vl_store *s, vl_alg alg, const char *b64, int32_t v)
{
    vl_dek_record r;
    memset(&r, 0, sizeof r);
    strcpy(r.kek_name, KEK);
    strcpy(r.subject, SUBJ);
    r.alg = alg;
    r.version = v;
    r.ts_ms = INT64_C(11112223334);
    OK(vl_base64_decode(r.wrapped, sizeof r.wrapped, &r.wrapped_len, b64, strlen(b64)));
    OK(s->ops->put_dek(s, &r, 1));
    (void)kr;
}

static void field_from_b64(struct field *f, const char *b64)
{
    OK(vl_base64_decode(f->b, sizeof f->b, &f->n, b64, strlen(b64)));
}

static vl_keyring *local_keyring(vl_store **s, vl_kms **kms, int versioned)
{
    vl_keyring *kr;
    OK(vl_store_mem_new(s));
    OK(vl_kms_local_new(kms, "mysecret", 8));
    vl_keyring_config cfg = {.store = *s, .versioned = versioned, .dek_expiry_s = versioned};
    OK(vl_keyring_new(&kr, &cfg));
    OK(vl_keyring_register_kms(kr, "local-kms", *kms));
    OK(vl_kek_create(kr, KEK, "local-kms", "mykey", 0, NULL));
    return kr;
}

Test(keyring_life, confluent_fixtures)
{
    vl_store *s;
    vl_kms *kms;
    vl_keyring *kr = local_keyring(&s, &kms, 0);
    import_dek(kr, s, VL_AES256_GCM,
               "07V2ndh02DA73p+dTybwZFm7DKQSZN1tEwQh+FoX1DZLk4Yj2LLu4omYjp/84tAg3BYlkfGSz+zZacJ"
               "HIE4=",
               1);
    import_dek(kr, s, VL_AES256_SIV,
               "YSx3DTlAHrmpoDChquJMifmPntBzxgRVdMzgYL82rgWBKn7aUSnG+WIu9ozBNS3y2vXd++mBtK07w4/"
               "W/G6w0da39X9hfOVZsGnkSvry/QRht84V8yz3dqKxGMOK5A==",
               1);
    struct field gcm, siv, mine;
    char pt[64];
    field_from_b64(&gcm, "zgy/jFNMV/eFilaHrMyeBgdaVzrR0udGeotW8cA/Jal7ukr+M/yz");
    field_from_b64(&siv, "D6YtxrlBnkTWW9N6Vbk3IInjWH81xmYh3k4d");
    OK(dec_on(kr, SUBJ, VL_AES256_GCM, &gcm, pt, sizeof pt));
    cr_assert_str_eq(pt, "hello world");
    OK(dec_on(kr, SUBJ, VL_AES256_SIV, &siv, pt, sizeof pt));
    cr_assert_str_eq(pt, "hello world");
    OK(enc_on(kr, SUBJ, VL_AES256_SIV, "hello world", 11, &mine));
    cr_assert_eq(mine.n, siv.n);
    cr_assert_arr_eq(mine.b, siv.b, siv.n);
    vl_keyring_free(kr);
    vl_store_close(s);
    vl_kms_close(kms);
}

Test(keyring_life, confluent_rotation_fixture)
{
    vl_store *s;
    vl_kms *kms;
    vl_keyring *kr = local_keyring(&s, &kms, 1);
    import_dek(kr, s, VL_AES256_GCM,
               "W/v6hOQYq1idVAcs1pPWz9UUONMVZW4IrglTnG88TsWjeCjxmtRQ4VaNe/I5dCfm2zyY9Cu0nqdvqIm"
               "tUk4=",
               1);
    struct field f, g;
    char pt[64];
    field_from_b64(&f, "AAAAAAG4HI6b1nXPXqLyG8cII35NHQseqqUCd+IeLeFVAeNpSS3fxPnJ32A=");
    OK(dec_on(kr, SUBJ, VL_AES256_GCM, &f, pt, sizeof pt));
    cr_assert_str_eq(pt, "hello world");
    /* Its ts is 1970-ish and expiry is one day: the next encrypt rotates. */
    OK(enc_on(kr, SUBJ, VL_AES256_GCM, "hello world", 11, &g));
    cr_assert_eq(version_of(&g), 2);
    OK(dec_on(kr, SUBJ, VL_AES256_GCM, &f, pt, sizeof pt));
    vl_keyring_free(kr);
    vl_store_close(s);
    vl_kms_close(kms);
}

/* ======================================================================== */
/* keyring_kek                                                               */

Test(keyring_kek, registry_rules, .init = setup_versioned, .fini = teardown)
{
    vl_kek_record r;
    OK(vl_kek_get(T.kr, KEK, &r));
    cr_assert_str_eq(r.kms_type, "fake-kms");
    cr_assert_str_eq(r.kms_key_id, KEY1);
    cr_assert_str_eq(r.doc, "test KEK");
    cr_assert_eq(r.shared, 0);
    RC(VL_ERR_NOT_FOUND, vl_kek_get(T.kr, "nope", &r));
    RC(VL_ERR_EXISTS, vl_kek_create(T.kr, KEK, "fake-kms", "other", 0, NULL));
    /* Same key id: refused unless both KEKs are shared. */
    RC(VL_ERR_EXISTS, vl_kek_create(T.kr, "k2", "fake-kms", KEY1, 0, NULL));
    RC(VL_ERR_EXISTS, vl_kek_create(T.kr, "k2", "fake-kms", KEY1, 1, NULL));
    OK(vl_kek_create(T.kr, "k2", "other-kms", KEY1, 0, NULL)); /* another KMS type */
    OK(vl_kek_create(T.kr, "s1", "fake-kms", "shared-key", 1, NULL));
    OK(vl_kek_create(T.kr, "s2", "fake-kms", "shared-key", 1, NULL));
    RC(VL_ERR_EXISTS, vl_kek_create(T.kr, "s3", "fake-kms", "shared-key", 0, NULL));
    /* A soft-deleted KEK frees its key id; undelete re-checks the rule. */
    OK(vl_kek_delete(T.kr, KEK, 0));
    OK(vl_kek_create(T.kr, "k3", "fake-kms", KEY1, 0, NULL));
    RC(VL_ERR_EXISTS, vl_kek_undelete(T.kr, KEK));
    RC(VL_ERR_EXISTS, vl_kek_create(T.kr, KEK, "fake-kms", KEY1, 0, NULL));
    OK(vl_kek_delete(T.kr, "k3", 0));
    /* Re-creating the soft-deleted KEK with the same content undeletes it. */
    OK(vl_kek_create(T.kr, KEK, "fake-kms", KEY1, 0, NULL));
    OK(vl_kek_get(T.kr, KEK, &r));
    cr_assert_eq(r.deleted, 0);
    RC(VL_ERR_ARG, vl_kek_create(T.kr, "", "fake-kms", "x", 0, NULL));
    RC(VL_ERR_ARG, vl_kek_create(T.kr, "x", "fake-kms", "", 0, NULL));
    RC(VL_ERR_ARG, vl_kek_create(T.kr, "x", NULL, "y", 0, NULL));
}

Test(keyring_kek, probe, .init = setup_versioned, .fini = teardown)
{
    OK(vl_kek_probe(T.kr, KEK));
    fake_kms_set_state(T.kms, KEY1, FAKE_KEY_DISABLED);
    RC(VL_ERR_KEY_DISABLED, vl_kek_probe(T.kr, KEK));
    RC(VL_ERR_NOT_FOUND, vl_kek_probe(T.kr, "missing"));
    OK(vl_kek_create(T.kr, "ghost", "fake-kms", "no-such-key", 0, NULL));
    RC(VL_ERR_NOT_FOUND, vl_kek_probe(T.kr, "ghost"));
}

/* ======================================================================== */
/* keyring_rotate                                                            */

static void setup_small_limits(void)
{
    struct opts o = {.versioned = 1, .reserve_min = 4, .reserve_max = 8};
    o.limits.max_seals = 15;
    o.limits.rotate_at_seals = 10;
    open_with(&o);
}

Test(keyring_rotate, by_count, .init = setup_small_limits, .fini = teardown)
{
    static struct field f[35];
    int per_version[8] = {0};
    for (int i = 0; i < 35; i++) {
        char pt[16];
        snprintf(pt, sizeof pt, "m%d", i);
        OK(enc(SUBJ, VL_AES256_GCM, pt, &f[i]));
        per_version[version_of(&f[i])]++;
    }
    cr_assert_eq(per_version[1], 10);
    cr_assert_eq(per_version[2], 10);
    cr_assert_eq(per_version[3], 10);
    cr_assert_eq(per_version[4], 5);
    cr_assert_eq(latest_version(SUBJ, VL_AES256_GCM), 4);
    for (int v = 1; v <= 3; v++)
        cr_assert_eq(dek_rec(SUBJ, VL_AES256_GCM, v)->reserved_seals, 10);
    vl_keyring_stats st;
    vl_keyring_stats_get(T.kr, &st);
    cr_assert_eq(st.rotations, 3);
    for (int i = 0; i < 35; i++) {
        char pt[16];
        snprintf(pt, sizeof pt, "m%d", i);
        round_trip(SUBJ, VL_AES256_GCM, &f[i], pt); /* old versions still decrypt */
    }
}

Test(keyring_rotate, plain_runs_to_hard_limit, .init = setup_small_limits, .fini = teardown)
{
    /* Without the version prefix there is only version 1: no rotation,
     * the version goes past the soft limit to the hard one, then stops. */
    vl_keyring_free(T.kr);
    T.o.versioned = 0;
    T.kr = keyring_on(T.store, &T.o);
    struct field f;
    for (int i = 0; i < 15; i++)
        OK(enc(SUBJ, VL_AES128_GCM, "x", &f));
    RC(VL_ERR_LIMIT, enc(SUBJ, VL_AES128_GCM, "x", &f));
    cr_assert_eq(f.n, 0);
    cr_assert_eq(latest_version(SUBJ, VL_AES128_GCM), 1);
    cr_assert_eq(dek_rec(SUBJ, VL_AES128_GCM, 1)->reserved_seals, 15);
    RC(VL_ERR_UNSUPPORTED, vl_dek_rotate(T.kr, KEK, SUBJ, VL_AES128_GCM, NULL));
}

static void setup_expiry(void)
{
    /* A TTL past the expiry, so the expired version is still cached. */
    struct opts o = {.versioned = 1, .expiry_s = 86400, .ttl_ms = 2 * 86400 * 1000};
    open_with(&o);
}

Test(keyring_rotate, by_age, .init = setup_expiry, .fini = teardown)
{
    struct field a, b, c;
    OK(enc(SUBJ, VL_AES256_SIV, "old", &a));
    cr_assert_eq(version_of(&a), 1);
    fake_clock_advance(&T.clock, 86400 * 1000 - 1);
    OK(enc(SUBJ, VL_AES256_SIV, "old", &b));
    cr_assert_eq(version_of(&b), 1);
    fake_clock_advance(&T.clock, 1);
    OK(enc(SUBJ, VL_AES256_SIV, "new", &c));
    cr_assert_eq(version_of(&c), 2);
    OK(enc(SUBJ, VL_AES256_SIV, "new", &c));
    cr_assert_eq(version_of(&c), 2);
    round_trip(SUBJ, VL_AES256_SIV, &a, "old");
    round_trip(SUBJ, VL_AES256_SIV, &c, "new");
    /* Another process with a cold cache rotates the same way (once). */
    fake_clock_advance(&T.clock, 86400 * 1000);
    vl_keyring *kr2 = keyring_on(T.store, &T.o);
    OK(enc_on(kr2, SUBJ, VL_AES256_SIV, "x", 1, &c));
    cr_assert_eq(version_of(&c), 3);
    OK(enc(SUBJ, VL_AES256_SIV, "y", &c)); /* this one finds v3 made */
    cr_assert_eq(version_of(&c), 3);
    vl_keyring_free(kr2);
}

Test(keyring_rotate, explicit, .init = setup_versioned, .fini = teardown)
{
    struct field f;
    int32_t v = 0;
    OK(vl_dek_rotate(T.kr, KEK, SUBJ, VL_AES256_GCM, &v));
    cr_assert_eq(v, 1);
    OK(enc(SUBJ, VL_AES256_GCM, "a", &f));
    cr_assert_eq(version_of(&f), 1);
    OK(vl_dek_rotate(T.kr, KEK, SUBJ, VL_AES256_GCM, &v));
    cr_assert_eq(v, 2);
    OK(enc(SUBJ, VL_AES256_GCM, "b", &f));
    cr_assert_eq(version_of(&f), 2);
    vl_dek_record r;
    vl_dek_id id = dek_id(SUBJ, VL_AES256_GCM, -1);
    OK(vl_dek_get(T.kr, &id, &r));
    cr_assert_eq(r.version, 2);
    RC(VL_ERR_NOT_FOUND, vl_dek_rotate(T.kr, "nokek", SUBJ, VL_AES256_GCM, &v));
    cr_assert_eq(v, 0);
}

/* Four threads across several rotation boundaries: exactly one new
 * version per boundary, and no version sealed past its limit. */
#define THREADS 4
#define PER_THREAD 1500

struct worker {
    pthread_t t;
    struct field *out;
    int failures;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        char pt[8];
        memcpy(pt, "payload", 8);
        if (enc(SUBJ, VL_AES256_GCM, pt, &w->out[i]) != VL_OK)
            w->failures++;
    }
    return NULL;
}

static void setup_threads(void)
{
    struct opts o = {.versioned = 1, .reserve_min = 8, .reserve_max = 256};
    o.limits.max_seals = 1200;
    o.limits.rotate_at_seals = 1000;
    open_with(&o);
}

Test(keyring_rotate, threads_across_boundaries, .init = setup_threads, .fini = teardown)
{
    static struct worker w[THREADS];
    int per_version[16] = {0};
    for (int i = 0; i < THREADS; i++) {
        w[i].out = calloc(PER_THREAD, sizeof *w[i].out);
        cr_assert_not_null(w[i].out);
        cr_assert_eq(pthread_create(&w[i].t, NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(w[i].t, NULL);
    for (int i = 0; i < THREADS; i++) {
        cr_assert_eq(w[i].failures, 0);
        for (int j = 0; j < PER_THREAD; j++) {
            int32_t v = version_of(&w[i].out[j]);
            cr_assert(v >= 1 && v < 16);
            per_version[v]++;
            if (j % 97 == 0)
                round_trip(SUBJ, VL_AES256_GCM, &w[i].out[j], "payload");
        }
        free(w[i].out);
    }
    /* 6000 seals at 1000 per version: exactly versions 1..6, each full. */
    cr_assert_eq(latest_version(SUBJ, VL_AES256_GCM), 6);
    for (int v = 1; v <= 6; v++) {
        cr_assert_eq(per_version[v], 1000, "version %d sealed %d", v, per_version[v]);
        cr_assert_leq(dek_rec(SUBJ, VL_AES256_GCM, v)->reserved_seals, 1000);
    }
    vl_keyring_stats st;
    vl_keyring_stats_get(T.kr, &st);
    cr_assert_eq(st.rotations, 5);
}

/* Two keyrings on one store (two processes sharing a registry), two
 * threads each, across rotation boundaries: the store's reservations keep
 * every version within its limit in total, and no rotation is done twice
 * (no version is left without a single seal). */
struct proc_worker {
    pthread_t t;
    vl_keyring *kr;
    struct field *out;
    int failures;
};

static void *proc_work(void *arg)
{
    struct proc_worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++)
        if (enc_on(w->kr, SUBJ, VL_AES128_GCM, "p", 1, &w->out[i]) != VL_OK)
            w->failures++;
    return NULL;
}

Test(keyring_rotate, two_keyrings_one_store, .init = setup_threads, .fini = teardown)
{
    static struct proc_worker w[4];
    vl_keyring *other = keyring_on(T.store, &T.o);
    int per_version[32] = {0};
    for (int i = 0; i < 4; i++) {
        w[i].kr = i < 2 ? T.kr : other;
        w[i].out = calloc(PER_THREAD, sizeof *w[i].out);
        cr_assert_not_null(w[i].out);
        cr_assert_eq(pthread_create(&w[i].t, NULL, proc_work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(w[i].t, NULL);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(w[i].failures, 0);
        for (int j = 0; j < PER_THREAD; j++) {
            int32_t v = version_of(&w[i].out[j]);
            cr_assert(v >= 1 && v < 32);
            per_version[v]++;
        }
        free(w[i].out);
    }
    int32_t latest = latest_version(SUBJ, VL_AES128_GCM);
    for (int v = 1; v <= latest; v++) {
        cr_assert_leq(per_version[v], 1000, "version %d sealed %d", v, per_version[v]);
        cr_assert_gt(per_version[v], 0, "version %d made twice over", v);
        cr_assert_leq(dek_rec(SUBJ, VL_AES128_GCM, v)->reserved_seals, 1000);
    }
    cr_assert_geq(latest, 6);
    vl_keyring_free(other);
}

Test(keyring_rotate, durable_budget_across_restart, .init = setup_small_limits,
     .fini = teardown)
{
    /* Each restart loses what it reserved but did not use; the next
     * process starts above it, so a version never exceeds its limit. */
    int per_version[16] = {0};
    for (int p = 0; p < 5; p++) {
        struct field f;
        for (int i = 0; i < 3; i++) {
            OK(enc(SUBJ, VL_AES256_GCM, "r", &f));
            per_version[version_of(&f)]++;
        }
        restart();
    }
    /* 4 reserved per process start, 3 used: v1 gets 3 + 3 + 2 seals
     * ([0,4) [4,8) [8,10)), the third process rotates to v2 for its last
     * seal, v2 gets 1 + 3 + 2 the same way, the fifth process makes v3. */
    cr_assert_eq(dek_rec(SUBJ, VL_AES256_GCM, 1)->reserved_seals, 10);
    cr_assert_eq(dek_rec(SUBJ, VL_AES256_GCM, 2)->reserved_seals, 10);
    cr_assert_eq(per_version[1], 8);
    cr_assert_eq(per_version[2], 6);
    cr_assert_eq(per_version[3], 1);
    cr_assert_eq(latest_version(SUBJ, VL_AES256_GCM), 3);
}

/* A thread that stops sealing keeps the seals its DEK key granted it in
 * advance (core/usage.c); the key then refuses seals while vl_aead_usage
 * is still under max_seals. The keyring must reserve the next chunk anyway
 * (it asks what the limit check sees), not spin on "another thread
 * refilled it": the idle thread's grant must not stall the others. */
struct idle_holder {
    pthread_t t;
    atomic_int phase; /* 1: sealed and holding; 2: may seal again */
    int failures;
};

static void *hold_grant(void *arg)
{
    struct idle_holder *h = arg;
    struct field f;
    for (int i = 0; i < 300; i++)
        h->failures += enc(SUBJ, VL_AES256_GCM, "held", &f) != VL_OK;
    atomic_store(&h->phase, 1);
    while (atomic_load(&h->phase) != 2)
        sched_yield();
    for (int i = 0; i < 100; i++)
        h->failures += enc(SUBJ, VL_AES256_GCM, "held", &f) != VL_OK;
    return NULL;
}

static void setup_chunks_1024(void)
{
    struct opts o = {.versioned = 0, .reserve_min = 1024, .reserve_max = 1024};
    open_with(&o);
}

Test(keyring_rotate, idle_thread_grant_does_not_stall, .init = setup_chunks_1024,
     .fini = teardown)
{
    static struct idle_holder h;
    struct field f;
    h.failures = 0;
    atomic_store(&h.phase, 0);
    cr_assert_eq(pthread_create(&h.t, NULL, hold_grant, &h), 0);
    while (atomic_load(&h.phase) != 1)
        sched_yield();
    for (int i = 0; i < 5000; i++)
        cr_assert_eq(enc(SUBJ, VL_AES256_GCM, "main", &f), VL_OK, "field %d", i);
    round_trip(SUBJ, VL_AES256_GCM, &f, "main");
    atomic_store(&h.phase, 2);
    pthread_join(h.t, NULL);
    cr_assert_eq(h.failures, 0);
    vl_keyring_stats st;
    vl_keyring_stats_get(T.kr, &st);
    cr_assert_geq(st.reservations, 6, "%lu reservations", (unsigned long)st.reservations);
}

Test(keyring_rotate, chunks_adapt, .init = setup_versioned, .fini = teardown)
{
    /* reserve 64..65536: 5000 seals in no (fake) time take far fewer
     * than 5000 / 64 reservations, because each chunk doubles. */
    struct field f;
    for (int i = 0; i < 5000; i++)
        OK(enc(SUBJ, VL_AES128_GCM, "c", &f));
    vl_keyring_stats st;
    vl_keyring_stats_get(T.kr, &st);
    cr_assert_leq(st.reservations, 8, "%lu reservations", (unsigned long)st.reservations);
    cr_assert_geq(st.seals_reserved, 5000);
    cr_assert_geq(st.cache_hits, 4990);
}

/* ======================================================================== */
/* keyring_delete                                                            */

Test(keyring_delete, dek_soft_then_hard, .init = setup_versioned, .fini = teardown)
{
    struct field a, b, c;
    vl_dek_id v1 = dek_id(SUBJ, VL_AES256_GCM, 1);
    OK(enc(SUBJ, VL_AES256_GCM, "under v1", &a));
    RC(VL_ERR_BUSY, vl_dek_delete(T.kr, &v1, 1)); /* hard needs soft first */
    OK(vl_dek_delete(T.kr, &v1, 0));
    cr_assert_eq(dek_rec(SUBJ, VL_AES256_GCM, 1)->deleted, 1);
    round_trip(SUBJ, VL_AES256_GCM, &a, "under v1"); /* decrypt works */
    OK(enc(SUBJ, VL_AES256_GCM, "under v2", &b));     /* encrypt moves on */
    cr_assert_eq(version_of(&b), 2);
    OK(vl_dek_delete(T.kr, &v1, 1));
    vl_dek_record *r = dek_rec(SUBJ, VL_AES256_GCM, 1);
    cr_assert_eq(r->wrapped_len, 0); /* material erased from the store */
    all_zero(r->wrapped, sizeof r->wrapped);
    RC(VL_ERR_KEY_DESTROYED, dec(SUBJ, VL_AES256_GCM, &a, (char[64]){0}, 64));
    round_trip(SUBJ, VL_AES256_GCM, &b, "under v2");
    OK(enc(SUBJ, VL_AES256_GCM, "still v2", &c));
    cr_assert_eq(version_of(&c), 2);
    vl_dek_record got;
    RC(VL_ERR_KEY_DESTROYED, vl_dek_get(T.kr, &v1, &got));
    RC(VL_ERR_KEY_DESTROYED, vl_dek_undelete(T.kr, &v1));
    OK(vl_dek_delete(T.kr, &v1, 1)); /* again: nothing left to do */
    /* Another process that never cached v1 refuses it too. */
    vl_keyring *kr2 = keyring_on(T.store, &T.o);
    char pt[64];
    RC(VL_ERR_KEY_DESTROYED, dec_on(kr2, SUBJ, VL_AES256_GCM, &a, pt, sizeof pt));
    OK(dec_on(kr2, SUBJ, VL_AES256_GCM, &c, pt, sizeof pt));
    vl_keyring_free(kr2);
}

Test(keyring_delete, all_versions_destroyed, .init = setup_versioned, .fini = teardown)
{
    struct field a, b;
    vl_dek_id all = dek_id(SUBJ, VL_AES256_SIV, -1);
    OK(enc(SUBJ, VL_AES256_SIV, "a", &a));
    OK(vl_dek_rotate(T.kr, KEK, SUBJ, VL_AES256_SIV, NULL));
    OK(enc(SUBJ, VL_AES256_SIV, "b", &b));
    cr_assert_eq(version_of(&b), 2);
    OK(vl_dek_delete(T.kr, &all, 0));
    round_trip(SUBJ, VL_AES256_SIV, &a, "a");
    round_trip(SUBJ, VL_AES256_SIV, &b, "b");
    OK(vl_dek_delete(T.kr, &all, 1));
    RC(VL_ERR_KEY_DESTROYED, dec(SUBJ, VL_AES256_SIV, &a, (char[64]){0}, 64));
    RC(VL_ERR_KEY_DESTROYED, dec(SUBJ, VL_AES256_SIV, &b, (char[64]){0}, 64));
    /* The latest version is destroyed: encrypt refuses until a new
     * version is started explicitly; numbers are never reused. */
    RC(VL_ERR_KEY_DESTROYED, enc(SUBJ, VL_AES256_SIV, "c", &a));
    cr_assert_eq(a.n, 0);
    int32_t v;
    OK(vl_dek_rotate(T.kr, KEK, SUBJ, VL_AES256_SIV, &v));
    cr_assert_eq(v, 3);
    OK(enc(SUBJ, VL_AES256_SIV, "c", &a));
    cr_assert_eq(version_of(&a), 3);
    vl_dek_id other = dek_id("other", VL_AES256_SIV, -1);
    RC(VL_ERR_NOT_FOUND, vl_dek_delete(T.kr, &other, 0));
}

Test(keyring_delete, dek_undelete, .init = setup_versioned, .fini = teardown)
{
    struct field a;
    vl_dek_id v1 = dek_id(SUBJ, VL_AES128_GCM, 1);
    OK(enc(SUBJ, VL_AES128_GCM, "a", &a));
    OK(vl_dek_delete(T.kr, &v1, 0));
    OK(vl_dek_undelete(T.kr, &v1));
    cr_assert_eq(dek_rec(SUBJ, VL_AES128_GCM, 1)->deleted, 0);
    OK(enc(SUBJ, VL_AES128_GCM, "b", &a));
    cr_assert_eq(version_of(&a), 1); /* undeleted before any encrypt moved on */
    OK(vl_dek_undelete(T.kr, &v1));  /* not deleted: nothing to do */
}

Test(keyring_delete, plain_soft_deleted_dek_refuses, .init = setup_plain, .fini = teardown)
{
    struct field a;
    vl_dek_id v1 = dek_id(SUBJ, VL_AES256_GCM, 1);
    OK(enc(SUBJ, VL_AES256_GCM, "a", &a));
    OK(vl_dek_delete(T.kr, &v1, 0));
    /* Without versions there is no successor to move to. */
    RC(VL_ERR_KEY_DISABLED, enc(SUBJ, VL_AES256_GCM, "b", &a));
    OK(vl_dek_undelete(T.kr, &v1));
    OK(enc(SUBJ, VL_AES256_GCM, "b", &a));
}

Test(keyring_delete, kek_soft_with_live_deks_refused, .init = setup_versioned, .fini = teardown)
{
    struct field a;
    OK(enc(SUBJ, VL_AES256_GCM, "a", &a));
    RC(VL_ERR_BUSY, vl_kek_delete(T.kr, KEK, 0));
    RC(VL_ERR_BUSY, vl_kek_delete(T.kr, KEK, 1)); /* hard needs soft first */
    vl_kek_record r;
    OK(vl_kek_get(T.kr, KEK, &r));
    cr_assert_eq(r.deleted, 0);
    OK(enc(SUBJ, VL_AES256_GCM, "b", &a));
}

Test(keyring_delete, kek_soft_then_undelete, .init = setup_versioned, .fini = teardown)
{
    struct field a, b;
    vl_dek_id all = dek_id(SUBJ, VL_AES256_GCM, -1);
    OK(enc(SUBJ, VL_AES256_GCM, "a", &a));
    OK(vl_dek_delete(T.kr, &all, 0));
    OK(vl_kek_delete(T.kr, KEK, 0));
    round_trip(SUBJ, VL_AES256_GCM, &a, "a");
    RC(VL_ERR_KEY_DISABLED, enc(SUBJ, VL_AES256_GCM, "b", &b));
    RC(VL_ERR_KEY_DISABLED, enc("fresh-subject", VL_AES256_GCM, "b", &b));
    RC(VL_ERR_KEY_DISABLED, vl_dek_undelete(T.kr, &all)); /* KEK still deleted */
    RC(VL_ERR_KEY_DISABLED, vl_dek_rotate(T.kr, KEK, SUBJ, VL_AES256_GCM, NULL));
    OK(vl_kek_delete(T.kr, KEK, 0)); /* twice: fine */
    OK(vl_kek_undelete(T.kr, KEK));
    OK(enc(SUBJ, VL_AES256_GCM, "b", &b));
    cr_assert_eq(version_of(&b), 2); /* v1 is still soft-deleted */
    round_trip(SUBJ, VL_AES256_GCM, &a, "a");
}

Test(keyring_delete, kek_hard, .init = setup_versioned, .fini = teardown)
{
    struct field a, b;
    vl_dek_id all = dek_id(SUBJ, VL_AES256_GCM, -1);
    OK(enc(SUBJ, VL_AES256_GCM, "a", &a));
    OK(vl_dek_delete(T.kr, &all, 0));
    OK(vl_kek_delete(T.kr, KEK, 0));
    RC(VL_ERR_BUSY, vl_kek_delete(T.kr, KEK, 1)); /* a DEK still holds material */
    OK(vl_dek_delete(T.kr, &all, 1));
    OK(vl_kek_delete(T.kr, KEK, 1));
    vl_kek_record r;
    RC(VL_ERR_NOT_FOUND, vl_kek_get(T.kr, KEK, &r));
    RC(VL_ERR_KEY_DESTROYED, dec(SUBJ, VL_AES256_GCM, &a, (char[64]){0}, 64));
    RC(VL_ERR_KEY_DESTROYED, enc(SUBJ, VL_AES256_GCM, "b", &b));
    RC(VL_ERR_NOT_FOUND, enc("never-used", VL_AES256_GCM, "b", &b));
    RC(VL_ERR_NOT_FOUND, vl_kek_delete(T.kr, KEK, 1));
    RC(VL_ERR_NOT_FOUND, vl_kek_undelete(T.kr, KEK));
}

/* The model of the registry rules for every_order: the expected result
 * of one operation, updating the state. */
struct del_model {
    int dek_del, dek_gone, kek_del, kek_gone;
};

enum { DEK_SOFT, DEK_HARD, DEK_UNDEL, KEK_SOFT, KEK_HARD, KEK_UNDEL, OPS };

static int model_step(struct del_model *m, int op)
{
    int want = VL_OK;
    switch (op) {
    case DEK_SOFT:
        m->dek_del = 1;
        break;
    case DEK_HARD:
        want = m->dek_del ? VL_OK : VL_ERR_BUSY;
        m->dek_gone |= m->dek_del;
        break;
    case DEK_UNDEL:
        want = m->kek_gone ? VL_ERR_NOT_FOUND
               : m->kek_del ? VL_ERR_KEY_DISABLED
               : m->dek_gone ? VL_ERR_KEY_DESTROYED
                             : VL_OK;
        m->dek_del &= want != VL_OK;
        break;
    case KEK_SOFT:
        want = m->kek_gone ? VL_ERR_NOT_FOUND
               : (!m->dek_del && !m->kek_del) ? VL_ERR_BUSY
                                              : VL_OK;
        m->kek_del |= want == VL_OK;
        break;
    case KEK_HARD:
        want = m->kek_gone ? VL_ERR_NOT_FOUND
               : (!m->kek_del || !m->dek_gone) ? VL_ERR_BUSY
                                               : VL_OK;
        m->kek_gone |= want == VL_OK;
        break;
    default:
        want = m->kek_gone ? VL_ERR_NOT_FOUND : VL_OK;
        m->kek_del &= want != VL_OK;
        break;
    }
    return want;
}

static int run_op(vl_keyring *kr, const char *kek, const vl_dek_id *id, int op)
{
    switch (op) {
    case DEK_SOFT: return vl_dek_delete(kr, id, 0);
    case DEK_HARD: return vl_dek_delete(kr, id, 1);
    case DEK_UNDEL: return vl_dek_undelete(kr, id);
    case KEK_SOFT: return vl_kek_delete(kr, kek, 0);
    case KEK_HARD: return vl_kek_delete(kr, kek, 1);
    default: return vl_kek_undelete(kr, kek);
    }
}

static int model_decrypt(const struct del_model *m)
{
    return m->dek_gone ? VL_ERR_KEY_DESTROYED : VL_OK;
}

/* Without versioning a deleted DEK has no successor, so encrypt's answer
 * depends only on the state (and changes nothing). */
static int model_encrypt(const struct del_model *m)
{
    if (m->kek_gone)
        return m->dek_gone ? VL_ERR_KEY_DESTROYED : VL_ERR_NOT_FOUND;
    if (m->kek_del)
        return VL_ERR_KEY_DISABLED;
    if (m->dek_gone)
        return VL_ERR_KEY_DESTROYED;
    return m->dek_del ? VL_ERR_KEY_DISABLED : VL_OK;
}

/* Every sequence of three of the six delete/undelete operations, each
 * from a fresh KEK with one DEK: results, decrypt and encrypt after each
 * step as the model says. */
Test(keyring_delete, every_order, .init = setup_plain, .fini = teardown)
{
    for (int seq = 0; seq < OPS * OPS * OPS; seq++) {
        char kek[32], subj[32], key[32], pt[8];
        snprintf(kek, sizeof kek, "k%d", seq);
        snprintf(subj, sizeof subj, "s%d", seq);
        snprintf(key, sizeof key, "order-key-%d", seq);
        fake_kms_add_key(T.kms, key);
        OK(vl_kek_create(T.kr, kek, "fake-kms", key, 0, NULL));
        struct field f, g;
        OK(vl_field_encrypt(T.kr, kek, subj, VL_AES256_GCM, (const uint8_t *)"d", 1, f.b,
                            sizeof f.b, &f.n));
        vl_dek_id id = {kek, subj, VL_AES256_GCM, 1};
        struct del_model m = {0, 0, 0, 0};
        for (int k = 0, s = seq; k < 3; k++, s /= OPS) {
            int op = s % OPS, want = model_step(&m, op);
            int rc = run_op(T.kr, kek, &id, op);
            cr_assert_eq(rc, want, "seq %d step %d op %d: got %s want %s", seq, k, op,
                         vl_strerror(rc), vl_strerror(want));
            size_t n;
            rc = vl_field_decrypt(T.kr, kek, subj, VL_AES256_GCM, f.b, f.n, (uint8_t *)pt,
                                  sizeof pt, &n);
            cr_assert_eq(rc, model_decrypt(&m), "seq %d step %d decrypt: %s", seq, k,
                         vl_strerror(rc));
            rc = vl_field_encrypt(T.kr, kek, subj, VL_AES256_GCM, (const uint8_t *)"e", 1, g.b,
                                  sizeof g.b, &g.n);
            cr_assert_eq(rc, model_encrypt(&m), "seq %d step %d encrypt: %s", seq, k,
                         vl_strerror(rc));
        }
    }
}

/* ======================================================================== */
/* keyring_cache                                                             */

static void setup_ttl(void)
{
    struct opts o = {.versioned = 1, .ttl_ms = 1000};
    open_with(&o);
}

Test(keyring_cache, ttl, .init = setup_ttl, .fini = teardown)
{
    struct field a, b;
    OK(enc(SUBJ, VL_AES256_GCM, "a", &a));
    OK(enc("other", VL_AES256_GCM, "b", &b));
    round_trip(SUBJ, VL_AES256_GCM, &a, "a");
    cr_assert_eq(unwraps(), 0);
    fake_clock_advance(&T.clock, 999);
    round_trip(SUBJ, VL_AES256_GCM, &a, "a");
    OK(enc(SUBJ, VL_AES256_GCM, "a", &a));
    cr_assert_eq(unwraps(), 0);
    fake_clock_advance(&T.clock, 1); /* now the TTL is over */
    round_trip(SUBJ, VL_AES256_GCM, &a, "a");
    cr_assert_eq(unwraps(), 1);
    OK(enc(SUBJ, VL_AES256_GCM, "a", &a)); /* the fresh entry serves encrypt too */
    cr_assert_eq(unwraps(), 1);
    cr_assert_eq(version_of(&a), 1);
    fake_clock_advance(&T.clock, 1000);
    OK(enc(SUBJ, VL_AES256_GCM, "a", &a)); /* encrypt after the TTL unwraps again */
    cr_assert_eq(unwraps(), 2);
    cr_assert_eq(version_of(&a), 1);
    /* "other" was never used again: the sweep evicted it. */
    vl_keyring_stats st;
    vl_keyring_stats_get(T.kr, &st);
    cr_assert_geq(st.cache_evictions, 3);
    round_trip("other", VL_AES256_GCM, &b, "b");
    cr_assert_eq(unwraps(), 3);
}

Test(keyring_cache, revoke, .init = setup_versioned, .fini = teardown)
{
    struct field a, b;
    OK(enc(SUBJ, VL_AES256_SIV, "a", &a));
    OK(vl_dek_rotate(T.kr, KEK, SUBJ, VL_AES256_SIV, NULL));
    OK(enc(SUBJ, VL_AES256_SIV, "b", &b));
    vl_dek_id v1 = dek_id(SUBJ, VL_AES256_SIV, 1), all = dek_id(SUBJ, VL_AES256_SIV, -1);
    OK(vl_dek_revoke(T.kr, &v1));
    round_trip(SUBJ, VL_AES256_SIV, &b, "b");
    cr_assert_eq(unwraps(), 0);
    round_trip(SUBJ, VL_AES256_SIV, &a, "a");
    cr_assert_eq(unwraps(), 1);
    round_trip(SUBJ, VL_AES256_SIV, &a, "a");
    cr_assert_eq(unwraps(), 1);
    OK(vl_dek_revoke(T.kr, &all));
    round_trip(SUBJ, VL_AES256_SIV, &a, "a");
    round_trip(SUBJ, VL_AES256_SIV, &b, "b");
    OK(enc(SUBJ, VL_AES256_SIV, "c", &b));
    cr_assert_eq(unwraps(), 3);
    vl_dek_id none = dek_id("never", VL_AES256_SIV, -1);
    OK(vl_dek_revoke(T.kr, &none));
    none.version = 0;
    RC(VL_ERR_ARG, vl_dek_revoke(T.kr, &none));
}

static void kms_says(enum fake_key_state st, int code)
{
    struct field a, b;
    char pt[16];
    OK(enc("A", VL_AES256_GCM, "a", &a));
    OK(enc("B", VL_AES256_GCM, "b", &b));
    vl_dek_id bid = {KEK, "B", VL_AES256_GCM, -1};
    OK(vl_dek_revoke(T.kr, &bid));
    fake_kms_set_state(T.kms, KEY1, st);
    RC(code, dec("B", VL_AES256_GCM, &b, pt, sizeof pt));
    /* The answer evicted every cached DEK of the KEK at once: "A" was
     * cached, now it needs the KMS too. */
    unsigned long before = unwraps();
    RC(code, dec("A", VL_AES256_GCM, &a, pt, sizeof pt));
    RC(code, enc("A", VL_AES256_GCM, "a", &a));
    cr_assert_eq(unwraps(), before + 2);
    fake_kms_set_state(T.kms, KEY1, FAKE_KEY_ENABLED);
    round_trip("B", VL_AES256_GCM, &b, "b");
    OK(enc("A", VL_AES256_GCM, "a", &a));
    round_trip("A", VL_AES256_GCM, &a, "a");
}

Test(keyring_cache, kms_disabled_evicts, .init = setup_versioned, .fini = teardown)
{
    kms_says(FAKE_KEY_DISABLED, VL_ERR_KEY_DISABLED);
}

Test(keyring_cache, kms_destroyed_evicts, .init = setup_versioned, .fini = teardown)
{
    kms_says(FAKE_KEY_DESTROYED, VL_ERR_KEY_DESTROYED);
}

/* ======================================================================== */
/* keyring_kms                                                               */

Test(keyring_kms, backoff_schedule, .init = setup_versioned, .fini = teardown)
{
    struct field f;
    fake_kms_fail(T.kms, VL_ERR_KMS_UNAVAILABLE);
    RC(VL_ERR_KMS_UNAVAILABLE, enc("s1", VL_AES256_GCM, "x", &f));
    cr_assert_eq(f.n, 0);
    cr_assert_eq(wraps(), 1);
    /* Window 100 ms: fail fast, the KMS is not called. */
    RC(VL_ERR_KMS_UNAVAILABLE, enc("s1", VL_AES256_GCM, "x", &f));
    fake_clock_advance(&T.clock, 99);
    RC(VL_ERR_KMS_UNAVAILABLE, enc("s2", VL_AES256_GCM, "x", &f));
    cr_assert_eq(wraps(), 1);
    fake_clock_advance(&T.clock, 1); /* one try, fails: window 200 */
    RC(VL_ERR_KMS_UNAVAILABLE, enc("s1", VL_AES256_GCM, "x", &f));
    cr_assert_eq(wraps(), 2);
    fake_clock_advance(&T.clock, 199);
    RC(VL_ERR_KMS_UNAVAILABLE, enc("s1", VL_AES256_GCM, "x", &f));
    cr_assert_eq(wraps(), 2);
    fake_clock_advance(&T.clock, 1); /* try: window 400 (the maximum) */
    RC(VL_ERR_KMS_UNAVAILABLE, enc("s1", VL_AES256_GCM, "x", &f));
    fake_clock_advance(&T.clock, 400); /* try: window stays 400 */
    RC(VL_ERR_KMS_UNAVAILABLE, enc("s1", VL_AES256_GCM, "x", &f));
    cr_assert_eq(wraps(), 4);
    fake_clock_advance(&T.clock, 399);
    RC(VL_ERR_KMS_UNAVAILABLE, enc("s1", VL_AES256_GCM, "x", &f));
    cr_assert_eq(wraps(), 4);
    /* Access returns: the first call after the window succeeds and
     * processing resumes with no window at all. */
    fake_kms_fail(T.kms, VL_OK);
    fake_clock_advance(&T.clock, 1);
    OK(enc("s1", VL_AES256_GCM, "x", &f));
    OK(enc("s2", VL_AES256_GCM, "x", &f));
    cr_assert_eq(wraps(), 6);
    /* Other failures are answers, not outages: no window. */
    fake_kms_fail_next(T.kms, VL_ERR_KMS_DENIED, 1);
    RC(VL_ERR_KMS_DENIED, enc("s3", VL_AES256_GCM, "x", &f));
    OK(enc("s3", VL_AES256_GCM, "x", &f));
    vl_keyring_stats st;
    vl_keyring_stats_get(T.kr, &st);
    cr_assert_eq(st.kms_wraps, 8);
    cr_assert_eq(st.kms_failures, 5);
}

Test(keyring_kms, cache_serves_while_down, .init = setup_versioned, .fini = teardown)
{
    struct field a, b;
    OK(enc("A", VL_AES128_GCM, "a", &a));
    fake_kms_fail(T.kms, VL_ERR_KMS_UNAVAILABLE);
    unsigned long calls = wraps() + unwraps();
    for (int i = 0; i < 200; i++) {
        OK(enc("A", VL_AES128_GCM, "a", &a));
        round_trip("A", VL_AES128_GCM, &a, "a");
    }
    cr_assert_eq(wraps() + unwraps(), calls);
    RC(VL_ERR_KMS_UNAVAILABLE, enc("B", VL_AES128_GCM, "b", &b));
}

/* Encrypt through repeated outages, with rotations and TTL expiries on
 * the way: every call either returned a field that decrypts later or an
 * error with an empty, zeroed output; none of the KMS's refusals leaks
 * into fields. */
static void setup_churn(void)
{
    struct opts o = {.versioned = 1, .ttl_ms = 700, .reserve_min = 2, .reserve_max = 4};
    o.limits.max_seals = 12;
    o.limits.rotate_at_seals = 8;
    open_with(&o);
}

Test(keyring_kms, suspend_resume_nothing_lost, .init = setup_churn, .fini = teardown)
{
    enum { N = 600 };
    static struct field f[N];
    static int ok[N];
    int oks = 0, errs = 0;
    for (int i = 0; i < N; i++) {
        char subj[32], pt[16];
        snprintf(subj, sizeof subj, "s%d", i % 5);
        snprintf(pt, sizeof pt, "m%d", i);
        if (i % 60 == 0)
            fake_kms_fail(T.kms, (i / 60) % 2 ? VL_ERR_KMS_UNAVAILABLE : VL_OK);
        fake_clock_advance(&T.clock, 23);
        int rc = enc(subj, i % 3 == 0 ? VL_AES256_SIV : VL_AES256_GCM, pt, &f[i]);
        ok[i] = rc == VL_OK;
        if (!ok[i]) {
            cr_assert_eq(rc, VL_ERR_KMS_UNAVAILABLE, "call %d: %s", i, vl_strerror(rc));
            cr_assert_eq(f[i].n, 0);
            all_zero(f[i].b, 64);
        }
        oks += ok[i];
        errs += !ok[i];
    }
    cr_assert_gt(errs, 0);
    cr_assert_gt(oks, N / 3);
    /* Resumed: every field written decrypts, here and in a cold process. */
    fake_kms_fail(T.kms, VL_OK);
    fake_clock_advance(&T.clock, 1000);
    vl_keyring *kr2 = keyring_on(T.store, &T.o);
    for (int i = 0; i < N; i++) {
        if (!ok[i])
            continue;
        char subj[32], pt[16], want[16];
        snprintf(subj, sizeof subj, "s%d", i % 5);
        snprintf(want, sizeof want, "m%d", i);
        vl_alg alg = i % 3 == 0 ? VL_AES256_SIV : VL_AES256_GCM;
        OK(dec(subj, alg, &f[i], pt, sizeof pt));
        cr_assert_str_eq(pt, want);
        OK(dec_on(kr2, subj, alg, &f[i], pt, sizeof pt));
        /* And no version was sealed past its hard limit. */
        cr_assert_leq(dek_rec(subj, alg, version_of(&f[i]))->reserved_seals, 12);
    }
    vl_keyring_free(kr2);
    struct field g;
    OK(enc("s0", VL_AES256_GCM, "after", &g));
}

Test(keyring_kms, rotation_waits_for_kms, .init = setup_small_limits, .fini = teardown)
{
    struct field f;
    for (int i = 0; i < 10; i++)
        OK(enc(SUBJ, VL_AES256_GCM, "x", &f));
    cr_assert_eq(version_of(&f), 1);
    fake_kms_fail(T.kms, VL_ERR_KMS_UNAVAILABLE);
    /* Soft limit reached, no KMS to wrap a successor: the old version
     * goes on to its hard limit (15), then encrypt fails. */
    for (int i = 0; i < 5; i++) {
        OK(enc(SUBJ, VL_AES256_GCM, "x", &f));
        cr_assert_eq(version_of(&f), 1);
        fake_clock_advance(&T.clock, 50);
    }
    RC(VL_ERR_KMS_UNAVAILABLE, enc(SUBJ, VL_AES256_GCM, "x", &f));
    cr_assert_eq(dek_rec(SUBJ, VL_AES256_GCM, 1)->reserved_seals, 15);
    fake_kms_fail(T.kms, VL_OK);
    fake_clock_advance(&T.clock, 1000);
    OK(enc(SUBJ, VL_AES256_GCM, "x", &f));
    cr_assert_eq(version_of(&f), 2);
    cr_assert_eq(latest_version(SUBJ, VL_AES256_GCM), 2);
}

Test(keyring_kms, age_rotation_waits_for_kms, .init = setup_expiry, .fini = teardown)
{
    struct field f;
    OK(enc(SUBJ, VL_AES256_GCM, "x", &f));
    fake_clock_advance(&T.clock, 86400 * 1000);
    fake_kms_fail(T.kms, VL_ERR_KMS_UNAVAILABLE);
    OK(enc(SUBJ, VL_AES256_GCM, "x", &f)); /* keeps the old version */
    cr_assert_eq(version_of(&f), 1);
    fake_kms_fail(T.kms, VL_OK);
    OK(enc(SUBJ, VL_AES256_GCM, "x", &f)); /* retry not due yet */
    cr_assert_eq(version_of(&f), 1);
    fake_clock_advance(&T.clock, 100);
    OK(enc(SUBJ, VL_AES256_GCM, "x", &f));
    cr_assert_eq(version_of(&f), 2);
}

/* ======================================================================== */
/* keyring_rewrap                                                            */

#define SUBJECTS 2
static struct field rw_fields[SUBJECTS][3][2];

/* Two subjects, three algorithms, two versions each. */
static void rw_write(void)
{
    for (int s = 0; s < SUBJECTS; s++)
        for (int a = 0; a < 3; a++)
            for (int v = 0; v < 2; v++) {
                char subj[32];
                snprintf(subj, sizeof subj, "rw%d", s);
                if (v == 1)
                    OK(vl_dek_rotate(T.kr, KEK, subj, ALGS[a], NULL));
                OK(enc(subj, ALGS[a], "before rewrap", &rw_fields[s][a][v]));
            }
}

/* Everything written before decrypts in a cold process. */
static void rw_check_cold(void)
{
    vl_keyring *kr2 = keyring_on(T.store, &T.o);
    for (int s = 0; s < SUBJECTS; s++)
        for (int a = 0; a < 3; a++)
            for (int v = 0; v < 2; v++) {
                char subj[32], pt[32];
                snprintf(subj, sizeof subj, "rw%d", s);
                OK(dec_on(kr2, subj, ALGS[a], &rw_fields[s][a][v], pt, sizeof pt));
                cr_assert_str_eq(pt, "before rewrap");
            }
    vl_keyring_free(kr2);
}

Test(keyring_rewrap, moves_every_dek, .init = setup_versioned, .fini = teardown)
{
    fake_kms_add_key(T.kms, "key-2");
    rw_write();
    OK(vl_kek_rewrap(T.kr, KEK, "key-2"));
    vl_kek_record r;
    OK(vl_kek_get(T.kr, KEK, &r));
    cr_assert_str_eq(r.kms_key_id, "key-2");
    cr_assert_str_eq(r.kms_props, "");
    /* The old key may go now: every record unwraps under key-2 alone. */
    fake_kms_set_state(T.kms, KEY1, FAKE_KEY_DISABLED);
    for (int a = 0; a < 3; a++) {
        vl_dek_record *d = dek_rec("rw0", ALGS[a], 2);
        uint8_t proto[128];
        size_t n;
        OK(fake_kms_peek(T.kms, "key-2", d->wrapped, d->wrapped_len, proto, sizeof proto, &n));
        RC(VL_ERR_AUTH,
           fake_kms_peek(T.kms, KEY1, d->wrapped, d->wrapped_len, proto, sizeof proto, &n));
    }
    rw_check_cold();
    /* This process kept its cache (same keys) and goes on encrypting. */
    struct field f;
    unsigned long before = unwraps();
    OK(enc("rw0", VL_AES256_GCM, "after", &f));
    cr_assert_eq(unwraps(), before);
    OK(enc("new-subject", VL_AES256_GCM, "after", &f));
    round_trip("new-subject", VL_AES256_GCM, &f, "after");
}

Test(keyring_rewrap, refused_keys_change_nothing, .init = setup_versioned, .fini = teardown)
{
    rw_write();
    RC(VL_ERR_NOT_FOUND, vl_kek_rewrap(T.kr, KEK, "no-such-key"));
    fake_kms_set_state(T.kms, "key-off", FAKE_KEY_DISABLED);
    RC(VL_ERR_KEY_DISABLED, vl_kek_rewrap(T.kr, KEK, "key-off"));
    OK(vl_kek_create(T.kr, "k2", "fake-kms", "key-2", 0, NULL));
    fake_kms_add_key(T.kms, "key-2");
    RC(VL_ERR_EXISTS, vl_kek_rewrap(T.kr, KEK, "key-2")); /* k2 uses it */
    RC(VL_ERR_NOT_FOUND, vl_kek_rewrap(T.kr, "nokek", "key-3"));
    vl_kek_record r;
    OK(vl_kek_get(T.kr, KEK, &r));
    cr_assert_str_eq(r.kms_key_id, KEY1);
    cr_assert_str_eq(r.kms_props, "");
    rw_check_cold();
}

Test(keyring_rewrap, interrupted_then_resumed, .init = setup_versioned, .fini = teardown)
{
    fake_kms_add_key(T.kms, "key-2");
    rw_write();
    /* The KMS goes away half way through the 12 records. */
    fake_kms_fail_after(T.kms, VL_ERR_KMS_UNAVAILABLE, 1 + 12);
    RC(VL_ERR_KMS_UNAVAILABLE, vl_kek_rewrap(T.kr, KEK, "key-2"));
    vl_kek_record r;
    OK(vl_kek_get(T.kr, KEK, &r));
    cr_assert_str_eq(r.kms_key_id, "key-2");
    cr_assert_str_eq(r.kms_props, "{\"" ALT "\":\"" KEY1 "\"}");
    fake_kms_fail_after(T.kms, VL_OK, 0);
    fake_clock_advance(&T.clock, 1000);
    rw_check_cold(); /* mixed records: readable through the alternate */
    OK(vl_kek_rewrap(T.kr, KEK, "key-2"));
    OK(vl_kek_get(T.kr, KEK, &r));
    cr_assert_str_eq(r.kms_props, "");
    fake_kms_set_state(T.kms, KEY1, FAKE_KEY_DESTROYED);
    rw_check_cold();
}

Test(keyring_rewrap, keeps_other_props, .init = setup_versioned, .fini = teardown)
{
    /* A KEK imported from a registry with its own kmsProps. */
    vl_kek_record r;
    OK(vl_kek_get(T.kr, KEK, &r));
    strcpy(r.kms_props, "{ \"region\" : \"eu-west-1\", \"" ALT "\": \"stale\" }");
    OK(T.store->ops->put_kek(T.store, &r, 0));
    fake_kms_add_key(T.kms, "key-2");
    rw_write();
    fake_kms_fail_after(T.kms, VL_ERR_KMS_UNAVAILABLE, 3);
    RC(VL_ERR_KMS_UNAVAILABLE, vl_kek_rewrap(T.kr, KEK, "key-2"));
    OK(vl_kek_get(T.kr, KEK, &r));
    cr_assert_str_eq(r.kms_props,
                     "{\"region\":\"eu-west-1\",\"" ALT "\":\"" KEY1 ",stale\"}");
    fake_kms_fail_after(T.kms, VL_OK, 0);
    fake_clock_advance(&T.clock, 1000);
    OK(vl_kek_rewrap(T.kr, KEK, "key-2"));
    OK(vl_kek_get(T.kr, KEK, &r));
    cr_assert_str_eq(r.kms_props, "{\"region\":\"eu-west-1\"}");
    /* Malformed kmsProps are untrusted input: refused, nothing changed. */
    strcpy(r.kms_props, "{\"region\":");
    OK(T.store->ops->put_kek(T.store, &r, 0));
    fake_kms_add_key(T.kms, "key-3");
    RC(VL_ERR_FORMAT, vl_kek_rewrap(T.kr, KEK, "key-3"));
    OK(vl_kek_get(T.kr, KEK, &r));
    cr_assert_str_eq(r.kms_key_id, "key-2");
    rw_check_cold();
}

/* ======================================================================== */
/* keyring_bad                                                               */

static void fields_refused(int versioned)
{
    struct field good, bad;
    char pt[64];
    vl_alg alg = VL_AES256_GCM;
    OK(enc(SUBJ, alg, "good", &good));
    vl_keyring_stats before, after;
    vl_keyring_stats_get(T.kr, &before);
    /* Truncated: anything shorter than prefix + IV + tag. */
    for (size_t n = 0; n < vl_field_overhead(alg, versioned); n++) {
        bad = good;
        bad.n = n;
        RC(VL_ERR_FORMAT, dec(SUBJ, alg, &bad, pt, sizeof pt));
    }
    /* Any single bit flipped: the prefix is format, the rest auth (or an
     * unknown version). */
    for (size_t i = 0; i < good.n; i++)
        for (int bit = 0; bit < 8; bit++) {
            bad = good;
            bad.b[i] ^= (uint8_t)(1u << bit);
            int rc = dec(SUBJ, alg, &bad, pt, sizeof pt);
            if (versioned && i == 0)
                cr_assert_eq(rc, VL_ERR_FORMAT);
            else if (versioned && i < 5)
                cr_assert(rc == VL_ERR_FORMAT || rc == VL_ERR_NOT_FOUND, "%s", vl_strerror(rc));
            else
                cr_assert_eq(rc, VL_ERR_AUTH);
            all_zero((uint8_t *)pt, 8);
        }
    /* Oversized: a megabyte of garbage behind a valid prefix. */
    static struct {
        uint8_t b[1 << 20];
    } big;
    memcpy(big.b, good.b, 5);
    memset(big.b + 5, 0xa5, sizeof big.b - 5);
    static uint8_t out[1 << 20];
    size_t n = 7;
    RC(VL_ERR_AUTH, vl_field_decrypt(T.kr, KEK, SUBJ, alg, big.b, sizeof big.b, out, sizeof out,
                                     &n));
    cr_assert_eq(n, 0);
    RC(VL_ERR_ARG, vl_field_decrypt(T.kr, KEK, SUBJ, alg, big.b, sizeof big.b, out, 100, &n));
    RC(VL_ERR_ARG, vl_field_decrypt(T.kr, KEK, SUBJ, alg, good.b, good.n, (uint8_t *)pt, 3, &n));
    /* Another subject or algorithm: not found / auth, never a crash. */
    RC(versioned ? VL_ERR_NOT_FOUND : VL_ERR_NOT_FOUND, dec("nobody", alg, &good, pt, sizeof pt));
    vl_keyring_stats_get(T.kr, &after);
    cr_assert_eq(after.kms_unwraps, before.kms_unwraps);
    cr_assert_eq(after.kms_wraps, before.kms_wraps);
    round_trip(SUBJ, alg, &good, "good"); /* state unchanged */
}

Test(keyring_bad, fields_versioned, .init = setup_versioned, .fini = teardown)
{
    fields_refused(1);
    struct field f;
    OK(enc(SUBJ, VL_AES256_GCM, "x", &f));
    f.b[1] = 0x80; /* version 0x80000001: negative as int32 */
    RC(VL_ERR_FORMAT, dec(SUBJ, VL_AES256_GCM, &f, (char[16]){0}, 16));
    memset(f.b + 1, 0, 4); /* version 0 */
    RC(VL_ERR_FORMAT, dec(SUBJ, VL_AES256_GCM, &f, (char[16]){0}, 16));
    f.b[4] = 7; /* a version nobody made */
    RC(VL_ERR_NOT_FOUND, dec(SUBJ, VL_AES256_GCM, &f, (char[16]){0}, 16));
}

Test(keyring_bad, fields_plain, .init = setup_plain, .fini = teardown)
{
    fields_refused(0);
}

Test(keyring_bad, siv_fields, .init = setup_versioned, .fini = teardown)
{
    struct field f, bad;
    char pt[16];
    OK(enc(SUBJ, VL_AES256_SIV, "", &f)); /* empty plaintext: V only */
    cr_assert_eq(f.n, 21);
    round_trip(SUBJ, VL_AES256_SIV, &f, "");
    bad = f;
    bad.n = 20;
    RC(VL_ERR_FORMAT, dec(SUBJ, VL_AES256_SIV, &bad, pt, sizeof pt));
    bad = f;
    bad.b[20] ^= 1;
    RC(VL_ERR_AUTH, dec(SUBJ, VL_AES256_SIV, &bad, pt, sizeof pt));
}

/* A store that hands back damaged records: what a corrupted or hostile
 * medium could return. */
enum evil_mode {
    EVIL_NONE, EVIL_LEN, EVIL_NUL, EVIL_ALG, EVIL_VERSION, EVIL_OTHER_VERSION, EVIL_BLOB,
    EVIL_PROTO, EVIL_LIVE_EMPTY, EVIL_KEK_NUL, EVIL_KEK_NAME, EVIL_KEK_FLAG, EVIL_GRANT,
};

static struct {
    vl_store s;
    vl_store_ops ops;
    vl_store *inner;
    enum evil_mode mode;
    uint8_t proto_blob[128];
    size_t proto_len;
} E;

static int ev_get_dek(vl_store *s, const vl_dek_id *id, vl_dek_record *out)
{
    (void)s;
    int rc = E.inner->ops->get_dek(E.inner, id, out);
    if (rc != VL_OK)
        return rc;
    switch (E.mode) {
    case EVIL_LEN: out->wrapped_len = VL_KMS_MAX_BLOB + 1; break;
    case EVIL_NUL: memset(out->subject, 'x', sizeof out->subject); break;
    case EVIL_ALG: out->alg = (vl_alg)7; break;
    case EVIL_VERSION: out->version = 0; break;
    case EVIL_OTHER_VERSION: out->version += 5; break;
    case EVIL_BLOB: out->wrapped[out->wrapped_len / 2] ^= 1; break;
    case EVIL_PROTO:
        memcpy(out->wrapped, E.proto_blob, E.proto_len);
        out->wrapped_len = E.proto_len;
        break;
    case EVIL_LIVE_EMPTY:
        out->wrapped_len = 0;
        out->deleted = 0;
        break;
    default: break;
    }
    return VL_OK;
}

static int ev_get_kek(vl_store *s, const char *name, vl_kek_record *out)
{
    (void)s;
    int rc = E.inner->ops->get_kek(E.inner, name, out);
    if (rc != VL_OK)
        return rc;
    if (E.mode == EVIL_KEK_NUL)
        memset(out->kms_key_id, 'k', sizeof out->kms_key_id);
    if (E.mode == EVIL_KEK_NAME)
        strcpy(out->name, "someone-else");
    if (E.mode == EVIL_KEK_FLAG)
        out->deleted = 2;
    return VL_OK;
}

static int ev_reserve(vl_store *s, const vl_dek_id *id, uint64_t want, uint64_t max,
                      uint64_t *start, uint64_t *granted)
{
    (void)s;
    int rc = E.inner->ops->reserve(E.inner, id, want, max, start, granted);
    if (rc == VL_OK && E.mode == EVIL_GRANT)
        *granted = want + 1000;
    return rc;
}

static vl_store *evil_store(void)
{
    E.inner = T.store;
    E.ops = *T.store->ops;
    E.ops.get_dek = ev_get_dek;
    E.ops.get_kek = ev_get_kek;
    E.ops.reserve = ev_reserve;
    E.ops.close = NULL;
    E.s.ops = &E.ops;
    E.s.ctx = NULL;
    /* A blob the KMS unwraps fine whose content is no Tink key proto. */
    vl_kms *k = fake_kms_handle(T.kms);
    OK(k->ops->wrap(k, KEY1, (const uint8_t *)"\x1a\x05short", 7, E.proto_blob,
                    sizeof E.proto_blob, &E.proto_len));
    return &E.s;
}

Test(keyring_bad, stored_records, .init = setup_versioned, .fini = teardown)
{
    static const struct {
        enum evil_mode mode;
        int dec_rc, enc_rc;
    } cases[] = {
        {EVIL_LEN, VL_ERR_FORMAT, VL_ERR_FORMAT},
        {EVIL_NUL, VL_ERR_FORMAT, VL_ERR_FORMAT},
        {EVIL_ALG, VL_ERR_FORMAT, VL_ERR_FORMAT},
        {EVIL_VERSION, VL_ERR_FORMAT, VL_ERR_FORMAT},
        /* "latest" may be any version; the store then has no v6 to
         * reserve from, and the entry made for it is dropped again. */
        {EVIL_OTHER_VERSION, VL_ERR_FORMAT, VL_ERR_NOT_FOUND},
        {EVIL_BLOB, VL_ERR_AUTH, VL_ERR_AUTH},
        {EVIL_PROTO, VL_ERR_FORMAT, VL_ERR_FORMAT},
        {EVIL_LIVE_EMPTY, VL_ERR_FORMAT, VL_ERR_FORMAT},
        {EVIL_KEK_NUL, VL_ERR_FORMAT, VL_ERR_FORMAT},
        {EVIL_KEK_NAME, VL_ERR_FORMAT, VL_ERR_FORMAT},
        {EVIL_KEK_FLAG, VL_ERR_FORMAT, VL_ERR_FORMAT},
        {EVIL_GRANT, VL_OK, VL_ERR_FORMAT},
    };
    struct field f, g;
    char pt[32];
    OK(enc(SUBJ, VL_AES256_GCM, "stored", &f));
    vl_store *evil = evil_store();
    vl_dek_record saved = *dek_rec(SUBJ, VL_AES256_GCM, 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        E.mode = cases[i].mode;
        vl_keyring *kr2 = keyring_on(evil, &T.o); /* cold cache: reads records */
        int rc = dec_on(kr2, SUBJ, VL_AES256_GCM, &f, pt, sizeof pt);
        cr_assert_eq(rc, cases[i].dec_rc, "case %zu decrypt: %s", i, vl_strerror(rc));
        rc = enc_on(kr2, SUBJ, VL_AES256_GCM, "n", 1, &g);
        cr_assert_eq(rc, cases[i].enc_rc, "case %zu encrypt: %s", i, vl_strerror(rc));
        /* Nothing was cached from the bad record: with a sound store the
         * same keyring works, and the record itself is as it was. */
        E.mode = EVIL_NONE;
        OK(dec_on(kr2, SUBJ, VL_AES256_GCM, &f, pt, sizeof pt));
        cr_assert_str_eq(pt, "stored");
        OK(enc_on(kr2, SUBJ, VL_AES256_GCM, "n", 1, &g));
        cr_assert_eq(version_of(&g), 1);
        round_trip(SUBJ, VL_AES256_GCM, &g, "n");
        vl_keyring_free(kr2);
        vl_dek_record *now = dek_rec(SUBJ, VL_AES256_GCM, 1);
        cr_assert_eq(now->wrapped_len, saved.wrapped_len);
        cr_assert_arr_eq(now->wrapped, saved.wrapped, saved.wrapped_len);
        cr_assert_eq(now->deleted, 0);
    }
}

/* ======================================================================== */
/* keyring_cache: eviction racing the lock-free paths                        */

struct churner {
    pthread_t t;
    int stop_after;
    int errors;
};

static _Atomic int churn_stop;
/* Revokes done so far: readers keep going until the evicter has really run
 * alongside them (on a loaded machine it may start late). */
static _Atomic int churn_revokes;

/* True once the evicter has run alongside the readers and really evicted
 * a cached key (on a loaded machine it may start late, or revoke before
 * anything is cached). */
static int churn_evicted(void)
{
    vl_keyring_stats st;
    vl_keyring_stats_get(T.kr, &st);
    return atomic_load(&churn_revokes) >= 500 && st.cache_evictions > 0;
}

static void *churn_crypto(void *arg)
{
    struct churner *c = arg;
    for (int i = 0; i < c->stop_after || (i < 100 * c->stop_after && !churn_evicted()); i++) {
        struct field f;
        char pt[16], subj[32];
        snprintf(subj, sizeof subj, "c%d", i % 3);
        vl_alg alg = ALGS[i % 3];
        if (enc(subj, alg, "churn", &f) != VL_OK || dec(subj, alg, &f, pt, sizeof pt) != VL_OK ||
            strcmp(pt, "churn") != 0)
            c->errors++;
    }
    return NULL;
}

static void *churn_evict(void *arg)
{
    (void)arg;
    for (int i = 0; !atomic_load(&churn_stop); i++) {
        char subj[32];
        snprintf(subj, sizeof subj, "c%d", i % 3);
        vl_dek_id id = dek_id(subj, ALGS[i % 3], -1);
        if (vl_dek_revoke(T.kr, &id) != VL_OK)
            abort();
        atomic_fetch_add(&churn_revokes, 1);
        if (i % 16 == 0)
            fake_clock_advance(&T.clock, 400); /* TTL expiries and sweeps */
    }
    return NULL;
}

static void setup_churn_small(void)
{
    struct opts o = {.versioned = 1, .ttl_ms = 1000, .reserve_min = 4, .reserve_max = 16};
    o.limits.max_seals = 300;
    o.limits.rotate_at_seals = 200;
    open_with(&o);
}

/* Readers seal and open with cached keys while another thread keeps
 * evicting (and zeroizing) them and rotations happen: every operation
 * succeeds, and under ASan no freed key is ever touched. */
Test(keyring_cache, eviction_races_readers, .init = setup_churn_small, .fini = teardown)
{
    static struct churner w[3];
    pthread_t ev;
    for (int i = 0; i < 3; i++) {
        w[i].stop_after = 10000;
        cr_assert_eq(pthread_create(&w[i].t, NULL, churn_crypto, &w[i]), 0);
    }
    cr_assert_eq(pthread_create(&ev, NULL, churn_evict, NULL), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(w[i].t, NULL);
    atomic_store(&churn_stop, 1);
    pthread_join(ev, NULL);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(w[i].errors, 0);
    vl_keyring_stats st;
    vl_keyring_stats_get(T.kr, &st);
    cr_assert_gt(st.cache_evictions, 0);
    cr_assert_gt(st.rotations, 0);
}

/* ======================================================================== */
/* keyring_sys: the system clock, the deadline thread, fork                  */

static vl_keyring *sys_keyring(uint64_t ttl_ms, uint64_t expiry_s)
{
    vl_keyring_config cfg = {.store = T.store, .cache_ttl_ms = ttl_ms, .versioned = 1,
                             .dek_expiry_s = expiry_s};
    vl_keyring *kr;
    OK(vl_keyring_new(&kr, &cfg));
    OK(vl_keyring_register_kms(kr, "fake-kms", fake_kms_handle(T.kms)));
    return kr;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* With the system clock the hot paths read no clock: the deadline thread
 * wipes keys at their TTL even when nothing calls the keyring. (Checks
 * that depend on this process being scheduled in time are made only when
 * it was.) */
Test(keyring_sys, ttl_without_calls, .init = setup_versioned, .fini = teardown)
{
    vl_keyring *kr = sys_keyring(400, 0);
    struct field f;
    char pt[16];
    vl_keyring_stats st;
    int64_t t0 = mono_ms();
    OK(enc_on(kr, SUBJ, VL_AES256_GCM, "idle", 4, &f));
    OK(dec_on(kr, SUBJ, VL_AES256_GCM, &f, pt, sizeof pt));
    vl_keyring_stats_get(kr, &st);
    if (mono_ms() - t0 < 300)
        cr_assert_eq(st.cache_evictions, 0);
    sleep_ms(800);
    vl_keyring_stats_get(kr, &st);
    cr_assert_eq(st.cache_evictions, 1); /* no call in between */
    unsigned long before = unwraps();
    OK(dec_on(kr, SUBJ, VL_AES256_GCM, &f, pt, sizeof pt));
    cr_assert_str_eq(pt, "idle");
    cr_assert_eq(unwraps(), before + 1);
    vl_keyring_free(kr);
}

Test(keyring_sys, age_rotation_on_time, .init = setup_versioned, .fini = teardown)
{
    vl_keyring *kr = sys_keyring(0, 1);
    struct field f;
    int64_t t0 = mono_ms();
    OK(enc_on(kr, SUBJ, VL_AES128_GCM, "a", 1, &f));
    cr_assert_eq(version_of(&f), 1);
    OK(enc_on(kr, SUBJ, VL_AES128_GCM, "a", 1, &f));
    int32_t before = version_of(&f); /* 1, or 2 after a stall of a second */
    if (mono_ms() - t0 < 900)
        cr_assert_eq(before, 1);
    sleep_ms(1300);
    OK(enc_on(kr, SUBJ, VL_AES128_GCM, "b", 1, &f));
    cr_assert_eq(version_of(&f), before + 1);
    cr_assert_eq(latest_version(SUBJ, VL_AES128_GCM), before + 1);
    vl_keyring_free(kr);
}

/* GCM nonces never repeat: not within a process, and not between a
 * parent and a child that both go on encrypting after fork() (the
 * per-thread nonce pool is wiped in the child). */
static int cmp_nonce(const void *a, const void *b)
{
    return memcmp(a, b, 12);
}

#define NONCES 20000

Test(keyring_sys, nonces_unique_across_fork, .init = setup_versioned, .fini = teardown)
{
    vl_keyring *kr = sys_keyring(0, 0);
    static uint8_t nonces[2 * NONCES][12];
    int fds[2];
    struct field f;
    OK(enc_on(kr, SUBJ, VL_AES256_GCM, "x", 1, &f)); /* the pool exists before the fork */
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* The child: its keyring copy works (hot paths check time now),
         * its nonces go to the parent, and freeing does not hang. */
        int bad = 0;
        for (int i = 0; i < NONCES; i++) {
            bad |= enc_on(kr, SUBJ, VL_AES256_GCM, "x", 1, &f) != VL_OK;
            bad |= write(fds[1], f.b + 5, 12) != 12;
        }
        vl_keyring_free(kr);
        _exit(bad);
    }
    close(fds[1]);
    for (int i = 0; i < NONCES; i++) {
        OK(enc_on(kr, SUBJ, VL_AES256_GCM, "x", 1, &f));
        memcpy(nonces[i], f.b + 5, 12);
    }
    size_t got = 0;
    for (ssize_t r; got < sizeof nonces[0] * NONCES &&
                    (r = read(fds[0], (uint8_t *)nonces[NONCES] + got,
                              sizeof nonces[0] * NONCES - got)) > 0;)
        got += (size_t)r;
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_eq(got, sizeof nonces[0] * NONCES);
    qsort(nonces, 2 * NONCES, 12, cmp_nonce);
    for (int i = 1; i < 2 * NONCES; i++)
        cr_assert_neq(memcmp(nonces[i - 1], nonces[i], 12), 0, "nonce repeated");
    close(fds[0]);
    vl_keyring_free(kr);
}
