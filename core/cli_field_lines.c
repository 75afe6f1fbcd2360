/* `vellum field`: the line loop. One value per line in, one per line out,
 * each side base64 (the text Confluent stores for a STRING field) or hex.
 *
 * Decisions:
 *   - A line ends at '\n'; one '\r' before it is dropped (neither
 *     encoding uses it), and a last line without '\n' still counts. An
 *     empty line is the empty value.
 *   - Decoding is strict (canonical base64 with padding; hex digits in
 *     pairs, either case): a value that is not what a registry or a
 *     Confluent client writes is named, not guessed at.
 *   - A failing line is named on stderr ("line N: reason") and the run
 *     goes on; with --on-failure none the line is written as it was read
 *     (Confluent's NONE keeps the field's value) and the reason is still
 *     printed, marked "passed through".
 *   - Buffers grow with the longest line and are wiped when replaced and
 *     at the end (they held plaintext); no line may exceed MAX_LINE. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "base64.h"
#include "cli.h"
#include "cli_field.h"
#include "internal.h"

#define MAX_LINE ((size_t)64 << 20)
/* Room a sealed value needs beyond its input: prefix, IV and tag. */
#define SEAL_ROOM 64

/* ---------------------------------------------------------------- codecs */

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int hex_decode(const char *s, size_t n, uint8_t *out, size_t *len)
{
    if (n % 2 != 0)
        return VL_ERR_FORMAT;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hex_digit((unsigned char)s[i]), lo = hex_digit((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0)
            return VL_ERR_FORMAT;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return VL_OK;
}

static int decode(const struct vl_cli_field_run *r, const char *s, size_t n, size_t *len)
{
    if (r->cfg->enc == VL_CLI_HEX)
        return hex_decode(s, n, r->in, len);
    return vl_base64_decode(r->in, r->in_cap, len, s, n) == VL_OK ? VL_OK : VL_ERR_FORMAT;
}

/* Encodes out[0..len) into r->text; returns the text length. */
static size_t encode(struct vl_cli_field_run *r, size_t len)
{
    static const char HEX[] = "0123456789abcdef";
    if (r->cfg->enc == VL_CLI_BASE64) {
        if (vl_base64_encode(r->text, r->text_cap, r->out, len) != VL_OK)
            return 0;
        return vl_base64_encoded_len(len);
    }
    for (size_t i = 0; i < len; i++) {
        r->text[2 * i] = HEX[r->out[i] >> 4];
        r->text[2 * i + 1] = HEX[r->out[i] & 15];
    }
    return 2 * len;
}

/* ---------------------------------------------------------------- buffers */

static void *release(void *p, size_t cap)
{
    if (p != NULL)
        vl_memzero(p, cap);
    free(p);
    return NULL;
}

/* in: the decoded line; out: the result; text: the result encoded (hex
 * takes 2 * out, base64 at most 4 * (out + 2) / 3 <= 2 * out + 4). */
static int reserve(struct vl_cli_field_run *r, size_t line_len)
{
    size_t out = line_len + SEAL_ROOM, text = 2 * out + 5;
    if (r->in_cap > line_len && r->out_cap >= out && r->text_cap >= text)
        return VL_OK;
    r->in = release(r->in, r->in_cap);
    r->out = release(r->out, r->out_cap);
    r->text = release(r->text, r->text_cap);
    r->in_cap = r->out_cap = r->text_cap = 0;
    r->in = malloc(line_len + 1);
    r->out = malloc(out);
    r->text = malloc(text);
    if (r->in == NULL || r->out == NULL || r->text == NULL)
        return VL_ERR_NOMEM;
    r->in_cap = line_len + 1;
    r->out_cap = out;
    r->text_cap = text;
    return VL_OK;
}

/* ---------------------------------------------------------------- one line */

static int emit(const char *text, size_t len)
{
    if (len != 0 && fwrite(text, 1, len, stdout) != len)
        return VL_ERR_IO;
    return putchar('\n') == EOF ? VL_ERR_IO : VL_OK;
}

/* Why a value failed, told from the value itself where it can be. */
static const char *reason(const struct vl_cli_field_run *r, int rc, size_t len, char *buf,
                          size_t cap)
{
    const struct vl_cli_field_cfg *c = r->cfg;
    const uint8_t *field = r->in;
    size_t hdr = 0;
    int32_t version = 0;
    if (c->payload && vl_csfle_frame_len(r->in, len, c->opts.flags, &hdr) != VL_OK)
        return c->protobuf ? "no schema framing header (0x00 + id or 0x01 + GUID, then "
                             "Protobuf message indexes)"
                           : "no schema framing header (0x00 + 4-byte id, or 0x01 + GUID)";
    field += hdr;
    len -= hdr;
    switch (rc) {
    case VL_ERR_NOT_FOUND:
        vl_csfle_field_version(field, len, c->versioned, &version);
        snprintf(buf, cap, "needs DEK version %d, which no --dek gives", (int)version);
        return buf;
    case VL_ERR_FORMAT:
        if (c->versioned && vl_csfle_field_version(field, len, 1, &version) != VL_OK)
            return "no DEK version prefix (0x00 + version): written without "
                   "encrypt.dek.expiry.days? then leave out --versioned";
        return "too short to be a value of this DEK's algorithm";
    case VL_ERR_AUTH:
        return "authentication failed: not sealed with this DEK (or an older version), "
               "or altered";
    default: return vl_strerror(rc);
    }
}

static void report(const struct vl_cli_field_run *r, const char *why, int passed)
{
    fprintf(stderr, "vellum field: line %zu: %s%s\n", r->lines, why,
            passed ? " (passed through)" : "");
}

static int seal(struct vl_cli_field_run *r, size_t in_len, size_t *out_len)
{
    const vl_csfle_opts *o = &r->cfg->opts;
    if (r->cfg->payload)
        return vl_csfle_payload_encrypt(r->writer, o, r->in, in_len, r->out, r->out_cap,
                                        out_len);
    return vl_csfle_bytes_encrypt(r->writer, o, r->in, in_len, r->out, r->out_cap, out_len);
}

static int open_value(struct vl_cli_field_run *r, size_t in_len, size_t *out_len, int *failure)
{
    const vl_csfle_opts *o = &r->cfg->opts;
    if (r->cfg->payload)
        return vl_csfle_payload_decrypt(r->deks, r->n_deks, o, r->in, in_len, r->out,
                                        r->out_cap, out_len, failure);
    return vl_csfle_bytes_decrypt(r->deks, r->n_deks, o, r->in, in_len, r->out, r->out_cap,
                                  out_len, failure);
}

/* A failed value: named, and written as read under NONE. */
static int failed(struct vl_cli_field_run *r, const char *why, const char *line, size_t len)
{
    int pass = !r->cfg->encrypt && r->cfg->opts.on_failure == VL_CSFLE_ON_FAILURE_NONE;
    report(r, why, pass);
    if (!pass)
        return VL_ERR_FORMAT;
    r->passed++;
    return emit(line, len);
}

static int process_value(struct vl_cli_field_run *r, const char *line, size_t len,
                         size_t *in_len, size_t *out_len)
{
    int failure = VL_OK, rc;
    char buf[96];
    if (decode(r, line, len, in_len) != VL_OK)
        return failed(r, r->cfg->enc == VL_CLI_HEX ? "not hex (pairs of 0-9, a-f)"
                                                   : "not canonical, padded base64",
                      line, len);
    if (r->cfg->encrypt)
        rc = seal(r, *in_len, out_len);
    else
        rc = open_value(r, *in_len, out_len, &failure);
    if (rc == VL_OK && failure != VL_OK)
        rc = failure; /* NONE swallowed it: the line passes through below */
    if (rc != VL_OK)
        return failed(r, reason(r, rc, *in_len, buf, sizeof buf), line, len);
    return emit(r->text, encode(r, *out_len));
}

/* One line; whatever it left in the buffers (plaintext, one side or the
 * other) is wiped before the next. */
static int process(struct vl_cli_field_run *r, const char *line, size_t len)
{
    size_t in_len = 0, out_len = 0;
    if (len > MAX_LINE)
        return failed(r, "line too long (over 64 MiB)", line, len);
    if (reserve(r, len) != VL_OK)
        return failed(r, "out of memory", line, len);
    int rc = process_value(r, line, len, &in_len, &out_len);
    vl_memzero(r->in, in_len);
    vl_memzero(r->out, out_len);
    vl_memzero(r->text, 2 * out_len + 5);
    return rc;
}

/* ---------------------------------------------------------------- the loop */

static size_t strip_eol(const char *line, size_t n)
{
    if (n > 0 && line[n - 1] == '\n')
        n--;
    if (n > 0 && line[n - 1] == '\r')
        n--;
    return n;
}

static void summary(const struct vl_cli_field_run *r)
{
    if (r->failed > 0)
        fprintf(stderr, "vellum field: %zu of %zu lines failed\n", r->failed, r->lines);
    if (r->passed > 0)
        fprintf(stderr, "vellum field: %zu of %zu lines passed through undecrypted\n", r->passed,
                r->lines);
}

int vl_cli_field_lines(struct vl_cli_field_run *r)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int io = 0;
    while (!io && (n = getline(&line, &cap, stdin)) >= 0) {
        r->lines++;
        int rc = process(r, line, strip_eol(line, (size_t)n));
        io = rc == VL_ERR_IO;
        r->failed += rc != VL_OK;
    }
    if (ferror(stdin))
        fprintf(stderr, "vellum field: reading stdin: %s\n", strerror(errno));
    if (io || fflush(stdout) != 0)
        fprintf(stderr, "vellum field: writing stdout: %s\n", strerror(errno));
    summary(r);
    int bad = r->failed > 0 || ferror(stdin) || io || ferror(stdout);
    line = release(line, cap);
    r->in = release(r->in, r->in_cap);
    r->out = release(r->out, r->out_cap);
    r->text = release(r->text, r->text_cap);
    return bad ? VL_CLI_FAILED : VL_CLI_OK;
}
