/* field: Confluent CSFLE field ciphertexts, with and without the 5-byte
 * version prefix, through both readers vellum has:
 *   - the keyring (vl_field_decrypt: core/envelope.c, core/wire.c), and
 *   - the keyring-less helpers of include/vellum/csfle.h (BYTES fields,
 *     base64 STRING fields, whole payloads behind their framing header,
 *     Protobuf message indexes included),
 * against each other and against a 10-line reference of the prefix rules.
 *
 * The fixture (fuzz.c) is a keyring on the in-memory store and the local
 * KMS with DEK versions 1..3 of every algorithm (versioned) or version 1
 * (plain); the csfle helpers get the very same DEKs, unwrapped from the
 * store's records with vl_csfle_dek_unwrap. So a field one side wrote, the
 * other must read, and on any input both must agree: both accept with the
 * same plaintext, or both refuse (with the same code, except that one may
 * say VL_ERR_FORMAT where the other says VL_ERR_NOT_FOUND: they check the
 * version and the body length in a different order). A refusal leaves the
 * output zeroed; ON_FAILURE_NONE passes the input through instead.
 *
 * Input: u8 alg | u8 mode | u8 opt | data
 *   mode bit 0: versioned; (mode >> 1) % 5 picks the operation:
 *     0 decrypt |data| as a BYTES field, keyring vs csfle
 *     1 encrypt: u8 version, u8 n_mut, n_mut x {u16 pos, u8 xor}, then the
 *       plaintext; keyring or csfle (opt bit 2) writes, both read; each
 *       mutation of the field must be refused by both
 *     2 decrypt |data| as base64 STRING text, checked against a base64
 *       decode + BYTES decrypt
 *     3 decrypt |data| as a payload (opt bit 1: Protobuf indexes), checked
 *       against vl_csfle_frame_len + BYTES decrypt
 *     4 encrypt |data| as a STRING and as a payload, then read it back
 *   opt bit 0: ON_FAILURE_NONE for the csfle decrypts (op 0, 2, 3). */
#include <string.h>

#include "base64.h"
#include "fuzz.h"
#include "wire.h"

#include "vellum/csfle.h"

#define MAX_DEKS (3 * FZ_VERSIONS)

struct fixture {
    struct fz_keyring k;
    vl_csfle_dek deks[3][FZ_VERSIONS]; /* [alg - 1][version - 1] */
    size_t n_deks;
};

static struct fixture fx[2]; /* plain, versioned */

static void fixture_init(struct fixture *x, int versioned)
{
    fz_keyring_setup(&x->k, versioned);
    x->n_deks = versioned ? FZ_VERSIONS : 1;
    for (int a = 1; a <= 3; a++)
        for (size_t v = 1; v <= x->n_deks; v++) {
            vl_dek_record rec;
            vl_dek_id id = {FZ_KEK, FZ_SUBJECT, (vl_alg)a, (int32_t)v};
            int rc = x->k.store->ops->get_dek(x->k.store, &id, &rec);
            FZ_CHECK(rc == VL_OK, "get_dek: %d", rc);
            rc = vl_csfle_dek_unwrap(&x->deks[a - 1][v - 1], x->k.kms, "mykey", &rec);
            FZ_CHECK(rc == VL_OK, "vl_csfle_dek_unwrap: %d", rc);
        }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fixture_init(&fx[0], 0);
    fixture_init(&fx[1], 1);
    return 0;
}

/* The version a reader must use, by csfle-spec.md §4.3 alone. */
static int ref_version(const uint8_t *in, size_t len, int versioned, int32_t *v)
{
    if (!versioned) {
        *v = 1;
        return VL_OK;
    }
    if (len < 5 || in[0] != 0)
        return VL_ERR_FORMAT;
    uint32_t u = (uint32_t)in[1] << 24 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 8 | in[4];
    if (u == 0 || u > 0x7fffffff)
        return VL_ERR_FORMAT;
    *v = (int32_t)u;
    return VL_OK;
}

static void check_split(vl_alg alg, int versioned, const uint8_t *in, size_t len)
{
    int32_t v = -1, rv = -1, cv = -1;
    const uint8_t *body = NULL;
    size_t body_len = 0, min = alg == VL_AES256_SIV ? 16 : 28;
    int rc = vl_wire_field_split(alg, versioned, in, len, &v, &body, &body_len);
    int ref = ref_version(in, len, versioned, &rv);
    size_t pre = versioned ? 5 : 0;
    if (ref == VL_OK && len - (versioned ? 5 : 0) < min)
        ref = VL_ERR_FORMAT;
    FZ_CHECK(rc == ref, "vl_wire_field_split: %d, reference %d", rc, ref);
    if (rc == VL_OK)
        FZ_CHECK(v == rv && body == in + pre && body_len == len - pre, "split: wrong result");
    rc = vl_csfle_field_version(in, len, versioned, &cv);
    ref = ref_version(in, len, versioned, &rv);
    FZ_CHECK(rc == ref && (rc != VL_OK || cv == rv), "vl_csfle_field_version: %d, reference %d",
             rc, ref);
}

/* Both readers on one BYTES field; returns the agreed code. */
static int decrypt_both(struct fixture *x, vl_alg alg, const uint8_t *in, size_t len,
                        unsigned opt, const uint8_t *want, size_t want_len)
{
    uint8_t *a = fz_alloc(len, 0xa5), *b = fz_alloc(len, 0xa5);
    size_t a_len = 777, b_len = 777;
    int failure = 777;
    vl_csfle_opts o = {x->k.versioned, (opt & 1) ? VL_CSFLE_ON_FAILURE_NONE : 0, 0};
    int ra = vl_field_decrypt(x->k.kr, FZ_KEK, FZ_SUBJECT, alg, in, len, a, len, &a_len);
    int rb = vl_csfle_bytes_decrypt(x->deks[alg - 1], x->n_deks, &o, in, len, b, len, &b_len,
                                    &failure);
    if (o.on_failure == VL_CSFLE_ON_FAILURE_NONE) {
        FZ_CHECK(rb == VL_OK, "ON_FAILURE_NONE returned %d", rb);
        if (failure != VL_OK) {
            FZ_CHECK(b_len == len && memcmp(b, in, len) == 0, "NONE: input not passed through");
            rb = failure;
        }
    } else {
        FZ_CHECK(failure == rb, "*failure %d, rc %d", failure, rb);
    }
    int agree = ra == rb || (ra == VL_ERR_FORMAT && rb == VL_ERR_NOT_FOUND) ||
                (ra == VL_ERR_NOT_FOUND && rb == VL_ERR_FORMAT);
    FZ_CHECK(agree, "keyring %d (%s), csfle %d (%s): alg %d, versioned %d, %zu bytes", ra,
             vl_strerror(ra), rb, vl_strerror(rb), (int)alg, x->k.versioned, len);
    if (ra == VL_OK) {
        FZ_CHECK(a_len == b_len && memcmp(a, b, a_len) == 0, "readers disagree on plaintext");
        if (want != NULL)
            FZ_CHECK(a_len == want_len && memcmp(a, want, want_len) == 0, "wrong plaintext");
    } else {
        FZ_CHECK(a_len == 0 && fz_is_zero(a, len), "keyring: refused (%d), output not zeroed", ra);
    }
    free(a);
    free(b);
    return ra;
}

static vl_csfle_dek *dek_for(struct fixture *x, vl_alg alg, uint8_t vbyte)
{
    return &x->deks[alg - 1][vbyte % x->n_deks];
}

/* Op 1: write a field (keyring or csfle), read it back, then mutate it. */
static void encrypt_mutate(struct fixture *x, vl_alg alg, unsigned opt, fz *f)
{
    uint8_t vbyte = fz_u8(f), n_mut = fz_u8(f) % 5;
    struct {
        uint16_t pos;
        uint8_t x;
    } mut[4];
    for (unsigned i = 0; i < n_mut; i++) {
        mut[i].pos = fz_u16(f);
        mut[i].x = fz_u8(f);
        mut[i].x = mut[i].x ? mut[i].x : 0x80;
    }
    size_t pt_len;
    uint8_t *pt = fz_dup(fz_take(f, f->n, &pt_len), pt_len);
    size_t cap = pt_len + vl_field_overhead(alg, x->k.versioned), len = 0;
    uint8_t *field = fz_alloc(cap, 0xa5);
    int rc;
    if (opt & 4) {
        vl_csfle_opts o = {x->k.versioned, 0, 0};
        rc = vl_csfle_bytes_encrypt(dek_for(x, alg, vbyte), &o, pt, pt_len, field, cap, &len);
    } else {
        rc = vl_field_encrypt(x->k.kr, FZ_KEK, FZ_SUBJECT, alg, pt, pt_len, field, cap, &len);
    }
    FZ_CHECK(rc == VL_OK && len == cap, "encrypt: %d, %zu of %zu bytes", rc, len, cap);
    rc = decrypt_both(x, alg, field, len, 0, pt, pt_len);
    FZ_CHECK(rc == VL_OK, "a field just written does not decrypt: %d", rc);
    for (unsigned i = 0; i < n_mut; i++) {
        uint8_t *m = fz_dup(field, len);
        m[mut[i].pos % len] ^= mut[i].x;
        rc = decrypt_both(x, alg, m, len, 0, NULL, 0);
        FZ_CHECK(rc != VL_OK, "mutated field accepted (byte %zu ^ %02x)", mut[i].pos % len,
                 mut[i].x);
        free(m);
        /* Shorter, or one byte longer: refused too. */
        rc = decrypt_both(x, alg, field, len - 1 - mut[i].pos % len, 0, NULL, 0);
        FZ_CHECK(rc != VL_OK, "truncated field accepted");
        m = fz_alloc(len + 1, mut[i].x);
        memcpy(m, field, len);
        rc = decrypt_both(x, alg, m, len + 1, 0, NULL, 0);
        FZ_CHECK(rc != VL_OK, "extended field accepted");
        free(m);
    }
    free(pt);
    free(field);
}

/* Op 2: base64 STRING text, against decode + BYTES decrypt. */
static void string_decrypt(struct fixture *x, vl_alg alg, unsigned opt, const uint8_t *in,
                           size_t len)
{
    vl_csfle_opts o = {x->k.versioned, (opt & 1) ? VL_CSFLE_ON_FAILURE_NONE : 0, 0};
    size_t cap = len + 1, out_len = 777, raw_len = 0;
    char *out = (char *)fz_alloc(cap, 0xa5);
    int failure = 777;
    int rc = vl_csfle_string_decrypt(x->deks[alg - 1], x->n_deks, &o, (const char *)in, len, out,
                                     cap, &out_len, &failure);
    /* The same thing in two steps. */
    uint8_t *raw = fz_alloc(len, 0), *pt = fz_alloc(len, 0);
    size_t pt_len = 0;
    vl_csfle_opts oe = {x->k.versioned, 0, 0};
    int ref = vl_base64_decode(raw, len, &raw_len, (const char *)in, len);
    if (ref == VL_OK)
        ref = vl_csfle_bytes_decrypt(x->deks[alg - 1], x->n_deks, &oe, raw, raw_len, pt, len,
                                     &pt_len, NULL);
    if (o.on_failure == VL_CSFLE_ON_FAILURE_NONE) {
        FZ_CHECK(rc == VL_OK, "string NONE: %d", rc);
        rc = failure;
        if (failure != VL_OK)
            FZ_CHECK(out_len == len && memcmp(out, in, len) == 0 && out[len] == 0,
                     "string NONE: input not passed through");
    }
    FZ_CHECK(rc == ref, "string decrypt %d, decode + bytes decrypt %d", rc, ref);
    if (rc == VL_OK)
        FZ_CHECK(out_len == pt_len && memcmp(out, pt, pt_len) == 0 && out[pt_len] == 0,
                 "string decrypt: wrong plaintext");
    else if (o.on_failure != VL_CSFLE_ON_FAILURE_NONE)
        FZ_CHECK(out_len == 0 && fz_is_zero((const uint8_t *)out, cap), "string: not zeroed");
    free(out);
    free(raw);
    free(pt);
}

/* Op 3: a payload, against vl_csfle_frame_len + BYTES decrypt. */
static void payload_decrypt(struct fixture *x, vl_alg alg, unsigned opt, const uint8_t *in,
                            size_t len)
{
    unsigned flags = (opt & 2) ? VL_CSFLE_PROTOBUF : 0;
    vl_csfle_opts o = {x->k.versioned, (opt & 1) ? VL_CSFLE_ON_FAILURE_NONE : 0, flags};
    uint8_t *out = fz_alloc(len, 0xa5), *pt = fz_alloc(len, 0);
    size_t out_len = 777, hdr = 0, pt_len = 0;
    int failure = 777;
    int rc = vl_csfle_payload_decrypt(x->deks[alg - 1], x->n_deks, &o, in, len, out, len,
                                      &out_len, &failure);
    vl_csfle_opts oe = {x->k.versioned, 0, 0};
    int ref = vl_csfle_frame_len(in, len, flags, &hdr);
    if (ref == VL_OK) {
        FZ_CHECK(hdr <= len, "frame_len %zu > %zu", hdr, len);
        ref = vl_csfle_bytes_decrypt(x->deks[alg - 1], x->n_deks, &oe, in + hdr, len - hdr, pt,
                                     len - hdr, &pt_len, NULL);
    }
    if (o.on_failure == VL_CSFLE_ON_FAILURE_NONE) {
        FZ_CHECK(rc == VL_OK, "payload NONE: %d", rc);
        rc = failure;
        if (failure != VL_OK)
            FZ_CHECK(out_len == len && memcmp(out, in, len) == 0, "payload NONE: no pass-through");
    }
    FZ_CHECK(rc == ref, "payload decrypt %d, frame_len + bytes decrypt %d", rc, ref);
    if (rc == VL_OK)
        FZ_CHECK(out_len == hdr + pt_len && memcmp(out, in, hdr) == 0 &&
                     memcmp(out + hdr, pt, pt_len) == 0,
                 "payload decrypt: wrong output");
    else if (o.on_failure != VL_CSFLE_ON_FAILURE_NONE)
        FZ_CHECK(out_len == 0 && fz_is_zero(out, len), "payload: not zeroed");
    free(out);
    free(pt);
}

/* Op 4: STRING and payload round trips through the csfle writers. */
static void csfle_round_trips(struct fixture *x, vl_alg alg, unsigned opt, fz *f)
{
    vl_csfle_dek *d = dek_for(x, alg, fz_u8(f));
    size_t len;
    uint8_t *data = fz_dup(fz_take(f, f->n, &len), len);
    vl_csfle_opts o = {x->k.versioned, 0, (opt & 2) ? VL_CSFLE_PROTOBUF : 0};
    size_t cap = vl_csfle_string_cap(alg, x->k.versioned, len), n = 777, back_len = 777;
    char *text = (char *)fz_alloc(cap, 0xa5);
    int rc = vl_csfle_string_encrypt(d, &o, (const char *)data, len, text, cap, &n);
    FZ_CHECK(rc == VL_OK && n == cap - 1 && text[n] == 0, "string encrypt: %d", rc);
    char *back = (char *)fz_alloc(n + 1, 0xa5);
    rc = vl_csfle_string_decrypt(x->deks[alg - 1], x->n_deks, &o, text, n, back, n + 1, &back_len,
                                 NULL);
    FZ_CHECK(rc == VL_OK && back_len == len && memcmp(back, data, len) == 0,
             "string round trip: %d", rc);
    free(text);
    free(back);

    size_t over = vl_csfle_overhead(alg, x->k.versioned), hdr = 0;
    uint8_t *out = fz_alloc(len + over, 0xa5);
    rc = vl_csfle_payload_encrypt(d, &o, data, len, out, len + over, &n);
    int fr = vl_csfle_frame_len(data, len, o.flags, &hdr);
    FZ_CHECK(rc == fr, "payload encrypt %d, frame_len %d", rc, fr);
    if (rc == VL_OK) {
        FZ_CHECK(n == len + over && memcmp(out, data, hdr) == 0, "payload encrypt: layout");
        uint8_t *pb = fz_alloc(n, 0xa5);
        rc = vl_csfle_payload_decrypt(x->deks[alg - 1], x->n_deks, &o, out, n, pb, n, &back_len,
                                      NULL);
        FZ_CHECK(rc == VL_OK && back_len == len && memcmp(pb, data, len) == 0,
                 "payload round trip: %d", rc);
        /* The field part is an ordinary BYTES field: the keyring reads it. */
        rc = decrypt_both(x, alg, out + hdr, n - hdr, 0, data + hdr, len - hdr);
        FZ_CHECK(rc == VL_OK, "keyring cannot read a csfle field: %d", rc);
        free(pb);
    } else {
        FZ_CHECK(fz_is_zero(out, len + over), "payload encrypt: refused, not zeroed");
    }
    free(out);
    free(data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz f = {data, size};
    vl_alg alg = fz_alg(fz_u8(&f));
    uint8_t mode = fz_u8(&f);
    unsigned opt = fz_u8(&f);
    struct fixture *x = &fx[mode & 1];
    vl_random_fuzz_reset(0x600d);
    size_t len;
    const uint8_t *rest;
    switch ((mode >> 1) % 5) {
    case 0:
        rest = fz_take(&f, f.n, &len);
        {
            uint8_t *in = fz_dup(rest, len);
            check_split(alg, x->k.versioned, in, len);
            decrypt_both(x, alg, in, len, opt, NULL, 0);
            free(in);
        }
        break;
    case 1:
        encrypt_mutate(x, alg, opt, &f);
        break;
    case 2:
        rest = fz_take(&f, f.n, &len);
        {
            uint8_t *in = fz_dup(rest, len);
            string_decrypt(x, alg, opt, in, len);
            free(in);
        }
        break;
    case 3:
        rest = fz_take(&f, f.n, &len);
        {
            uint8_t *in = fz_dup(rest, len);
            payload_decrypt(x, alg, opt, in, len);
            free(in);
        }
        break;
    default:
        csfle_round_trips(x, alg, opt, &f);
        break;
    }
    return 0;
}
