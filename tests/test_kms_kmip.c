/* The KMIP provider (core/kms_kmip.c) against a real PyKMIP server. Its own
 * binary (build/tests/vellum_kmip_tests), run once by `make check` under
 * tests/pykmip.sh, which sets up certificates and the server, exports
 * VL_KMIP_DIR, VL_KMIP_PORT and VL_KMIP_SCRIPT, and always stops the server
 * and deletes the folder afterwards. Tests run one at a time (main below):
 * some kill, pause and restart the server; each creates its own key.
 *
 *   kmip.round_trip        every DEK size, blob layout, fresh IVs; altered
 *                          blobs and another key's id are VL_ERR_AUTH
 *   kmip.envelope          fields of all three algorithms through a keyring,
 *                          cache hits and cold unwraps
 *   kmip.bad_config        constructor errors: arguments, files, key
 *   kmip.threads           one provider shared by four threads
 *   kmip.revoked           revoke -> VL_ERR_KEY_DISABLED (wrap, unwrap,
 *                          keyring, probe)
 *   kmip.pre_active        never activated -> VL_ERR_KEY_DISABLED
 *   kmip.destroyed         destroy -> VL_ERR_KEY_DESTROYED on unwrap
 *   kmip.refused           a client certificate from another CA, one
 *                          without clientAuth, a non-owner, an untrusted or
 *                          misnamed server: VL_ERR_KMS_DENIED
 *   kmip.unreachable       nothing listening, a silent listener, a paused
 *                          server: VL_ERR_KMS_UNAVAILABLE within the
 *                          timeouts, then reconnection by itself
 *   kmip.kill_restart      the server killed while a keyring encrypts and
 *                          decrypts in a loop, restarted: the keyring
 *                          resumes by itself and nothing is lost
 *   kmip.latency           unwrap through the KMS vs a DEK cache hit
 *                          (printed, not asserted) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "vellum/envelope.h"
#include "vellum/kms_kmip.h"

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

#define UID_MAX 64
#define BLOB_MAX 512
#define KEK "kmip-kek"

static const vl_alg ALGS[] = {VL_AES128_GCM, VL_AES256_GCM, VL_AES256_SIV};

/* ---- the server (tests/pykmip.sh) ---------------------------------------- */

static const char *env(const char *name)
{
    const char *v = getenv(name);
    cr_assert(v != NULL && v[0] != '\0',
              "%s is not set: run this binary through tests/pykmip.sh run", name);
    return v;
}

/* "$VL_KMIP_DIR/<name>" in one of four rotating static buffers: the
 * fifth call overwrites the first. */
static const char *in_dir(const char *name)
{
    static char buf[4][512];
    static int i;
    char *p = buf[i++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", env("VL_KMIP_DIR"), name);
    return p;
}

/* pykmip.sh <args>; its first output line into |out| (may be NULL). */
static void script(const char *args, char *out, size_t out_cap)
{
    char cmd[1024], line[256] = "";
    snprintf(cmd, sizeof cmd, "sh '%s' %s", env("VL_KMIP_SCRIPT"), args);
    FILE *p = popen(cmd, "r");
    cr_assert(p != NULL, "popen %s", cmd);
    if (fgets(line, sizeof line, p) == NULL)
        line[0] = '\0';
    while (fgetc(p) != EOF)
        ;
    int st = pclose(p);
    cr_assert_eq(st, 0, "%s: exit status %d", cmd, st);
    line[strcspn(line, "\n")] = '\0';
    if (out != NULL)
        snprintf(out, out_cap, "%s", line);
}

/* A new active AES-256 key owned by "client": its UID. */
static void new_key(char uid[UID_MAX])
{
    script("admin create", uid, UID_MAX);
    cr_assert(uid[0] != '\0', "admin create printed no UID");
}

static void key_admin(const char *op, const char *uid)
{
    char args[128];
    snprintf(args, sizeof args, "admin %s '%s'", op, uid);
    script(args, NULL, 0);
}

static uint16_t server_port(void)
{
    return (uint16_t)atoi(env("VL_KMIP_PORT"));
}

/* ---- providers ------------------------------------------------------------- */

struct who {
    const char *cert; /* client certificate / key name in the folder */
    const char *ca;   /* the CA trusted for the server */
    const char *host;
    uint16_t port;    /* 0: the server's */
    uint32_t connect_ms, io_ms;
};

static vl_kms *kmip_as(struct who w)
{
    char crt[64], key[64], ca[64];
    snprintf(crt, sizeof crt, "%s.crt", w.cert);
    snprintf(key, sizeof key, "%s.key", w.cert);
    snprintf(ca, sizeof ca, "%s.crt", w.ca);
    /* in_dir's rotating buffers: three live at once is fine. */
    vl_kms_kmip_config cfg = {
        .host = w.host,
        .port = w.port != 0 ? w.port : server_port(),
        .ca_file = in_dir(ca),
        .cert_file = in_dir(crt),
        .key_file = in_dir(key),
        .connect_timeout_ms = w.connect_ms,
        .io_timeout_ms = w.io_ms,
    };
    vl_kms *kms = NULL;
    OK(vl_kms_kmip_new(&kms, &cfg));
    cr_assert_str_eq(kms->ops->name, "kmip");
    return kms;
}

static vl_kms *kmip_client(void)
{
    return kmip_as((struct who){"client", "ca", "127.0.0.1", 0, 2000, 2000});
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + 31 * i);
}

/* The failure contract of kms.h: *out_len 0 and the output zeroed. */
static void unwrap_fails(vl_kms *kms, const char *uid, const uint8_t *blob, size_t len, int want)
{
    uint8_t out[VL_KMS_MAX_KEY];
    size_t n = 99;
    memset(out, 0xa5, sizeof out);
    RC(want, vl_kms_unwrap(kms, uid, blob, len, out, sizeof out, &n));
    cr_assert_eq(n, 0);
    for (size_t i = 0; i < sizeof out; i++)
        cr_assert_eq(out[i], 0, "output byte %zu not zeroed", i);
}

static void wrap_fails(vl_kms *kms, const char *uid, int want)
{
    uint8_t dek[32], out[BLOB_MAX];
    size_t n = 99;
    fill(dek, sizeof dek, 7);
    RC(want, vl_kms_wrap(kms, uid, dek, sizeof dek, out, sizeof out, &n));
    cr_assert_eq(n, 0);
}

static size_t wrap_ok(vl_kms *kms, const char *uid, const uint8_t *dek, size_t len,
                      uint8_t blob[BLOB_MAX])
{
    size_t n = 0;
    OK(vl_kms_wrap(kms, uid, dek, len, blob, BLOB_MAX, &n));
    return n;
}

static void unwrap_ok(vl_kms *kms, const char *uid, const uint8_t *blob, size_t len,
                      const uint8_t *want, size_t want_len)
{
    uint8_t out[VL_KMS_MAX_KEY];
    size_t n = 0;
    OK(vl_kms_unwrap(kms, uid, blob, len, out, sizeof out, &n));
    cr_assert_eq(n, want_len);
    cr_assert(memcmp(out, want, n) == 0, "unwrapped DEK differs");
}

/* ---- round trips ------------------------------------------------------------ */

Test(kmip, round_trip)
{
    char a[UID_MAX], b[UID_MAX];
    new_key(a);
    new_key(b);
    vl_kms *kms = kmip_client();
    static const size_t sizes[] = {1, 16, 32, 44, 64, VL_KMS_MAX_KEY};
    uint8_t dek[VL_KMS_MAX_KEY], blob[BLOB_MAX], blob2[BLOB_MAX];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        fill(dek, n, (uint8_t)i);
        size_t len = wrap_ok(kms, a, dek, n, blob);
        /* 0x01 || IV(12) || C(n) || TAG(16) */
        cr_assert_eq(len, 1 + 12 + n + 16, "size %zu: blob %zu", n, len);
        cr_assert_eq(blob[0], 0x01);
        unwrap_ok(kms, a, blob, len, dek, n);
        /* A second wrap of the same DEK: a fresh IV, another blob. */
        size_t len2 = wrap_ok(kms, a, dek, n, blob2);
        cr_assert_eq(len2, len);
        cr_assert(memcmp(blob + 1, blob2 + 1, 12) != 0, "IV reused");
        unwrap_ok(kms, a, blob2, len2, dek, n);
    }
    fill(dek, 32, 1);
    size_t len = wrap_ok(kms, a, dek, 32, blob);
    /* Any altered byte: the version locally, the rest by the server's tag
     * check (IV, ciphertext, tag). */
    static const size_t flips[] = {0, 1, 12, 13, 44, 45, 60};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        blob[flips[i]] ^= 0x01;
        unwrap_fails(kms, a, blob, len, VL_ERR_AUTH);
        blob[flips[i]] ^= 0x01;
    }
    unwrap_fails(kms, a, blob, len - 1, VL_ERR_AUTH); /* truncated tag */
    unwrap_fails(kms, a, blob, 29, VL_ERR_AUTH);      /* no ciphertext */
    unwrap_fails(kms, a, blob, 0, VL_ERR_AUTH);
    /* Another key, and the AAD binds the id. */
    unwrap_fails(kms, b, blob, len, VL_ERR_AUTH);
    /* An id the server never had: wrap NOT_FOUND; a blob "under" it can
     * only mean the key is gone (see kms_kmip.h). */
    wrap_fails(kms, "no-such-key", VL_ERR_NOT_FOUND);
    unwrap_fails(kms, "no-such-key", blob, len, VL_ERR_KEY_DESTROYED);
    /* Still fine after all the failures, on the same connection. */
    unwrap_ok(kms, a, blob, len, dek, 32);
    OK(vl_kms_probe(kms, a));
    vl_kms_close(kms);
}

Test(kmip, bad_config)
{
    vl_kms *kms = (vl_kms *)1;
    char ca[512], crt[512], key[512], missing[512], notpem[512], other[512];
    snprintf(ca, sizeof ca, "%s", in_dir("ca.crt"));
    snprintf(crt, sizeof crt, "%s", in_dir("client.crt"));
    snprintf(key, sizeof key, "%s", in_dir("client.key"));
    snprintf(missing, sizeof missing, "%s", in_dir("missing.crt"));
    snprintf(notpem, sizeof notpem, "%s", in_dir("server.conf"));
    snprintf(other, sizeof other, "%s", in_dir("intruder.key"));
    vl_kms_kmip_config cfg = {.host = "127.0.0.1", .ca_file = ca, .cert_file = crt,
                              .key_file = key};
    RC(VL_ERR_ARG, vl_kms_kmip_new(NULL, &cfg));
    RC(VL_ERR_ARG, vl_kms_kmip_new(&kms, NULL));
    cr_assert_null(kms);
    vl_kms_kmip_config c = cfg;
    c.host = "";
    RC(VL_ERR_ARG, vl_kms_kmip_new(&kms, &c));
    c = cfg;
    c.key_file = NULL;
    RC(VL_ERR_ARG, vl_kms_kmip_new(&kms, &c));
    c = cfg;
    c.ca_file = missing;
    RC(VL_ERR_IO, vl_kms_kmip_new(&kms, &c));
    c = cfg;
    c.cert_file = notpem;
    RC(VL_ERR_FORMAT, vl_kms_kmip_new(&kms, &c));
    c = cfg;
    c.key_file = other; /* another certificate's key */
    RC(VL_ERR_ARG, vl_kms_kmip_new(&kms, &c));
    cr_assert_null(kms);
    OK(vl_kms_kmip_new(&kms, &cfg));
    char uid[2000];
    memset(uid, '7', sizeof uid - 1);
    uid[sizeof uid - 1] = '\0';
    wrap_fails(kms, uid, VL_ERR_ARG); /* ids are at most 1023 bytes */
    vl_kms_close(kms);
}

/* One provider, one connection, four threads: the mutex serializes them
 * and no reply reaches the wrong caller. */
struct thread_arg {
    vl_kms *kms;
    const char *uid;
    uint8_t seed;
    int failures;
};

static void *thread_run(void *p)
{
    struct thread_arg *a = p;
    uint8_t dek[32], blob[BLOB_MAX], out[64];
    for (int i = 0; i < 20; i++) {
        size_t len = 0, n = 0;
        fill(dek, sizeof dek, (uint8_t)(a->seed + i));
        if (vl_kms_wrap(a->kms, a->uid, dek, sizeof dek, blob, sizeof blob, &len) != VL_OK ||
            vl_kms_unwrap(a->kms, a->uid, blob, len, out, sizeof out, &n) != VL_OK ||
            n != sizeof dek || memcmp(out, dek, n) != 0)
            a->failures++;
    }
    return NULL;
}

Test(kmip, threads)
{
    char uid[UID_MAX];
    new_key(uid);
    vl_kms *kms = kmip_client();
    pthread_t th[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){kms, uid, (uint8_t)(64 * i), 0};
        cr_assert_eq(pthread_create(&th[i], NULL, thread_run, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(args[i].failures, 0, "thread %d: %d failed round trips", i,
                     args[i].failures);
    }
    vl_kms_close(kms);
}

/* ---- the envelope layer ------------------------------------------------------ */

struct ring {
    vl_store *store;
    vl_keyring *kr;
    vl_kms *kms;
};

static void ring_open(struct ring *r, vl_kms *kms, const char *uid, uint64_t backoff_ms)
{
    r->kms = kms;
    OK(vl_store_mem_new(&r->store));
    vl_keyring_config cfg = {.store = r->store,
                             .versioned = 1,
                             .backoff_initial_ms = backoff_ms,
                             .backoff_max_ms = backoff_ms * 4};
    OK(vl_keyring_new(&r->kr, &cfg));
    OK(vl_keyring_register_kms(r->kr, "kmip", kms));
    OK(vl_kek_create(r->kr, KEK, "kmip", uid, 0, "a PyKMIP key"));
}

/* A second keyring on the same store: a cold cache, as a new process. */
static vl_keyring *ring_cold(struct ring *r)
{
    vl_keyring_config cfg = {.store = r->store, .versioned = 1};
    vl_keyring *kr = NULL;
    OK(vl_keyring_new(&kr, &cfg));
    OK(vl_keyring_register_kms(kr, "kmip", r->kms));
    return kr;
}

static void ring_close(struct ring *r)
{
    vl_keyring_free(r->kr);
    vl_store_close(r->store);
    vl_kms_close(r->kms);
}

static int enc(vl_keyring *kr, const char *subj, vl_alg alg, const char *pt, uint8_t *out,
               size_t *len)
{
    return vl_field_encrypt(kr, KEK, subj, alg, (const uint8_t *)pt, strlen(pt), out, 256, len);
}

static int dec(vl_keyring *kr, const char *subj, vl_alg alg, const uint8_t *f, size_t len,
               char *pt, size_t pt_cap)
{
    size_t n = 0;
    int rc = vl_field_decrypt(kr, KEK, subj, alg, f, len, (uint8_t *)pt, pt_cap - 1, &n);
    pt[rc == VL_OK ? n : 0] = '\0';
    return rc;
}

static void evict(vl_keyring *kr, const char *subj, vl_alg alg)
{
    vl_dek_id id = {KEK, subj, alg, -1};
    OK(vl_dek_revoke(kr, &id));
}

Test(kmip, envelope)
{
    char uid[UID_MAX], pt[128];
    uint8_t f[256];
    size_t len;
    struct ring r;
    vl_keyring_stats st;
    new_key(uid);
    ring_open(&r, kmip_client(), uid, 100);
    OK(vl_kek_probe(r.kr, KEK));
    for (size_t a = 0; a < 3; a++) {
        vl_alg alg = ALGS[a];
        OK(enc(r.kr, "orders-value", alg, "card 4111 1111 1111 1111", f, &len));
        cr_assert_eq(len, 24 + vl_field_overhead(alg, 1));
        vl_keyring_stats_get(r.kr, &st);
        uint64_t unwraps = st.kms_unwraps;
        OK(dec(r.kr, "orders-value", alg, f, len, pt, sizeof pt)); /* cache hit */
        cr_assert_str_eq(pt, "card 4111 1111 1111 1111");
        vl_keyring_stats_get(r.kr, &st);
        cr_assert_eq(st.kms_unwraps, unwraps);
        evict(r.kr, "orders-value", alg); /* cold: unwrap through PyKMIP */
        OK(dec(r.kr, "orders-value", alg, f, len, pt, sizeof pt));
        cr_assert_str_eq(pt, "card 4111 1111 1111 1111");
        vl_keyring_stats_get(r.kr, &st);
        cr_assert_eq(st.kms_unwraps, unwraps + 1);
        vl_keyring *cold = ring_cold(&r);
        OK(dec(cold, "orders-value", alg, f, len, pt, sizeof pt));
        cr_assert_str_eq(pt, "card 4111 1111 1111 1111");
        vl_keyring_free(cold);
    }
    vl_keyring_stats_get(r.kr, &st);
    cr_assert_eq(st.kms_wraps, 3, "one DEK wrapped per algorithm");
    cr_assert_eq(st.kms_failures, 0);
    ring_close(&r);
}

/* ---- key states ---------------------------------------------------------------- */

Test(kmip, revoked)
{
    char uid[UID_MAX], pt[64];
    uint8_t dek[32], blob[BLOB_MAX], f[256];
    size_t len, flen;
    struct ring r;
    new_key(uid);
    ring_open(&r, kmip_client(), uid, 100);
    fill(dek, sizeof dek, 3);
    len = wrap_ok(r.kms, uid, dek, sizeof dek, blob);
    OK(enc(r.kr, "s", VL_AES256_GCM, "before", f, &flen));
    key_admin("revoke", uid); /* Deactivated: PyKMIP answers Permission Denied */
    wrap_fails(r.kms, uid, VL_ERR_KEY_DISABLED);
    unwrap_fails(r.kms, uid, blob, len, VL_ERR_KEY_DISABLED);
    evict(r.kr, "s", VL_AES256_GCM);
    RC(VL_ERR_KEY_DISABLED, dec(r.kr, "s", VL_AES256_GCM, f, flen, pt, sizeof pt));
    RC(VL_ERR_KEY_DISABLED, vl_kek_probe(r.kr, KEK));
    ring_close(&r);
}

Test(kmip, pre_active)
{
    char uid[UID_MAX];
    script("admin create-pre-active", uid, sizeof uid);
    vl_kms *kms = kmip_client();
    wrap_fails(kms, uid, VL_ERR_KEY_DISABLED); /* Permission Denied, State Pre-Active */
    vl_kms_close(kms);
}

Test(kmip, destroyed)
{
    char uid[UID_MAX], pt[64];
    uint8_t dek[32], blob[BLOB_MAX], f[256];
    size_t len, flen;
    struct ring r;
    new_key(uid);
    ring_open(&r, kmip_client(), uid, 100);
    fill(dek, sizeof dek, 4);
    len = wrap_ok(r.kms, uid, dek, sizeof dek, blob);
    OK(enc(r.kr, "s", VL_AES128_GCM, "before", f, &flen));
    key_admin("revoke", uid); /* PyKMIP destroys only inactive keys */
    key_admin("destroy", uid);
    unwrap_fails(r.kms, uid, blob, len, VL_ERR_KEY_DESTROYED);
    wrap_fails(r.kms, uid, VL_ERR_NOT_FOUND); /* PyKMIP forgets the id */
    evict(r.kr, "s", VL_AES128_GCM);
    RC(VL_ERR_KEY_DESTROYED, dec(r.kr, "s", VL_AES128_GCM, f, flen, pt, sizeof pt));
    ring_close(&r);
}

/* ---- authentication ---------------------------------------------------------------- */

Test(kmip, refused)
{
    char uid[UID_MAX];
    uint8_t dek[32], blob[BLOB_MAX];
    new_key(uid);
    vl_kms *good = kmip_client();
    fill(dek, sizeof dek, 5);
    size_t len = wrap_ok(good, uid, dek, sizeof dek, blob);
    static const struct who bad[] = {
        {"foreign", "ca", "127.0.0.1", 0, 2000, 2000},  /* another CA: TLS refuses */
        {"noeku", "ca", "127.0.0.1", 0, 2000, 2000},    /* no clientAuth usage */
        {"intruder", "ca", "127.0.0.1", 0, 2000, 2000}, /* valid, not the owner */
        {"client", "ca2", "127.0.0.1", 0, 2000, 2000},  /* server not trusted */
        {"client", "ca", "localhost", 0, 2000, 2000},   /* cert says 127.0.0.1 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vl_kms *kms = kmip_as(bad[i]);
        wrap_fails(kms, uid, VL_ERR_KMS_DENIED);
        unwrap_fails(kms, uid, blob, len, VL_ERR_KMS_DENIED);
        RC(VL_ERR_KMS_DENIED, vl_kms_probe(kms, uid));
        vl_kms_close(kms);
    }
    unwrap_ok(good, uid, blob, len, dek, sizeof dek);
    vl_kms_close(good);
}

/* ---- outages ------------------------------------------------------------------------ */

/* A TCP listener that accepts nothing and says nothing. */
static int silent_listener(uint16_t *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(fd, 4), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static int paused;

static void resume_server(void)
{
    if (paused)
        script("resume", NULL, 0);
    paused = 0;
}

Test(kmip, unreachable, .fini = resume_server)
{
    char uid[UID_MAX];
    uint8_t dek[32], blob[BLOB_MAX];
    uint16_t port;
    new_key(uid);
    fill(dek, sizeof dek, 6);
    /* Nothing listening: refused at once. */
    int fd = silent_listener(&port);
    close(fd);
    vl_kms *kms = kmip_as((struct who){"client", "ca", "127.0.0.1", port, 300, 300});
    int64_t t0 = now_us();
    wrap_fails(kms, uid, VL_ERR_KMS_UNAVAILABLE);
    cr_assert_lt(now_us() - t0, 250000, "a refused connect took %lld us",
                 (long long)(now_us() - t0));
    vl_kms_close(kms);
    /* Listening but silent: the handshake times out (300 ms). */
    fd = silent_listener(&port);
    kms = kmip_as((struct who){"client", "ca", "127.0.0.1", port, 300, 300});
    t0 = now_us();
    wrap_fails(kms, uid, VL_ERR_KMS_UNAVAILABLE);
    int64_t dt = now_us() - t0;
    cr_assert(dt >= 290000 && dt < 1500000, "handshake timeout after %lld us", (long long)dt);
    vl_kms_close(kms);
    close(fd);
    /* The real server, paused (SIGSTOP) with our connection open: the
     * request times out (300 ms, not retried); after SIGCONT the next call
     * reconnects by itself. */
    kms = kmip_as((struct who){"client", "ca", "127.0.0.1", 0, 300, 300});
    size_t len = wrap_ok(kms, uid, dek, sizeof dek, blob);
    script("pause", NULL, 0);
    paused = 1;
    t0 = now_us();
    unwrap_fails(kms, uid, blob, len, VL_ERR_KMS_UNAVAILABLE);
    dt = now_us() - t0;
    cr_assert(dt >= 290000 && dt < 1500000, "read timeout after %lld us", (long long)dt);
    resume_server();
    unwrap_ok(kms, uid, blob, len, dek, sizeof dek);
    vl_kms_close(kms);
}

/* The worker of kill_restart: a fresh subject every round (a wrap), and the
 * previous round's field decrypted from a cold cache (an unwrap).
 *
 * PyKMIP listens about a second before it has loaded the policy file, and
 * meanwhile answers Permission Denied for every key under that policy,
 * which the provider reports faithfully as VL_ERR_KMS_DENIED. So while the
 * server restarts (phase 1: from the kill until its log says the policy is
 * loaded), DENIED is an allowed answer; before and after, only VL_OK and
 * VL_ERR_KMS_UNAVAILABLE are. */
#define CHURN_MAX 4000

struct churn {
    vl_keyring *kr;
    atomic_int stop, phase;
    atomic_int n, oks, errs, denied, bad;
    int bad_rc, bad_round;
    struct {
        uint8_t f[64];
        size_t len;
        int ok;
    } rec[CHURN_MAX];
};

static void subj_of(int i, char *s, size_t cap)
{
    snprintf(s, cap, "c%d", i);
}

static int churn_round(struct churn *c, int i)
{
    char subj[16], pt[16], want[16];
    subj_of(i, subj, sizeof subj);
    snprintf(want, sizeof want, "m%d", i);
    int rc = enc(c->kr, subj, VL_AES256_GCM, want, c->rec[i].f, &c->rec[i].len);
    c->rec[i].ok = rc == VL_OK;
    if (i > 0 && c->rec[i - 1].ok && rc == VL_OK) {
        subj_of(i - 1, subj, sizeof subj);
        evict(c->kr, subj, VL_AES256_GCM);
        rc = dec(c->kr, subj, VL_AES256_GCM, c->rec[i - 1].f, c->rec[i - 1].len, pt,
                 sizeof pt);
    }
    return rc;
}

static void *churn_run(void *arg)
{
    struct churn *c = arg;
    for (int i = 0; i < CHURN_MAX && !atomic_load(&c->stop); i++) {
        int phase = atomic_load(&c->phase);
        int rc = churn_round(c, i);
        if (rc == VL_OK)
            atomic_fetch_add(&c->oks, 1);
        else if (rc == VL_ERR_KMS_UNAVAILABLE)
            atomic_fetch_add(&c->errs, 1);
        else if (rc == VL_ERR_KMS_DENIED && (phase == 1 || atomic_load(&c->phase) == 1))
            atomic_fetch_add(&c->denied, 1);
        else if (atomic_fetch_add(&c->bad, 1) == 0) {
            c->bad_rc = rc;
            c->bad_round = i;
        }
        atomic_store(&c->n, i + 1);
        sleep_ms(2);
    }
    return NULL;
}

static int killed;

static void restart_server(void)
{
    if (killed)
        script("start", NULL, 0);
    killed = 0;
}

static void wait_oks(struct churn *c, int more, int64_t limit_us)
{
    int from = atomic_load(&c->oks);
    int64_t t0 = now_us();
    while (atomic_load(&c->oks) < from + more) {
        cr_assert_lt(now_us() - t0, limit_us, "keyring did not resume: %d rounds, %d ok",
                     atomic_load(&c->n), atomic_load(&c->oks));
        sleep_ms(5);
    }
}

Test(kmip, kill_restart, .fini = restart_server, .timeout = 60)
{
    char uid[UID_MAX], subj[16], pt[16], want[16];
    struct ring r;
    static struct churn c;
    pthread_t th;
    new_key(uid);
    ring_open(&r, kmip_as((struct who){"client", "ca", "127.0.0.1", 0, 1000, 1000}), uid, 20);
    c.kr = r.kr;
    cr_assert_eq(pthread_create(&th, NULL, churn_run, &c), 0);
    wait_oks(&c, 20, 10000000);
    atomic_store(&c.phase, 1);
    script("kill", NULL, 0); /* SIGKILL, requests in flight */
    killed = 1;
    int64_t t_kill = now_us();
    wrap_fails(r.kms, uid, VL_ERR_KMS_UNAVAILABLE);
    sleep_ms(300);
    int errs_down = atomic_load(&c.errs);
    restart_server(); /* same port, same database; returns once ready */
    atomic_store(&c.phase, 2);
    int64_t t_up = now_us();
    wait_oks(&c, 1, 10000000);
    int64_t t_resumed = now_us();
    wait_oks(&c, 20, 10000000); /* and keeps going */
    atomic_store(&c.stop, 1);
    pthread_join(th, NULL);
    cr_assert_eq(atomic_load(&c.bad), 0, "round %d failed with %s", c.bad_round,
                 vl_strerror(c.bad_rc));
    cr_assert_gt(errs_down, 0, "no call saw the outage");
    fprintf(stderr,
            "kmip kill/restart: %d rounds, %d ok, %d VL_ERR_KMS_UNAVAILABLE, %d "
            "VL_ERR_KMS_DENIED (restart, policy not loaded yet); server down for %.0f ms, "
            "first success %.0f ms after the server was ready\n",
            atomic_load(&c.n), atomic_load(&c.oks), atomic_load(&c.errs),
            atomic_load(&c.denied), (t_up - t_kill) / 1e3, (t_resumed - t_up) / 1e3);
    /* Nothing lost: every field returned decrypts in a cold keyring. */
    vl_keyring *cold = ring_cold(&r);
    int n = atomic_load(&c.n), fields = 0;
    for (int i = 0; i < n; i++) {
        if (!c.rec[i].ok)
            continue;
        subj_of(i, subj, sizeof subj);
        snprintf(want, sizeof want, "m%d", i);
        OK(dec(cold, subj, VL_AES256_GCM, c.rec[i].f, c.rec[i].len, pt, sizeof pt));
        cr_assert_str_eq(pt, want);
        fields++;
    }
    cr_assert_lt(fields, n, "every encrypt succeeded: the outage was not seen");
    vl_keyring_free(cold);
    ring_close(&r);
}

/* ---- latency -------------------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

#define ROUNDS 100

Test(kmip, latency)
{
    char uid[UID_MAX], pt[64];
    uint8_t dek[32], blob[BLOB_MAX], out[64], f[256];
    size_t n, flen;
    static int64_t t[ROUNDS];
    struct ring r;
    new_key(uid);
    ring_open(&r, kmip_client(), uid, 100);
    fill(dek, sizeof dek, 9);
    int64_t t0 = now_us();
    size_t len = wrap_ok(r.kms, uid, dek, sizeof dek, blob); /* connect + TLS + wrap */
    int64_t first = now_us() - t0;
    for (int i = 0; i < ROUNDS; i++) {
        t0 = now_us();
        OK(vl_kms_unwrap(r.kms, uid, blob, len, out, sizeof out, &n));
        t[i] = now_us() - t0;
    }
    qsort(t, ROUNDS, sizeof t[0], cmp_i64);
    int64_t kms_med = t[ROUNDS / 2], kms_p99 = t[ROUNDS * 99 / 100];
    OK(enc(r.kr, "lat", VL_AES256_GCM, "a 32-byte field value, plaintext", f, &flen));
    for (int i = 0; i < ROUNDS; i++) { /* cold: unwrap on every decrypt */
        evict(r.kr, "lat", VL_AES256_GCM);
        t0 = now_us();
        OK(dec(r.kr, "lat", VL_AES256_GCM, f, flen, pt, sizeof pt));
        t[i] = now_us() - t0;
    }
    qsort(t, ROUNDS, sizeof t[0], cmp_i64);
    int64_t miss_med = t[ROUNDS / 2];
    enum { HITS = 100000 };
    t0 = now_us();
    for (int i = 0; i < HITS; i++)
        OK(dec(r.kr, "lat", VL_AES256_GCM, f, flen, pt, sizeof pt));
    double hit_ns = (now_us() - t0) * 1e3 / HITS;
    fprintf(stderr,
            "kmip latency: first wrap (TCP + TLS 1.2 handshake + Encrypt) %.2f ms; "
            "unwrap (Decrypt round trip, reused TLS connection) median %.0f us, p99 %.0f us; "
            "field decrypt on a DEK cache miss median %.0f us; on a cache hit %.0f ns "
            "(%.0fx faster than the KMS round trip)\n",
            first / 1e3, (double)kms_med, (double)kms_p99, (double)miss_med, hit_ns,
            kms_med * 1e3 / hit_ns);
    ring_close(&r);
}

/* Sequential: tests kill, pause and restart the one server. The command
 * line may still override (--jobs). */
int main(int argc, char *argv[])
{
    struct criterion_test_set *tests = criterion_initialize();
    criterion_options.jobs = 1;
    int rc = 0;
    if (criterion_handle_args(argc, argv, true))
        rc = !criterion_run_all_tests(tests);
    criterion_finalize(tests);
    return rc;
}
