/* DEK Registry JSON records (include/vellum/json.h, csfle-spec.md §7.1),
 * on jansson; built into build/libvellum-json.a, never into the core.
 *
 * Decisions:
 *   - The parser is jansson's, with duplicate member names refused (two
 *     readers must never see two different records in one text) and its
 *     depth cap; input over VL_JSON_INPUT_MAX is refused before parsing.
 *   - Every member is read through one typed getter that checks type and
 *     length, so a wrong type can never reach a conversion.
 *   - base64 is vellum's strict, canonical decoder (core/base64.c), the
 *     same one the STRING field helpers use; Confluent writes canonical
 *     padded base64 (Buffer.toString('base64'), Java's Base64 encoder).
 *   - keyMaterial text that passed through jansson's tree (parsed, or built
 *     for output) is wiped in place before the tree is freed. jansson's
 *     lexer keeps its own scratch copy while parsing, which is freed
 *     unwiped: hosts that care keep keyMaterial out of their inputs.
 *   - kmsProps is stored as compact JSON text ("" for an empty object),
 *     the form core/keyring_props.c reads. */
#include <jansson.h>
#include <string.h>

#include "base64.h"
#include "internal.h"

#include "vellum/json.h"

#define B64_MAX_BLOB 5464  /* base64 of VL_KMS_MAX_BLOB bytes */

static const struct {
    vl_alg alg;
    const char *name;
} ALGS[] = {
    {VL_AES128_GCM, "AES128_GCM"},
    {VL_AES256_GCM, "AES256_GCM"},
    {VL_AES256_SIV, "AES256_SIV"},
};

const char *vl_json_alg_name(vl_alg alg)
{
    for (size_t i = 0; i < sizeof ALGS / sizeof ALGS[0]; i++)
        if (ALGS[i].alg == alg)
            return ALGS[i].name;
    return NULL;
}

int vl_json_alg_parse(const char *name, vl_alg *alg)
{
    if (name == NULL || alg == NULL)
        return VL_ERR_ARG;
    for (size_t i = 0; i < sizeof ALGS / sizeof ALGS[0]; i++)
        if (strcmp(ALGS[i].name, name) == 0) {
            *alg = ALGS[i].alg;
            return VL_OK;
        }
    return VL_ERR_FORMAT;
}

void vl_json_material_wipe(vl_dek_material *km)
{
    if (km != NULL)
        vl_memzero(km, sizeof *km);
}

/* Zeroes a jansson string's text in place before the tree is freed (the
 * buffer is jansson's heap copy, writable; its length is kept apart). */
static void wipe_string(json_t *s)
{
    if (json_is_string(s))
        vl_memzero((char *)(uintptr_t)json_string_value(s), json_string_length(s));
}

/* ---------------------------------------------------------------- reading */

static json_t *load_object(const char *json, size_t json_len)
{
    json_error_t err;
    if (json == NULL || json_len == 0 || json_len > VL_JSON_INPUT_MAX)
        return NULL;
    json_t *root = json_loadb(json, json_len, JSON_REJECT_DUPLICATES, &err);
    if (root != NULL && !json_is_object(root)) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* Member |k|, or NULL when absent or null. */
static json_t *member(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_null(v) ? NULL : v;
}

/* A string member into dst[cap] (NUL included): 1..cap-1 bytes when
 * |required|, 0..cap-1 otherwise; no NUL inside. */
static int get_str(const json_t *o, const char *k, int required, char *dst, size_t cap)
{
    json_t *v = member(o, k);
    dst[0] = '\0';
    if (v == NULL)
        return required ? VL_ERR_FORMAT : VL_OK;
    if (!json_is_string(v))
        return VL_ERR_FORMAT;
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n >= cap || (required && n == 0) || memchr(s, '\0', n) != NULL)
        return VL_ERR_FORMAT;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return VL_OK;
}

static int get_bool(const json_t *o, const char *k, int *out)
{
    json_t *v = member(o, k);
    *out = 0;
    if (v == NULL)
        return VL_OK;
    if (!json_is_boolean(v))
        return VL_ERR_FORMAT;
    *out = json_is_true(v);
    return VL_OK;
}

/* An integer member in [lo, hi]; |def| when absent. Reals are refused. */
static int get_int(const json_t *o, const char *k, int64_t lo, int64_t hi, int64_t def,
                   int64_t *out)
{
    json_t *v = member(o, k);
    *out = def;
    if (v == NULL)
        return VL_OK;
    if (!json_is_integer(v))
        return VL_ERR_FORMAT;
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return VL_ERR_FORMAT;
    *out = (int64_t)x;
    return VL_OK;
}

/* A base64 string member decoded into dst[cap]: *len 0 when absent; an
 * empty string, bad base64 or more than cap bytes is VL_ERR_FORMAT. */
static int get_b64(const json_t *o, const char *k, uint8_t *dst, size_t cap, size_t *len)
{
    json_t *v = member(o, k);
    *len = 0;
    if (v == NULL)
        return VL_OK;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return VL_ERR_FORMAT;
    int rc = vl_base64_decode(dst, cap, len, json_string_value(v), json_string_length(v));
    return rc == VL_OK ? VL_OK : VL_ERR_FORMAT;
}

/* kmsProps: an object of strings, kept as compact JSON text. */
static int get_props(const json_t *o, char *dst, size_t cap)
{
    json_t *v = member(o, "kmsProps"), *val;
    const char *key;
    dst[0] = '\0';
    if (v == NULL)
        return VL_OK;
    if (!json_is_object(v))
        return VL_ERR_FORMAT;
    json_object_foreach (v, key, val)
        if (!json_is_string(val))
            return VL_ERR_FORMAT;
    if (json_object_size(v) == 0)
        return VL_OK;
    size_t n = json_dumpb(v, dst, cap - 1, JSON_COMPACT);
    if (n == 0 || n > cap - 1) {
        vl_memzero(dst, cap);
        return VL_ERR_FORMAT;
    }
    dst[n] = '\0';
    return memchr(dst, '\0', n) == NULL ? VL_OK : VL_ERR_FORMAT;
}

static int read_kek(const json_t *o, vl_kek_record *r)
{
    int64_t ts;
    int rc = get_str(o, "name", 1, r->name, sizeof r->name);
    if (rc == VL_OK)
        rc = get_str(o, "kmsType", 1, r->kms_type, sizeof r->kms_type);
    if (rc == VL_OK)
        rc = get_str(o, "kmsKeyId", 1, r->kms_key_id, sizeof r->kms_key_id);
    if (rc == VL_OK)
        rc = get_props(o, r->kms_props, sizeof r->kms_props);
    if (rc == VL_OK)
        rc = get_str(o, "doc", 0, r->doc, sizeof r->doc);
    if (rc == VL_OK)
        rc = get_bool(o, "shared", &r->shared);
    if (rc == VL_OK)
        rc = get_bool(o, "deleted", &r->deleted);
    if (rc == VL_OK)
        rc = get_int(o, "ts", 0, INT64_MAX, 0, &ts);
    if (rc == VL_OK)
        r->ts_ms = ts;
    return rc;
}

int vl_json_kek_parse(vl_kek_record *out, const char *json, size_t json_len)
{
    if (out == NULL || (json == NULL && json_len != 0))
        return VL_ERR_ARG;
    memset(out, 0, sizeof *out);
    json_t *root = load_object(json, json_len);
    int rc = root != NULL ? read_kek(root, out) : VL_ERR_FORMAT;
    json_decref(root);
    if (rc != VL_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

static int get_alg(const json_t *o, vl_alg *alg)
{
    char name[16];
    int rc = get_str(o, "algorithm", 0, name, sizeof name);
    *alg = VL_AES256_GCM; /* the registry's default */
    if (rc != VL_OK || name[0] == '\0')
        return rc;
    return vl_json_alg_parse(name, alg);
}

static int read_dek(const json_t *o, vl_dek_record *r)
{
    int64_t version, ts;
    int rc = get_str(o, "kekName", 1, r->kek_name, sizeof r->kek_name);
    if (rc == VL_OK)
        rc = get_str(o, "subject", 1, r->subject, sizeof r->subject);
    if (rc == VL_OK)
        rc = get_int(o, "version", 1, INT32_MAX, 1, &version);
    if (rc == VL_OK)
        rc = get_alg(o, &r->alg);
    if (rc == VL_OK)
        rc = get_b64(o, "encryptedKeyMaterial", r->wrapped, sizeof r->wrapped, &r->wrapped_len);
    if (rc == VL_OK)
        rc = get_int(o, "ts", 0, INT64_MAX, 0, &ts);
    if (rc == VL_OK)
        rc = get_bool(o, "deleted", &r->deleted);
    if (rc == VL_OK) {
        r->version = (int32_t)version;
        r->ts_ms = ts;
    }
    return rc;
}

/* keyMaterial: read into |km| when asked, else only type-checked. */
static int read_material(json_t *o, vl_dek_material *km, unsigned flags)
{
    json_t *v = member(o, "keyMaterial");
    if (v != NULL && !json_is_string(v))
        return VL_ERR_FORMAT;
    int rc = VL_OK;
    if (flags & VL_JSON_KEY_MATERIAL)
        rc = get_b64(o, "keyMaterial", km->bytes, sizeof km->bytes, &km->len);
    wipe_string(v);
    return rc;
}

int vl_json_dek_parse(vl_dek_record *out, vl_dek_material *km, unsigned flags, const char *json,
                      size_t json_len)
{
    if (km != NULL)
        vl_json_material_wipe(km);
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (out == NULL || (json == NULL && json_len != 0) || (flags & ~VL_JSON_KEY_MATERIAL) != 0 ||
        ((flags & VL_JSON_KEY_MATERIAL) && km == NULL))
        return VL_ERR_ARG;
    json_t *root = load_object(json, json_len);
    int rc = root != NULL ? read_dek(root, out) : VL_ERR_FORMAT;
    int mrc = root != NULL ? read_material(root, km, flags) : VL_OK; /* always wipes */
    json_decref(root);
    if (rc == VL_OK)
        rc = mrc;
    if (rc == VL_OK && out->wrapped_len == 0 && (km == NULL || km->len == 0))
        rc = VL_ERR_FORMAT; /* no key material of either kind */
    if (rc != VL_OK) {
        vl_memzero(out, sizeof *out);
        vl_json_material_wipe(km);
    }
    return rc;
}

/* ---------------------------------------------------------------- writing */

/* A record's char array: NUL-terminated inside it, valid UTF-8 (jansson
 * checks). Empty strings are left out when |optional|. */
static int put_str(json_t *o, const char *k, const char *s, size_t cap, int optional)
{
    const char *end = memchr(s, '\0', cap);
    if (end == NULL)
        return VL_ERR_FORMAT;
    /* An empty optional member is left out; an empty required one is an
     * error, since the parser refuses it (found by fuzz/dek_json). */
    if (end == s)
        return optional ? VL_OK : VL_ERR_FORMAT;
    json_t *v = json_stringn(s, (size_t)(end - s));
    return v != NULL && json_object_set_new(o, k, v) == 0 ? VL_OK : VL_ERR_FORMAT;
}

static int put_new(json_t *o, const char *k, json_t *v)
{
    return v != NULL && json_object_set_new(o, k, v) == 0 ? VL_OK : VL_ERR_NOMEM;
}

static int put_b64(json_t *o, const char *k, const uint8_t *p, size_t len)
{
    char text[B64_MAX_BLOB + 1];
    int rc = vl_base64_encode(text, sizeof text, p, len);
    if (rc == VL_OK)
        rc = put_new(o, k, json_stringn(text, vl_base64_encoded_len(len)));
    vl_memzero(text, sizeof text);
    return rc;
}

/* kms_props text back to an object of strings (it is untrusted). */
static int put_props(json_t *o, const char *props, size_t cap)
{
    json_error_t err;
    json_t *v, *val;
    const char *key;
    size_t n = strnlen(props, cap);
    if (n == cap)
        return VL_ERR_FORMAT;
    v = n == 0 ? json_object() : json_loadb(props, n, JSON_REJECT_DUPLICATES, &err);
    int rc = json_is_object(v) ? VL_OK : VL_ERR_FORMAT;
    json_object_foreach (v, key, val)
        if (!json_is_string(val))
            rc = VL_ERR_FORMAT;
    if (rc == VL_OK)
        return put_new(o, "kmsProps", v);
    json_decref(v);
    return rc;
}

/* Dumps |o| into out[out_cap] with a NUL. */
static int dump(const json_t *o, char *out, size_t out_cap, size_t *out_len)
{
    size_t n = json_dumpb(o, out, out_cap - 1, JSON_COMPACT);
    if (n == 0 || n > out_cap - 1)
        return VL_ERR_ARG;
    out[n] = '\0';
    *out_len = n;
    return VL_OK;
}

static int write_kek(json_t *o, const vl_kek_record *r)
{
    int rc = put_str(o, "name", r->name, sizeof r->name, 0);
    if (rc == VL_OK)
        rc = put_str(o, "kmsType", r->kms_type, sizeof r->kms_type, 0);
    if (rc == VL_OK)
        rc = put_str(o, "kmsKeyId", r->kms_key_id, sizeof r->kms_key_id, 0);
    if (rc == VL_OK)
        rc = put_props(o, r->kms_props, sizeof r->kms_props);
    if (rc == VL_OK)
        rc = put_str(o, "doc", r->doc, sizeof r->doc, 1);
    if (rc == VL_OK)
        rc = put_new(o, "shared", json_boolean(r->shared));
    /* The parser refuses negative timestamps; never write what it would
     * refuse (found by fuzz/dek_json). */
    if (rc == VL_OK)
        rc = r->ts_ms < 0 ? VL_ERR_FORMAT : put_new(o, "ts", json_integer(r->ts_ms));
    if (rc == VL_OK)
        rc = put_new(o, "deleted", json_boolean(r->deleted));
    return rc;
}

static int fail(char *out, size_t out_cap, size_t *out_len, int rc)
{
    if (out != NULL)
        vl_memzero(out, out_cap);
    if (out_len != NULL)
        *out_len = 0;
    return rc;
}

int vl_json_kek_format(const vl_kek_record *r, char *out, size_t out_cap, size_t *out_len)
{
    if (r == NULL || out == NULL || out_cap == 0 || out_len == NULL)
        return fail(out, out_cap, out_len, VL_ERR_ARG);
    json_t *o = json_object();
    int rc = o != NULL ? write_kek(o, r) : VL_ERR_NOMEM;
    if (rc == VL_OK)
        rc = dump(o, out, out_cap, out_len);
    json_decref(o);
    return rc == VL_OK ? VL_OK : fail(out, out_cap, out_len, rc);
}

static int write_dek(json_t *o, const vl_dek_record *r)
{
    const char *alg = vl_json_alg_name(r->alg);
    int rc = put_str(o, "kekName", r->kek_name, sizeof r->kek_name, 0);
    if (rc == VL_OK)
        rc = put_str(o, "subject", r->subject, sizeof r->subject, 0);
    if (rc == VL_OK)
        rc = r->version >= 1 && alg != NULL && r->wrapped_len <= VL_KMS_MAX_BLOB ? VL_OK
                                                                               : VL_ERR_FORMAT;
    if (rc == VL_OK)
        rc = put_new(o, "version", json_integer(r->version));
    if (rc == VL_OK)
        rc = put_new(o, "algorithm", json_string(alg));
    if (rc == VL_OK && r->wrapped_len > 0)
        rc = put_b64(o, "encryptedKeyMaterial", r->wrapped, r->wrapped_len);
    /* The parser refuses negative timestamps; never write what it would
     * refuse (found by fuzz/dek_json). */
    if (rc == VL_OK)
        rc = r->ts_ms < 0 ? VL_ERR_FORMAT : put_new(o, "ts", json_integer(r->ts_ms));
    if (rc == VL_OK)
        rc = put_new(o, "deleted", json_boolean(r->deleted));
    return rc;
}

static int material_ok(const vl_dek_material *km, unsigned flags)
{
    if ((flags & ~VL_JSON_KEY_MATERIAL) != 0)
        return 0;
    return !(flags & VL_JSON_KEY_MATERIAL) || (km != NULL && km->len <= sizeof km->bytes);
}

int vl_json_dek_format(const vl_dek_record *r, const vl_dek_material *km, unsigned flags,
                       char *out, size_t out_cap, size_t *out_len)
{
    if (r == NULL || out == NULL || out_cap == 0 || out_len == NULL || !material_ok(km, flags))
        return fail(out, out_cap, out_len, VL_ERR_ARG);
    json_t *o = json_object();
    int rc = o != NULL ? write_dek(o, r) : VL_ERR_NOMEM;
    int with_km = (flags & VL_JSON_KEY_MATERIAL) && km->len > 0;
    if (rc == VL_OK && with_km)
        rc = put_b64(o, "keyMaterial", km->bytes, km->len);
    if (rc == VL_OK && r->wrapped_len == 0 && !with_km)
        rc = VL_ERR_FORMAT; /* a record with no key material at all */
    if (rc == VL_OK)
        rc = dump(o, out, out_cap, out_len);
    wipe_string(json_object_get(o, "keyMaterial"));
    json_decref(o);
    return rc == VL_OK ? VL_OK : fail(out, out_cap, out_len, rc);
}
