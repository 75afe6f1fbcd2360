/* dek_json: KEK and DEK records in the DEK Registry's JSON
 * (core/json_records.c, include/vellum/json.h), what a host imports from a
 * registry or an export file.
 *
 * Text first (mode bit 2 clear): parse the fuzzer's text as a KEK or a DEK
 * (with or without VL_JSON_KEY_MATERIAL) and compare with a reference
 * reading written here from json.h's rules on top of a plain jansson
 * parse (duplicates refused, null = absent, defaults, types, ranges,
 * lengths, strict base64, at least one kind of key material). An accepted
 * record must pass the stores' record checks, its kmsProps must be
 * readable by the keyring (core/keyring_props.c), and format -> parse must
 * give the same record back.
 *
 * Record first (mode bit 2 set): a record built from the fuzzer's bytes
 * (good and bad strings, flags, versions, algorithms, timestamps, blobs)
 * is formatted; formatting must succeed for every record the stores
 * accept whose strings are UTF-8, whose ts is >= 0 and whose kms_props is
 * empty or an object of strings, and a formatted record parses back equal.
 *
 * Input: u8 mode | text or record bytes. mode bit 0: DEK, bit 1:
 * VL_JSON_KEY_MATERIAL, bit 2: record first. */
#include <jansson.h>
#include <string.h>

#include "base64.h"
#include "fuzz.h"
#include "keyring_internal.h"
#include "store_int.h"

#include "vellum/json.h"

static const char *const ALG_NAMES[] = {"AES128_GCM", "AES256_GCM", "AES256_SIV"};

/* ---- reference reading ---------------------------------------------------------- */

static json_t *mem(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_null(v) ? NULL : v;
}

static int ref_str(json_t *o, const char *k, int required, char *dst, size_t cap)
{
    json_t *v = mem(o, k);
    memset(dst, 0, cap);
    if (v == NULL)
        return !required;
    size_t n = json_is_string(v) ? json_string_length(v) : cap;
    if (n >= cap || (required && n == 0) || memchr(json_string_value(v), 0, n) != NULL)
        return 0;
    memcpy(dst, json_string_value(v), n);
    return 1;
}

static int ref_int(json_t *o, const char *k, long long lo, long long hi, long long def,
                   long long *out)
{
    json_t *v = mem(o, k);
    *out = def;
    if (v == NULL)
        return 1;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return 0;
    *out = json_integer_value(v);
    return 1;
}

static int ref_bool(json_t *o, const char *k, int *out)
{
    json_t *v = mem(o, k);
    *out = v != NULL && json_is_true(v);
    return v == NULL || json_is_boolean(v);
}

static int ref_b64(json_t *o, const char *k, uint8_t *dst, size_t cap, size_t *len)
{
    json_t *v = mem(o, k);
    *len = 0;
    if (v == NULL)
        return 1;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return 0;
    return vl_base64_decode(dst, cap, len, json_string_value(v), json_string_length(v)) == VL_OK;
}

static int ref_kek(json_t *o, vl_kek_record *r)
{
    long long ts;
    json_t *p = mem(o, "kmsProps"), *v;
    const char *key;
    if (!ref_str(o, "name", 1, r->name, sizeof r->name) ||
        !ref_str(o, "kmsType", 1, r->kms_type, sizeof r->kms_type) ||
        !ref_str(o, "kmsKeyId", 1, r->kms_key_id, sizeof r->kms_key_id) ||
        !ref_str(o, "doc", 0, r->doc, sizeof r->doc) || !ref_bool(o, "shared", &r->shared) ||
        !ref_bool(o, "deleted", &r->deleted) || !ref_int(o, "ts", 0, INT64_MAX, 0, &ts))
        return 0;
    r->ts_ms = ts;
    memset(r->kms_props, 0, sizeof r->kms_props);
    if (p == NULL)
        return 1;
    if (!json_is_object(p))
        return 0;
    json_object_foreach (p, key, v)
        if (!json_is_string(v))
            return 0;
    if (json_object_size(p) == 0)
        return 1;
    char *text = json_dumps(p, JSON_COMPACT);
    int ok = text != NULL && strlen(text) < sizeof r->kms_props;
    if (ok)
        strcpy(r->kms_props, text);
    free(text);
    return ok;
}

static int ref_dek(json_t *o, vl_dek_record *r, vl_dek_material *km, unsigned flags)
{
    long long version, ts;
    char alg[16];
    json_t *m = mem(o, "keyMaterial");
    km->len = 0;
    if (!ref_str(o, "kekName", 1, r->kek_name, sizeof r->kek_name) ||
        !ref_str(o, "subject", 1, r->subject, sizeof r->subject) ||
        !ref_int(o, "version", 1, INT32_MAX, 1, &version) ||
        !ref_str(o, "algorithm", 0, alg, sizeof alg) ||
        !ref_b64(o, "encryptedKeyMaterial", r->wrapped, sizeof r->wrapped, &r->wrapped_len) ||
        !ref_int(o, "ts", 0, INT64_MAX, 0, &ts) || !ref_bool(o, "deleted", &r->deleted))
        return 0;
    r->alg = VL_AES256_GCM;
    if (alg[0] != '\0') {
        r->alg = 0;
        for (int i = 0; i < 3; i++)
            if (strcmp(alg, ALG_NAMES[i]) == 0)
                r->alg = (vl_alg)(i + 1);
        if (r->alg == 0)
            return 0;
    }
    if (m != NULL && !json_is_string(m))
        return 0;
    if ((flags & VL_JSON_KEY_MATERIAL) &&
        !ref_b64(o, "keyMaterial", km->bytes, sizeof km->bytes, &km->len))
        return 0;
    r->version = (int32_t)version;
    r->ts_ms = ts;
    return r->wrapped_len > 0 || km->len > 0;
}

/* ---- comparisons ------------------------------------------------------------------ */

static int kek_eq(const vl_kek_record *a, const vl_kek_record *b)
{
    return strcmp(a->name, b->name) == 0 && strcmp(a->kms_type, b->kms_type) == 0 &&
           strcmp(a->kms_key_id, b->kms_key_id) == 0 && strcmp(a->kms_props, b->kms_props) == 0 &&
           strcmp(a->doc, b->doc) == 0 && a->shared == b->shared && a->deleted == b->deleted &&
           a->ts_ms == b->ts_ms;
}

static int dek_eq(const vl_dek_record *a, const vl_dek_record *b)
{
    return strcmp(a->kek_name, b->kek_name) == 0 && strcmp(a->subject, b->subject) == 0 &&
           a->alg == b->alg && a->version == b->version && a->wrapped_len == b->wrapped_len &&
           memcmp(a->wrapped, b->wrapped, a->wrapped_len) == 0 && a->ts_ms == b->ts_ms &&
           a->deleted == b->deleted;
}

static int km_eq(const vl_dek_material *a, const vl_dek_material *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

/* kms_props as format -> parse gives it back: compact JSON, "" for {}. */
static void canon_props(const char *p, char *out, size_t cap)
{
    json_error_t err;
    json_t *o = p[0] != '\0' ? json_loads(p, JSON_REJECT_DUPLICATES, &err) : NULL;
    char *text = json_object_size(o) > 0 ? json_dumps(o, JSON_COMPACT) : NULL;
    snprintf(out, cap, "%s", text != NULL ? text : "");
    free(text);
    json_decref(o);
}

/* Format, parse back, compare (|must_format|: a good record, which must
 * format and come back equal). */
static void round_trip(int dek, unsigned flags, const vl_kek_record *k, const vl_dek_record *d,
                       const vl_dek_material *km, int must_format)
{
    static char out[VL_JSON_RECORD_MAX];
    static vl_kek_record k2;
    static vl_dek_record d2;
    vl_dek_material km2;
    size_t len = 777;
    int rc = dek ? vl_json_dek_format(d, km, flags, out, sizeof out, &len)
                 : vl_json_kek_format(k, out, sizeof out, &len);
    if (must_format)
        FZ_CHECK(rc == VL_OK, "format refused a good record: %d", rc);
    if (rc != VL_OK) {
        FZ_CHECK(rc == VL_ERR_FORMAT || rc == VL_ERR_ARG, "format: %d", rc);
        FZ_CHECK(len == 0 && fz_is_zero((const uint8_t *)out, sizeof out), "format: not zeroed");
        return;
    }
    FZ_CHECK(len == strlen(out), "format: length");
    rc = dek ? vl_json_dek_parse(&d2, &km2, flags, out, len) : vl_json_kek_parse(&k2, out, len);
    /* Whatever vellum writes for a record the stores accept, it reads back
     * (a negative ts broke that once: tests/test_fuzz_regress.c). */
    int store_ok = dek ? vl_store_check_dek(d) == VL_OK : vl_store_check_kek(k) == VL_OK;
    if (store_ok)
        FZ_CHECK(rc == VL_OK, "vellum cannot read back what it wrote: %d: %.300s", rc, out);
    if (!must_format)
        return; /* garbage in: its contents need not come back equal */
    FZ_CHECK(rc == VL_OK, "a formatted record does not parse: %d: %.300s", rc, out);
    if (dek) {
        FZ_CHECK(dek_eq(d, &d2) && (!(flags & VL_JSON_KEY_MATERIAL) || km_eq(km, &km2)),
                 "DEK changes on format -> parse: %.300s", out);
    } else {
        static vl_kek_record kc;
        kc = *k;
        canon_props(k->kms_props, kc.kms_props, sizeof kc.kms_props);
        FZ_CHECK(kek_eq(&kc, &k2), "KEK changes on format -> parse: %.300s", out);
    }
}

static void text_first(int dek, unsigned flags, const char *text, size_t len)
{
    static vl_kek_record k, rk;
    static vl_dek_record d, rd;
    vl_dek_material km, rkm;
    int rc = dek ? vl_json_dek_parse(&d, &km, flags, text, len) : vl_json_kek_parse(&k, text, len);
    json_error_t err;
    json_t *o = len > 0 ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &err) : NULL;
    memset(&rk, 0, sizeof rk);
    memset(&rd, 0, sizeof rd);
    int ref = json_is_object(o) && (dek ? ref_dek(o, &rd, &rkm, flags) : ref_kek(o, &rk));
    json_decref(o);
    FZ_CHECK((rc == VL_OK) == ref, "parse %d, reference %d: %.300s", rc, ref, text);
    if (rc != VL_OK) {
        FZ_CHECK(rc == VL_ERR_FORMAT, "parse: %d", rc);
        FZ_CHECK(dek ? fz_is_zero((const uint8_t *)&d, sizeof d) &&
                           fz_is_zero((const uint8_t *)&km, sizeof km)
                     : fz_is_zero((const uint8_t *)&k, sizeof k),
                 "refused, record not zeroed");
        return;
    }
    if (dek) {
        FZ_CHECK(dek_eq(&d, &rd), "DEK differs from the reference");
        if (flags & VL_JSON_KEY_MATERIAL)
            FZ_CHECK(km_eq(&km, &rkm), "keyMaterial differs from the reference");
        FZ_CHECK(vl_store_check_dek(&d) == VL_OK, "parsed DEK fails the store checks");
    } else {
        FZ_CHECK(kek_eq(&k, &rk), "KEK differs from the reference: %.300s", text);
        FZ_CHECK(vl_store_check_kek(&k) == VL_OK, "parsed KEK fails the store checks");
        char alt[VL_KMS_PROPS_MAX];
        FZ_CHECK(vl_kr_props_alternates(k.kms_props, alt, sizeof alt) == VL_OK,
                 "the keyring cannot read the kmsProps the JSON gave: %s", k.kms_props);
    }
    round_trip(dek, flags, &k, &d, &km, 1);
}

/* ---- record first ------------------------------------------------------------------ */

static void fill_str(fz *f, char *dst, size_t cap)
{
    uint8_t sel = fz_u8(f);
    size_t n;
    memset(dst, 0, cap);
    if (sel % 5 == 4) {
        memset(dst, 'q', cap); /* no NUL */
        return;
    }
    const uint8_t *p = fz_take(f, sel % 5 == 3 ? fz_u16(f) % cap : sel % 16, &n);
    memcpy(dst, p, n < cap ? n : cap - 1);
}

static int utf8_ok(const char *s)
{
    json_t *v = json_string(s); /* jansson validates UTF-8 */
    json_decref(v);
    return v != NULL;
}

static int props_ok(const char *p)
{
    if (p[0] == '\0')
        return 1;
    json_error_t err;
    json_t *o = json_loads(p, JSON_REJECT_DUPLICATES, &err), *v;
    const char *key;
    int ok = json_is_object(o);
    json_object_foreach (o, key, v)
        ok &= json_is_string(v);
    json_decref(o);
    return ok;
}

static void record_first(int dek, unsigned flags, fz *f)
{
    static vl_kek_record k;
    static vl_dek_record d;
    vl_dek_material km;
    int must;
    memset(&km, 0, sizeof km);
    if (dek) {
        size_t n;
        memset(&d, 0, sizeof d);
        fill_str(f, d.kek_name, sizeof d.kek_name);
        fill_str(f, d.subject, sizeof d.subject);
        d.alg = (vl_alg)(fz_u8(f) % 5);
        d.version = (int32_t)fz_u32(f);
        memcpy(d.wrapped, fz_take(f, fz_u16(f) % 300, &n), n);
        d.wrapped_len = fz_u8(f) == 255 ? VL_KMS_MAX_BLOB + 1 : n;
        d.ts_ms = (int64_t)fz_u32(f) - 1000;
        d.deleted = fz_u8(f) % 3;
        memcpy(km.bytes, fz_take(f, fz_u8(f), &km.len), km.len);
        must = vl_store_check_dek(&d) == VL_OK && utf8_ok(d.kek_name) && utf8_ok(d.subject) &&
               d.ts_ms >= 0 && (d.wrapped_len > 0 || ((flags & VL_JSON_KEY_MATERIAL) && km.len > 0));
    } else {
        memset(&k, 0, sizeof k);
        fill_str(f, k.name, sizeof k.name);
        fill_str(f, k.kms_type, sizeof k.kms_type);
        fill_str(f, k.kms_key_id, sizeof k.kms_key_id);
        fill_str(f, k.kms_props, sizeof k.kms_props);
        fill_str(f, k.doc, sizeof k.doc);
        k.shared = fz_u8(f) % 3;
        k.deleted = fz_u8(f) % 3;
        k.ts_ms = (int64_t)fz_u32(f) - 1000;
        must = vl_store_check_kek(&k) == VL_OK && k.kms_type[0] != '\0' &&
               k.kms_key_id[0] != '\0' && utf8_ok(k.name) && utf8_ok(k.kms_type) &&
               utf8_ok(k.kms_key_id) && utf8_ok(k.doc) && props_ok(k.kms_props) && k.ts_ms >= 0;
    }
    round_trip(dek, flags, &k, &d, &km, must);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz f = {data, size};
    uint8_t mode = fz_u8(&f);
    unsigned flags = (mode & 2) ? VL_JSON_KEY_MATERIAL : 0;
    if (mode & 4) {
        record_first(mode & 1, flags, &f);
        return 0;
    }
    size_t n;
    char *text = (char *)fz_dup(fz_take(&f, f.n, &n), n);
    text_first(mode & 1, flags, text, n);
    free(text);
    return 0;
}
