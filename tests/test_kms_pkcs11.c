/* The PKCS#11 provider (core/kms_pkcs11.c) against a real token: SoftHSM2,
 * loaded into the test process from Debian's softhsm2 package.
 *
 * Every test gets its own token: a temporary directory with its own
 * softhsm2.conf (SOFTHSM2_CONF is set before the provider's C_Initialize)
 * holding a copy of a token made once per run by tests/softhsm.sh:
 * `softhsm2-util --init-token --free` (found by label: it lands in a
 * random slot) and an AES-256 KEK from `pkcs11-tool --keygen` (sensitive,
 * never extractable, private; label "kek", id 01). The directory is
 * removed in .fini, which Criterion runs after a failed assertion too.
 *
 * What a token operator would do while the provider runs (disable a key,
 * make keys with a known value or pinned to one mechanism, close every
 * session) goes through the module's own API in this process (p11-kit's
 * pkcs11.h); deleting the KEK goes through pkcs11-tool, from another
 * process.
 *
 * Without SoftHSM2 the suite is skipped, except under CI=true, where it
 * fails: the CI image must have it (tests/deps.sh installs it).
 *
 *   roundtrip, any_mechanism_unwraps_every_blob, small_buffers
 *                         every DEK length 1..256 under each mechanism
 *   known_answer          the blobs are plain RFC 5649 / RFC 3394 / GCM of
 *                         the documented encoding (checked with OpenSSL)
 *   gcm_binds_key_id      the GCM AAD and canonical key ids
 *   envelope, envelope_disabled_then_enabled
 *                         vl_keyring round trips: three algorithms x three
 *                         mechanisms through a cold cache
 *   wrong_pin, missing, bad_config, mechanism_numbers, allowed_mechanisms,
 *   disabled_then_enabled, destroyed, destroyed_in_process, tampered
 *                         the error mapping
 *   threads               four threads unwrapping at once (pools of 4, 1)
 *   sessions_closed_underneath, module_shared_and_finalized
 *                         session recovery, C_Initialize/C_Finalize */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <openssl/evp.h>
#include <p11-kit-1/p11-kit/pkcs11.h>

#include "common.h"

#include "vellum/envelope.h"
#include "vellum/kms_pkcs11.h"

#define MODULE_DEFAULT "/usr/lib/softhsm/libsofthsm2.so"
#define SCRIPT_DEFAULT "tests/softhsm.sh"
#define TOKEN "vellum-ci"
#define PIN "1234"
#define KEK_LABEL "kek"
#define KEK_ID "label:" KEK_LABEL
#define KEK_HEX "01"
#define SUBJ "orders-value"
#define FIELD_MAX 512

#define OK(x)                                                                       \
    do {                                                                            \
        int rc_ = (x);                                                              \
        cr_assert_eq(rc_, VL_OK, "%s: %d (%s)", #x, rc_, vl_strerror(rc_));        \
    } while (0)
#define RC(want, x)                                                                 \
    do {                                                                            \
        int rc_ = (x), want_ = (want);                                              \
        cr_assert_eq(rc_, want_, "%s: got %d (%s), want %d (%s)", #x, rc_,         \
                     vl_strerror(rc_), want_, vl_strerror(want_));                 \
    } while (0)

static const vl_pkcs11_mech MECHS[] = {VL_PKCS11_KWP, VL_PKCS11_KW, VL_PKCS11_GCM};
static const char *const MECH_NAMES[] = {"KWP", "KW", "GCM"};
static const vl_alg ALGS[] = {VL_AES128_GCM, VL_AES256_GCM, VL_AES256_SIV};

/* ---- fixture: a private token ------------------------------------------- */

static struct {
    char dir[64];
    char conf[128];
    const char *module, *script;
    vl_kms *kms;
} T;

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : dflt;
}

static int on_path(const char *prog)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", prog);
    return system(cmd) == 0;
}

/* Missing SoftHSM2: fail under CI=true, skip elsewhere. */
static void need_softhsm(void)
{
    T.module = env_or("SOFTHSM_MODULE", MODULE_DEFAULT);
    T.script = env_or("VT_SOFTHSM_SH", SCRIPT_DEFAULT);
    cr_assert_eq(access(T.script, R_OK), 0, "%s not found (run from the repository root)",
                 T.script);
    if (access(T.module, R_OK) == 0 && on_path("softhsm2-util") && on_path("pkcs11-tool"))
        return;
    const char *ci = getenv("CI");
    if (ci != NULL && strcmp(ci, "true") == 0)
        cr_assert_fail("SoftHSM2 is missing (%s, softhsm2-util, pkcs11-tool): "
                       "apt-get install softhsm2 libsofthsm2 opensc",
                       T.module);
    cr_skip_test("SoftHSM2 not installed (apt-get install softhsm2 libsofthsm2 opensc)");
}

/* Runs tests/softhsm.sh |verb| |dir| |args|; asserts success. */
static void script_in(const char *dir, const char *verb, const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "SOFTHSM_MODULE='%s' sh '%s' %s '%s' %s", T.module, T.script, verb,
             dir, args);
    int st = system(cmd);
    cr_assert_eq(st, 0, "%s: exit status %d", cmd, st);
}

static void script(const char *verb, const char *args)
{
    script_in(T.dir, verb, args);
}

/* A directory tree of regular files (a SoftHSM2 token directory). */
static void copy_tree(const char *from, const char *to)
{
    DIR *d = opendir(from);
    cr_assert_not_null(d, "opendir %s", from);
    cr_assert(mkdir(to, 0700) == 0 || errno == EEXIST, "mkdir %s", to);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char src[512], dst[512];
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(src, sizeof src, "%s/%s", from, e->d_name);
        snprintf(dst, sizeof dst, "%s/%s", to, e->d_name);
        cr_assert_eq(lstat(src, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            copy_tree(src, dst);
            continue;
        }
        size_t len = (size_t)st.st_size;
        char *data = malloc(len + 1);
        FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
        cr_assert(data != NULL && in != NULL && out != NULL, "%s -> %s", src, dst);
        cr_assert_eq(fread(data, 1, len, in), len);
        cr_assert_eq(fwrite(data, 1, len, out), len);
        cr_assert_eq(fclose(out), 0);
        fclose(in);
        free(data);
    }
    closedir(d);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_tree(const char *dir)
{
    if (access(dir, F_OK) == 0 && nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "pkcs11 tests: could not remove %s\n", dir);
}

static void write_conf(const char *dir)
{
    char path[128];
    snprintf(path, sizeof path, "%s/softhsm2.conf", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "directories.tokendir = %s/tokens\nobjectstore.backend = file\n"
               "log.level = ERROR\nslots.removable = false\n", dir);
    cr_assert_eq(fclose(f), 0);
}

/* The token and KEK every test starts with are made once per run of the
 * test binary (a token object costs SoftHSM2 about 0.1 s, a process
 * start a few ms), in a template directory named after the Criterion
 * runner, whose children the tests are; each test copies it. The first
 * test to take the lock makes it; the runner removes it after the last
 * test (ReportHook POST_ALL below). */
static void template_dir(char *out, size_t cap, long runner)
{
    snprintf(out, cap, "/tmp/vl-p11-tmpl-%ld", runner);
}

static void template_make(const char *tmpl)
{
    char ready[128];
    snprintf(ready, sizeof ready, "%s/ready", tmpl);
    if (access(ready, F_OK) == 0)
        return;
    remove_tree(tmpl);
    script_in(tmpl, "init", TOKEN " " PIN);
    script_in(tmpl, "keygen", TOKEN " " PIN " " KEK_LABEL " " KEK_HEX);
    FILE *f = fopen(ready, "w");
    cr_assert_not_null(f);
    fclose(f);
}

static void template_copy(void)
{
    char tmpl[64], lock[80], tokens[96], mine[96];
    template_dir(tmpl, sizeof tmpl, (long)getppid());
    snprintf(lock, sizeof lock, "%s.lock", tmpl);
    int fd = open(lock, O_CREAT | O_RDWR, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(flock(fd, LOCK_EX), 0);
    template_make(tmpl);
    close(fd); /* releases the lock */
    snprintf(tokens, sizeof tokens, "%s/tokens", tmpl);
    snprintf(mine, sizeof mine, "%s/tokens", T.dir);
    copy_tree(tokens, mine);
    write_conf(T.dir);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    char tmpl[64], lock[80];
    (void)stats;
    template_dir(tmpl, sizeof tmpl, (long)getpid());
    snprintf(lock, sizeof lock, "%s.lock", tmpl);
    if (access(lock, F_OK) != 0)
        return; /* no pkcs11 test ran */
    remove_tree(tmpl);
    remove(lock);
}

static void setup(void)
{
    memset(&T, 0, sizeof T);
    need_softhsm();
    strcpy(T.dir, "/tmp/vl-p11-XXXXXX");
    cr_assert_not_null(mkdtemp(T.dir));
    snprintf(T.conf, sizeof T.conf, "%s/softhsm2.conf", T.dir);
    cr_assert_eq(setenv("SOFTHSM2_CONF", T.conf, 1), 0);
    template_copy();
}

static void teardown(void)
{
    vl_kms_close(T.kms);
    T.kms = NULL;
    if (T.dir[0] != '\0')
        remove_tree(T.dir);
}

static vl_kms_pkcs11_config config(vl_pkcs11_mech mech)
{
    vl_kms_pkcs11_config cfg = {
        .module = T.module, .token_label = TOKEN, .pin = PIN, .mech = mech,
    };
    return cfg;
}

static vl_kms *provider(vl_pkcs11_mech mech)
{
    vl_kms_pkcs11_config cfg = config(mech);
    vl_kms *kms = NULL;
    OK(vl_kms_pkcs11_new(&kms, &cfg));
    cr_assert_not_null(kms);
    cr_assert_str_eq(kms->ops->name, "pkcs11");
    return kms;
}

/* T.kms, replaced. */
static vl_kms *use(vl_pkcs11_mech mech)
{
    vl_kms_close(T.kms);
    T.kms = provider(mech);
    return T.kms;
}

/* ---- the token, as its operator sees it ---------------------------------- */

static struct {
    CK_FUNCTION_LIST *f;
    CK_SESSION_HANDLE s;
    CK_SLOT_ID slot;
} A;

static CK_FUNCTION_LIST *module_functions(void)
{
    void *dl = dlopen(T.module, RTLD_NOW);
    cr_assert_not_null(dl, "%s", dlerror());
    CK_C_GetFunctionList get;
    void *sym = dlsym(dl, "C_GetFunctionList");
    cr_assert_not_null(sym);
    memcpy(&get, &sym, sizeof get);
    CK_FUNCTION_LIST *f = NULL;
    cr_assert_eq(get(&f), CKR_OK);
    return f; /* the dlopen reference is kept for the process */
}

/* A logged-in R/W session on the test token, in this process. The module
 * is initialized with OS locking (SoftHSM2 drops its locks when
 * C_Initialize gets NULL), or found initialized by a provider. Tests that
 * close providers call it first: a module the admin initialized is never
 * finalized by a provider, so the admin's session and its objects live
 * on. */
static void admin_open(void)
{
    CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    A.f = module_functions();
    CK_RV rv = A.f->C_Initialize(&args);
    cr_assert(rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED, "C_Initialize %lx", rv);
    cr_assert_eq(A.f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    CK_ULONG found = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO info;
        cr_assert_eq(A.f->C_GetTokenInfo(slots[i], &info), CKR_OK);
        if (memcmp(info.label, TOKEN, strlen(TOKEN)) == 0 && info.label[strlen(TOKEN)] == ' ') {
            A.slot = slots[i];
            found++;
        }
    }
    cr_assert_eq(found, 1, "token %s", TOKEN);
    cr_assert_eq(A.f->C_OpenSession(A.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                                    &A.s),
                 CKR_OK);
    rv = A.f->C_Login(A.s, CKU_USER, (unsigned char *)PIN, strlen(PIN));
    cr_assert(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN, "C_Login %lx", rv);
}

static CK_OBJECT_HANDLE admin_find(const char *label)
{
    CK_ATTRIBUTE t = {CKA_LABEL, (void *)label, strlen(label)};
    CK_OBJECT_HANDLE h = 0;
    CK_ULONG n = 0;
    cr_assert_eq(A.f->C_FindObjectsInit(A.s, &t, 1), CKR_OK);
    cr_assert_eq(A.f->C_FindObjects(A.s, &h, 1, &n), CKR_OK);
    cr_assert_eq(A.f->C_FindObjectsFinal(A.s), CKR_OK);
    cr_assert_eq(n, 1, "no object labelled %s", label);
    return h;
}

/* CKA_WRAP/UNWRAP/ENCRYPT/DECRYPT of the KEK, as an operator disables it. */
static void admin_set_usage(CK_ATTRIBUTE_TYPE a, CK_ATTRIBUTE_TYPE b, CK_BBOOL on)
{
    CK_ATTRIBUTE t[] = {{a, &on, sizeof on}, {b, &on, sizeof on}};
    cr_assert_eq(A.f->C_SetAttributeValue(A.s, admin_find(KEK_LABEL), t, 2), CKR_OK);
}

/* A KEK whose value we know, sensitive and never extractable like the
 * real one, for the known-answer checks. A session object (visible to
 * every session of this process while the admin session lives): making
 * a token object costs SoftHSM2 0.1 s. */
static void admin_known_kek(const char *label, const uint8_t value[32])
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_AES;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof cls},     {CKA_KEY_TYPE, &type, sizeof type},
        {CKA_TOKEN, &no, sizeof no},       {CKA_PRIVATE, &yes, sizeof yes},
        {CKA_SENSITIVE, &yes, sizeof yes}, {CKA_EXTRACTABLE, &no, sizeof no},
        {CKA_WRAP, &yes, sizeof yes},      {CKA_UNWRAP, &yes, sizeof yes},
        {CKA_ENCRYPT, &yes, sizeof yes},   {CKA_DECRYPT, &yes, sizeof yes},
        {CKA_LABEL, (void *)label, strlen(label)}, {CKA_VALUE, (void *)value, 32},
    };
    CK_OBJECT_HANDLE h;
    cr_assert_eq(A.f->C_CreateObject(A.s, t, sizeof t / sizeof t[0], &h), CKR_OK);
}

/* An AES-256 key like the KEK (private, sensitive, never extractable),
 * as a session object of the admin session (token objects are slow to
 * make); |only|: its one CKA_ALLOWED_MECHANISMS entry, 0 for none. */
static void admin_gen_key(const char *label, uint8_t id, CK_MECHANISM_TYPE only)
{
    CK_MECHANISM m = {CKM_AES_KEY_GEN, NULL, 0};
    CK_ULONG len = 32;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE t[] = {
        {CKA_VALUE_LEN, &len, sizeof len}, {CKA_TOKEN, &no, sizeof no},
        {CKA_PRIVATE, &yes, sizeof yes},   {CKA_SENSITIVE, &yes, sizeof yes},
        {CKA_EXTRACTABLE, &no, sizeof no}, {CKA_WRAP, &yes, sizeof yes},
        {CKA_UNWRAP, &yes, sizeof yes},    {CKA_ENCRYPT, &yes, sizeof yes},
        {CKA_DECRYPT, &yes, sizeof yes},   {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_ID, &id, 1},                  {CKA_ALLOWED_MECHANISMS, &only, sizeof only},
    };
    CK_OBJECT_HANDLE h;
    CK_ULONG n = sizeof t / sizeof t[0] - (only == 0);
    cr_assert_eq(A.f->C_GenerateKey(A.s, &m, t, n, &h), CKR_OK);
}

/* ---- helpers -------------------------------------------------------------- */

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    vt_rng r = {0x9e3779b97f4a7c15ULL ^ seed};
    vt_rng_fill(&r, p, n);
}

static size_t wrap(vl_kms *kms, const char *kek, const uint8_t *key, size_t len, uint8_t *blob)
{
    size_t n = 0;
    OK(vl_kms_wrap(kms, kek, key, len, blob, VL_KMS_MAX_BLOB, &n));
    return n;
}

static void unwrap_equals(vl_kms *kms, const char *kek, const uint8_t *blob, size_t blob_len,
                          const uint8_t *key, size_t len)
{
    uint8_t back[VL_KMS_MAX_KEY];
    size_t n = 0;
    OK(vl_kms_unwrap(kms, kek, blob, blob_len, back, sizeof back, &n));
    cr_assert_eq(n, len);
    cr_assert(memcmp(back, key, len) == 0);
}

/* The failure contract: |want|, *out_len 0, the output all zero. */
static void unwrap_fails(vl_kms *kms, const char *kek, const uint8_t *blob, size_t blob_len,
                         int want, const char *what)
{
    uint8_t back[VL_KMS_MAX_KEY];
    size_t n = 77;
    memset(back, 0xa5, sizeof back);
    int rc = vl_kms_unwrap(kms, kek, blob, blob_len, back, sizeof back, &n);
    cr_assert_eq(rc, want, "%s: got %d (%s), want %d", what, rc, vl_strerror(rc), want);
    cr_assert_eq(n, 0);
    cr_assert(vt_is_zero(back, sizeof back), "%s: output not wiped", what);
}

static int wrap_rc(vl_kms *kms, const char *kek)
{
    uint8_t key[34], blob[VL_KMS_MAX_BLOB];
    size_t n;
    fill(key, sizeof key, 1);
    return vl_kms_wrap(kms, kek, key, sizeof key, blob, sizeof blob, &n);
}

/* What the provider wraps under KW/KWP: be16(len) || key || zeros, a
 * multiple of 8 and at least 16 bytes. */
static size_t kw_encoding(uint8_t *out, const uint8_t *key, size_t len)
{
    size_t n = (2 + len + 7) / 8 * 8;
    n = n < 16 ? 16 : n;
    memset(out, 0, n);
    out[0] = (uint8_t)(len >> 8);
    out[1] = (uint8_t)len;
    memcpy(out + 2, key, len);
    return n;
}

/* ---- round trips ----------------------------------------------------------- */

Test(pkcs11, roundtrip, .init = setup, .fini = teardown)
{
    uint8_t key[VL_KMS_MAX_KEY], blob[VL_KMS_MAX_BLOB];
    for (size_t m = 0; m < 3; m++) {
        vl_kms *kms = use(MECHS[m]);
        for (size_t len = 1; len <= VL_KMS_MAX_KEY; len++) {
            fill(key, len, (unsigned)len);
            size_t n = wrap(kms, KEK_ID, key, len, blob);
            size_t want = MECHS[m] == VL_PKCS11_GCM ? 1 + 12 + len + 16
                                                    : 1 + kw_encoding(blob + 1024, key, len) + 8;
            cr_assert_eq(n, want, "%s, %zu-byte key: blob of %zu bytes", MECH_NAMES[m], len, n);
            cr_assert_eq(blob[0], MECHS[m] == VL_PKCS11_KWP ? 1 : MECHS[m] == VL_PKCS11_KW ? 2 : 3);
            unwrap_equals(kms, KEK_ID, blob, n, key, len);
        }
        OK(vl_kms_probe(kms, KEK_ID));
        OK(vl_kms_probe(kms, "id:" KEK_HEX)); /* the same key by CKA_ID */
        OK(vl_kms_probe(kms, KEK_LABEL));     /* a bare label */
    }
}

/* Unwrap reads the scheme from the blob: blobs made under one mechanism
 * stay readable after the configuration moves to another. */
Test(pkcs11, any_mechanism_unwraps_every_blob, .init = setup, .fini = teardown)
{
    uint8_t key[34], blob[3][VL_KMS_MAX_BLOB];
    size_t n[3];
    fill(key, sizeof key, 7);
    for (size_t m = 0; m < 3; m++)
        n[m] = wrap(use(MECHS[m]), KEK_ID, key, sizeof key, blob[m]);
    for (size_t m = 0; m < 3; m++) {
        vl_kms *kms = use(MECHS[m]);
        for (size_t b = 0; b < 3; b++)
            unwrap_equals(kms, KEK_ID, blob[b], n[b], key, sizeof key);
    }
}

/* The blob bodies are standard RFC 3394 / RFC 5649 / GCM output: OpenSSL
 * opens them with the KEK's value, and makes blobs the provider opens. */
static size_t ossl_wrap(const EVP_CIPHER *c, const uint8_t kek[32], int enc, const uint8_t *in,
                        size_t in_len, uint8_t *out)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0;
    cr_assert_not_null(ctx);
    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    cr_assert_eq(EVP_CipherInit_ex(ctx, c, NULL, kek, NULL, enc), 1);
    cr_assert_eq(EVP_CipherUpdate(ctx, out, &n, in, (int)in_len), 1);
    cr_assert_eq(EVP_CipherFinal_ex(ctx, out + n, &fin), 1);
    EVP_CIPHER_CTX_free(ctx);
    return (size_t)(n + fin);
}

static void known_answer_kw(vl_pkcs11_mech mech, const uint8_t kek[32], const uint8_t *key,
                            size_t len)
{
    const EVP_CIPHER *c = mech == VL_PKCS11_KW ? EVP_aes_256_wrap() : EVP_aes_256_wrap_pad();
    uint8_t blob[VL_KMS_MAX_BLOB], enc[300], plain[300], mine[VL_KMS_MAX_BLOB];
    vl_kms *kms = use(mech);
    size_t n = wrap(kms, "kat", key, len, blob);
    size_t enc_len = kw_encoding(enc, key, len);
    size_t p = ossl_wrap(c, kek, 0, blob + 1, n - 1, plain);
    cr_assert_eq(p, enc_len);
    cr_assert(memcmp(plain, enc, p) == 0, "%zu-byte key: not RFC key wrap of our encoding", len);
    /* RFC 3394/5649 are deterministic: the token's blob is OpenSSL's. */
    mine[0] = blob[0];
    cr_assert_eq(1 + ossl_wrap(c, kek, 1, enc, enc_len, mine + 1), n);
    cr_assert(memcmp(mine, blob, n) == 0);
    unwrap_equals(kms, "kat", mine, n, key, len);
}

static void known_answer_gcm(const uint8_t kek[32], const uint8_t *key, size_t len)
{
    static const char aad[] = "vellum-pkcs11-gcm\0label:kat";
    uint8_t blob[VL_KMS_MAX_BLOB], plain[300], mine[VL_KMS_MAX_BLOB];
    vl_kms *kms = use(VL_PKCS11_GCM);
    size_t n = wrap(kms, "kat", key, len, blob); /* a bare label: canonical "label:kat" */
    cr_assert_eq(n, 1 + 12 + len + 16);
    cr_assert(vt_ossl_gcm_open(kek, 32, blob + 1, 12, (const uint8_t *)aad, sizeof aad - 1,
                               blob + 13, n - 13, plain),
              "GCM blob does not open with AAD \"vellum-pkcs11-gcm\\0label:kat\"");
    cr_assert(memcmp(plain, key, len) == 0);
    memcpy(mine, blob, 13);
    mine[1] ^= 0x5a; /* a different IV: our own seal */
    cr_assert(vt_ossl_gcm_seal(kek, 32, mine + 1, 12, (const uint8_t *)aad, sizeof aad - 1, key,
                               len, mine + 13));
    unwrap_equals(kms, "label:kat", mine, n, key, len);
}

Test(pkcs11, known_answer, .init = setup, .fini = teardown)
{
    uint8_t kek[32], key[VL_KMS_MAX_KEY];
    fill(kek, sizeof kek, 32);
    admin_open();
    admin_known_kek("kat", kek);
    static const size_t LENS[] = {1, 14, 15, 16, 18, 24, 32, 34, 66, 255, 256};
    for (size_t i = 0; i < sizeof LENS / sizeof LENS[0]; i++) {
        fill(key, LENS[i], (unsigned)i);
        known_answer_kw(VL_PKCS11_KWP, kek, key, LENS[i]);
        known_answer_kw(VL_PKCS11_KW, kek, key, LENS[i]);
        known_answer_gcm(kek, key, LENS[i]);
    }
}

/* GCM binds the canonical key id: the same key under another id (its
 * CKA_ID instead of its label) refuses the blob. KW/KWP bind nothing. */
Test(pkcs11, gcm_binds_key_id, .init = setup, .fini = teardown)
{
    uint8_t key[34], blob[VL_KMS_MAX_BLOB];
    fill(key, sizeof key, 3);
    admin_open();
    admin_gen_key("hexkey", 0xab, 0);
    size_t n = wrap(use(VL_PKCS11_GCM), KEK_LABEL, key, sizeof key, blob);
    unwrap_equals(T.kms, "label:" KEK_LABEL, blob, n, key, sizeof key);
    unwrap_fails(T.kms, "id:" KEK_HEX, blob, n, VL_ERR_AUTH, "GCM blob under the CKA_ID");
    n = wrap(T.kms, "id:AB", key, sizeof key, blob);
    unwrap_equals(T.kms, "id:ab", blob, n, key, sizeof key); /* canonical hex is lower case */
    n = wrap(use(VL_PKCS11_KWP), KEK_LABEL, key, sizeof key, blob);
    unwrap_equals(T.kms, "id:" KEK_HEX, blob, n, key, sizeof key);
}

/* ---- through the envelope layer -------------------------------------------- */

static vl_keyring *keyring(vl_store *store, vl_kms *kms)
{
    vl_keyring_config cfg = {.store = store, .versioned = 1};
    vl_keyring *kr = NULL;
    OK(vl_keyring_new(&kr, &cfg));
    OK(vl_keyring_register_kms(kr, "pkcs11", kms));
    return kr;
}

struct field {
    uint8_t b[FIELD_MAX];
    size_t n;
};

static int decrypt(vl_keyring *kr, const char *kek, vl_alg alg, const struct field *f)
{
    char pt[FIELD_MAX];
    size_t n = 0;
    int rc = vl_field_decrypt(kr, kek, SUBJ, alg, f->b, f->n, (uint8_t *)pt, sizeof pt, &n);
    if (rc == VL_OK)
        cr_assert(n == 11 && memcmp(pt, "card 4111-1", 11) == 0);
    return rc;
}

/* Encrypt under each algorithm, then decrypt with a new keyring and a new
 * provider on the same store: every DEK comes back through the token. */
static void envelope_round_trip(vl_pkcs11_mech mech, const char *kek_id)
{
    vl_store *store = NULL;
    struct field f[3];
    OK(vl_store_mem_new(&store));
    vl_keyring *kr = keyring(store, use(mech));
    OK(vl_kek_create(kr, "payments", "pkcs11", kek_id, 0, "SoftHSM2 KEK"));
    OK(vl_kek_probe(kr, "payments"));
    for (size_t a = 0; a < 3; a++)
        OK(vl_field_encrypt(kr, "payments", SUBJ, ALGS[a], (const uint8_t *)"card 4111-1", 11,
                            f[a].b, sizeof f[a].b, &f[a].n));
    vl_keyring_free(kr);
    kr = keyring(store, use(mech));
    for (int round = 0; round < 2; round++)
        for (size_t a = 0; a < 3; a++)
            OK(decrypt(kr, "payments", ALGS[a], &f[a]));
    vl_keyring_stats st;
    vl_keyring_stats_get(kr, &st);
    cr_assert_eq(st.kms_unwraps, 3, "%s: one unwrap per DEK, then the cache", MECH_NAMES[mech]);
    cr_assert_eq(st.kms_failures, 0);
    vl_keyring_free(kr);
    vl_store_close(store);
}

Test(pkcs11, envelope, .init = setup, .fini = teardown)
{
    for (size_t m = 0; m < 3; m++)
        envelope_round_trip(MECHS[m], KEK_ID);
    envelope_round_trip(VL_PKCS11_KWP, "id:" KEK_HEX);
}

/* A disabled KEK through the keyring: decrypt on a cold cache says
 * KEY_DISABLED (and is not retried as "unavailable"); re-enabled, the
 * same field decrypts. */
Test(pkcs11, envelope_disabled_then_enabled, .init = setup, .fini = teardown)
{
    vl_store *store = NULL;
    struct field f;
    OK(vl_store_mem_new(&store));
    vl_keyring *kr = keyring(store, use(VL_PKCS11_KWP));
    OK(vl_kek_create(kr, "payments", "pkcs11", KEK_ID, 0, NULL));
    OK(vl_field_encrypt(kr, "payments", SUBJ, VL_AES256_GCM, (const uint8_t *)"card 4111-1", 11,
                        f.b, sizeof f.b, &f.n));
    vl_keyring_free(kr);
    kr = keyring(store, T.kms);
    admin_open();
    admin_set_usage(CKA_UNWRAP, CKA_DECRYPT, CK_FALSE);
    RC(VL_ERR_KEY_DISABLED, decrypt(kr, "payments", VL_AES256_GCM, &f));
    RC(VL_ERR_KEY_DISABLED, vl_kek_probe(kr, "payments"));
    admin_set_usage(CKA_UNWRAP, CKA_DECRYPT, CK_TRUE);
    OK(decrypt(kr, "payments", VL_AES256_GCM, &f));
    vl_keyring_free(kr);
    vl_store_close(store);
}

/* ---- errors ------------------------------------------------------------------ */

Test(pkcs11, wrong_pin, .init = setup, .fini = teardown)
{
    vl_kms_pkcs11_config cfg = config(VL_PKCS11_KWP);
    vl_kms *kms = (vl_kms *)&cfg; /* must come back NULL */
    cfg.pin = "4321";
    RC(VL_ERR_KMS_DENIED, vl_kms_pkcs11_new(&kms, &cfg));
    cr_assert_null(kms);
    cfg.pin = "";
    RC(VL_ERR_KMS_DENIED, vl_kms_pkcs11_new(&kms, &cfg));
    /* SoftHSM2 has no lockout: the right PIN still works afterwards. */
    OK(vl_kms_probe(use(VL_PKCS11_KWP), KEK_ID));
    /* Not logged in at all: the private KEK is invisible. (The login
     * state is the application's, so no other provider may be open.) */
    vl_kms_close(T.kms);
    T.kms = NULL;
    cfg.pin = NULL;
    OK(vl_kms_pkcs11_new(&kms, &cfg));
    RC(VL_ERR_NOT_FOUND, vl_kms_probe(kms, KEK_ID));
    vl_kms_close(kms);
}

Test(pkcs11, missing, .init = setup, .fini = teardown)
{
    uint8_t key[34], blob[VL_KMS_MAX_BLOB];
    fill(key, sizeof key, 5);
    for (size_t m = 0; m < 3; m++) {
        vl_kms *kms = use(MECHS[m]);
        size_t n = wrap(kms, KEK_ID, key, sizeof key, blob);
        RC(VL_ERR_NOT_FOUND, wrap_rc(kms, "label:no-such-key"));
        RC(VL_ERR_NOT_FOUND, wrap_rc(kms, "id:0102"));
        RC(VL_ERR_NOT_FOUND, vl_kms_probe(kms, "no-such-key"));
        unwrap_fails(kms, "label:no-such-key", blob, n, VL_ERR_NOT_FOUND, "missing key");
    }
    vl_kms_pkcs11_config cfg = config(VL_PKCS11_KWP);
    vl_kms *kms = NULL;
    cfg.token_label = "no-such-token";
    RC(VL_ERR_NOT_FOUND, vl_kms_pkcs11_new(&kms, &cfg));
    cfg = config(VL_PKCS11_KWP);
    cfg.module = "/nonexistent/libpkcs11.so";
    RC(VL_ERR_NOT_FOUND, vl_kms_pkcs11_new(&kms, &cfg));
    cfg.module = "libc.so.6"; /* loads, but is no PKCS#11 module */
    RC(VL_ERR_UNSUPPORTED, vl_kms_pkcs11_new(&kms, &cfg));
    cr_assert_null(kms);
}

Test(pkcs11, bad_config, .init = setup, .fini = teardown)
{
    vl_kms *kms = NULL;
    vl_kms_pkcs11_config cfg = config(VL_PKCS11_KWP);
    RC(VL_ERR_ARG, vl_kms_pkcs11_new(NULL, &cfg));
    RC(VL_ERR_ARG, vl_kms_pkcs11_new(&kms, NULL));
    cfg.module = NULL;
    RC(VL_ERR_ARG, vl_kms_pkcs11_new(&kms, &cfg));
    cfg = config(VL_PKCS11_KWP);
    cfg.token_label = "a-label-longer-than-32-bytes-is-invalid";
    RC(VL_ERR_ARG, vl_kms_pkcs11_new(&kms, &cfg));
    cfg = config((vl_pkcs11_mech)7);
    RC(VL_ERR_ARG, vl_kms_pkcs11_new(&kms, &cfg));
    /* By slot id instead of label: the right one works, a wrong one is
     * not found. */
    admin_open();
    cfg = config(VL_PKCS11_KWP);
    cfg.token_label = NULL;
    cfg.slot_id = A.slot;
    OK(vl_kms_pkcs11_new(&kms, &cfg));
    OK(vl_kms_probe(kms, KEK_ID));
    vl_kms_close(kms);
    cfg.slot_id = A.slot + 1000;
    RC(VL_ERR_NOT_FOUND, vl_kms_pkcs11_new(&kms, &cfg));
    /* Key ids: empty, bad hex, and a label two keys share. */
    vl_kms *p = use(VL_PKCS11_KWP);
    RC(VL_ERR_ARG, wrap_rc(p, ""));
    RC(VL_ERR_ARG, wrap_rc(p, "label:"));
    RC(VL_ERR_ARG, wrap_rc(p, "id:"));
    RC(VL_ERR_ARG, wrap_rc(p, "id:0g"));
    RC(VL_ERR_ARG, wrap_rc(p, "id:012"));
    admin_gen_key("dup", 2, 0);
    admin_gen_key("dup", 3, 0);
    RC(VL_ERR_ARG, wrap_rc(p, "label:dup"));
    OK(wrap_rc(p, "id:03"));
}

/* Mechanism numbers are configurable: SoftHSM2 2.6 implements RFC 5649 as
 * 0x210A and lacks v3.0's 0x210B, so asking for that is refused up front. */
Test(pkcs11, mechanism_numbers, .init = setup, .fini = teardown)
{
    vl_kms *kms = NULL;
    vl_kms_pkcs11_config cfg = config(VL_PKCS11_KWP);
    cfg.mech_kwp = 0x210B; /* CKM_AES_KEY_WRAP_KWP */
    RC(VL_ERR_UNSUPPORTED, vl_kms_pkcs11_new(&kms, &cfg));
    cfg.mech_kwp = 0x210A;
    OK(vl_kms_pkcs11_new(&kms, &cfg));
    OK(vl_kms_probe(kms, KEK_ID));
    vl_kms_close(kms);
    cfg = config(VL_PKCS11_GCM);
    cfg.mech_gcm = 0x1087;
    OK(vl_kms_pkcs11_new(&kms, &cfg));
    OK(vl_kms_probe(kms, KEK_ID));
    vl_kms_close(kms);
    cfg = config(VL_PKCS11_KW);
    cfg.mech_kw = 0x1087; /* GCM cannot wrap */
    RC(VL_ERR_UNSUPPORTED, vl_kms_pkcs11_new(&kms, &cfg));
}

static void disabled_one(vl_pkcs11_mech mech)
{
    uint8_t key[34], blob[VL_KMS_MAX_BLOB];
    fill(key, sizeof key, 9);
    vl_kms *kms = use(mech);
    size_t n = wrap(kms, KEK_ID, key, sizeof key, blob);
    admin_set_usage(CKA_UNWRAP, CKA_DECRYPT, CK_FALSE);
    unwrap_fails(kms, KEK_ID, blob, n, VL_ERR_KEY_DISABLED, "CKA_UNWRAP/DECRYPT false");
    RC(VL_ERR_KEY_DISABLED, vl_kms_probe(kms, KEK_ID));
    OK(wrap_rc(kms, KEK_ID)); /* wrapping is still allowed */
    admin_set_usage(CKA_WRAP, CKA_ENCRYPT, CK_FALSE);
    RC(VL_ERR_KEY_DISABLED, wrap_rc(kms, KEK_ID));
    admin_set_usage(CKA_UNWRAP, CKA_DECRYPT, CK_TRUE);
    unwrap_equals(kms, KEK_ID, blob, n, key, sizeof key);
    admin_set_usage(CKA_WRAP, CKA_ENCRYPT, CK_TRUE);
    OK(vl_kms_probe(kms, KEK_ID));
}

Test(pkcs11, disabled_then_enabled, .init = setup, .fini = teardown)
{
    admin_open();
    for (size_t m = 0; m < 3; m++)
        disabled_one(MECHS[m]);
}

/* A key pinned to one mechanism (CKA_ALLOWED_MECHANISMS) refuses the
 * others: KEY_DISABLED, not "unavailable". */
Test(pkcs11, allowed_mechanisms, .init = setup, .fini = teardown)
{
    admin_open();
    admin_gen_key("kw-only", 5, CKM_AES_KEY_WRAP);
    OK(vl_kms_probe(use(VL_PKCS11_KW), "kw-only"));
    RC(VL_ERR_KEY_DISABLED, vl_kms_probe(use(VL_PKCS11_KWP), "kw-only"));
    RC(VL_ERR_KEY_DISABLED, vl_kms_probe(use(VL_PKCS11_GCM), "kw-only"));
}

/* The operator deletes the KEK (pkcs11-tool, another process) while the
 * provider holds its handle: KEY_DESTROYED for wrap, unwrap and probe; a
 * provider that never saw the key says NOT_FOUND. */
Test(pkcs11, destroyed, .init = setup, .fini = teardown)
{
    uint8_t key[34], blob[3][VL_KMS_MAX_BLOB];
    size_t n[3];
    vl_kms *kms[3];
    fill(key, sizeof key, 11);
    for (size_t m = 0; m < 3; m++) {
        kms[m] = provider(MECHS[m]);
        n[m] = wrap(kms[m], KEK_ID, key, sizeof key, blob[m]);
        unwrap_equals(kms[m], KEK_ID, blob[m], n[m], key, sizeof key); /* handle cached */
    }
    script("delete", TOKEN " " PIN " " KEK_LABEL);
    for (size_t m = 0; m < 3; m++) {
        unwrap_fails(kms[m], KEK_ID, blob[m], n[m], VL_ERR_KEY_DESTROYED, MECH_NAMES[m]);
        RC(VL_ERR_KEY_DESTROYED, wrap_rc(kms[m], KEK_ID));
        RC(VL_ERR_KEY_DESTROYED, vl_kms_probe(kms[m], KEK_ID));
        unwrap_fails(kms[m], KEK_ID, blob[m], n[m], VL_ERR_KEY_DESTROYED, "again");
        vl_kms_close(kms[m]);
    }
    vl_kms *fresh = use(VL_PKCS11_KWP);
    unwrap_fails(fresh, KEK_ID, blob[0], n[0], VL_ERR_NOT_FOUND, "never seen");
    /* A new key under the old label: wraps again; old blobs are another
     * key's (AUTH), after the provider noticed the new handle. */
    script("keygen", TOKEN " " PIN " " KEK_LABEL " " KEK_HEX);
    OK(wrap_rc(fresh, KEK_ID));
    for (size_t m = 0; m < 3; m++)
        unwrap_fails(fresh, KEK_ID, blob[m], n[m], VL_ERR_AUTH, "old blob, new key");
}

/* Destroyed in this process, the same session space as the provider: the
 * token answers with a stale handle (CKR_*_HANDLE_INVALID). One key per
 * mechanism, each found and cached first. */
Test(pkcs11, destroyed_in_process, .init = setup, .fini = teardown)
{
    static const char *const LABELS[] = {KEK_LABEL, "other", "hexkey"};
    uint8_t key[18], blob[VL_KMS_MAX_BLOB];
    fill(key, sizeof key, 13);
    admin_open();
    admin_gen_key("other", 9, 0);
    admin_gen_key("hexkey", 0xab, 0);
    for (size_t m = 0; m < 3; m++) {
        vl_kms *kms = use(MECHS[m]);
        size_t n = wrap(kms, LABELS[m], key, sizeof key, blob);
        unwrap_equals(kms, LABELS[m], blob, n, key, sizeof key);
        cr_assert_eq(A.f->C_DestroyObject(A.s, admin_find(LABELS[m])), CKR_OK);
        uint8_t back[VL_KMS_MAX_KEY];
        size_t len;
        RC(VL_ERR_KEY_DESTROYED, vl_kms_unwrap(kms, LABELS[m], blob, n, back, sizeof back, &len));
        RC(VL_ERR_KEY_DESTROYED, wrap_rc(kms, LABELS[m]));
    }
}

/* Every byte of every blob flipped, every truncation, one byte more, a
 * wrong first byte: VL_ERR_AUTH, output wiped. */
static void tamper_all(vl_kms *kms, const uint8_t *blob, size_t n, const char *what)
{
    uint8_t bad[VL_KMS_MAX_BLOB];
    char msg[64];
    for (size_t i = 0; i < n; i++)
        for (unsigned bit = 0; bit < 8; bit += 7) {
            memcpy(bad, blob, n);
            bad[i] ^= (uint8_t)(1u << bit);
            snprintf(msg, sizeof msg, "%s: byte %zu bit %u", what, i, bit);
            unwrap_fails(kms, KEK_ID, bad, n, VL_ERR_AUTH, msg);
        }
    for (size_t len = 0; len < n; len++) {
        snprintf(msg, sizeof msg, "%s: truncated to %zu", what, len);
        unwrap_fails(kms, KEK_ID, blob, len, VL_ERR_AUTH, msg);
    }
    memcpy(bad, blob, n);
    bad[n] = 0;
    unwrap_fails(kms, KEK_ID, bad, n + 1, VL_ERR_AUTH, "one byte more");
    for (unsigned first = 0; first < 256; first++) {
        bad[0] = (uint8_t)first;
        if (first >= 1 && first <= 3)
            continue;
        unwrap_fails(kms, KEK_ID, bad, n, VL_ERR_AUTH, "unknown scheme");
    }
}

Test(pkcs11, tampered, .init = setup, .fini = teardown)
{
    uint8_t key[66], blob[VL_KMS_MAX_BLOB];
    fill(key, sizeof key, 17);
    admin_open(); /* first: the admin's initialization outlives providers */
    admin_gen_key("other", 9, 0);
    for (size_t m = 0; m < 3; m++) {
        vl_kms *kms = use(MECHS[m]);
        size_t n = wrap(kms, KEK_ID, key, sizeof key, blob);
        tamper_all(kms, blob, n, MECH_NAMES[m]);
        unwrap_equals(kms, KEK_ID, blob, n, key, sizeof key); /* nothing stuck */
    }
    /* Another key's blob, same scheme: AUTH too. */
    for (size_t m = 0; m < 3; m++) {
        vl_kms *kms = use(MECHS[m]);
        size_t n = wrap(kms, "other", key, sizeof key, blob);
        unwrap_fails(kms, KEK_ID, blob, n, VL_ERR_AUTH, "other key's blob");
    }
}

/* ---- threads and sessions ---------------------------------------------------- */

struct worker {
    vl_kms *kms;
    const uint8_t (*blobs)[VL_KMS_MAX_BLOB];
    const size_t *lens;
    const uint8_t (*keys)[66];
    int id, failures;
};

#define PER_THREAD 150

static void *unwrap_many(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        int b = (w->id + i) % 6;
        uint8_t back[VL_KMS_MAX_KEY];
        size_t n = 0;
        int rc = vl_kms_unwrap(w->kms, KEK_ID, w->blobs[b], w->lens[b], back, sizeof back, &n);
        if (rc != VL_OK || n != 66 || memcmp(back, w->keys[b], 66) != 0)
            w->failures++;
    }
    return NULL;
}

/* Four threads unwrap at once through one provider, with a pool of 4
 * sessions and with one (the threads then take turns on it). */
Test(pkcs11, threads, .init = setup, .fini = teardown)
{
    uint8_t keys[6][66], blobs[6][VL_KMS_MAX_BLOB];
    size_t lens[6];
    static const unsigned POOLS[] = {4, 1};
    for (size_t p = 0; p < 2; p++) {
        unsigned pool = POOLS[p];
        vl_kms_pkcs11_config cfg = config(VL_PKCS11_KWP);
        cfg.max_sessions = pool;
        vl_kms *kms = NULL;
        OK(vl_kms_pkcs11_new(&kms, &cfg));
        for (int b = 0; b < 6; b++) {
            fill(keys[b], 66, (unsigned)b + 100);
            vl_kms *w = use(MECHS[b % 3]);
            lens[b] = wrap(w, KEK_ID, keys[b], 66, blobs[b]);
        }
        pthread_t th[4];
        struct worker w[4];
        for (int i = 0; i < 4; i++) {
            w[i] = (struct worker){kms, (const uint8_t(*)[VL_KMS_MAX_BLOB])blobs, lens,
                                   (const uint8_t(*)[66])keys, i, 0};
            cr_assert_eq(pthread_create(&th[i], NULL, unwrap_many, &w[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
            pthread_join(th[i], NULL);
            cr_assert_eq(w[i].failures, 0, "pool %u, thread %d: %d failures", pool, i,
                         w[i].failures);
        }
        vl_kms_close(kms);
    }
}

/* Every session closed under the provider (another part of the process
 * called C_CloseAllSessions, which also logs the application out): the
 * next call retries on a fresh, logged-in session and succeeds. */
Test(pkcs11, sessions_closed_underneath, .init = setup, .fini = teardown)
{
    uint8_t key[34], blob[VL_KMS_MAX_BLOB];
    fill(key, sizeof key, 19);
    for (size_t m = 0; m < 3; m++) {
        vl_kms *kms = use(MECHS[m]);
        size_t n = wrap(kms, KEK_ID, key, sizeof key, blob);
        admin_open();
        cr_assert_eq(A.f->C_CloseAllSessions(A.slot), CKR_OK);
        unwrap_equals(kms, KEK_ID, blob, n, key, sizeof key);
        admin_open();
        cr_assert_eq(A.f->C_CloseAllSessions(A.slot), CKR_OK);
        OK(wrap_rc(kms, KEK_ID));
    }
}

/* The module is initialized once per process and finalized when the last
 * provider closes; providers on it work independently until then. */
Test(pkcs11, module_shared_and_finalized, .init = setup, .fini = teardown)
{
    vl_kms *a = provider(VL_PKCS11_KWP), *b = provider(VL_PKCS11_GCM);
    CK_FUNCTION_LIST *f = module_functions();
    CK_SLOT_ID slots[4];
    CK_ULONG n = 4;
    cr_assert_eq(f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    vl_kms_close(a);
    OK(vl_kms_probe(b, KEK_ID));
    vl_kms_close(b);
    n = 4;
    cr_assert_eq(f->C_GetSlotList(CK_TRUE, slots, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
    /* And it comes back for the next provider. */
    OK(vl_kms_probe(use(VL_PKCS11_KW), KEK_ID));
}

/* Arguments the front end lets through to the provider. */
Test(pkcs11, small_buffers, .init = setup, .fini = teardown)
{
    uint8_t key[66], blob[VL_KMS_MAX_BLOB], back[VL_KMS_MAX_KEY];
    size_t n = 0, len = 0;
    fill(key, sizeof key, 23);
    for (size_t m = 0; m < 3; m++) {
        vl_kms *kms = use(MECHS[m]);
        size_t need = wrap(kms, KEK_ID, key, sizeof key, blob);
        RC(VL_ERR_ARG, vl_kms_wrap(kms, KEK_ID, key, sizeof key, blob, need - 1, &n));
        OK(vl_kms_wrap(kms, KEK_ID, key, sizeof key, blob, need, &n));
        cr_assert_eq(n, need);
        RC(VL_ERR_ARG, vl_kms_unwrap(kms, KEK_ID, blob, n, back, sizeof key - 1, &len));
        OK(vl_kms_unwrap(kms, KEK_ID, blob, n, back, sizeof key, &len));
        cr_assert_eq(len, sizeof key);
    }
}
