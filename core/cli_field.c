/* `vellum field encrypt|decrypt`: options, the KMS, and the DEKs (read
 * from DEK Registry JSON records, or created and written out). The line
 * loop is core/cli_field_lines.c.
 *
 * Decisions:
 *   - Everything that can stop the command happens before stdin is read:
 *     arguments, DEK files (read, parsed, unwrapped), the new DEK's record
 *     written. Those failures exit 2; a failing line exits 1 (core/cli.h).
 *   - Every --dek must share kekName, subject and algorithm (one DEK
 *     identity, csfle-spec.md §7.1) and have its own version.
 *   - encrypt seals with the highest version given when --versioned;
 *     without it, with version 1 only, since a reader without the prefix
 *     asks for version 1 (§4.3), and a DEK is created as version 1 unless
 *     --dek-version says otherwise (which requires --versioned).
 *   - --dek-out never overwrites a file (O_EXCL): losing a DEK record
 *     loses every value sealed under it.
 *   - The secret comes from --kms-secret or, like Confluent's local KMS,
 *     from the LOCAL_SECRET environment variable (argv is visible to other
 *     users of the machine; the variable is not).
 *   - --on-failure applies to decrypt only: passing plaintext through
 *     unencrypted on a failed encrypt is never what a host wants. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_field.h"
#include "internal.h"

#include "vellum/json.h"

enum {
    O_KMS = 256, O_SECRET, O_KEY_ID, O_DEK, O_DEK_OUT, O_KEK_OUT, O_KEK, O_SUBJECT, O_ALG,
    O_DEK_VERSION, O_VERSIONED, O_ENCODING, O_ON_FAILURE, O_PAYLOAD, O_PROTOBUF
};

static const struct option OPTIONS[] = {
    {"kms", required_argument, NULL, O_KMS},
    {"kms-secret", required_argument, NULL, O_SECRET},
    {"kms-key-id", required_argument, NULL, O_KEY_ID},
    {"dek", required_argument, NULL, O_DEK},
    {"dek-out", required_argument, NULL, O_DEK_OUT},
    {"kek-out", required_argument, NULL, O_KEK_OUT},
    {"kek", required_argument, NULL, O_KEK},
    {"subject", required_argument, NULL, O_SUBJECT},
    {"algorithm", required_argument, NULL, O_ALG},
    {"dek-version", required_argument, NULL, O_DEK_VERSION},
    {"versioned", no_argument, NULL, O_VERSIONED},
    {"encoding", required_argument, NULL, O_ENCODING},
    {"on-failure", required_argument, NULL, O_ON_FAILURE},
    {"payload", no_argument, NULL, O_PAYLOAD},
    {"protobuf", no_argument, NULL, O_PROTOBUF},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

void vl_cli_field_usage(FILE *f)
{
    fputs(
        "usage: vellum field encrypt|decrypt --kms local-kms --kms-secret SECRET\n"
        "                    [--dek FILE.json ...] [--versioned] [--encoding base64|hex]\n"
        "       vellum field encrypt ... --kek NAME --subject SUBJECT --dek-out FILE.json\n"
        "                    [--algorithm AES128_GCM|AES256_GCM|AES256_SIV] [--dek-version N]\n"
        "                    [--kek-out FILE.json --kms-key-id ID]\n"
        "\n"
        "Reads one value per line on stdin, writes one per line on stdout, in\n"
        "Confluent's client-side field-level encryption format; both sides in the\n"
        "chosen encoding. base64 (the default) is how a STRING field's ciphertext is\n"
        "stored, so such values pass as they are; BYTES values are their raw bytes,\n"
        "encoded. An empty line is an empty value.\n"
        "\n"
        "  --kms TYPE          the KEK's KMS; this build has local-kms (tests and demos)\n"
        "  --kms-secret S      local-kms secret (default: $LOCAL_SECRET, as Confluent)\n"
        "  --dek FILE          a DEK record in the DEK Registry's JSON shape; repeat for\n"
        "                      several versions (decrypt picks by the version prefix)\n"
        "  --versioned         values carry the 5-byte DEK version prefix, as when the\n"
        "                      rule sets encrypt.dek.expiry.days; encrypt then uses the\n"
        "                      highest version given (without it: version 1)\n"
        "  --encoding E        base64 (default) or hex, for input and output lines\n"
        "  --on-failure A      decrypt: error (default) or none, which writes a line that\n"
        "                      cannot be decrypted as it was read (Confluent's NONE)\n"
        "  --payload           values are whole record values (ENCRYPT_PAYLOAD): the\n"
        "                      schema framing header (0x00 + id, or 0x01 + GUID) stays\n"
        "                      in clear; --protobuf: Protobuf message indexes follow it\n"
        "encrypt without --dek creates a DEK:\n"
        "  --kek NAME --subject S   its identity (subject: e.g. <topic>-value)\n"
        "  --algorithm A       AES256_GCM (default), AES128_GCM or AES256_SIV\n"
        "  --dek-version N     its version (default 1; other versions need --versioned)\n"
        "  --dek-out FILE      where its record goes (never overwritten)\n"
        "  --kek-out FILE      also write the KEK record (needs --kms-key-id)\n"
        "\n"
        "Each failing line is named on stderr with the reason and writes nothing to\n"
        "stdout (with --on-failure none: the line as read). Exit status: 0 done\n"
        "(failed lines passed through with --on-failure none), 1 some line failed,\n"
        "2 usage error or a DEK that cannot be loaded (nothing was read).\n",
        f);
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vellum field: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(see vellum field --help)\n", stderr);
    va_end(ap);
    return VL_CLI_USAGE;
}

/* ---------------------------------------------------------------- options */

static int set_encoding(struct vl_cli_field_cfg *c, const char *v)
{
    if (strcmp(v, "base64") == 0)
        c->enc = VL_CLI_BASE64;
    else if (strcmp(v, "hex") == 0)
        c->enc = VL_CLI_HEX;
    else
        return usage_error("--encoding must be base64 or hex, not '%s'", v);
    return VL_CLI_OK;
}

static int set_on_failure(struct vl_cli_field_cfg *c, const char *v)
{
    c->on_failure_arg = v;
    if (strcasecmp(v, "error") == 0)
        c->opts.on_failure = VL_CSFLE_ON_FAILURE_ERROR;
    else if (strcasecmp(v, "none") == 0)
        c->opts.on_failure = VL_CSFLE_ON_FAILURE_NONE;
    else
        return usage_error("--on-failure must be error or none, not '%s'", v);
    return VL_CLI_OK;
}

static int set_version(struct vl_cli_field_cfg *c, const char *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    c->version_arg = v;
    if (errno != 0 || end == v || *end != '\0' || x < 1 || x > INT32_MAX)
        return usage_error("--dek-version must be an integer from 1 to 2147483647, not '%s'",
                           v);
    c->dek_version = (int32_t)x;
    return VL_CLI_OK;
}

static int add_dek(struct vl_cli_field_cfg *c, const char *v)
{
    if (c->n_dek_files == VL_CLI_MAX_DEKS)
        return usage_error("at most %d --dek files", VL_CLI_MAX_DEKS);
    c->dek_files[c->n_dek_files++] = v;
    return VL_CLI_OK;
}

static int apply_flag(struct vl_cli_field_cfg *c, int opt)
{
    switch (opt) {
    case O_VERSIONED: c->versioned = 1; return VL_CLI_OK;
    case O_PAYLOAD: c->payload = 1; return VL_CLI_OK;
    case O_PROTOBUF: c->protobuf = 1; return VL_CLI_OK;
    default: return usage_error("unknown option");
    }
}

static int apply_option(struct vl_cli_field_cfg *c, int opt, const char *v)
{
    switch (opt) {
    case O_KMS: c->kms_type = v; return VL_CLI_OK;
    case O_SECRET: c->secret = v; return VL_CLI_OK;
    case O_KEY_ID: c->kms_key_id = v; return VL_CLI_OK;
    case O_DEK: return add_dek(c, v);
    case O_DEK_OUT: c->dek_out = v; return VL_CLI_OK;
    case O_KEK_OUT: c->kek_out = v; return VL_CLI_OK;
    case O_KEK: c->kek_name = v; return VL_CLI_OK;
    case O_SUBJECT: c->subject = v; return VL_CLI_OK;
    case O_ALG:
        c->alg_arg = v;
        if (vl_json_alg_parse(v, &c->alg) != VL_OK)
            return usage_error("--algorithm must be AES128_GCM, AES256_GCM or AES256_SIV, not "
                               "'%s'",
                               v);
        return VL_CLI_OK;
    case O_DEK_VERSION: return set_version(c, v);
    case O_ENCODING: return set_encoding(c, v);
    case O_ON_FAILURE: return set_on_failure(c, v);
    default: return apply_flag(c, opt);
    }
}

/* argv[0] is "encrypt" or "decrypt"; getopt_long treats it as the name. */
static int parse_options(struct vl_cli_field_cfg *c, int argc, char **argv)
{
    int opt, rc;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":h", OPTIONS, NULL)) != -1) {
        if (opt == 'h') {
            vl_cli_field_usage(stdout);
            return -1; /* help shown: exit 0 */
        }
        if (opt == '?' || opt == ':')
            return usage_error(opt == ':' ? "option %s needs a value" : "unknown option %s",
                               argv[optind - 1]);
        if ((rc = apply_option(c, opt, optarg)) != VL_CLI_OK)
            return rc;
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s' (values are read from stdin)",
                           argv[optind]);
    return VL_CLI_OK;
}

/* ---------------------------------------------------------------- checks */

static int check_creation(const struct vl_cli_field_cfg *c)
{
    if (c->dek_out == NULL)
        return usage_error("encrypt needs --dek FILE, or --dek-out FILE to create a DEK");
    if (c->kek_name == NULL || c->subject == NULL)
        return usage_error("creating a DEK needs --kek NAME and --subject SUBJECT");
    if (c->dek_version != 1 && !c->versioned)
        return usage_error("--dek-version %s needs --versioned: readers of values without "
                           "the prefix use version 1",
                           c->version_arg);
    if (c->kek_out != NULL && (c->kms_key_id == NULL || c->kms_key_id[0] == '\0'))
        return usage_error("--kek-out needs --kms-key-id (the KEK record's kmsKeyId)");
    return VL_CLI_OK;
}

/* Options that only describe a DEK to create. */
static const char *creation_option(const struct vl_cli_field_cfg *c)
{
    if (c->dek_out != NULL)
        return "--dek-out";
    if (c->kek_out != NULL)
        return "--kek-out";
    if (c->kek_name != NULL)
        return "--kek";
    if (c->subject != NULL)
        return "--subject";
    if (c->alg_arg != NULL)
        return "--algorithm";
    if (c->version_arg != NULL)
        return "--dek-version";
    return NULL;
}

static int check_config(struct vl_cli_field_cfg *c)
{
    const char *extra = creation_option(c);
    if (c->kms_type == NULL)
        return usage_error("--kms is required (this build supports local-kms)");
    if (strcmp(c->kms_type, "local-kms") != 0)
        return usage_error("--kms %s is not supported by this build (local-kms is)",
                           c->kms_type);
    if (c->secret == NULL)
        c->secret = getenv("LOCAL_SECRET");
    if (c->secret == NULL || c->secret[0] == '\0')
        return usage_error("local-kms needs --kms-secret or LOCAL_SECRET");
    if (c->protobuf && !c->payload)
        return usage_error("--protobuf describes payload framing: it needs --payload");
    if (!c->encrypt && c->n_dek_files == 0)
        return usage_error("decrypt needs at least one --dek FILE");
    if (c->encrypt && c->on_failure_arg != NULL)
        return usage_error("--on-failure applies to decrypt only");
    if ((!c->encrypt || c->n_dek_files > 0) && extra != NULL)
        return usage_error("%s only describes a DEK that encrypt creates (no --dek)", extra);
    if (c->encrypt && c->n_dek_files == 0)
        return check_creation(c);
    return VL_CLI_OK;
}

/* ---------------------------------------------------------------- DEKs */

/* local-kms ignores it; other KMSs will need it. */
static const char *key_id(const struct vl_cli_field_cfg *c)
{
    return c->kms_key_id != NULL ? c->kms_key_id : "";
}

static const char *unwrap_reason(int rc)
{
    switch (rc) {
    case VL_ERR_AUTH: return "cannot unwrap it: wrong KMS secret, or the record was altered";
    case VL_ERR_FORMAT: return "the unwrapped key is not a Tink key proto of its algorithm";
    case VL_ERR_KEY_DESTROYED: return "it was destroyed (deleted, no key material left)";
    default: return vl_strerror(rc);
    }
}

/* Every DEK must be the same (kekName, subject, algorithm), versions apart. */
static int check_identity(struct vl_cli_field_run *r, const vl_dek_record *rec,
                          const char *path)
{
    if (r->n_deks == 0) {
        memcpy(r->kek_name, rec->kek_name, sizeof r->kek_name);
        memcpy(r->subject, rec->subject, sizeof r->subject);
        r->alg = rec->alg;
        return VL_CLI_OK;
    }
    if (strcmp(r->kek_name, rec->kek_name) != 0 || strcmp(r->subject, rec->subject) != 0 ||
        r->alg != rec->alg)
        return usage_error("%s: another DEK (kekName, subject and algorithm must match "
                           "the first --dek)",
                           path);
    for (size_t i = 0; i < r->n_deks; i++)
        if (r->deks[i].version == rec->version)
            return usage_error("%s: a second DEK with the same version", path);
    return VL_CLI_OK;
}

static int load_dek(struct vl_cli_field_run *r, const char *path)
{
    size_t len = 0;
    vl_dek_record rec;
    char *text = vl_cli_read_file(path, VL_JSON_INPUT_MAX, &len);
    if (text == NULL) {
        fprintf(stderr, "vellum field: %s: %s\n", path, strerror(errno));
        return VL_CLI_USAGE;
    }
    int rc = vl_json_dek_parse(&rec, NULL, 0, text, len);
    vl_memzero(text, len); /* it may hold keyMaterial */
    free(text);
    if (rc != VL_OK)
        return usage_error("%s: not a DEK record in the DEK Registry's JSON shape", path);
    int cli = check_identity(r, &rec, path);
    if (cli == VL_CLI_OK) {
        rc = vl_csfle_dek_unwrap(&r->deks[r->n_deks], r->kms, key_id(r->cfg), &rec);
        if (rc == VL_OK)
            r->n_deks++;
        else
            cli = VL_CLI_USAGE;
    }
    if (rc != VL_OK)
        fprintf(stderr, "vellum field: %s: DEK version %d: %s\n", path, (int)rec.version,
                unwrap_reason(rc));
    vl_memzero(&rec, sizeof rec);
    return cli;
}

/* encrypt: the highest version (versioned) or version 1. */
static int pick_writer(struct vl_cli_field_run *r)
{
    for (size_t i = 0; i < r->n_deks; i++) {
        vl_csfle_dek *d = &r->deks[i];
        if (r->cfg->versioned ? (r->writer == NULL || d->version > r->writer->version)
                              : d->version == 1)
            r->writer = d;
    }
    if (r->writer == NULL)
        return usage_error("encrypt without --versioned seals with DEK version 1, and no "
                           "--dek has it");
    return VL_CLI_OK;
}

/* ---------------------------------------------------------------- records out */

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? errno : EIO;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* |text| and a newline; a file this call created is removed on failure. */
static int write_file(const char *path, const char *text, size_t len, int exclusive)
{
    int fd = open(path, O_WRONLY | O_CREAT | (exclusive ? O_EXCL : O_TRUNC), 0600);
    int e = fd < 0 ? errno : 0;
    if (e == 0)
        e = write_all(fd, text, len);
    if (e == 0)
        e = write_all(fd, "\n", 1);
    if (fd >= 0 && close(fd) != 0 && e == 0)
        e = errno;
    if (e == 0)
        return VL_CLI_OK;
    if (fd >= 0)
        unlink(path);
    fprintf(stderr, "vellum field: %s: %s%s\n", path, strerror(e),
            e == EEXIST ? " (a DEK record is never overwritten)" : "");
    return VL_CLI_USAGE;
}

static int write_kek(const struct vl_cli_field_cfg *c, int64_t now)
{
    vl_kek_record kek;
    char text[VL_JSON_RECORD_MAX];
    size_t len;
    memset(&kek, 0, sizeof kek);
    if (strlen(c->kek_name) >= sizeof kek.name || strlen(c->kms_key_id) >= sizeof kek.kms_key_id)
        return usage_error("--kek or --kms-key-id is too long");
    strcpy(kek.name, c->kek_name);
    strcpy(kek.kms_type, c->kms_type);
    strcpy(kek.kms_key_id, c->kms_key_id);
    kek.ts_ms = now;
    if (vl_json_kek_format(&kek, text, sizeof text, &len) != VL_OK)
        return usage_error("cannot format the KEK record (names must be UTF-8)");
    return write_file(c->kek_out, text, len, 0);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int create_dek(struct vl_cli_field_run *r)
{
    const struct vl_cli_field_cfg *c = r->cfg;
    vl_dek_record rec;
    char text[VL_JSON_RECORD_MAX];
    size_t len = 0;
    int64_t now = now_ms();
    vl_alg alg = c->alg_arg != NULL ? c->alg : VL_AES256_GCM;
    int rc = vl_csfle_dek_generate(&r->deks[0], &rec, r->kms, key_id(c),
                                   c->kek_name, c->subject, alg, c->dek_version, now);
    if (rc == VL_OK)
        rc = vl_json_dek_format(&rec, NULL, 0, text, sizeof text, &len);
    vl_memzero(&rec, sizeof rec);
    if (rc != VL_OK) {
        fprintf(stderr, "vellum field: cannot create a DEK: %s%s\n", vl_strerror(rc),
                rc == VL_ERR_ARG || rc == VL_ERR_FORMAT ? " (--kek and --subject: 1 to 255 "
                                                          "bytes of UTF-8)"
                                                        : "");
        return VL_CLI_USAGE;
    }
    r->n_deks = 1;
    r->writer = &r->deks[0];
    int cli = write_file(c->dek_out, text, len, 1);
    if (cli == VL_CLI_OK && c->kek_out != NULL)
        cli = write_kek(c, now);
    return cli;
}

/* ---------------------------------------------------------------- run */

static int setup(struct vl_cli_field_run *r)
{
    const struct vl_cli_field_cfg *c = r->cfg;
    int rc = vl_kms_local_new(&r->kms, c->secret, strlen(c->secret));
    if (rc != VL_OK) {
        fprintf(stderr, "vellum field: local-kms: %s\n", vl_strerror(rc));
        return VL_CLI_USAGE;
    }
    r->deks = aligned_alloc(_Alignof(vl_csfle_dek), VL_CLI_MAX_DEKS * sizeof(vl_csfle_dek));
    if (r->deks == NULL) {
        fputs("vellum field: out of memory\n", stderr);
        return VL_CLI_USAGE;
    }
    memset(r->deks, 0, VL_CLI_MAX_DEKS * sizeof(vl_csfle_dek));
    if (c->encrypt && c->n_dek_files == 0)
        return create_dek(r);
    for (size_t i = 0; i < c->n_dek_files; i++)
        if ((rc = load_dek(r, c->dek_files[i])) != VL_CLI_OK)
            return rc;
    return c->encrypt ? pick_writer(r) : VL_CLI_OK;
}

static void teardown(struct vl_cli_field_run *r)
{
    if (r->deks != NULL) {
        for (size_t i = 0; i < VL_CLI_MAX_DEKS; i++)
            vl_csfle_dek_wipe(&r->deks[i]);
        free(r->deks);
    }
    vl_kms_close(r->kms);
}

static int parse_mode(struct vl_cli_field_cfg *c, const char *mode)
{
    if (strcmp(mode, "encrypt") == 0)
        c->encrypt = 1;
    else if (strcmp(mode, "decrypt") == 0)
        c->encrypt = 0;
    else
        return usage_error("the first argument is encrypt or decrypt, not '%s'", mode);
    return VL_CLI_OK;
}

int vl_cli_field(int argc, char **argv)
{
    struct vl_cli_field_cfg cfg = {0};
    struct vl_cli_field_run run = {0};
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        vl_cli_field_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? VL_CLI_USAGE : VL_CLI_OK;
    }
    cfg.dek_version = 1;
    int rc = parse_mode(&cfg, argv[1]);
    if (rc == VL_CLI_OK)
        rc = parse_options(&cfg, argc - 1, argv + 1);
    if (rc == -1)
        return VL_CLI_OK;
    if (rc == VL_CLI_OK)
        rc = check_config(&cfg);
    if (rc != VL_CLI_OK)
        return rc;
    cfg.opts.versioned = cfg.versioned;
    cfg.opts.flags = cfg.protobuf ? VL_CSFLE_PROTOBUF : 0;
    run.cfg = &cfg;
    rc = setup(&run);
    if (rc == VL_CLI_OK)
        rc = vl_cli_field_lines(&run);
    teardown(&run);
    return rc;
}
