/* DEK Registry JSON records (core/json_records.c, include/vellum/json.h):
 * the registry's shapes read and written, the defaults, keyMaterial only
 * when asked, and every kind of malformed input refused with
 * VL_ERR_FORMAT and a zeroed record; random mutations of a valid record
 * never crash and never half-fill a record. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#include "vellum/json.h"

#define EKM "07V2ndh02DA73p+dTybwZFm7DKQSZN1tEwQh+FoX1DZLk4Yj2LLu4omYjp/84tAg3BYlkfGSz+zZacJHIE4="
#define KM "GiBB5SNMJKak+FsdgjfpmhLfhyLwwhg3VWrNDset3lhpzw=="
#define DEK_JSON                                                                           \
    "{\"kekName\":\"kek1\",\"subject\":\"topic1-value\",\"version\":2,"                      \
    "\"algorithm\":\"AES256_GCM\",\"encryptedKeyMaterial\":\"" EKM "\",\"ts\":11112223334," \
    "\"deleted\":false}"

static int dek_parse(const char *json, vl_dek_record *r)
{
    int rc = vl_json_dek_parse(r, NULL, 0, json, strlen(json));
    if (rc != VL_OK)
        cr_assert(vt_is_zero(r, sizeof *r), "record not zeroed for %s", json);
    return rc;
}

Test(json_dek, registry_shape)
{
    vl_dek_record r;
    cr_assert_eq(dek_parse(DEK_JSON, &r), VL_OK);
    cr_assert_str_eq(r.kek_name, "kek1");
    cr_assert_str_eq(r.subject, "topic1-value");
    cr_assert(r.version == 2 && r.alg == VL_AES256_GCM && r.ts_ms == 11112223334 && !r.deleted);
    cr_assert_eq(r.wrapped_len, 62);
}

/* The registry's defaults, null as absent, unknown members ignored. */
Test(json_dek, defaults)
{
    vl_dek_record r;
    cr_assert_eq(dek_parse("{\"kekName\":\"k\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"" EKM
                           "\",\"version\":null,\"algorithm\":null,\"future\":[1,{}]}",
                           &r),
                 VL_OK);
    cr_assert(r.version == 1 && r.alg == VL_AES256_GCM && r.ts_ms == 0 && !r.deleted);
    cr_assert_eq(dek_parse("{\"kekName\":\"k\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"" EKM
                           "\",\"algorithm\":\"AES256_SIV\",\"deleted\":true,\"version\":2147483647}",
                           &r),
                 VL_OK);
    cr_assert(r.alg == VL_AES256_SIV && r.deleted && r.version == INT32_MAX);
}

Test(json_dek, malformed)
{
    static const char *const BAD[] = {
        "",
        "[]",
        "\"x\"",
        "{",
        "{}",
        DEK_JSON " x",
        DEK_JSON DEK_JSON,
        "{\"kekName\":\"k\",\"kekName\":\"k\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"" EKM "\"}",
        "{\"subject\":\"s\",\"encryptedKeyMaterial\":\"" EKM "\"}",
        "{\"kekName\":\"\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"" EKM "\"}",
        "{\"kekName\":1,\"subject\":\"s\",\"encryptedKeyMaterial\":\"" EKM "\"}",
        "{\"kekName\":\"k\",\"subject\":\"s\"}",
        "{\"kekName\":\"k\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"\"}",
        "{\"kekName\":\"k\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"07V2\\n\"}",
        "{\"kekName\":\"k\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"07V\"}",
        "{\"kekName\":\"k\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"07V=\"}",
        "{\"kekName\":\"k\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"07-_\"}",
        "{\"kekName\":\"k\",\"subject\":\"s\",\"encryptedKeyMaterial\":42}",
        "{\"kekName\":\"k\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"" EKM "\",\"version\":0}",
        "{\"kekName\":\"k\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"" EKM "\",\"version\":-1}",
        "{\"kekName\":\"k\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"" EKM
        "\",\"version\":2147483648}",
        "{\"kekName\":\"k\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"" EKM "\",\"version\":1.0}",
        "{\"kekName\":\"k\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"" EKM "\",\"version\":\"1\"}",
        "{\"kekName\":\"k\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"" EKM
        "\",\"version\":99999999999999999999999}",
        "{\"kekName\":\"k\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"" EKM
        "\",\"algorithm\":\"AES192_GCM\"}",
        "{\"kekName\":\"k\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"" EKM
        "\",\"algorithm\":\"aes256_gcm\"}",
        "{\"kekName\":\"k\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"" EKM "\",\"ts\":-5}",
        "{\"kekName\":\"k\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"" EKM "\",\"ts\":1e12}",
        "{\"kekName\":\"k\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"" EKM "\",\"deleted\":0}",
        "{\"kekName\":\"k\\u0000x\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"" EKM "\"}",
        "{\"kekName\":\"k\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"" EKM "\",\"keyMaterial\":5}",
        "{\"kekName\":\"\xff\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"" EKM "\"}",
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        vl_dek_record r;
        memset(&r, 0xa5, sizeof r);
        cr_assert_eq(dek_parse(BAD[i], &r), VL_ERR_FORMAT, "accepted: %s", BAD[i]);
    }
}

/* Name lengths: VL_NAME_MAX - 1 bytes fit, VL_NAME_MAX do not. */
Test(json_dek, name_lengths)
{
    char name[VL_NAME_MAX + 1], json[1024];
    vl_dek_record r;
    for (size_t len = VL_NAME_MAX - 1; len <= VL_NAME_MAX; len++) {
        memset(name, 'n', len);
        name[len] = '\0';
        snprintf(json, sizeof json,
                 "{\"kekName\":\"%s\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"" EKM "\"}", name);
        cr_assert_eq(dek_parse(json, &r), len < VL_NAME_MAX ? VL_OK : VL_ERR_FORMAT);
    }
}

/* A blob over VL_KMS_MAX_BLOB is refused; exactly that size is read. */
Test(json_dek, blob_sizes)
{
    size_t cap = 2 * VL_KMS_MAX_BLOB + 256;
    char *json = malloc(cap);
    vl_dek_record r;
    for (size_t len = VL_KMS_MAX_BLOB - 1; len <= VL_KMS_MAX_BLOB + 3; len++) {
        size_t b64 = (len + 2) / 3 * 4;
        int n = snprintf(json, cap, "{\"kekName\":\"k\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"");
        memset(json + n, 'A', b64);
        for (size_t p = 0; p < (3 - len % 3) % 3; p++)
            json[n + b64 - 1 - p] = '=';
        strcpy(json + n + b64, "\"}");
        cr_assert_eq(dek_parse(json, &r), len <= VL_KMS_MAX_BLOB ? VL_OK : VL_ERR_FORMAT,
                     "length %zu", len);
        if (len <= VL_KMS_MAX_BLOB)
            cr_assert_eq(r.wrapped_len, len);
    }
    free(json);
}

Test(json_dek, key_material_only_when_asked)
{
    const char *both = "{\"kekName\":\"k\",\"subject\":\"s\",\"encryptedKeyMaterial\":\"" EKM
                       "\",\"keyMaterial\":\"" KM "\"}";
    const char *only = "{\"kekName\":\"k\",\"subject\":\"s\",\"keyMaterial\":\"" KM "\"}";
    vl_dek_record r;
    vl_dek_material km;
    cr_assert_eq(vl_json_dek_parse(&r, NULL, 0, both, strlen(both)), VL_OK);
    cr_assert_eq(vl_json_dek_parse(&r, &km, 0, both, strlen(both)), VL_OK);
    cr_assert_eq(km.len, 0); /* not asked: ignored */
    cr_assert_eq(vl_json_dek_parse(&r, &km, VL_JSON_KEY_MATERIAL, both, strlen(both)), VL_OK);
    cr_assert(km.len == 34 && km.bytes[0] == 0x1a && km.bytes[1] == 0x20 && r.wrapped_len == 62);
    cr_assert_eq(vl_json_dek_parse(&r, NULL, 0, only, strlen(only)), VL_ERR_FORMAT);
    cr_assert_eq(vl_json_dek_parse(&r, &km, VL_JSON_KEY_MATERIAL, only, strlen(only)), VL_OK);
    cr_assert(km.len == 34 && r.wrapped_len == 0);
    cr_assert_eq(vl_json_dek_parse(&r, NULL, VL_JSON_KEY_MATERIAL, only, strlen(only)),
                 VL_ERR_ARG);
    /* Written only when asked. */
    cr_assert_eq(vl_json_dek_parse(&r, &km, VL_JSON_KEY_MATERIAL, only, strlen(only)), VL_OK);
    char out[VL_JSON_RECORD_MAX];
    size_t n;
    cr_assert_eq(vl_json_dek_format(&r, &km, 0, out, sizeof out, &n), VL_ERR_FORMAT);
    cr_assert(n == 0 && vt_is_zero(out, sizeof out)); /* no material of either kind */
    cr_assert_eq(vl_json_dek_format(&r, &km, VL_JSON_KEY_MATERIAL, out, sizeof out, &n), VL_OK);
    cr_assert_not_null(strstr(out, "\"keyMaterial\":\"" KM "\""));
    cr_assert_null(strstr(out, "encryptedKeyMaterial"));
    vl_json_material_wipe(&km);
    cr_assert(vt_is_zero(&km, sizeof km));
}

Test(json_dek, format_round_trip)
{
    vl_dek_record r, back;
    char out[VL_JSON_RECORD_MAX];
    size_t n;
    cr_assert_eq(dek_parse(DEK_JSON, &r), VL_OK);
    cr_assert_eq(vl_json_dek_format(&r, NULL, 0, out, sizeof out, &n), VL_OK);
    cr_assert_eq(n, strlen(out));
    cr_assert_str_eq(out, DEK_JSON); /* compact, in the registry's member order */
    cr_assert_eq(dek_parse(out, &back), VL_OK);
    cr_assert(memcmp(&r, &back, sizeof r) == 0);
    /* Too small: VL_ERR_ARG, zeroed. */
    cr_assert_eq(vl_json_dek_format(&r, NULL, 0, out, n, &n), VL_ERR_ARG);
    cr_assert(n == 0 && vt_is_zero(out, strlen(DEK_JSON)));
    /* Untrusted records: unterminated names, bad alg, bad version. */
    r.kek_name[sizeof r.kek_name - 1] = 'x';
    memset(r.kek_name, 'x', sizeof r.kek_name);
    cr_assert_eq(vl_json_dek_format(&r, NULL, 0, out, sizeof out, &n), VL_ERR_FORMAT);
    strcpy(r.kek_name, "\xc3\x28"); /* invalid UTF-8 */
    cr_assert_eq(vl_json_dek_format(&r, NULL, 0, out, sizeof out, &n), VL_ERR_FORMAT);
    strcpy(r.kek_name, "k");
    r.alg = 9;
    cr_assert_eq(vl_json_dek_format(&r, NULL, 0, out, sizeof out, &n), VL_ERR_FORMAT);
    r.alg = VL_AES128_GCM;
    r.version = 0;
    cr_assert_eq(vl_json_dek_format(&r, NULL, 0, out, sizeof out, &n), VL_ERR_FORMAT);
}

/* ---- KEKs ------------------------------------------------------------------ */

Test(json_kek, registry_shape)
{
    const char *json = "{\"name\":\"kek1\",\"kmsType\":\"local-kms\",\"kmsKeyId\":\"mykey\","
                       "\"kmsProps\":{ \"encrypt.alternate.kms.key.ids\" : \"a,b\" , \"x\":\"\\u00e9\"},"
                       "\"doc\":\"my doc\",\"shared\":true,\"ts\":1700000000000,\"deleted\":false}";
    vl_kek_record r, back;
    char out[VL_JSON_RECORD_MAX];
    size_t n;
    cr_assert_eq(vl_json_kek_parse(&r, json, strlen(json)), VL_OK);
    cr_assert_str_eq(r.name, "kek1");
    cr_assert_str_eq(r.kms_type, "local-kms");
    cr_assert_str_eq(r.kms_key_id, "mykey");
    cr_assert_str_eq(r.kms_props, "{\"encrypt.alternate.kms.key.ids\":\"a,b\",\"x\":\"\xc3\xa9\"}");
    cr_assert_str_eq(r.doc, "my doc");
    cr_assert(r.shared && !r.deleted && r.ts_ms == 1700000000000);
    cr_assert_eq(vl_json_kek_format(&r, out, sizeof out, &n), VL_OK);
    cr_assert_eq(vl_json_kek_parse(&back, out, n), VL_OK);
    cr_assert(memcmp(&r, &back, sizeof r) == 0, "%s", out);
}

Test(json_kek, defaults_and_malformed)
{
    vl_kek_record r;
    char out[VL_JSON_RECORD_MAX];
    size_t n;
    const char *min = "{\"name\":\"k\",\"kmsType\":\"aws-kms\",\"kmsKeyId\":\"arn\",\"kmsProps\":{}}";
    cr_assert_eq(vl_json_kek_parse(&r, min, strlen(min)), VL_OK);
    cr_assert(r.kms_props[0] == '\0' && r.doc[0] == '\0' && !r.shared && r.ts_ms == 0);
    cr_assert_eq(vl_json_kek_format(&r, out, sizeof out, &n), VL_OK);
    cr_assert_str_eq(out, "{\"name\":\"k\",\"kmsType\":\"aws-kms\",\"kmsKeyId\":\"arn\","
                          "\"kmsProps\":{},\"shared\":false,\"ts\":0,\"deleted\":false}");
    static const char *const BAD[] = {
        "{\"kmsType\":\"t\",\"kmsKeyId\":\"i\"}",
        "{\"name\":\"k\",\"kmsKeyId\":\"i\"}",
        "{\"name\":\"k\",\"kmsType\":\"t\"}",
        "{\"name\":\"k\",\"kmsType\":\"t\",\"kmsKeyId\":\"i\",\"kmsProps\":[]}",
        "{\"name\":\"k\",\"kmsType\":\"t\",\"kmsKeyId\":\"i\",\"kmsProps\":{\"a\":1}}",
        "{\"name\":\"k\",\"kmsType\":\"t\",\"kmsKeyId\":\"i\",\"kmsProps\":{\"a\":\"b\",\"a\":\"c\"}}",
        "{\"name\":\"k\",\"kmsType\":\"t\",\"kmsKeyId\":\"i\",\"shared\":\"true\"}",
        "{\"name\":\"k\",\"kmsType\":\"t\",\"kmsKeyId\":\"i\",\"doc\":7}",
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        memset(&r, 0xa5, sizeof r);
        cr_assert_eq(vl_json_kek_parse(&r, BAD[i], strlen(BAD[i])), VL_ERR_FORMAT, "%s", BAD[i]);
        cr_assert(vt_is_zero(&r, sizeof r));
    }
    /* A stored kms_props that is not an object of strings. */
    cr_assert_eq(vl_json_kek_parse(&r, min, strlen(min)), VL_OK);
    strcpy(r.kms_props, "{\"a\":1}");
    cr_assert_eq(vl_json_kek_format(&r, out, sizeof out, &n), VL_ERR_FORMAT);
    strcpy(r.kms_props, "not json");
    cr_assert_eq(vl_json_kek_format(&r, out, sizeof out, &n), VL_ERR_FORMAT);
}

/* The largest record, every string full of characters JSON escapes as
 * \u00XX (6 bytes each), fits VL_JSON_RECORD_MAX. */
Test(json_kek, worst_case_fits)
{
    vl_kek_record r;
    char out[VL_JSON_RECORD_MAX];
    size_t n;
    memset(&r, 0, sizeof r);
    memset(r.name, 1, sizeof r.name - 1);
    memset(r.kms_type, 1, sizeof r.kms_type - 1);
    memset(r.kms_key_id, 1, sizeof r.kms_key_id - 1);
    memset(r.doc, 1, sizeof r.doc - 1);
    /* kmsProps: stored compact with escapes already (\u0001 is 6 bytes). */
    size_t p = 0;
    p += (size_t)sprintf(r.kms_props + p, "{\"");
    while (p + 6 + 8 < sizeof r.kms_props)
        p += (size_t)sprintf(r.kms_props + p, "\\u0001");
    sprintf(r.kms_props + p, "\":\"\"}");
    r.ts_ms = INT64_MAX;
    cr_assert_eq(vl_json_kek_format(&r, out, sizeof out, &n), VL_OK);
    cr_assert_lt(n, sizeof out);
    vl_kek_record back;
    cr_assert_eq(vl_json_kek_parse(&back, out, n), VL_OK);
    cr_assert(memcmp(&r, &back, sizeof r) == 0);
}

/* ---- mutations ------------------------------------------------------------- */

Test(json_dek, mutations_never_crash)
{
    char buf[sizeof DEK_JSON];
    vt_rng rng = {0x15011};
    for (int i = 0; i < 3000; i++) {
        vl_dek_record r;
        memcpy(buf, DEK_JSON, sizeof buf);
        for (int k = 0; k < 1 + (int)vt_rng_below(&rng, 3); k++)
            buf[vt_rng_below(&rng, sizeof buf - 1)] = (char)vt_rng_below(&rng, 256);
        size_t len = strnlen(buf, sizeof buf - 1);
        int rc = vl_json_dek_parse(&r, NULL, 0, buf, len);
        cr_assert(rc == VL_OK || rc == VL_ERR_FORMAT);
        if (rc != VL_OK)
            cr_assert(vt_is_zero(&r, sizeof r));
        else
            cr_assert(r.version >= 1 && r.wrapped_len > 0 && r.kek_name[0] != '\0');
    }
}
