/* kat_runner: the known-answer vectors and a cross-path self-check on the
 * path vl_aead_init chooses by itself, as one plain C program.
 *
 * Why not the Criterion suite: Criterion's runner re-executes its own binary,
 * so under qemu-user the tests leave the emulator and run natively. This
 * program never forks or execs, so `qemu-x86_64 -cpu qemu64 kat_runner
 * --expect-path portable` proves that on a CPU without AES-NI dispatch picks
 * the portable path by itself and that the vectors pass on it.
 *
 * Layers:
 *   sources  read the vector files (JSON through jansson, only when built
 *            with -DVL_KAT_JSON; NIST .rsp in plain C) or a flattened case
 *            file (--cases, no jansson), and hand each case to the sink;
 *   sink     runs each case through the public API (or, with --dump, writes
 *            it as one text line) and keeps per-file counts;
 *   diff     seal on the default path and open on "portable", and back,
 *            at every length 0..1024.
 *
 * Case file format (--dump writes it, --cases reads it); '|' separates
 * fields, hex is lower-case, an empty field is an empty byte string:
 *   # comment
 *   file|<vector file>|<cases in the file by its own count>
 *   skip|<count>|<reason>
 *   <gcm|siv>|<seal|open|refuse>|key|iv|ad|pt|ct|tag|<taglen bytes>|<ok|auth|arg>|<id>
 * For SIV, "tag" is the synthetic IV V and the sealed form is tag || ct;
 * for GCM it is ct || tag. taglen < 16 means a NIST truncated tag.
 *
 * Environment: VL_VECTORS (default ../shared/vectors), VELLUM_IMPL (read by
 * the library). The last line of output is "N passed, M failed, K skipped";
 * the exit status is 0 only when nothing failed and at least one case ran. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "impl.h"
#include "vellum/aead.h"

#ifdef VL_KAT_JSON
#include <jansson.h>
#endif

#define MAX_REASONS 8
#define SHOWN_FAILURES 10

/* ---- bytes and hex ------------------------------------------------------- */

struct kbuf {
    uint8_t *p; /* never NULL once decoded, even for n == 0 */
    size_t n;
};

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes |len| hex characters at |s| into a fresh buffer. -1 when odd or
 * not hex. */
static int unhex_n(struct kbuf *b, const char *s, size_t len)
{
    b->n = 0;
    b->p = malloc(len / 2 + 1);
    if (b->p == NULL || len % 2 != 0)
        return -1;
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        b->p[i] = (uint8_t)(hi << 4 | lo);
    }
    b->n = len / 2;
    return 0;
}

static int unhex(struct kbuf *b, const char *s)
{
    return unhex_n(b, s, strlen(s));
}

static void put_hex(FILE *f, const struct kbuf *b)
{
    for (size_t i = 0; i < b->n; i++)
        fprintf(f, "%02x", b->p[i]);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fputs("kat_runner: out of memory\n", stderr);
        exit(2);
    }
    return p;
}

/* ---- the case model -------------------------------------------------------- */

enum fam { F_GCM, F_SIV };
enum op { O_SEAL, O_OPEN, O_REFUSE };
enum expect { E_OK, E_AUTH, E_ARG };

struct kat_case {
    enum fam fam;
    enum op op;
    struct kbuf key, iv, ad, pt, ct, tag;
    size_t taglen; /* bytes of the tag that count (NIST truncates) */
    enum expect expect;
    char id[64];
};

static const char *const fam_names[] = {"gcm", "siv"};
static const char *const op_names[] = {"seal", "open", "refuse"};
static const char *const expect_names[] = {"ok", "auth", "arg"};

static void case_free(struct kat_case *c)
{
    struct kbuf *b[] = {&c->key, &c->iv, &c->ad, &c->pt, &c->ct, &c->tag};
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
        free(b[i]->p);
        b[i]->p = NULL;
        b[i]->n = 0;
    }
}

/* Empty byte strings for fields a source leaves unset. */
static int case_fill_empty(struct kat_case *c)
{
    struct kbuf *b[] = {&c->key, &c->iv, &c->ad, &c->pt, &c->ct, &c->tag};
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++)
        if (b[i]->p == NULL && unhex(b[i], "") != 0)
            return -1;
    return 0;
}

/* ---- the sink: per-file accounting, run or dump ---------------------------- */

/* What a passing case checked, for the per-file line. */
enum kind { K_SEAL_OPEN, K_REJECT, K_BAD_IV, K_PREFIX_SEAL, K_PREFIX_OPEN, K_PREFIX_REJECT,
            K_COUNT };
static const char *const kind_names[] = {
    "seal+open", "bad tag rejected (VL_ERR_AUTH)", "0-bit IV rejected (VL_ERR_ARG)",
    "truncated tag via seal_detached", "truncated tag verified via the path's gcm.open",
    "truncated FAIL tag rejected via the path's gcm.open"};

struct file_stat {
    char name[128];
    long kinds[K_COUNT];
    long total; /* the file's own count, or -1 */
    long passed, failed, skipped;
    long shown; /* failure messages printed */
    struct {
        char text[200];
        long n;
    } why[MAX_REASONS];
    size_t nwhy;
    int open;
};

struct kat_ctx {
    FILE *dump;       /* --dump: write cases instead of running them */
    const char *path; /* the path vl_aead_init chose for the first key */
    struct file_stat f;
    long passed, failed, skipped, dumped;
};

static void file_fail(struct kat_ctx *x, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void file_fail(struct kat_ctx *x, const char *id, const char *fmt, ...)
{
    va_list ap;
    x->f.failed++;
    if (x->f.shown++ >= SHOWN_FAILURES) {
        if (x->f.shown == SHOWN_FAILURES + 1)
            printf("FAIL %s: further failures not shown\n", x->f.name);
        return;
    }
    printf("FAIL %s %s: ", x->f.name, id);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static void kat_skip(struct kat_ctx *x, long n, const char *reason)
{
    struct file_stat *f = &x->f;
    size_t i = 0;
    while (i < f->nwhy && strcmp(f->why[i].text, reason) != 0)
        i++;
    if (i == f->nwhy && f->nwhy < MAX_REASONS) {
        snprintf(f->why[i].text, sizeof f->why[i].text, "%s", reason);
        f->why[f->nwhy++].n = 0;
    }
    if (i < f->nwhy)
        f->why[i].n += n;
    f->skipped += n;
}

static void kat_file_end(struct kat_ctx *x);

static void kat_file(struct kat_ctx *x, const char *name, long total)
{
    kat_file_end(x);
    memset(&x->f, 0, sizeof x->f);
    snprintf(x->f.name, sizeof x->f.name, "%s", name);
    x->f.total = total;
    x->f.open = 1;
    if (x->dump != NULL)
        fprintf(x->dump, "file|%s|%ld\n", name, total);
}

/* A source could not read its file (or a line of it): one failure. */
static void kat_loader_error(struct kat_ctx *x, const char *what)
{
    file_fail(x, "loader", "%s", what);
}

static void print_kinds(const struct file_stat *f)
{
    const char *sep = " [";
    for (int i = 0; i < K_COUNT; i++)
        if (f->kinds[i] != 0) {
            printf("%s%ld %s", sep, f->kinds[i], kind_names[i]);
            sep = ", ";
        }
    if (sep[0] == ',')
        putchar(']');
}

static void print_reasons(const struct file_stat *f)
{
    for (size_t i = 0; i < f->nwhy; i++)
        printf("%s%ld: %s", i ? "; " : " (", f->why[i].n, f->why[i].text);
    printf("%s\n", f->nwhy ? ")" : "");
}

static void dump_file_end(struct kat_ctx *x)
{
    for (size_t i = 0; i < x->f.nwhy; i++)
        fprintf(x->dump, "skip|%ld|%s\n", x->f.why[i].n, x->f.why[i].text);
    x->dumped += x->f.passed;
    x->skipped += x->f.skipped;
    x->failed += x->f.failed;
    printf("[dump] %s: %ld cases, %ld skipped\n", x->f.name, x->f.passed, x->f.skipped);
}

static void kat_file_end(struct kat_ctx *x)
{
    struct file_stat *f = &x->f;
    if (!f->open)
        return;
    long seen = f->passed + f->failed + f->skipped;
    if (f->total >= 0 && seen != f->total && f->failed == 0)
        file_fail(x, "count", "%ld cases seen, the file says %ld", seen, f->total);
    f->open = 0;
    if (x->dump != NULL) {
        dump_file_end(x);
        return;
    }
    printf("[kat] %s: path %s: %ld run (%ld passed, %ld failed)", f->name, x->path,
           f->passed + f->failed, f->passed, f->failed);
    print_kinds(f);
    printf("; %ld skipped", f->skipped);
    print_reasons(f);
    x->passed += f->passed;
    x->failed += f->failed;
    x->skipped += f->skipped;
}

/* ---- running one case through the public API ------------------------------- */

static vl_alg case_alg(const struct kat_case *c)
{
    if (c->fam == F_SIV)
        return VL_AES256_SIV;
    return c->key.n == 32 ? VL_AES256_GCM : VL_AES128_GCM;
}

/* The sealed form: GCM ct || tag, SIV tag || ct (tag is full here). */
static uint8_t *sealed_form(const struct kat_case *c, size_t *len)
{
    const struct kbuf *a = c->fam == F_GCM ? &c->ct : &c->tag;
    const struct kbuf *b = c->fam == F_GCM ? &c->tag : &c->ct;
    uint8_t *s = xmalloc(a->n + b->n);
    memcpy(s, a->p, a->n);
    memcpy(s + a->n, b->p, b->n);
    *len = a->n + b->n;
    return s;
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* vl_aead_init with the default dispatch; the key must land on x->path. */
static int init_key(struct kat_ctx *x, vl_aead_key *k, const struct kat_case *c)
{
    int rc = vl_aead_init(k, case_alg(c), c->key.p, c->key.n);
    if (rc != VL_OK) {
        file_fail(x, c->id, "vl_aead_init(%zu-byte key) = %d (%s)", c->key.n, rc,
                  vl_strerror(rc));
        return 0;
    }
    if (strcmp(vl_aead_impl(k), x->path) != 0) {
        file_fail(x, c->id, "key runs on \"%s\", the first key on \"%s\"", vl_aead_impl(k),
                  x->path);
        return 0;
    }
    return 1;
}

static int check_seal(struct kat_ctx *x, vl_aead_key *k, const struct kat_case *c)
{
    size_t want_len, out_len = 1;
    uint8_t *want = sealed_form(c, &want_len), *out = xmalloc(want_len);
    memset(out, 0xa5, want_len);
    int rc = vl_aead_seal(k, out, &out_len, want_len, c->iv.p, c->iv.n, c->pt.p, c->pt.n,
                          c->ad.p, c->ad.n);
    int ok = rc == VL_OK && out_len == want_len && memcmp(out, want, want_len) == 0;
    if (!ok)
        file_fail(x, c->id, "vl_aead_seal: rc %d, out_len %zu/%zu, %s", rc, out_len, want_len,
                  rc == VL_OK ? "wrong output" : vl_strerror(rc));
    free(want);
    free(out);
    return ok;
}

static int check_open(struct kat_ctx *x, vl_aead_key *k, const struct kat_case *c)
{
    size_t in_len, out_len = 1;
    uint8_t *in = sealed_form(c, &in_len), *out = xmalloc(c->pt.n + 1);
    memset(out, 0xa5, c->pt.n + 1);
    int rc = vl_aead_open(k, out, &out_len, c->pt.n, c->iv.p, c->iv.n, in, in_len, c->ad.p,
                          c->ad.n);
    int ok = rc == VL_OK && out_len == c->pt.n && memcmp(out, c->pt.p, c->pt.n) == 0 &&
             out[c->pt.n] == 0xa5;
    if (!ok)
        file_fail(x, c->id, "vl_aead_open: rc %d (%s), out_len %zu/%zu%s", rc, vl_strerror(rc),
                  out_len, c->pt.n, rc == VL_OK ? ", wrong plaintext" : "");
    free(in);
    free(out);
    return ok;
}

/* open must fail with |want|, output zeroed and out_len 0. */
static int check_open_fails(struct kat_ctx *x, vl_aead_key *k, const struct kat_case *c,
                            int want)
{
    size_t in_len, out_len = 1;
    uint8_t *in = sealed_form(c, &in_len);
    size_t cap = in_len >= 16 ? in_len - 16 : 0;
    uint8_t *out = xmalloc(cap);
    memset(out, 0xa5, cap);
    int rc = vl_aead_open(k, out, &out_len, cap, c->iv.p, c->iv.n, in, in_len, c->ad.p, c->ad.n);
    int ok = rc == want && out_len == 0 && all_zero(out, cap);
    if (!ok)
        file_fail(x, c->id, "vl_aead_open = %d (%s), want %d; out_len %zu, output %s", rc,
                  vl_strerror(rc), want, out_len, all_zero(out, cap) ? "zeroed" : "NOT zeroed");
    free(in);
    free(out);
    return ok;
}

/* A 0-bit GCM IV: both seal and open refuse it with VL_ERR_ARG. */
static int check_bad_nonce(struct kat_ctx *x, vl_aead_key *k, const struct kat_case *c)
{
    size_t cap = c->pt.n + 16, out_len = 1;
    uint8_t *out = xmalloc(cap);
    memset(out, 0xa5, cap);
    int rc = vl_aead_seal(k, out, &out_len, cap, c->iv.p, c->iv.n, c->pt.p, c->pt.n, c->ad.p,
                          c->ad.n);
    int ok = rc == VL_ERR_ARG && out_len == 0 && all_zero(out, cap);
    free(out);
    if (!ok) {
        file_fail(x, c->id, "vl_aead_seal with a %zu-byte IV = %d, want VL_ERR_ARG", c->iv.n, rc);
        return 0;
    }
    return check_open_fails(x, k, c, VL_ERR_ARG);
}

/* NIST encrypt, truncated tag: the detached seal's tag prefix and body. */
static int check_seal_prefix(struct kat_ctx *x, vl_aead_key *k, const struct kat_case *c)
{
    uint8_t tag[16], *out = xmalloc(c->pt.n);
    int rc = vl_aead_seal_detached(k, out, tag, c->iv.p, c->iv.n, c->pt.p, c->pt.n, c->ad.p,
                                   c->ad.n);
    int ok = rc == VL_OK && memcmp(out, c->ct.p, c->ct.n) == 0 &&
             memcmp(tag, c->tag.p, c->taglen) == 0;
    if (!ok)
        file_fail(x, c->id, "vl_aead_seal_detached: rc %d, %s", rc,
                  rc != VL_OK ? vl_strerror(rc) : "wrong body or tag prefix");
    free(out);
    return ok;
}

/* NIST decrypt, truncated tag: the public API takes only 16-byte tags, so
 * use the key's own path op, which returns the full computed tag, and
 * compare its first taglen bytes. */
static int check_open_prefix(struct kat_ctx *x, vl_aead_key *k, const struct kat_case *c)
{
    const struct vl_impl *impl = vl_impl_find(vl_aead_impl(k));
    const void *st = vl_aead_state(k);
    uint8_t tag[16], *out = xmalloc(c->ct.n);
    if (impl == NULL || st == NULL) {
        free(out);
        file_fail(x, c->id, "no path table or state for \"%s\"", vl_aead_impl(k));
        return 0;
    }
    impl->gcm.open(st, out, tag, c->iv.p, c->iv.n, c->ct.p, c->ct.n, c->ad.p, c->ad.n);
    int match = memcmp(tag, c->tag.p, c->taglen) == 0;
    int ok = c->expect == E_OK ? match && memcmp(out, c->pt.p, c->pt.n) == 0 : !match;
    if (!ok)
        file_fail(x, c->id, "%s gcm.open: %s", impl->name,
                  c->expect == E_OK ? "tag prefix or plaintext differs"
                                    : "a FAIL record's tag prefix verifies");
    free(out);
    return ok;
}

static enum kind case_kind(const struct kat_case *c)
{
    if (c->expect == E_ARG)
        return K_BAD_IV;
    if (c->taglen < 16)
        return c->op == O_SEAL           ? K_PREFIX_SEAL
               : c->expect == E_AUTH ? K_PREFIX_REJECT
                                     : K_PREFIX_OPEN;
    return c->expect == E_AUTH ? K_REJECT : K_SEAL_OPEN;
}

static int run_keyed(struct kat_ctx *x, vl_aead_key *k, const struct kat_case *c)
{
    if (c->expect == E_ARG)
        return check_bad_nonce(x, k, c);
    if (c->taglen < 16)
        return c->op == O_SEAL ? check_seal_prefix(x, k, c) : check_open_prefix(x, k, c);
    if (c->expect == E_AUTH)
        return check_open_fails(x, k, c, VL_ERR_AUTH);
    return check_seal(x, k, c) && check_open(x, k, c);
}

/* A key size vellum does not offer: vl_aead_init must refuse it. The
 * vector itself is not run, so a refusal counts as a skip. */
static void run_refuse(struct kat_ctx *x, const struct kat_case *c)
{
    vl_aead_key k;
    char why[200];
    int rc = vl_aead_init(&k, case_alg(c), c->key.p, c->key.n);
    if (rc != VL_ERR_ARG || strcmp(vl_aead_impl(&k), "none") != 0) {
        file_fail(x, c->id, "vl_aead_init took a %zu-bit %s key: rc %d, want VL_ERR_ARG",
                  c->key.n * 8, fam_names[c->fam], rc);
        return;
    }
    snprintf(why, sizeof why,
             "%zu-bit %s keys: not offered; vl_aead_init refused each (VL_ERR_ARG), as required",
             c->key.n * 8, c->fam == F_SIV ? "AES-SIV" : "GCM");
    kat_skip(x, 1, why);
}

static void run_case(struct kat_ctx *x, const struct kat_case *c)
{
    vl_aead_key k;
    if (c->op == O_REFUSE) {
        run_refuse(x, c);
        return;
    }
    if (!init_key(x, &k, c))
        return;
    if (run_keyed(x, &k, c)) {
        x->f.passed++;
        x->f.kinds[case_kind(c)]++;
    }
    vl_aead_wipe(&k);
}

static void dump_case(struct kat_ctx *x, const struct kat_case *c)
{
    const struct kbuf *b[] = {&c->key, &c->iv, &c->ad, &c->pt, &c->ct, &c->tag};
    fprintf(x->dump, "%s|%s", fam_names[c->fam], op_names[c->op]);
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
        fputc('|', x->dump);
        put_hex(x->dump, b[i]);
    }
    fprintf(x->dump, "|%zu|%s|%s\n", c->taglen, expect_names[c->expect], c->id);
    x->f.passed++; /* "passed" counts cases written in dump mode */
}

/* A case whose fields disagree with themselves is a loader error. */
static const char *case_invalid(const struct kat_case *c)
{
    if (c->fam == F_GCM && c->op != O_REFUSE && c->key.n != 16 && c->key.n != 32)
        return "GCM key is not 16 or 32 bytes";
    if (c->fam == F_SIV && c->op != O_REFUSE && c->key.n != 64)
        return "SIV key is not 64 bytes";
    if (c->op != O_REFUSE && (c->taglen < 1 || c->taglen > 16 || c->tag.n != c->taglen))
        return "tag length disagrees with taglen";
    if (c->fam == F_SIV && c->op != O_REFUSE && c->taglen != 16)
        return "SIV tag is not 16 bytes";
    if (c->expect == E_OK && c->ct.n != c->pt.n)
        return "ct and pt lengths differ";
    return NULL;
}

static void kat_emit(struct kat_ctx *x, const struct kat_case *c)
{
    const char *bad = case_invalid(c);
    if (bad != NULL)
        file_fail(x, c->id, "bad case: %s", bad);
    else if (x->dump != NULL)
        dump_case(x, c);
    else
        run_case(x, c);
}

/* ---- source: vector directory ---------------------------------------------- */

static char *vector_path(const char *rel)
{
    const char *dir = getenv("VL_VECTORS");
    if (dir == NULL || dir[0] == '\0')
        dir = "../shared/vectors";
    size_t n = strlen(dir) + strlen(rel) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", dir, rel);
    return p;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long sz;
    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (sz = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = xmalloc((size_t)sz + 1);
        if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
            free(buf);
            buf = NULL;
        } else {
            buf[sz] = '\0';
            *len = (size_t)sz;
        }
    }
    fclose(f);
    return buf;
}

static const char REASON_GCM192[] = "192-bit keys: AES-192-GCM is not offered";

/* ---- source: NIST CAVP GCM .rsp (plain C) ----------------------------------- */

struct rsp_rec {
    unsigned keylen, ivlen, ptlen, aadlen, taglen; /* bits, from [..] lines */
    long count, line;
    int have, fail, has_pt;
    struct kat_case c;
};

struct rsp_state {
    struct kat_ctx *x;
    int decrypt;
    struct rsp_rec params, cur;
    long line;
    int bad; /* the file is malformed: stop */
};

static void rsp_error(struct rsp_state *s, const char *what)
{
    char msg[256];
    snprintf(msg, sizeof msg, "line %ld: %s", s->line, what);
    kat_loader_error(s->x, msg);
    s->bad = 1;
}

static int rsp_lengths_ok(const struct rsp_rec *r)
{
    const struct kat_case *c = &r->c;
    return c->key.n * 8 == r->keylen && c->iv.n * 8 == r->ivlen && c->ad.n * 8 == r->aadlen &&
           c->ct.n * 8 == r->ptlen && c->tag.n * 8 == r->taglen &&
           (!r->has_pt || c->pt.n == c->ct.n);
}

/* Hands the record being built to the sink. */
static void rsp_flush(struct rsp_state *s)
{
    struct rsp_rec *r = &s->cur;
    struct kat_case *c = &r->c;
    if (!r->have)
        return;
    r->have = 0;
    if (!(c->key.p && c->iv.p && c->ad.p && c->ct.p && c->tag.p) ||
        (s->decrypt ? r->fail == r->has_pt : !r->has_pt) || case_fill_empty(c) != 0)
        rsp_error(s, "record with a missing or extra field");
    else if (!rsp_lengths_ok(r))
        rsp_error(s, "field length disagrees with its [..] parameter");
    else if (r->keylen == 192)
        kat_skip(s->x, 1, REASON_GCM192);
    else {
        c->fam = F_GCM;
        c->op = s->decrypt ? O_OPEN : O_SEAL;
        c->taglen = r->taglen / 8;
        c->expect = r->fail ? E_AUTH : E_OK;
        snprintf(c->id, sizeof c->id, "Count = %ld at line %ld (Taglen %u, IVlen %u)", r->count,
                 r->line, r->taglen, r->ivlen);
        kat_emit(s->x, c);
    }
    case_free(c);
}

static int rsp_param(struct rsp_state *s, const char *line)
{
    static const char *const names[] = {"Keylen", "IVlen", "PTlen", "AADlen", "Taglen"};
    unsigned *dst[] = {&s->params.keylen, &s->params.ivlen, &s->params.ptlen,
                       &s->params.aadlen, &s->params.taglen};
    char name[32];
    unsigned v;
    if (sscanf(line, "[%31[A-Za-z] = %u]", name, &v) != 2)
        return -1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0) {
            *dst[i] = v;
            return 0;
        }
    return -1;
}

static struct kbuf *rsp_field(struct rsp_rec *r, const char *name)
{
    static const char *const names[] = {"Key", "IV", "PT", "AAD", "CT", "Tag"};
    struct kbuf *dst[] = {&r->c.key, &r->c.iv, &r->c.pt, &r->c.ad, &r->c.ct, &r->c.tag};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return dst[i];
    return NULL;
}

static void rsp_start_record(struct rsp_state *s, const char *val)
{
    rsp_flush(s);
    memset(&s->cur, 0, sizeof s->cur);
    s->cur.keylen = s->params.keylen, s->cur.ivlen = s->params.ivlen;
    s->cur.ptlen = s->params.ptlen, s->cur.aadlen = s->params.aadlen;
    s->cur.taglen = s->params.taglen;
    s->cur.count = strtol(val, NULL, 10);
    s->cur.line = s->line;
    s->cur.have = 1;
}

/* "Name = value" inside a record (value may be empty). */
static void rsp_assignment(struct rsp_state *s, char *line)
{
    char *eq = strstr(line, " =");
    if (eq == NULL) {
        rsp_error(s, "unparsed line");
        return;
    }
    *eq = '\0';
    const char *val = eq + 2;
    while (*val == ' ')
        val++;
    if (strcmp(line, "Count") == 0) {
        rsp_start_record(s, val);
        return;
    }
    struct kbuf *dst = rsp_field(&s->cur, line);
    if (!s->cur.have || dst == NULL || dst->p != NULL || unhex(dst, val) != 0) {
        rsp_error(s, "unknown, repeated, stray or non-hex field");
        return;
    }
    if (dst == &s->cur.c.pt)
        s->cur.has_pt = 1;
}

static void rsp_line(struct rsp_state *s, char *line)
{
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
        line[--n] = '\0';
    if (n == 0 || line[0] == '#')
        return;
    if (line[0] == '[') {
        rsp_flush(s);
        if (rsp_param(s, line) != 0)
            rsp_error(s, "bad [..] parameter line");
    } else if (strcmp(line, "FAIL") == 0) {
        if (!s->decrypt || !s->cur.have || s->cur.fail)
            rsp_error(s, "stray FAIL");
        s->cur.fail = 1;
    } else {
        rsp_assignment(s, line);
    }
}

static long count_records(const char *text)
{
    long n = 0;
    for (const char *p = text; (p = strstr(p, "Count = ")) != NULL; p++)
        n++;
    return n;
}

static void src_rsp(struct kat_ctx *x, const char *rel, int decrypt)
{
    struct rsp_state s = {.x = x, .decrypt = decrypt};
    char *path = vector_path(rel);
    size_t len;
    char *text = read_file(path, &len);
    kat_file(x, rel, text ? count_records(text) : -1);
    if (text == NULL) {
        kat_loader_error(x, "cannot read the file (set VL_VECTORS to the vectors directory)");
        free(path);
        return;
    }
    /* Lines end in CRLF: split on '\n', rsp_line strips the '\r'. */
    for (char *line = text, *next; line != NULL && !s.bad; line = next) {
        if ((next = strchr(line, '\n')) != NULL)
            *next++ = '\0';
        s.line++;
        rsp_line(&s, line);
    }
    if (!s.bad)
        rsp_flush(&s);
    case_free(&s.cur.c);
    free(text);
    free(path);
}

/* ---- source: Wycheproof and RFC 5297 JSON (jansson) ------------------------ */

#ifdef VL_KAT_JSON

static const char REASON_CMAC[] =
    "CMAC alone: a portable helper with no per-path variant (the Criterion suite runs it)";

static json_t *load_json(struct kat_ctx *x, const char *rel, long (*total)(const json_t *))
{
    char *path = vector_path(rel);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    free(path);
    kat_file(x, rel, root ? total(root) : -1);
    if (root == NULL) {
        char msg[300];
        snprintf(msg, sizeof msg, "line %d: %s (set VL_VECTORS to the vectors directory)",
                 err.line, err.text);
        kat_loader_error(x, msg);
    }
    return root;
}

static long wp_total(const json_t *root)
{
    json_t *v = json_object_get(root, "numberOfTests");
    return json_is_integer(v) ? (long)json_integer_value(v) : -1;
}

static int jhex(struct kbuf *b, const json_t *obj, const char *field)
{
    const char *s = json_string_value(json_object_get(obj, field));
    return s != NULL ? unhex(b, s) : -1;
}

/* Wycheproof "result": 1 valid, 0 invalid, -1 anything else (README: these
 * files have no "acceptable"). */
static int wp_valid(const json_t *t)
{
    const char *r = json_string_value(json_object_get(t, "result"));
    if (r == NULL)
        return -1;
    return strcmp(r, "valid") == 0 ? 1 : strcmp(r, "invalid") == 0 ? 0 : -1;
}

static void wp_id(struct kat_case *c, const json_t *t)
{
    snprintf(c->id, sizeof c->id, "tcId %lld",
             (long long)json_integer_value(json_object_get(t, "tcId")));
}

static void emit_or_error(struct kat_ctx *x, struct kat_case *c, int decoded)
{
    if (decoded == 0)
        kat_emit(x, c);
    else
        file_fail(x, c->id, "loader: missing or non-hex field, or unknown result");
    case_free(c);
}

static void wp_gcm_test(struct kat_ctx *x, const json_t *t)
{
    struct kat_case c = {.fam = F_GCM, .taglen = 16};
    int valid = wp_valid(t);
    int rc = jhex(&c.key, t, "key") | jhex(&c.iv, t, "iv") | jhex(&c.ad, t, "aad") |
             jhex(&c.pt, t, "msg") | jhex(&c.ct, t, "ct") | jhex(&c.tag, t, "tag");
    wp_id(&c, t);
    c.op = valid == 1 ? O_SEAL : O_OPEN;
    /* SP 800-38D requires len(IV) >= 1 bit: a 0-bit IV must be refused. */
    c.expect = c.iv.n == 0 ? E_ARG : valid == 1 ? E_OK : E_AUTH;
    emit_or_error(x, &c, rc | (valid < 0) | (c.iv.n == 0 && valid == 1));
}

static void src_wp_gcm(struct kat_ctx *x)
{
    json_t *root = load_json(x, "wycheproof/aes_gcm_test.json", wp_total), *g, *t;
    size_t gi, ti;
    if (root == NULL)
        return;
    json_array_foreach(json_object_get(root, "testGroups"), gi, g) {
        json_t *tests = json_object_get(g, "tests");
        if (json_integer_value(json_object_get(g, "keySize")) == 192) {
            kat_skip(x, (long)json_array_size(tests), REASON_GCM192);
            continue;
        }
        json_array_foreach(tests, ti, t)
            wp_gcm_test(x, t);
    }
    json_decref(root);
}

/* |aead| 0: aes_siv_cmac_test.json, ct = V || C, S2V over [aad, msg];
 * 1: aead_aes_siv_cmac_test.json, tag = V and ct = C apart, S2V over
 * [aad, iv, msg]. Either way exactly one AD component, even when empty. */
static int wp_siv_fields(struct kat_case *c, const json_t *t, int aead)
{
    struct kbuf whole = {0};
    int rc = jhex(&c->key, t, "key") | jhex(&c->ad, t, "aad") | jhex(&c->pt, t, "msg");
    if (aead)
        return rc | jhex(&c->iv, t, "iv") | jhex(&c->ct, t, "ct") | jhex(&c->tag, t, "tag");
    if (jhex(&whole, t, "ct") != 0 || whole.n < 16) {
        free(whole.p);
        return -1;
    }
    c->tag.n = 16, c->ct.n = whole.n - 16;
    c->tag.p = xmalloc(16), c->ct.p = xmalloc(c->ct.n);
    memcpy(c->tag.p, whole.p, 16), memcpy(c->ct.p, whole.p + 16, c->ct.n);
    free(whole.p);
    return rc;
}

static void wp_siv_test(struct kat_ctx *x, const json_t *t, long long key_bits, int aead)
{
    struct kat_case c = {.fam = F_SIV, .taglen = 16};
    int valid = wp_valid(t);
    int rc = wp_siv_fields(&c, t, aead) | case_fill_empty(&c);
    wp_id(&c, t);
    c.op = key_bits != 512 ? O_REFUSE : valid == 1 ? O_SEAL : O_OPEN;
    c.expect = key_bits != 512 ? E_ARG : valid == 1 ? E_OK : E_AUTH;
    emit_or_error(x, &c, rc | (valid < 0));
}

static void src_wp_siv(struct kat_ctx *x, const char *rel, int aead)
{
    json_t *root = load_json(x, rel, wp_total), *g, *t;
    size_t gi, ti;
    if (root == NULL)
        return;
    json_array_foreach(json_object_get(root, "testGroups"), gi, g) {
        long long bits = json_integer_value(json_object_get(g, "keySize"));
        json_array_foreach(json_object_get(g, "tests"), ti, t)
            wp_siv_test(x, t, bits, aead);
    }
    json_decref(root);
}

static long rfc_total(const json_t *root)
{
    return (long)json_array_size(json_object_get(root, "vectors"));
}

/* RFC 5297 Appendix A is AES-128-SIV (256-bit keys), which vellum does not
 * offer: only the refusal is checked here. */
static void src_rfc5297(struct kat_ctx *x)
{
    json_t *root = load_json(x, "rfc5297.json", rfc_total), *v;
    size_t i;
    if (root == NULL)
        return;
    json_array_foreach(json_object_get(root, "vectors"), i, v) {
        struct kat_case c = {.fam = F_SIV, .op = O_REFUSE, .expect = E_ARG};
        snprintf(c.id, sizeof c.id, "vector %zu", i);
        emit_or_error(x, &c, jhex(&c.key, v, "key") | case_fill_empty(&c));
    }
    json_decref(root);
}

static void src_cmac_skip(struct kat_ctx *x, const char *rel, long (*total)(const json_t *))
{
    json_t *root = load_json(x, rel, total);
    if (root == NULL)
        return;
    kat_skip(x, total(root), REASON_CMAC);
    json_decref(root);
}

#endif /* VL_KAT_JSON */

/* Every vector file, in a fixed order. 0 when this build cannot read them
 * (no jansson): then only --cases works. */
static int src_vectors(struct kat_ctx *x)
{
#ifdef VL_KAT_JSON
    static const char *const rsp[] = {
        "nist-gcm/gcmEncryptExtIV128.rsp", "nist-gcm/gcmEncryptExtIV192.rsp",
        "nist-gcm/gcmEncryptExtIV256.rsp", "nist-gcm/gcmDecrypt128.rsp",
        "nist-gcm/gcmDecrypt192.rsp",      "nist-gcm/gcmDecrypt256.rsp",
    };
    src_wp_gcm(x);
    src_wp_siv(x, "wycheproof/aes_siv_cmac_test.json", 0);
    src_wp_siv(x, "wycheproof/aead_aes_siv_cmac_test.json", 1);
    src_cmac_skip(x, "wycheproof/aes_cmac_test.json", wp_total);
    for (size_t i = 0; i < sizeof rsp / sizeof rsp[0]; i++)
        src_rsp(x, rsp[i], strstr(rsp[i], "Decrypt") != NULL);
    src_rfc5297(x);
    src_cmac_skip(x, "cmac.json", rfc_total);
    kat_file_end(x);
    return 1;
#else
    (void)x;
    (void)src_rsp; /* only the JSON build reads the vector directory */
    return 0;
#endif
}

/* ---- source: a flattened case file (--cases), no jansson --------------------- */

/* Splits |line| on '|' in place into at most |max| fields. */
static size_t split_fields(char *line, char **f, size_t max)
{
    size_t n = 0;
    f[n++] = line;
    for (char *p = line; *p != '\0' && n < max; p++)
        if (*p == '|') {
            *p = '\0';
            f[n++] = p + 1;
        }
    return n;
}

static int name_index(const char *s, const char *const *names, int count)
{
    for (int i = 0; i < count; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

/* Fields: fam op key iv ad pt ct tag taglen expect id. */
static int parse_case(struct kat_case *c, char **f)
{
    struct kbuf *b[] = {&c->key, &c->iv, &c->ad, &c->pt, &c->ct, &c->tag};
    int fam = name_index(f[0], fam_names, 2), op = name_index(f[1], op_names, 3);
    int ex = name_index(f[9], expect_names, 3), rc = 0;
    char *end;
    for (size_t i = 0; i < 6; i++)
        rc |= unhex(b[i], f[2 + i]);
    c->taglen = (size_t)strtoul(f[8], &end, 10);
    snprintf(c->id, sizeof c->id, "%s", f[10]);
    if (fam < 0 || op < 0 || ex < 0 || *end != '\0' || rc != 0)
        return -1;
    c->fam = (enum fam)fam, c->op = (enum op)op, c->expect = (enum expect)ex;
    return 0;
}

static void cases_line(struct kat_ctx *x, char *line, long lineno)
{
    char *f[12], msg[96];
    size_t n = split_fields(line, f, 12);
    if (line[0] == '#' || line[0] == '\0')
        return;
    if (n == 3 && strcmp(f[0], "file") == 0) {
        kat_file(x, f[1], strtol(f[2], NULL, 10));
        return;
    }
    snprintf(msg, sizeof msg, "cases line %ld: malformed", lineno);
    if (!x->f.open) {
        kat_file(x, "(cases file)", -1);
        kat_loader_error(x, msg);
    } else if (n == 3 && strcmp(f[0], "skip") == 0) {
        kat_skip(x, strtol(f[1], NULL, 10), f[2]);
    } else {
        struct kat_case c = {0};
        if (n == 11 && parse_case(&c, f) == 0)
            kat_emit(x, &c);
        else
            kat_loader_error(x, msg);
        case_free(&c);
    }
}

static int src_cases(struct kat_ctx *x, const char *path)
{
    FILE *in = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    ssize_t n;
    if (in == NULL) {
        printf("kat_runner: cannot open %s\n", path);
        return 0;
    }
    while ((n = getline(&line, &cap, in)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        cases_line(x, line, ++lineno);
    }
    kat_file_end(x);
    free(line);
    fclose(in);
    return 1;
}

/* ---- differential: default path against portable -------------------------- */

struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static size_t rng_below(struct rng *r, size_t n)
{
    return (size_t)(rng_next(r) % n);
}

static void rng_fill(struct rng *r, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rng_next(r);
}

#define DIFF_MAX 1024
#define DIFF_SLACK 64

/* One message: inputs, and buffers at random alignments 0..15. */
struct diff_msg {
    uint8_t key[64], nonce[64], ad[DIFF_MAX + 16], pt[DIFF_MAX + 16];
    size_t key_len, nonce_len, ad_len, len;
    uint8_t buf[4][DIFF_MAX + DIFF_SLACK + 16];
};

static uint8_t *at(uint8_t *base, struct rng *r)
{
    return base + rng_below(r, 16);
}

static void diff_inputs(struct diff_msg *m, vl_alg alg, size_t len, struct rng *r)
{
    static const size_t siv_nonces[] = {0, 0, 12, 16, 24};
    m->key_len = alg == VL_AES128_GCM ? 16 : alg == VL_AES256_GCM ? 32 : 64;
    m->len = len;
    if (alg == VL_AES256_SIV)
        m->nonce_len = siv_nonces[rng_below(r, 5)];
    else /* mostly 12; sometimes another length, which takes the GHASH'd J0 */
        m->nonce_len = rng_below(r, 4) ? 12 : 1 + rng_below(r, 64);
    switch (rng_below(r, 4)) {
    case 0: m->ad_len = 0; break;
    case 1: m->ad_len = 1 + rng_below(r, 48); break;
    case 2: m->ad_len = len; break;
    default: m->ad_len = rng_below(r, DIFF_MAX + 1); break;
    }
    rng_fill(r, m->key, m->key_len);
    rng_fill(r, m->nonce, m->nonce_len);
    rng_fill(r, m->ad, m->ad_len);
    rng_fill(r, m->pt, len);
}

/* Seal on |a| and on |b|: outputs must be identical. Then open each
 * output on the other key: the plaintext must come back. */
static int diff_pair(vl_aead_key *a, vl_aead_key *b, struct diff_msg *m, struct rng *r)
{
    size_t la = 0, lb = 0, lo1 = 0, lo2 = 0, cap = m->len + 16;
    uint8_t *in = at(m->buf[0], r), *sa = at(m->buf[1], r), *sb = at(m->buf[2], r);
    uint8_t *po = at(m->buf[3], r);
    memcpy(in, m->pt, m->len);
    if (vl_aead_seal(a, sa, &la, cap, m->nonce, m->nonce_len, in, m->len, m->ad, m->ad_len) ||
        vl_aead_seal(b, sb, &lb, cap, m->nonce, m->nonce_len, in, m->len, m->ad, m->ad_len) ||
        la != cap || lb != cap || memcmp(sa, sb, cap) != 0)
        return 0;
    if (vl_aead_open(b, po, &lo1, m->len, m->nonce, m->nonce_len, sa, cap, m->ad, m->ad_len) ||
        lo1 != m->len || memcmp(po, m->pt, m->len) != 0)
        return 0;
    po = at(m->buf[3], r);
    return vl_aead_open(a, po, &lo2, m->len, m->nonce, m->nonce_len, sb, cap, m->ad,
                        m->ad_len) == VL_OK &&
           lo2 == m->len && memcmp(po, m->pt, m->len) == 0;
}

/* --quick: every length to 128, then every 61st, then the maximum. */
static int diff_len_wanted(size_t len, int quick)
{
    return !quick || len <= 128 || len % 61 == 0 || len == DIFF_MAX;
}

static int diff_one(struct kat_ctx *x, vl_alg alg, size_t len, struct diff_msg *m,
                    struct rng *r)
{
    vl_aead_key kd, kp;
    diff_inputs(m, alg, len, r);
    int ok = vl_aead_init(&kd, alg, m->key, m->key_len) == VL_OK &&
             strcmp(vl_aead_impl(&kd), x->path) == 0 &&
             vl_aead_init_impl(&kp, alg, m->key, m->key_len, vl_impl_find("portable")) == VL_OK &&
             strcmp(vl_aead_impl(&kp), "portable") == 0 && diff_pair(&kd, &kp, m, r);
    if (!ok) {
        char id[96];
        snprintf(id, sizeof id, "alg %d, pt %zu, ad %zu, nonce %zu bytes", (int)alg, len,
                 m->ad_len, m->nonce_len);
        file_fail(x, id, "%s and portable disagree (or a call failed)", x->path);
    }
    vl_aead_wipe(&kd);
    vl_aead_wipe(&kp);
    return ok;
}

static void run_differential(struct kat_ctx *x, int quick)
{
    static const vl_alg algs[] = {VL_AES128_GCM, VL_AES256_GCM, VL_AES256_SIV};
    struct rng r = {UINT64_C(0x6b61745f72756e31)};
    struct diff_msg *m;
    if (strcmp(x->path, "portable") == 0) {
        printf("[kat] differential vs portable: not run, the default path is portable "
               "itself\n");
        return;
    }
    m = xmalloc(sizeof *m);
    kat_file(x, quick ? "differential vs portable (--quick)" : "differential vs portable", -1);
    for (size_t a = 0; a < sizeof algs / sizeof algs[0]; a++)
        for (size_t len = 0; len <= DIFF_MAX; len++)
            if (diff_len_wanted(len, quick) && diff_one(x, algs[a], len, m, &r))
                x->f.passed++;
    kat_file_end(x);
    free(m);
}

/* ---- main ----------------------------------------------------------------- */

struct opts {
    const char *expect_path, *dump, *cases;
    int quick, no_diff;
};

static int usage(void)
{
    fputs("usage: kat_runner [--expect-path NAME] [--quick] [--no-diff] [--cases FILE]\n"
          "       kat_runner --dump FILE\n"
          "  VL_VECTORS: vectors directory (default ../shared/vectors)\n",
          stderr);
    return 2;
}

static int parse_opts(struct opts *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char **val = strcmp(argv[i], "--expect-path") == 0 ? &o->expect_path
                           : strcmp(argv[i], "--dump") == 0      ? &o->dump
                           : strcmp(argv[i], "--cases") == 0     ? &o->cases
                                                                 : NULL;
        if (val != NULL && i + 1 < argc)
            *val = argv[++i];
        else if (strcmp(argv[i], "--quick") == 0)
            o->quick = 1;
        else if (strcmp(argv[i], "--no-diff") == 0)
            o->no_diff = 1;
        else
            return -1;
    }
    return 0;
}

static void print_paths(void)
{
    size_t n;
    const struct vl_impl *const *list = vl_impl_list(&n);
    const char *env = getenv("VELLUM_IMPL");
    printf("compiled-in paths (most preferred first):");
    for (size_t i = 0; i < n; i++)
        printf(" %s%s", list[i]->name, list[i]->supported() ? "" : " (CPU lacks it)");
    printf("\nVELLUM_IMPL: %s\n", env && env[0] ? env : "unset (auto choice)");
}

/* The path vl_aead_init picks by itself, from a throwaway key. */
static const char *probe_path(void)
{
    static char name[32];
    static const uint8_t zero[16];
    vl_aead_key k;
    int rc = vl_aead_init(&k, VL_AES128_GCM, zero, sizeof zero);
    if (rc != VL_OK) {
        printf("vl_aead_init on a probe key failed: %d (%s)\n", rc, vl_strerror(rc));
        return NULL;
    }
    snprintf(name, sizeof name, "%s", vl_aead_impl(&k));
    vl_aead_wipe(&k);
    return name;
}

static int run_dump(const struct opts *o)
{
    struct kat_ctx x = {.path = "(dump)"};
    x.dump = fopen(o->dump, "w");
    if (x.dump == NULL) {
        printf("kat_runner: cannot write %s\n", o->dump);
        return 1;
    }
    fprintf(x.dump, "# vellum kat_runner cases v1: file|name|total, skip|n|reason,\n"
                    "# fam|op|key|iv|ad|pt|ct|tag|taglen|expect|id (see tests/kat_runner.c)\n");
    int ok = src_vectors(&x);
    if (fclose(x.dump) != 0 || !ok) {
        printf("kat_runner: %s\n", ok ? "write error" : "built without VL_KAT_JSON: no --dump");
        return 1;
    }
    printf("dumped %ld cases (%ld skipped, %ld loader errors) to %s\n", x.dumped, x.skipped,
           x.failed, o->dump);
    return x.failed != 0 || x.dumped == 0;
}

static void check_expected(struct kat_ctx *x, const char *want)
{
    if (want == NULL)
        return;
    kat_file(x, "dispatch (--expect-path)", -1);
    if (strcmp(x->path, want) == 0)
        x->f.passed++;
    else
        file_fail(x, "--expect-path", "auto-chosen path is \"%s\", want \"%s\"", x->path, want);
    kat_file_end(x);
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    struct kat_ctx x = {0};
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (parse_opts(&o, argc, argv) != 0 || (o.dump && o.cases))
        return usage();
    if (o.dump)
        return run_dump(&o);
    print_paths();
    if ((x.path = probe_path()) == NULL) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    printf("path: %s (vl_aead_init's own choice for this process)\n", x.path);
    check_expected(&x, o.expect_path);
    if (!(o.cases ? src_cases(&x, o.cases) : src_vectors(&x))) {
        printf("kat_runner: %s\n", o.cases ? "no cases read"
                                           : "built without VL_KAT_JSON: use --cases FILE");
        x.failed++;
    }
    if (!o.no_diff)
        run_differential(&x, o.quick);
    printf("%ld passed, %ld failed, %ld skipped\n", x.passed, x.failed, x.skipped);
    return x.failed == 0 && x.passed > 0 ? 0 : 1;
}
