/* The PKCS#11 KMS provider (include/vellum/kms_pkcs11.h). Section numbers
 * cite the OASIS PKCS#11 Base Specification v2.40 unless marked v3.0.
 *
 * Decisions (the header has the blob format and the error table's
 * summary):
 *   - The module is dlopen'ed (RTLD_NOW | RTLD_LOCAL) and reached only
 *     through C_GetFunctionList (§5.4); core/pkcs11_min.h holds our own
 *     definitions, so nothing PKCS#11 is needed at build time.
 *   - One record per loaded module (keyed by dlopen's handle), counted, so
 *     two providers on the same module share one C_Initialize and the last
 *     close calls C_Finalize; a module someone else initialized first
 *     (CKR_CRYPTOKI_ALREADY_INITIALIZED) is never finalized by us.
 *   - Sessions: a pool of at most max_sessions, each CKF_SERIAL_SESSION
 *     and read-only (a read-only session may create session objects,
 *     §5.6 C_OpenSession), used by one thread at a time. A new session logs in (CKR_USER_ALREADY_LOGGED_IN
 *     is fine: the login state is shared by all of an application's
 *     sessions on a token, §5.6 C_Login). A session that fails with a
 *     session or device error is closed together with the idle ones, and
 *     a call whose session had gone stale (closed, logged out) is retried
 *     once on a new session.
 *   - Key handles: wrap looks the key up every time (C_FindObjects* with
 *     CKA_CLASS = CKO_SECRET_KEY, CKA_KEY_TYPE = CKK_AES and the label or
 *     id), so a wrap never uses a stale handle that a token may have given
 *     to another object. Unwrap uses a per-key-id handle cache; when an
 *     unwrap on a cached handle fails with a handle or integrity error,
 *     the key is looked up again and, if the handle changed, tried once
 *     more. A lookup that finds nothing says VL_ERR_KEY_DESTROYED for a key
 *     id this provider has found before, VL_ERR_NOT_FOUND otherwise, but
 *     only on a logged-in session: a token hides private objects from a
 *     session that lost its login, which is VL_ERR_KMS_DENIED after one
 *     retry on a new session, never "destroyed".
 *   - KW/KWP wrap a temporary session object (CKK_GENERIC_SECRET;
 *     CKA_TOKEN and CKA_SENSITIVE false, CKA_EXTRACTABLE true) holding
 *     be16(len) || DEK || zero padding; unwrap makes the same kind of
 *     object and reads CKA_VALUE. The object is destroyed on every path;
 *     if C_DestroyObject fails, the session is closed, which destroys it
 *     (§5.6 C_CloseSession).
 *   - GCM: C_EncryptInit/C_Encrypt with a fresh 12-byte IV from vl_random
 *     (not the token's RNG: one round trip fewer) and a 128-bit tag. With
 *     random IVs a KEK should seal at most 2^32 DEKs (SP 800-38D §8.3),
 *     across every process that uses it.
 *   - Every buffer that held DEK bytes is wiped before it goes out of
 *     scope; the PIN copy is wiped on close.
 *
 * Error mapping (RV_TABLE below): SoftHSM2 reports a failed integrity
 * check on unwrap as CKR_GENERAL_ERROR. We report VL_ERR_AUTH for it (and
 * for CKR_FUNCTION_FAILED) on an unwrap whose session still answers
 * C_GetSessionInfo: calling a tampered blob "unavailable" would make the
 * keyring back off and fail every other DEK of this KMS for a while,
 * whereas calling a rare real device fault "AUTH" costs one decrypt and
 * the next call tries again. The same codes outside an unwrap are
 * VL_ERR_KMS_UNAVAILABLE. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "pkcs11_min.h"
#include "rand.h"

#include "vellum/kms.h"
#include "vellum/kms_pkcs11.h"

/* Blob schemes (first byte); also the index of the mechanism number. */
enum { SCHEME_KWP = 1, SCHEME_KW = 2, SCHEME_GCM = 3, N_SCHEMES = 4 };

#define IV_BYTES 12
#define TAG_BYTES 16
#define LEN_BYTES 2
#define KW_SEMIBLOCK 8 /* RFC 3394 works on 64-bit blocks; the IV is one */
#define KW_PLAIN_MIN 16
/* be16(len) || key, padded to a multiple of 8: at most 264 bytes. */
#define KW_PLAIN_MAX ((LEN_BYTES + VL_KMS_MAX_KEY + 7) / 8 * 8)
#define KEY_ID_MAX 1024 /* VL_KMS_KEY_ID_MAX, the longest kms_key_id */
#define CANON_MAX (KEY_ID_MAX + 8)
#define TOKEN_LABEL_BYTES 32
#define PIN_MAX 256
#define DEFAULT_SESSIONS 4
#define MAX_SESSIONS 256
#define KEY_CACHE_MAX 1024
static const char GCM_AAD_PREFIX[] = "vellum-pkcs11-gcm"; /* then 0x00 */

/* An op's result: the token failed and *rv says how. */
#define TOKEN_SAID 1

/* ---------------------------------------------------------------- modules */

struct p11_module {
    struct p11_module *next;
    void *dl; /* identity: dlopen's handle for the file */
    CK_FUNCTION_LIST *f;
    unsigned refs;
    int finalize; /* our C_Initialize succeeded: C_Finalize on the last release */
};

static pthread_mutex_t modules_mu = PTHREAD_MUTEX_INITIALIZER;
static struct p11_module *modules;

/* Setup-time codes: credentials, absent tokens, memory, everything else. */
static int setup_code(CK_RV rv)
{
    switch (rv) {
    case CKR_PIN_INCORRECT:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
    case CKR_PIN_EXPIRED:
    case CKR_PIN_LOCKED:
    case CKR_USER_PIN_NOT_INITIALIZED:
    case CKR_USER_TYPE_INVALID:
    case CKR_USER_ANOTHER_ALREADY_LOGGED_IN: return VL_ERR_KMS_DENIED;
    case CKR_SLOT_ID_INVALID:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED: return VL_ERR_NOT_FOUND;
    case CKR_HOST_MEMORY: return VL_ERR_NOMEM;
    default: return VL_ERR_KMS_UNAVAILABLE;
    }
}

/* C_Initialize with CKF_OS_LOCKING_OK and no mutex callbacks: the module
 * may be called from several threads and uses the OS's locks (§5.4,
 * §3.7). CKR_CANT_LOCK: it cannot, and we do not serialize for it. */
static int module_init(struct p11_module *m)
{
    CK_C_INITIALIZE_ARGS args;
    memset(&args, 0, sizeof args);
    args.flags = CKF_OS_LOCKING_OK;
    CK_RV rv = m->f->C_Initialize(&args);
    m->finalize = rv == CKR_OK;
    if (rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
        return VL_OK;
    return rv == CKR_CANT_LOCK ? VL_ERR_UNSUPPORTED : setup_code(rv);
}

static int function_list(void *dl, CK_FUNCTION_LIST **f)
{
    void *sym = dlsym(dl, "C_GetFunctionList");
    CK_C_GetFunctionList get;
    _Static_assert(sizeof sym == sizeof get, "POSIX: object and function pointers match");
    if (sym == NULL)
        return VL_ERR_UNSUPPORTED;
    memcpy(&get, &sym, sizeof get);
    *f = NULL;
    if (get(f) != CKR_OK || *f == NULL || (*f)->version.major < 2)
        return VL_ERR_UNSUPPORTED;
    return VL_OK;
}

static int module_acquire(void *dl, struct p11_module **out)
{
    int rc = VL_OK;
    pthread_mutex_lock(&modules_mu);
    struct p11_module *m = modules;
    while (m != NULL && m->dl != dl)
        m = m->next;
    if (m == NULL) {
        m = calloc(1, sizeof *m);
        rc = m == NULL ? VL_ERR_NOMEM : VL_OK;
        if (rc == VL_OK) {
            m->dl = dl;
            rc = function_list(dl, &m->f);
        }
        if (rc == VL_OK)
            rc = module_init(m);
        if (rc == VL_OK) {
            m->next = modules;
            modules = m;
        } else {
            free(m);
            m = NULL;
        }
    }
    if (m != NULL)
        m->refs++;
    pthread_mutex_unlock(&modules_mu);
    *out = m;
    return rc;
}

static void module_release(struct p11_module *m)
{
    pthread_mutex_lock(&modules_mu);
    if (--m->refs == 0) {
        struct p11_module **pp = &modules;
        while (*pp != m)
            pp = &(*pp)->next;
        *pp = m->next;
        if (m->finalize)
            m->f->C_Finalize(NULL); /* §5.4: also closes every session */
        free(m);
    }
    pthread_mutex_unlock(&modules_mu);
}

/* ---------------------------------------------------------------- errors */

enum rv_class {
    RV_OTHER = 0, /* not listed: VL_ERR_KMS_UNAVAILABLE, session discarded */
    RV_DENIED,    /* VL_ERR_KMS_DENIED */
    RV_LOGGED_OUT,/* retry once on a new (logged-in) session, then DENIED */
    RV_DISABLED,  /* VL_ERR_KEY_DISABLED */
    RV_STALE,     /* the key handle is gone: VL_ERR_KEY_DESTROYED */
    RV_BAD_BLOB,  /* on unwrap: VL_ERR_AUTH */
    RV_FAILED,    /* on unwrap, session alive: VL_ERR_AUTH (SoftHSM2) */
    RV_SESSION,   /* the session is unusable: retry once on a new one */
};

static const struct {
    CK_RV rv;
    unsigned char cls;
} RV_TABLE[] = {
    /* Credentials (§5.6 C_Login). SoftHSM2 has no lockout: only
     * CKR_PIN_INCORRECT, with CKF_USER_PIN_COUNT_LOW set after a while. */
    {CKR_PIN_INCORRECT, RV_DENIED},
    {CKR_PIN_INVALID, RV_DENIED},
    {CKR_PIN_LEN_RANGE, RV_DENIED},
    {CKR_PIN_EXPIRED, RV_DENIED},
    {CKR_PIN_LOCKED, RV_DENIED},
    {CKR_USER_PIN_NOT_INITIALIZED, RV_DENIED},
    {CKR_USER_TYPE_INVALID, RV_DENIED},
    {CKR_USER_ANOTHER_ALREADY_LOGGED_IN, RV_DENIED},
    {CKR_FUNCTION_REJECTED, RV_DENIED},
    /* Someone logged the application out (C_Logout, or closed its last
     * session): a new session logs in again. */
    {CKR_USER_NOT_LOGGED_IN, RV_LOGGED_OUT},
    /* The key exists but the token refuses it for this use: CKA_WRAP /
     * CKA_UNWRAP / CKA_ENCRYPT / CKA_DECRYPT false, a mechanism outside
     * CKA_ALLOWED_MECHANISMS (the token's support for the configured one
     * was checked at construction), a key type the mechanism refuses, or
     * a token policy that will not release or export session keys (FIPS
     * mode HSMs refuse CKA_VALUE of unwrapped keys: use VL_PKCS11_GCM). */
    {CKR_KEY_FUNCTION_NOT_PERMITTED, RV_DISABLED},
    {CKR_MECHANISM_INVALID, RV_DISABLED},
    {CKR_KEY_TYPE_INCONSISTENT, RV_DISABLED},
    {CKR_WRAPPING_KEY_TYPE_INCONSISTENT, RV_DISABLED},
    {CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, RV_DISABLED},
    {CKR_ATTRIBUTE_SENSITIVE, RV_DISABLED},
    {CKR_KEY_UNEXTRACTABLE, RV_DISABLED},
    /* A handle that no longer names an object. SoftHSM2: wrap
     * CKR_WRAPPING_KEY_HANDLE_INVALID, unwrap
     * CKR_UNWRAPPING_KEY_HANDLE_INVALID, EncryptInit/DecryptInit
     * CKR_OBJECT_HANDLE_INVALID (the spec's is CKR_KEY_HANDLE_INVALID). */
    {CKR_KEY_HANDLE_INVALID, RV_STALE},
    {CKR_OBJECT_HANDLE_INVALID, RV_STALE},
    {CKR_WRAPPING_KEY_HANDLE_INVALID, RV_STALE},
    {CKR_UNWRAPPING_KEY_HANDLE_INVALID, RV_STALE},
    /* The blob: truncated, altered, another key's (§5.9 C_Decrypt, §5.14
     * C_UnwrapKey; v3.0 adds CKR_AEAD_DECRYPT_FAILED for a bad tag). */
    {CKR_WRAPPED_KEY_INVALID, RV_BAD_BLOB},
    {CKR_WRAPPED_KEY_LEN_RANGE, RV_BAD_BLOB},
    {CKR_ENCRYPTED_DATA_INVALID, RV_BAD_BLOB},
    {CKR_ENCRYPTED_DATA_LEN_RANGE, RV_BAD_BLOB},
    {CKR_AEAD_DECRYPT_FAILED, RV_BAD_BLOB},
    {CKR_DATA_LEN_RANGE, RV_BAD_BLOB},
    /* What SoftHSM2 (and some HSMs) say for a failed integrity check. */
    {CKR_GENERAL_ERROR, RV_FAILED},
    {CKR_FUNCTION_FAILED, RV_FAILED},
    /* The session itself went away (closed elsewhere, token reset). */
    {CKR_SESSION_HANDLE_INVALID, RV_SESSION},
    {CKR_SESSION_CLOSED, RV_SESSION},
    /* Everything else, e.g. CKR_DEVICE_ERROR, CKR_DEVICE_REMOVED,
     * CKR_TOKEN_NOT_PRESENT, CKR_SESSION_COUNT, CKR_HOST_MEMORY,
     * CKR_CRYPTOKI_NOT_INITIALIZED, CKR_OPERATION_ACTIVE: RV_OTHER. */
};

static int rv_class(CK_RV rv)
{
    for (size_t i = 0; i < sizeof RV_TABLE / sizeof RV_TABLE[0]; i++)
        if (RV_TABLE[i].rv == rv)
            return RV_TABLE[i].cls;
    return RV_OTHER;
}

/* ---------------------------------------------------------------- provider */

struct key_entry {
    struct key_entry *next;
    CK_OBJECT_HANDLE h;
    int gone; /* found once, missing since */
    char id[]; /* canonical key id */
};

struct p11_kms {
    vl_kms kms;
    void *dl;
    struct p11_module *mod;
    CK_FUNCTION_LIST *f;
    CK_SLOT_ID slot;
    char *pin;
    size_t pin_len;
    CK_MECHANISM_TYPE mech[N_SCHEMES];
    int wrap_scheme;
    int mu_ok;
    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;  /* a session became idle, or a slot free */
    CK_SESSION_HANDLE *idle;
    size_t n_idle, n_open, max_sessions;
    struct key_entry *keys;
    size_t n_keys;
};

/* A parsed key id: the attribute that finds it, and its canonical form. */
struct kek_ref {
    CK_ATTRIBUTE_TYPE attr; /* CKA_LABEL or CKA_ID */
    const void *val;
    size_t val_len;
    uint8_t id_bytes[KEY_ID_MAX / 2];
    char canon[CANON_MAX];
    size_t canon_len;
};

/* One wrap or unwrap. */
struct p11_call;
typedef int (*p11_op)(struct p11_kms *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key,
                      struct p11_call *c, CK_RV *rv);

struct p11_call {
    const struct kek_ref *kek;
    int unwrap, scheme;
    p11_op op;
    const uint8_t *in; /* the DEK (wrap) or the blob's body (unwrap) */
    size_t in_len;
    uint8_t *out;
    size_t out_cap, *out_len;
    int discard; /* an op left the session unfit for reuse */
};

/* ---------------------------------------------------------------- sessions */

static int session_open(struct p11_kms *p, CK_SESSION_HANDLE *s, CK_RV *rv)
{
    *rv = p->f->C_OpenSession(p->slot, CKF_SERIAL_SESSION, NULL, NULL, s);
    if (*rv != CKR_OK)
        return TOKEN_SAID;
    if (p->pin == NULL)
        return VL_OK;
    *rv = p->f->C_Login(*s, CKU_USER, (CK_UTF8CHAR *)p->pin, (CK_ULONG)p->pin_len);
    if (*rv == CKR_OK || *rv == CKR_USER_ALREADY_LOGGED_IN)
        return VL_OK;
    p->f->C_CloseSession(*s);
    return TOKEN_SAID;
}

/* An idle session, or a new one while fewer than max_sessions are open;
 * otherwise waits for one to come back. */
static int session_get(struct p11_kms *p, CK_SESSION_HANDLE *s, CK_RV *rv)
{
    pthread_mutex_lock(&p->mu);
    while (p->n_idle == 0 && p->n_open >= p->max_sessions)
        pthread_cond_wait(&p->cv, &p->mu);
    if (p->n_idle > 0) {
        *s = p->idle[--p->n_idle];
        pthread_mutex_unlock(&p->mu);
        return VL_OK;
    }
    p->n_open++;
    pthread_mutex_unlock(&p->mu);
    int rc = session_open(p, s, rv);
    if (rc != VL_OK) {
        pthread_mutex_lock(&p->mu);
        p->n_open--;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    return rc;
}

/* Back to the pool; or, when |discard|, closed along with every idle
 * session, which most likely shares its fate (token removed, module
 * reset): the next calls open fresh ones. */
static void session_put(struct p11_kms *p, CK_SESSION_HANDLE s, int discard)
{
    CK_SESSION_HANDLE stale[MAX_SESSIONS];
    size_t n = 0;
    pthread_mutex_lock(&p->mu);
    if (!discard) {
        p->idle[p->n_idle++] = s;
    } else {
        n = p->n_idle;
        memcpy(stale, p->idle, n * sizeof *stale);
        p->n_idle = 0;
        p->n_open -= n + 1;
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (!discard)
        return;
    p->f->C_CloseSession(s);
    for (size_t i = 0; i < n; i++)
        p->f->C_CloseSession(stale[i]);
}

/* Does the session still answer? (Tells a failed integrity check from a
 * failed device where the token reports both as CKR_GENERAL_ERROR.) */
static int session_alive(struct p11_kms *p, CK_SESSION_HANDLE s)
{
    CK_SESSION_INFO info;
    return p->f->C_GetSessionInfo(s, &info) == CKR_OK;
}

/* A provider with a PIN whose session is public has lost its login. */
static int session_logged_out(struct p11_kms *p, CK_SESSION_HANDLE s)
{
    CK_SESSION_INFO info;
    if (p->pin == NULL || p->f->C_GetSessionInfo(s, &info) != CKR_OK)
        return 0;
    return info.state == CKS_RO_PUBLIC_SESSION || info.state == CKS_RW_PUBLIC_SESSION;
}

/* ---------------------------------------------------------------- key ids */

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int parse_id(const char *hex, struct kek_ref *r)
{
    static const char digits[] = "0123456789abcdef";
    size_t n = strlen(hex);
    if (n == 0 || n % 2 != 0)
        return VL_ERR_ARG;
    memcpy(r->canon, "id:", 3);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_val(hex[2 * i]), lo = hex_val(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return VL_ERR_ARG;
        r->id_bytes[i] = (uint8_t)(hi << 4 | lo);
        r->canon[3 + 2 * i] = digits[hi];
        r->canon[4 + 2 * i] = digits[lo];
    }
    r->attr = CKA_ID;
    r->val = r->id_bytes;
    r->val_len = n / 2;
    r->canon_len = 3 + n;
    return VL_OK;
}

/* "label:<text>", "id:<hex>" or "<text>" (a label); see the header. */
static int kek_parse(const char *kek_id, struct kek_ref *r)
{
    size_t n = strlen(kek_id);
    if (n == 0 || n > KEY_ID_MAX)
        return VL_ERR_ARG;
    if (strncmp(kek_id, "id:", 3) == 0)
        return parse_id(kek_id + 3, r);
    const char *label = strncmp(kek_id, "label:", 6) == 0 ? kek_id + 6 : kek_id;
    r->attr = CKA_LABEL;
    r->val = label;
    r->val_len = strlen(label);
    if (r->val_len == 0)
        return VL_ERR_ARG;
    memcpy(r->canon, "label:", 6);
    memcpy(r->canon + 6, label, r->val_len);
    r->canon_len = 6 + r->val_len;
    return VL_OK;
}

/* ---------------------------------------------------------------- key cache */

/* Under p->mu. */
static struct key_entry *cache_find(struct p11_kms *p, const struct kek_ref *r)
{
    for (struct key_entry *e = p->keys; e != NULL; e = e->next)
        if (strlen(e->id) == r->canon_len && memcmp(e->id, r->canon, r->canon_len) == 0)
            return e;
    return NULL;
}

static int cache_get(struct p11_kms *p, const struct kek_ref *r, CK_OBJECT_HANDLE *h)
{
    pthread_mutex_lock(&p->mu);
    struct key_entry *e = cache_find(p, r);
    int hit = e != NULL && !e->gone;
    if (hit)
        *h = e->h;
    pthread_mutex_unlock(&p->mu);
    return hit;
}

/* Remembers a found key (at most KEY_CACHE_MAX ids; beyond that a key
 * destroyed later reads as never found: VL_ERR_NOT_FOUND). */
static void cache_found(struct p11_kms *p, const struct kek_ref *r, CK_OBJECT_HANDLE h)
{
    pthread_mutex_lock(&p->mu);
    struct key_entry *e = cache_find(p, r);
    if (e == NULL && p->n_keys < KEY_CACHE_MAX &&
        (e = malloc(sizeof *e + r->canon_len + 1)) != NULL) {
        memcpy(e->id, r->canon, r->canon_len);
        e->id[r->canon_len] = '\0';
        e->next = p->keys;
        p->keys = e;
        p->n_keys++;
    }
    if (e != NULL) {
        e->h = h;
        e->gone = 0;
    }
    pthread_mutex_unlock(&p->mu);
}

/* The key is missing now: KEY_DESTROYED if it was ever found. */
static int cache_missing(struct p11_kms *p, const struct kek_ref *r)
{
    pthread_mutex_lock(&p->mu);
    struct key_entry *e = cache_find(p, r);
    if (e != NULL)
        e->gone = 1;
    pthread_mutex_unlock(&p->mu);
    return e != NULL ? VL_ERR_KEY_DESTROYED : VL_ERR_NOT_FOUND;
}

/* §5.7 C_FindObjectsInit / C_FindObjects / C_FindObjectsFinal: up to two
 * AES secret keys matching the label or id. */
static int find_key(struct p11_kms *p, CK_SESSION_HANDLE s, const struct kek_ref *r,
                    CK_OBJECT_HANDLE found[2], CK_ULONG *n, CK_RV *rv)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_AES;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_KEY_TYPE, &type, sizeof type},
        {r->attr, (void *)r->val, (CK_ULONG)r->val_len},
    };
    *n = 0;
    *rv = p->f->C_FindObjectsInit(s, t, sizeof t / sizeof t[0]);
    if (*rv != CKR_OK)
        return TOKEN_SAID;
    *rv = p->f->C_FindObjects(s, found, 2, n);
    CK_RV fin = p->f->C_FindObjectsFinal(s);
    if (*rv == CKR_OK)
        *rv = fin;
    return *rv == CKR_OK ? VL_OK : TOKEN_SAID;
}

/* The key's handle: from the cache when |cached| is non-NULL (set to 1 on
 * a hit), else looked up now. */
static int key_get(struct p11_kms *p, CK_SESSION_HANDLE s, const struct kek_ref *r,
                   CK_OBJECT_HANDLE *h, int *cached, CK_RV *rv)
{
    CK_OBJECT_HANDLE found[2];
    CK_ULONG n;
    if (cached != NULL && (*cached = cache_get(p, r, h)) != 0)
        return VL_OK;
    int rc = find_key(p, s, r, found, &n, rv);
    if (rc != VL_OK)
        return rc;
    if (n > 1)
        return VL_ERR_ARG; /* the id names several keys */
    if (n == 1) {
        *h = found[0];
        cache_found(p, r, *h);
        return VL_OK;
    }
    if (session_logged_out(p, s)) {
        *rv = CKR_USER_NOT_LOGGED_IN; /* private keys are hidden, not gone */
        return TOKEN_SAID;
    }
    return cache_missing(p, r);
}

/* ---------------------------------------------------------------- KW, KWP */

static size_t kw_plain_len(size_t key_len)
{
    size_t n = (LEN_BYTES + key_len + KW_SEMIBLOCK - 1) / KW_SEMIBLOCK * KW_SEMIBLOCK;
    return n < KW_PLAIN_MIN ? KW_PLAIN_MIN : n;
}

/* be16(len) || key || zeros; returns the padded length. */
static size_t kw_encode(uint8_t plain[KW_PLAIN_MAX], const uint8_t *key, size_t key_len)
{
    size_t n = kw_plain_len(key_len);
    memset(plain, 0, n);
    plain[0] = (uint8_t)(key_len >> 8);
    plain[1] = (uint8_t)key_len;
    memcpy(plain + LEN_BYTES, key, key_len);
    return n;
}

/* The inverse; anything else is not a blob we wrapped: VL_ERR_AUTH. The
 * length is public (it names the algorithm), so it may steer branches. */
static int kw_decode(const uint8_t *plain, size_t n, struct p11_call *c)
{
    if (n < LEN_BYTES + 1 || n > KW_PLAIN_MAX)
        return VL_ERR_AUTH;
    size_t len = (size_t)plain[0] << 8 | plain[1];
    if (len == 0 || len > VL_KMS_MAX_KEY || len > n - LEN_BYTES)
        return VL_ERR_AUTH;
    uint8_t pad = 0;
    for (size_t i = LEN_BYTES + len; i < n; i++)
        pad |= plain[i];
    if (pad != 0)
        return VL_ERR_AUTH;
    if (len > c->out_cap)
        return VL_ERR_ARG;
    memcpy(c->out, plain + LEN_BYTES, len);
    *c->out_len = len;
    return VL_OK;
}

static void destroy_temp(struct p11_kms *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                         struct p11_call *c)
{
    /* If it will not go, closing the session destroys it (§5.6). */
    if (p->f->C_DestroyObject(s, obj) != CKR_OK)
        c->discard = 1;
}

/* §5.7 C_CreateObject a session key holding the encoded DEK, §5.14
 * C_WrapKey it under the KEK, destroy it. */
static int kw_wrap(struct p11_kms *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE kek,
                   struct p11_call *c, CK_RV *rv)
{
    uint8_t plain[KW_PLAIN_MAX];
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_GENERIC_SECRET;
    CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
    size_t n = kw_encode(plain, c->in, c->in_len);
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof cls},       {CKA_KEY_TYPE, &type, sizeof type},
        {CKA_TOKEN, &no, sizeof no},         {CKA_SENSITIVE, &no, sizeof no},
        {CKA_EXTRACTABLE, &yes, sizeof yes}, {CKA_VALUE, plain, (CK_ULONG)n},
    };
    CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
    *rv = p->f->C_CreateObject(s, t, sizeof t / sizeof t[0], &obj);
    vl_memzero(plain, sizeof plain);
    if (*rv != CKR_OK)
        return TOKEN_SAID;
    CK_MECHANISM m = {p->mech[c->scheme], NULL, 0};
    CK_ULONG out_len = (CK_ULONG)(c->out_cap - 1);
    *rv = p->f->C_WrapKey(s, &m, kek, obj, c->out + 1, &out_len);
    destroy_temp(p, s, obj, c);
    if (*rv != CKR_OK)
        return TOKEN_SAID;
    c->out[0] = (uint8_t)c->scheme;
    *c->out_len = 1 + (size_t)out_len;
    return VL_OK;
}

/* §5.14 C_UnwrapKey into a session key, read its CKA_VALUE (§5.7
 * C_GetAttributeValue), destroy it, decode. */
static int kw_unwrap(struct p11_kms *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE kek,
                     struct p11_call *c, CK_RV *rv)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_GENERIC_SECRET;
    CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof cls},   {CKA_KEY_TYPE, &type, sizeof type},
        {CKA_TOKEN, &no, sizeof no},     {CKA_SENSITIVE, &no, sizeof no},
        {CKA_EXTRACTABLE, &yes, sizeof yes},
    };
    CK_MECHANISM m = {p->mech[c->scheme], NULL, 0};
    CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
    *rv = p->f->C_UnwrapKey(s, &m, kek, (CK_BYTE *)c->in, (CK_ULONG)c->in_len, t,
                            sizeof t / sizeof t[0], &obj);
    if (*rv != CKR_OK)
        return TOKEN_SAID;
    uint8_t plain[KW_PLAIN_MAX];
    CK_ATTRIBUTE v = {CKA_VALUE, plain, sizeof plain};
    *rv = p->f->C_GetAttributeValue(s, obj, &v, 1);
    destroy_temp(p, s, obj, c);
    int rc = TOKEN_SAID;
    if (*rv == CKR_OK)
        rc = kw_decode(plain, v.ulValueLen, c);
    else if (*rv == CKR_BUFFER_TOO_SMALL)
        rc = VL_ERR_AUTH; /* longer than anything we wrap */
    vl_memzero(plain, sizeof plain);
    return rc;
}

/* ---------------------------------------------------------------- GCM */

struct gcm_ctx {
    CK_GCM_PARAMS params;
    CK_MECHANISM m;
    uint8_t aad[sizeof GCM_AAD_PREFIX + CANON_MAX];
};

/* AAD = "vellum-pkcs11-gcm" || 0x00 || canonical key id. */
static void gcm_setup(struct gcm_ctx *g, struct p11_kms *p, const struct p11_call *c,
                      const uint8_t *iv)
{
    memcpy(g->aad, GCM_AAD_PREFIX, sizeof GCM_AAD_PREFIX); /* with its NUL */
    memcpy(g->aad + sizeof GCM_AAD_PREFIX, c->kek->canon, c->kek->canon_len);
    g->params.pIv = (CK_BYTE *)iv;
    g->params.ulIvLen = IV_BYTES;
    g->params.ulIvBits = IV_BYTES * 8;
    g->params.pAAD = g->aad;
    g->params.ulAADLen = (CK_ULONG)(sizeof GCM_AAD_PREFIX + c->kek->canon_len);
    g->params.ulTagBits = TAG_BYTES * 8;
    g->m.mechanism = p->mech[SCHEME_GCM];
    g->m.pParameter = &g->params;
    g->m.ulParameterLen = sizeof g->params;
}

/* §5.8 C_EncryptInit + C_Encrypt: blob = 0x03 || IV || C || TAG. */
static int gcm_wrap(struct p11_kms *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE kek,
                    struct p11_call *c, CK_RV *rv)
{
    struct gcm_ctx g;
    uint8_t *iv = c->out + 1;
    int rc = vl_random(iv, IV_BYTES);
    if (rc != VL_OK)
        return rc;
    gcm_setup(&g, p, c, iv);
    *rv = p->f->C_EncryptInit(s, &g.m, kek);
    if (*rv != CKR_OK)
        return TOKEN_SAID;
    CK_ULONG n = (CK_ULONG)(c->out_cap - 1 - IV_BYTES);
    *rv = p->f->C_Encrypt(s, (CK_BYTE *)c->in, (CK_ULONG)c->in_len, iv + IV_BYTES, &n);
    if (*rv != CKR_OK)
        return TOKEN_SAID;
    if (n != c->in_len + TAG_BYTES) {
        c->discard = 1;
        return VL_ERR_KMS_UNAVAILABLE; /* not GCM with a 16-byte tag */
    }
    c->out[0] = SCHEME_GCM;
    *c->out_len = 1 + IV_BYTES + (size_t)n;
    return VL_OK;
}

/* §5.9 C_DecryptInit + C_Decrypt of IV || C || TAG. */
static int gcm_unwrap(struct p11_kms *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE kek,
                      struct p11_call *c, CK_RV *rv)
{
    struct gcm_ctx g;
    uint8_t plain[VL_KMS_MAX_KEY + TAG_BYTES];
    gcm_setup(&g, p, c, c->in);
    *rv = p->f->C_DecryptInit(s, &g.m, kek);
    if (*rv != CKR_OK)
        return TOKEN_SAID;
    CK_ULONG n = sizeof plain;
    *rv = p->f->C_Decrypt(s, (CK_BYTE *)c->in + IV_BYTES, (CK_ULONG)(c->in_len - IV_BYTES),
                          plain, &n);
    int rc = TOKEN_SAID;
    if (*rv == CKR_OK && n != c->in_len - IV_BYTES - TAG_BYTES)
        rc = VL_ERR_AUTH;
    else if (*rv == CKR_OK && n > c->out_cap)
        rc = VL_ERR_ARG;
    else if (*rv == CKR_OK) {
        memcpy(c->out, plain, n);
        *c->out_len = n;
        rc = VL_OK;
    }
    vl_memzero(plain, sizeof plain);
    return rc;
}

/* ---------------------------------------------------------------- calls */

/* The token's answer as a vellum code. Sets *discard when the session is
 * not to be reused and *retry when a new session may succeed. */
static int judge(struct p11_kms *p, CK_SESSION_HANDLE s, struct p11_call *c, CK_RV rv,
                 int *discard, int *retry)
{
    switch (rv_class(rv)) {
    case RV_DENIED: return VL_ERR_KMS_DENIED;
    case RV_LOGGED_OUT: *discard = *retry = 1; return VL_ERR_KMS_DENIED;
    case RV_DISABLED: return VL_ERR_KEY_DISABLED;
    case RV_STALE: /* found by this very call, gone before its use */
        cache_missing(p, c->kek);
        return VL_ERR_KEY_DESTROYED;
    case RV_BAD_BLOB:
        if (c->unwrap)
            return VL_ERR_AUTH;
        break;
    case RV_FAILED:
        if (c->unwrap && session_alive(p, s))
            return VL_ERR_AUTH;
        break;
    case RV_SESSION: *retry = 1; break;
    default: break;
    }
    *discard = 1;
    return VL_ERR_KMS_UNAVAILABLE;
}

/* Answers that a stale cached handle could explain: the handle is gone,
 * or (after a token reused it) names another key and the blob fails. */
static int may_be_stale(int cls)
{
    return cls == RV_STALE || cls == RV_BAD_BLOB || cls == RV_FAILED;
}

/* Finds the key and runs the op; a failure on a cached handle looks the
 * key up again and, when its handle changed, runs the op once more. */
static int with_key(struct p11_kms *p, CK_SESSION_HANDLE s, struct p11_call *c, CK_RV *rv)
{
    CK_OBJECT_HANDLE key, again;
    int cached = 0;
    int rc = key_get(p, s, c->kek, &key, c->unwrap ? &cached : NULL, rv);
    if (rc != VL_OK)
        return rc;
    rc = c->op(p, s, key, c, rv);
    if (rc != TOKEN_SAID || !cached || !may_be_stale(rv_class(*rv)))
        return rc;
    CK_RV first = *rv;
    int r = key_get(p, s, c->kek, &again, NULL, rv);
    if (r != VL_OK)
        return r;
    if (again != key)
        return c->op(p, s, again, c, rv);
    *rv = first;
    return TOKEN_SAID;
}

/* One call on a pooled session; at most one retry on a fresh session
 * when the first one had gone stale. */
static int call_token(struct p11_kms *p, struct p11_call *c)
{
    for (int attempt = 0;; attempt++) {
        CK_SESSION_HANDLE s;
        CK_RV rv = CKR_OK;
        int rc = session_get(p, &s, &rv);
        if (rc == TOKEN_SAID) /* C_OpenSession or C_Login refused */
            return rv_class(rv) == RV_DENIED ? VL_ERR_KMS_DENIED : VL_ERR_KMS_UNAVAILABLE;
        if (rc != VL_OK)
            return rc;
        int discard = 0, retry = 0;
        c->discard = 0;
        rc = with_key(p, s, c, &rv);
        if (rc == TOKEN_SAID)
            rc = judge(p, s, c, rv, &discard, &retry);
        session_put(p, s, discard || c->discard);
        if (!retry || attempt > 0)
            return rc;
    }
}

/* ---------------------------------------------------------------- ops */

static size_t blob_len_for(int scheme, size_t key_len)
{
    if (scheme == SCHEME_GCM)
        return 1 + IV_BYTES + key_len + TAG_BYTES;
    return 1 + kw_plain_len(key_len) + KW_SEMIBLOCK;
}

static int p11_wrap(vl_kms *kms, const char *kek_id, const uint8_t *key, size_t key_len,
                    uint8_t *out, size_t out_cap, size_t *out_len)
{
    struct p11_kms *p = kms->ctx;
    struct kek_ref ref;
    int rc = kek_parse(kek_id, &ref);
    if (rc != VL_OK)
        return rc;
    if (key_len > VL_KMS_MAX_KEY || out_cap < blob_len_for(p->wrap_scheme, key_len))
        return VL_ERR_ARG;
    struct p11_call c = {
        .kek = &ref, .unwrap = 0, .scheme = p->wrap_scheme,
        .op = p->wrap_scheme == SCHEME_GCM ? gcm_wrap : kw_wrap,
        .in = key, .in_len = key_len, .out = out, .out_cap = out_cap, .out_len = out_len,
    };
    return call_token(p, &c);
}

/* The body's length must be one this scheme could have produced. */
static int body_ok(int scheme, size_t n)
{
    if (scheme == SCHEME_GCM)
        return n > IV_BYTES + TAG_BYTES && n <= IV_BYTES + VL_KMS_MAX_KEY + TAG_BYTES;
    if (scheme == SCHEME_KW || scheme == SCHEME_KWP)
        return n % KW_SEMIBLOCK == 0 && n >= KW_PLAIN_MIN + KW_SEMIBLOCK &&
               n <= KW_PLAIN_MAX + KW_SEMIBLOCK;
    return 0;
}

static int p11_unwrap(vl_kms *kms, const char *kek_id, const uint8_t *blob, size_t blob_len,
                      uint8_t *out, size_t out_cap, size_t *out_len)
{
    struct p11_kms *p = kms->ctx;
    struct kek_ref ref;
    int rc = kek_parse(kek_id, &ref);
    if (rc != VL_OK)
        return rc;
    if (blob_len < 1 || !body_ok(blob[0], blob_len - 1))
        return VL_ERR_AUTH; /* not a blob this provider makes */
    struct p11_call c = {
        .kek = &ref, .unwrap = 1, .scheme = blob[0],
        .op = blob[0] == SCHEME_GCM ? gcm_unwrap : kw_unwrap,
        .in = blob + 1, .in_len = blob_len - 1, .out = out, .out_cap = out_cap,
        .out_len = out_len,
    };
    return call_token(p, &c);
}

/* Closes every session, releases the module, wipes the PIN. Also the
 * cleanup of a half-built provider. */
static void p11_free(struct p11_kms *p)
{
    if (p->mu_ok) {
        for (size_t i = 0; i < p->n_idle; i++)
            p->f->C_CloseSession(p->idle[i]);
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
    }
    if (p->mod != NULL)
        module_release(p->mod);
    if (p->dl != NULL)
        dlclose(p->dl);
    while (p->keys != NULL) {
        struct key_entry *e = p->keys;
        p->keys = e->next;
        free(e);
    }
    if (p->pin != NULL) {
        vl_memzero(p->pin, p->pin_len);
        free(p->pin);
    }
    free(p->idle);
    vl_memzero(p, sizeof *p);
    free(p);
}

static void p11_close(vl_kms *kms)
{
    p11_free(kms->ctx);
}

static const vl_kms_ops PKCS11_OPS = {
    .size = sizeof(vl_kms_ops),
    .name = "pkcs11",
    .wrap = p11_wrap,
    .unwrap = p11_unwrap,
    .probe = NULL, /* the front end's wrap + unwrap round trip */
    .close = p11_close,
};

/* ---------------------------------------------------------------- setup */

static int config_ok(const vl_kms_pkcs11_config *cfg)
{
    return cfg != NULL && cfg->module != NULL && cfg->module[0] != '\0' &&
           (cfg->token_label == NULL ||
            (cfg->token_label[0] != '\0' && strlen(cfg->token_label) <= TOKEN_LABEL_BYTES)) &&
           (cfg->pin == NULL || strlen(cfg->pin) <= PIN_MAX) &&
           (cfg->mech == VL_PKCS11_KWP || cfg->mech == VL_PKCS11_KW ||
            cfg->mech == VL_PKCS11_GCM) &&
           cfg->max_sessions <= MAX_SESSIONS;
}

/* §5.5 C_GetSlotList + C_GetTokenInfo: the one initialized token whose
 * label (32 bytes, blank padded) is |label|. */
static int slot_by_label(struct p11_kms *p, const char *label)
{
    uint8_t want[TOKEN_LABEL_BYTES];
    memset(want, ' ', sizeof want);
    memcpy(want, label, strlen(label));
    CK_ULONG n = 0, matches = 0;
    CK_RV rv = p->f->C_GetSlotList(CK_TRUE, NULL, &n);
    CK_SLOT_ID *slots = rv == CKR_OK ? calloc(n + 1, sizeof *slots) : NULL;
    if (rv == CKR_OK && slots == NULL)
        return VL_ERR_NOMEM;
    if (rv == CKR_OK)
        rv = p->f->C_GetSlotList(CK_TRUE, slots, &n);
    for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
        CK_TOKEN_INFO info;
        if (p->f->C_GetTokenInfo(slots[i], &info) != CKR_OK ||
            !(info.flags & CKF_TOKEN_INITIALIZED) || memcmp(info.label, want, sizeof want) != 0)
            continue;
        matches++;
        p->slot = slots[i];
    }
    free(slots);
    if (rv != CKR_OK)
        return setup_code(rv);
    return matches == 1 ? VL_OK : matches == 0 ? VL_ERR_NOT_FOUND : VL_ERR_ARG;
}

static int find_slot(struct p11_kms *p, const vl_kms_pkcs11_config *cfg)
{
    if (cfg->token_label != NULL)
        return slot_by_label(p, cfg->token_label);
    CK_TOKEN_INFO info;
    p->slot = cfg->slot_id;
    CK_RV rv = p->f->C_GetTokenInfo(p->slot, &info);
    return rv == CKR_OK ? VL_OK : setup_code(rv);
}

/* §5.5 C_GetMechanismInfo: the token offers the wrap mechanism for what
 * we use it for. (Unwrap of a blob in another scheme meets a missing
 * mechanism as CKR_MECHANISM_INVALID at call time.) */
static int check_mechanism(struct p11_kms *p)
{
    CK_MECHANISM_INFO info;
    CK_FLAGS need = p->wrap_scheme == SCHEME_GCM ? CKF_ENCRYPT | CKF_DECRYPT : CKF_WRAP | CKF_UNWRAP;
    CK_RV rv = p->f->C_GetMechanismInfo(p->slot, p->mech[p->wrap_scheme], &info);
    if (rv == CKR_MECHANISM_INVALID)
        return VL_ERR_UNSUPPORTED;
    if (rv != CKR_OK)
        return setup_code(rv);
    return (info.flags & need) == need ? VL_OK : VL_ERR_UNSUPPORTED;
}

static int copy_config(struct p11_kms *p, const vl_kms_pkcs11_config *cfg)
{
    static const int scheme_of[] = {SCHEME_KWP, SCHEME_KW, SCHEME_GCM};
    p->wrap_scheme = scheme_of[cfg->mech];
    p->mech[SCHEME_KWP] = cfg->mech_kwp ? cfg->mech_kwp : VL_PKCS11_DEFAULT_KWP;
    p->mech[SCHEME_KW] = cfg->mech_kw ? cfg->mech_kw : VL_PKCS11_DEFAULT_KW;
    p->mech[SCHEME_GCM] = cfg->mech_gcm ? cfg->mech_gcm : VL_PKCS11_DEFAULT_GCM;
    p->max_sessions = cfg->max_sessions ? cfg->max_sessions : DEFAULT_SESSIONS;
    p->idle = calloc(p->max_sessions, sizeof *p->idle);
    if (p->idle == NULL)
        return VL_ERR_NOMEM;
    if (cfg->pin != NULL) {
        p->pin_len = strlen(cfg->pin);
        p->pin = malloc(p->pin_len + 1);
        if (p->pin == NULL)
            return VL_ERR_NOMEM;
        memcpy(p->pin, cfg->pin, p->pin_len + 1);
    }
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        return VL_ERR_NOMEM;
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        return VL_ERR_NOMEM;
    }
    p->mu_ok = 1;
    return VL_OK;
}

/* Load, initialize, find the token, check the mechanism, log in once. */
static int p11_setup(struct p11_kms *p, const vl_kms_pkcs11_config *cfg)
{
    int rc = copy_config(p, cfg);
    if (rc != VL_OK)
        return rc;
    p->dl = dlopen(cfg->module, RTLD_NOW | RTLD_LOCAL);
    if (p->dl == NULL)
        return VL_ERR_NOT_FOUND;
    rc = module_acquire(p->dl, &p->mod);
    if (rc != VL_OK)
        return rc;
    p->f = p->mod->f;
    rc = find_slot(p, cfg);
    if (rc == VL_OK)
        rc = check_mechanism(p);
    if (rc != VL_OK)
        return rc;
    CK_SESSION_HANDLE s;
    CK_RV rv = CKR_OK;
    rc = session_get(p, &s, &rv);
    if (rc == TOKEN_SAID)
        return setup_code(rv);
    if (rc == VL_OK)
        session_put(p, s, 0);
    return rc;
}

int vl_kms_pkcs11_new(vl_kms **out, const vl_kms_pkcs11_config *cfg)
{
    if (out == NULL)
        return VL_ERR_ARG;
    *out = NULL;
    if (!config_ok(cfg))
        return VL_ERR_ARG;
    struct p11_kms *p = calloc(1, sizeof *p);
    if (p == NULL)
        return VL_ERR_NOMEM;
    int rc = p11_setup(p, cfg);
    if (rc != VL_OK) {
        p11_free(p);
        return rc;
    }
    p->kms.ops = &PKCS11_OPS;
    p->kms.ctx = p;
    *out = &p->kms;
    return VL_OK;
}
