/* `vellum encrypt|decrypt`: whole files and streams of any size, in the
 * chunked format of core/cli_file_fmt.c, under a keyring DEK version.
 *
 * Decisions:
 *   - Output goes to a temporary file beside the destination (mode 0600),
 *     fsync'd and renamed over it only when every chunk succeeded; on any
 *     failure it is removed, so no partial plaintext (or ciphertext) is
 *     left behind. Without -o (or -o -) decrypt spools the plaintext to an
 *     unlinked temporary file and copies it to stdout only once the whole
 *     input authenticated; encrypt streams to stdout.
 *   - An existing destination is not replaced without --force.
 *   - encrypt creates the DEK (version 1) on first use, and seals with the
 *     latest live version; seals are reserved from the store 1024 chunks
 *     at a time, so `vellum dek list` shows the count and the DEK's usage
 *     limit holds across files and processes.
 *   - A progress line ("\r...") on stderr when it is a terminal and the
 *     run passes 64 MiB. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_env.h"
#include "cli_file.h"
#include "internal.h"
#include "rand.h"

#include "vellum/csfle.h"

enum { O_KEK = 1, O_SUBJECT, O_ALG, O_CHUNK, O_OUT, O_FORCE, O_QUIET };

static const struct option OPTIONS[] = {
    VL_CLI_ENV_OPTIONS,
    {"kek", required_argument, NULL, O_KEK},
    {"subject", required_argument, NULL, O_SUBJECT},
    {"algorithm", required_argument, NULL, O_ALG},
    {"chunk-size", required_argument, NULL, O_CHUNK},
    {"output", required_argument, NULL, O_OUT},
    {"force", no_argument, NULL, O_FORCE},
    {"quiet", no_argument, NULL, O_QUIET},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

#define RESERVE_BATCH 1024
#define PROGRESS_MIN (64u << 20)

struct file_run {
    struct vl_cli_env env;
    int encrypt, force, quiet;
    const char *kek, *subject, *in_path, *out_path;
    vl_alg alg;
    uint32_t chunk;
    FILE *in, *out;
    char *tmp_path; /* the temporary output, renamed on success */
    vl_csfle_dek *dek;
    struct vlmf_header h;
    uint8_t *buf, *sealed;
    uint64_t seals_left, done_bytes, in_size;
    int progress, in_regular;
};

void vl_cli_file_usage(FILE *f)
{
    fputs("usage: vellum encrypt --kek NAME [--subject S] [--algorithm A] [IN] [-o OUT]\n"
          "       vellum decrypt [IN] [-o OUT]\n"
          "\n"
          "Encrypts a file or stream of any size (IN, default stdin) in chunks under a\n"
          "DEK of the keyring: the DEK (KEK NAME, subject 'file' unless --subject,\n"
          "AES256_GCM unless --algorithm) is created on first use; its latest version\n"
          "seals. Every chunk is sealed with its index and a final-chunk flag bound in,\n"
          "so a reordered, truncated, extended or altered file is refused. decrypt\n"
          "reads KEK, DEK version and algorithm from the file's header.\n"
          "\n"
          "  -o, --output OUT   write here (via a temporary file, renamed on success;\n"
          "                     nothing is left behind on failure). Default stdout:\n"
          "                     decrypt writes it only after the whole input verified\n"
          "  --force            replace an existing OUT\n"
          "  --chunk-size N     encrypt: plaintext bytes per chunk (default 65536)\n"
          "  --quiet            no progress line on a terminal\n\n" VL_CLI_ENV_HELP
          "\nexit status: 0 done, 1 the input was refused (altered, truncated, wrong\n"
          "key) or I/O failed, 2 usage error or the key could not be loaded\n",
          f);
}

static int apply(void *arg, int opt, const char *v)
{
    struct file_run *r = arg;
    char *end;
    switch (opt) {
    case O_KEK: r->kek = v; return VL_CLI_OK;
    case O_SUBJECT: r->subject = v; return VL_CLI_OK;
    case 'o':
    case O_OUT: r->out_path = v; return VL_CLI_OK;
    case O_FORCE: r->force = 1; return VL_CLI_OK;
    case O_QUIET: r->quiet = 1; return VL_CLI_OK;
    case O_ALG:
        if (vl_cli_alg(v, &r->alg) != VL_OK)
            return vl_cli_fail(&r->env, "--algorithm must be AES128_GCM, AES256_GCM or "
                                        "AES256_SIV, not '%s'", v);
        return VL_CLI_OK;
    case O_CHUNK: {
        unsigned long x = strtoul(v, &end, 10);
        if (*end != '\0' || end == v || x < VLMF_CHUNK_MIN || x > VLMF_CHUNK_MAX)
            return vl_cli_fail(&r->env, "--chunk-size must be %u to %u bytes, not '%s'",
                               VLMF_CHUNK_MIN, VLMF_CHUNK_MAX, v);
        r->chunk = (uint32_t)x;
        return VL_CLI_OK;
    }
    default: return vl_cli_fail(&r->env, "unknown option");
    }
}

static int io_error(struct file_run *r, const char *what, const char *path)
{
    fprintf(stderr, "%s: %s %s: %s\n", r->env.cmd, what, path, strerror(errno));
    return VL_CLI_FAILED;
}

static int refused(struct file_run *r, const char *why)
{
    fprintf(stderr, "%s: %s: %s\n", r->env.cmd, r->in_path, why);
    return VL_CLI_FAILED;
}

/* ---------------------------------------------------------------- files */

static int to_stdout(const struct file_run *r)
{
    return r->out_path == NULL || strcmp(r->out_path, "-") == 0;
}

static int open_input(struct file_run *r)
{
    struct stat st;
    if (strcmp(r->in_path, "-") == 0) {
        r->in = stdin;
        r->in_path = "stdin";
    } else if ((r->in = fopen(r->in_path, "rb")) == NULL) {
        fprintf(stderr, "%s: cannot open %s: %s\n", r->env.cmd, r->in_path, strerror(errno));
        return VL_CLI_USAGE;
    }
    if (fstat(fileno(r->in), &st) == 0 && S_ISREG(st.st_mode)) {
        r->in_size = (uint64_t)st.st_size;
        r->in_regular = 1;
    }
    if (fstat(fileno(r->in), &st) == 0 && S_ISDIR(st.st_mode))
        return vl_cli_fail(&r->env, "%s is a directory", r->in_path);
    return VL_CLI_OK;
}

static int open_output(struct file_run *r)
{
    if (to_stdout(r) && r->encrypt && isatty(STDOUT_FILENO))
        return vl_cli_fail(&r->env, "not writing ciphertext to a terminal: pass -o FILE or "
                                    "redirect stdout");
    if (to_stdout(r)) {
        r->out = r->encrypt ? stdout : tmpfile();
        return r->out != NULL ? VL_CLI_OK : io_error(r, "cannot create a temporary file", "");
    }
    if (!r->force && access(r->out_path, F_OK) == 0)
        return vl_cli_fail(&r->env, "%s exists; pass --force to replace it", r->out_path);
    size_t n = strlen(r->out_path) + 16;
    r->tmp_path = malloc(n);
    if (r->tmp_path == NULL)
        return vl_cli_fail(&r->env, "out of memory");
    snprintf(r->tmp_path, n, "%s.vlmf-XXXXXX", r->out_path);
    int fd = mkstemp(r->tmp_path);
    if (fd < 0 || (r->out = fdopen(fd, "wb")) == NULL) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        free(r->tmp_path);
        r->tmp_path = NULL;
        errno = e;
        io_error(r, "cannot create a file beside", r->out_path);
        return VL_CLI_USAGE;
    }
    return VL_CLI_OK;
}

static int copy_spool(struct file_run *r)
{
    char b[1 << 16];
    size_t n;
    rewind(r->out);
    while ((n = fread(b, 1, sizeof b, r->out)) > 0)
        if (fwrite(b, 1, n, stdout) != n)
            break;
    vl_memzero(b, sizeof b);
    if (ferror(r->out) || fflush(stdout) != 0)
        return io_error(r, "cannot write", "stdout");
    return VL_CLI_OK;
}

/* Success: the output made durable and put in place; failure: removed. */
static int finish_output(struct file_run *r, int rc)
{
    if (r->out == NULL)
        return rc;
    if (rc == VL_CLI_OK && (fflush(r->out) != 0 || ferror(r->out)))
        rc = io_error(r, "cannot write", to_stdout(r) ? "stdout" : r->out_path);
    if (rc == VL_CLI_OK && r->tmp_path != NULL && fsync(fileno(r->out)) != 0)
        rc = io_error(r, "cannot sync", r->out_path);
    if (rc == VL_CLI_OK && to_stdout(r) && !r->encrypt)
        rc = copy_spool(r);
    if (r->progress) {
        if (rc == VL_CLI_OK)
            fprintf(stderr, "\r%s: %" PRIu64 " MiB, done", r->env.cmd, r->done_bytes >> 20);
        fputc('\n', stderr);
    }
    if (r->out != stdout)
        fclose(r->out);
    r->out = NULL;
    if (r->tmp_path != NULL) {
        if (rc == VL_CLI_OK && rename(r->tmp_path, r->out_path) != 0)
            rc = io_error(r, "cannot rename the temporary file to", r->out_path);
        if (rc != VL_CLI_OK)
            unlink(r->tmp_path);
    }
    return rc;
}

/* ---------------------------------------------------------------- keys */

static int load_dek(struct file_run *r, const vl_dek_record *rec)
{
    vl_kek_record kek;
    int rc = vl_kek_get(r->env.kr, rec->kek_name, &kek);
    if (rc == VL_OK && strcmp(kek.kms_type, r->env.kms_type) != 0) {
        fprintf(stderr, "%s: KEK %s is in %s: pass --kms %s and its options\n", r->env.cmd,
                kek.name, kek.kms_type, kek.kms_type);
        return VL_CLI_USAGE;
    }
    if (rc == VL_OK && rec->wrapped_len == 0)
        rc = VL_ERR_KEY_DESTROYED;
    if (rc == VL_OK)
        rc = vl_csfle_dek_unwrap(r->dek, r->env.kms, kek.kms_key_id, rec);
    if (rc == VL_OK)
        return VL_CLI_OK;
    fprintf(stderr, "%s: cannot load DEK %s/%s version %d: %s%s\n", r->env.cmd,
            rec->kek_name, rec->subject, (int)rec->version, vl_strerror(rc),
            vl_cli_hint(rc));
    return VL_CLI_USAGE;
}

/* encrypt: the latest live version, version 1 made on first use. */
static int writer_dek(struct file_run *r, vl_dek_record *rec)
{
    vl_dek_id id = {r->kek, r->subject, r->alg, -1};
    int rc = vl_dek_get(r->env.kr, &id, rec);
    if (rc == VL_ERR_NOT_FOUND || (rc == VL_OK && (rec->deleted || rec->wrapped_len == 0))) {
        int32_t v = 0;
        if (vl_cli_env_check_kek(&r->env, r->kek) != VL_OK)
            return VL_CLI_USAGE;
        rc = vl_dek_rotate(r->env.kr, r->kek, r->subject, r->alg, &v);
        if (rc == VL_OK && !r->quiet)
            fprintf(stderr, "%s: created DEK %s/%s %s version %d\n", r->env.cmd, r->kek,
                    r->subject, vl_cli_alg_name(r->alg), (int)v);
        if (rc == VL_OK)
            rc = vl_dek_get(r->env.kr, &id, rec);
    }
    if (rc == VL_OK)
        return VL_CLI_OK;
    fprintf(stderr, "%s: no DEK for KEK %s: %s%s\n", r->env.cmd, r->kek, vl_strerror(rc),
            rc == VL_ERR_NOT_FOUND ? " (create the KEK first: vellum kek create NAME)"
                                   : vl_cli_hint(rc));
    return VL_CLI_USAGE;
}

static int reserve(struct file_run *r)
{
    vl_dek_id id = {r->h.kek, r->h.subject, r->h.alg, r->h.dek_version};
    vl_limits l;
    uint64_t start = 0, granted = 0, want = RESERVE_BATCH;
    /* A file of known size reserves what it needs (the counter then reads
     * as seals made); a stream, RESERVE_BATCH at a time. */
    if (r->in_regular && r->done_bytes == 0 && r->in_size / r->chunk < RESERVE_BATCH)
        want = r->in_size == 0 ? 1 : (r->in_size + r->chunk - 1) / r->chunk;
    vl_aead_default_limits(r->h.alg, &l);
    vl_store *s = r->env.store;
    int rc = s->ops->reserve(s, &id, want, l.max_seals, &start, &granted);
    if (rc == VL_OK && granted == 0)
        rc = VL_ERR_LIMIT;
    if (rc != VL_OK) {
        fprintf(stderr, "%s: cannot reserve seals: %s%s\n", r->env.cmd, vl_strerror(rc),
                vl_cli_hint(rc));
        return VL_CLI_FAILED;
    }
    r->seals_left = granted;
    return VL_CLI_OK;
}

/* ---------------------------------------------------------------- chunks */

static void progress(struct file_run *r, size_t n)
{
    r->done_bytes += n;
    if (r->quiet || !isatty(STDERR_FILENO))
        return;
    if (!r->progress && r->done_bytes < PROGRESS_MIN)
        return;
    if (!r->progress++ || (r->done_bytes & ((16u << 20) - 1)) < n) {
        fprintf(stderr, "\r%s: %" PRIu64 " MiB", r->env.cmd, r->done_bytes >> 20);
        if (r->in_size > 0)
            fprintf(stderr, " of %" PRIu64 " MiB (%d%%)", r->in_size >> 20,
                    (int)(r->done_bytes * 100 / r->in_size));
    }
}

static size_t read_full(FILE *f, uint8_t *p, size_t n)
{
    size_t got = 0, k;
    while (got < n && (k = fread(p + got, 1, n - got, f)) > 0)
        got += k;
    return got;
}

/* Whether |f| is at its end (one byte peeked and put back). */
static int at_eof(FILE *f)
{
    int c = getc(f);
    if (c == EOF)
        return 1;
    ungetc(c, f);
    return 0;
}

static int seal_chunk(struct file_run *r, uint64_t i, size_t n, int final)
{
    uint8_t nonce[VLMF_NONCE], ad[VLMF_AD];
    size_t out_len = 0;
    if (r->seals_left == 0 && reserve(r) != VL_CLI_OK)
        return VL_CLI_FAILED;
    r->seals_left--;
    vlmf_chunk_nonce(&r->h, i, nonce);
    vlmf_chunk_ad(&r->h, i, final, ad);
    int rc = vl_aead_seal(&r->dek->key, r->sealed, &out_len, (size_t)r->chunk + 16, nonce,
                          VLMF_NONCE, r->buf, n, ad, VLMF_AD);
    vl_memzero(r->buf, n);
    if (rc != VL_OK) {
        fprintf(stderr, "%s: seal failed: %s%s\n", r->env.cmd, vl_strerror(rc),
                vl_cli_hint(rc));
        return VL_CLI_FAILED;
    }
    if (fwrite(r->sealed, 1, out_len, r->out) != out_len)
        return io_error(r, "cannot write", to_stdout(r) ? "stdout" : r->out_path);
    progress(r, n);
    return VL_CLI_OK;
}

static int encrypt_chunks(struct file_run *r)
{
    uint64_t i = 0;
    for (;; i++) {
        size_t n = read_full(r->in, r->buf, r->chunk);
        if (ferror(r->in))
            return io_error(r, "cannot read", r->in_path);
        int final = n < r->chunk || at_eof(r->in);
        if (seal_chunk(r, i, n, final) != VL_CLI_OK)
            return VL_CLI_FAILED;
        if (final)
            return VL_CLI_OK;
    }
}

static int open_chunk(struct file_run *r, uint64_t i, size_t n, int final)
{
    uint8_t nonce[VLMF_NONCE], ad[VLMF_AD];
    size_t out_len = 0;
    char why[160];
    vlmf_chunk_nonce(&r->h, i, nonce);
    vlmf_chunk_ad(&r->h, i, final, ad);
    int rc = vl_aead_open(&r->dek->key, r->buf, &out_len, r->chunk, nonce, VLMF_NONCE,
                          r->sealed, n, ad, VLMF_AD);
    if (rc != VL_OK) {
        snprintf(why, sizeof why,
                 "chunk %" PRIu64 " failed authentication: the file was altered, truncated, "
                 "reordered or extended (%s)", i, vl_strerror(rc));
        return refused(r, why);
    }
    int ok = fwrite(r->buf, 1, out_len, r->out) == out_len;
    vl_memzero(r->buf, out_len);
    if (!ok)
        return io_error(r, "cannot write", to_stdout(r) ? "a temporary file" : r->out_path);
    progress(r, out_len);
    return VL_CLI_OK;
}

static int decrypt_chunks(struct file_run *r)
{
    size_t full = (size_t)r->chunk + 16;
    for (uint64_t i = 0;; i++) {
        size_t n = read_full(r->in, r->sealed, full);
        if (ferror(r->in))
            return io_error(r, "cannot read", r->in_path);
        if (n < 16)
            return refused(r, n == 0 && i > 0
                                  ? "truncated: the final chunk is missing"
                                  : "truncated: a chunk is shorter than its tag");
        int final = n < full || at_eof(r->in);
        if (open_chunk(r, i, n, final) != VL_CLI_OK)
            return VL_CLI_FAILED;
        if (final)
            return VL_CLI_OK;
    }
}

/* ---------------------------------------------------------------- run */

static int alloc_buffers(struct file_run *r)
{
    r->dek = aligned_alloc(64, (sizeof *r->dek + 63) / 64 * 64);
    r->buf = malloc((size_t)r->chunk + 16);
    r->sealed = malloc((size_t)r->chunk + 16);
    if (r->dek == NULL || r->buf == NULL || r->sealed == NULL)
        return vl_cli_fail(&r->env, "out of memory");
    memset(r->dek, 0, sizeof *r->dek);
    return VL_CLI_OK;
}

static int encrypt_run(struct file_run *r)
{
    vl_dek_record rec;
    uint8_t hdr[VLMF_HEADER_MAX];
    int rc = writer_dek(r, &rec);
    if (rc == VL_CLI_OK)
        rc = load_dek(r, &rec);
    if (rc != VL_CLI_OK)
        return rc;
    r->h.alg = r->alg;
    r->h.chunk_size = r->chunk;
    r->h.dek_version = rec.version;
    strcpy(r->h.kek, rec.kek_name);
    strcpy(r->h.subject, rec.subject);
    if (vl_random(r->h.nonce_base, VLMF_NONCE) != VL_OK)
        return vl_cli_fail(&r->env, "the system's random source failed");
    if ((rc = open_output(r)) != VL_CLI_OK)
        return rc;
    size_t n = vlmf_header_encode(&r->h, hdr);
    if (fwrite(hdr, 1, n, r->out) != n)
        return finish_output(r, io_error(r, "cannot write", r->out_path));
    return finish_output(r, encrypt_chunks(r));
}

static int decrypt_run(struct file_run *r)
{
    const char *why = NULL;
    vl_dek_record rec;
    if (vlmf_header_read(r->in, &r->h, &why) != VL_OK)
        return refused(r, why);
    vl_dek_id id = {r->h.kek, r->h.subject, r->h.alg, r->h.dek_version};
    int rc = vl_dek_get(r->env.kr, &id, &rec);
    if (rc != VL_OK) {
        fprintf(stderr, "%s: %s needs DEK %s/%s %s version %d: %s%s\n", r->env.cmd,
                r->in_path, r->h.kek, r->h.subject, vl_cli_alg_name(r->h.alg),
                (int)r->h.dek_version, vl_strerror(rc),
                rc == VL_ERR_NOT_FOUND ? " (wrong --store?)" : vl_cli_hint(rc));
        return VL_CLI_USAGE;
    }
    r->chunk = r->h.chunk_size;
    if ((rc = alloc_buffers(r)) != VL_CLI_OK || (rc = load_dek(r, &rec)) != VL_CLI_OK)
        return rc;
    if ((rc = open_output(r)) != VL_CLI_OK)
        return rc;
    return finish_output(r, decrypt_chunks(r));
}

static void release(struct file_run *r)
{
    if (r->dek != NULL)
        vl_csfle_dek_wipe(r->dek);
    free(r->dek);
    if (r->buf != NULL)
        vl_memzero(r->buf, (size_t)r->chunk + 16);
    free(r->buf);
    free(r->sealed);
    free(r->tmp_path);
    if (r->in != NULL && r->in != stdin)
        fclose(r->in);
    vl_cli_env_close(&r->env);
}

static int file_main(struct file_run *r, int argc, char **argv)
{
    int first = 0;
    int rc = vl_cli_parse(argc, argv, OPTIONS, &r->env, apply, r, vl_cli_file_usage, &first);
    if (rc != VL_CLI_OK)
        return rc;
    if (argc - first > 1)
        return vl_cli_fail(&r->env, "one input at most, not '%s' too (see --help)",
                           argv[first + 1]);
    r->in_path = first < argc ? argv[first] : "-";
    if (r->encrypt && r->kek == NULL)
        return vl_cli_fail(&r->env, "encrypt needs --kek NAME (see vellum kek list)");
    if ((rc = open_input(r)) != VL_CLI_OK || (rc = vl_cli_env_open(&r->env, 1)) != VL_CLI_OK)
        return rc;
    if (!r->encrypt)
        return decrypt_run(r);
    if ((rc = alloc_buffers(r)) != VL_CLI_OK)
        return rc;
    return encrypt_run(r);
}

static int run(int argc, char **argv, int encrypt)
{
    struct file_run r = {.env = {.cmd = encrypt ? "vellum encrypt" : "vellum decrypt"}};
    r.encrypt = encrypt;
    r.subject = "file";
    r.alg = VL_AES256_GCM;
    r.chunk = VLMF_CHUNK_DEFAULT;
    int rc = file_main(&r, argc, argv);
    release(&r);
    return rc < 0 ? VL_CLI_OK : rc;
}

int vl_cli_encrypt(int argc, char **argv)
{
    return run(argc, argv, 1);
}

int vl_cli_decrypt(int argc, char **argv)
{
    return run(argc, argv, 0);
}
