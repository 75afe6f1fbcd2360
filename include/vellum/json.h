/* vellum: KEK and DEK records in the JSON shape of Confluent's DEK
 * Registry (csfle-spec.md §7.1), so a host can move keys between a DEK
 * Registry (REST bodies, exports) and vellum's store in either direction.
 *
 * In its own archive, build/libvellum-json.a, because it uses jansson;
 * link: build/libvellum-json.a build/libvellum.a -ljansson.
 *
 *   KEK  {"name", "kmsType", "kmsKeyId", "kmsProps": {string: string},
 *         "doc", "shared", "ts", "deleted"}
 *   DEK  {"kekName", "subject", "version", "algorithm",
 *         "encryptedKeyMaterial", "keyMaterial", "ts", "deleted"}
 *
 * encryptedKeyMaterial is base64 of vl_dek_record.wrapped (what the KMS
 * returned). keyMaterial is base64 of the *unwrapped* DEK (the serialized
 * Tink key proto): a registry returns it for shared KEKs only. It is the
 * raw key, so vellum reads it only when asked (VL_JSON_KEY_MATERIAL) and
 * writes it only when asked; otherwise a keyMaterial member on input is
 * type-checked and ignored.
 *
 * Parsing: every input is untrusted. The text must be one JSON object (at
 * most VL_JSON_INPUT_MAX bytes, no duplicate member names, nothing after
 * it); members of the wrong type, strings too long for the record's
 * fields or holding a NUL, non-canonical base64, versions outside
 * 1..INT32_MAX, negative timestamps and unknown algorithms are all
 * VL_ERR_FORMAT, with the output record zeroed. Unknown members are
 * ignored (a registry may add some); null counts as absent. Absent
 * optional members take the registry's defaults: version 1, algorithm
 * AES256_GCM, shared/deleted false, ts 0, kmsProps/doc empty. Required:
 * name, kmsType, kmsKeyId (KEK); kekName, subject, and
 * encryptedKeyMaterial unless keyMaterial is read instead (DEK).
 *
 * Formatting writes compact JSON and a NUL into the caller's buffer
 * (*out_len excludes the NUL); VL_JSON_RECORD_MAX always suffices. A
 * record whose strings are not NUL-terminated in their arrays or not
 * valid UTF-8, or whose kms_props is not a JSON object of strings, is
 * VL_ERR_FORMAT (records read from a store are untrusted too). */
#ifndef VELLUM_JSON_H
#define VELLUM_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "vellum/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VL_JSON_INPUT_MAX (1u << 20)
#define VL_JSON_RECORD_MAX 32768
/* Flag: read (parse) or write (format) the DEK's keyMaterial. */
#define VL_JSON_KEY_MATERIAL 1u

/* A DEK's unwrapped material: the serialized Tink key proto. Wipe it
 * (vl_json_material_wipe) when done. */
typedef struct vl_dek_material {
    uint8_t bytes[VL_KMS_MAX_KEY];
    size_t len; /* 0: none */
} vl_dek_material;

int vl_json_kek_parse(vl_kek_record *out, const char *json, size_t json_len);
int vl_json_kek_format(const vl_kek_record *r, char *out, size_t out_cap, size_t *out_len);

/* |km| may be NULL unless flags has VL_JSON_KEY_MATERIAL; then it receives
 * keyMaterial (len 0 when absent). A DEK with keyMaterial but without
 * encryptedKeyMaterial is accepted only in that mode (wrapped_len 0). */
int vl_json_dek_parse(vl_dek_record *out, vl_dek_material *km, unsigned flags, const char *json,
                      size_t json_len);
/* keyMaterial is written only with VL_JSON_KEY_MATERIAL and km->len > 0;
 * encryptedKeyMaterial only when wrapped_len > 0. */
int vl_json_dek_format(const vl_dek_record *r, const vl_dek_material *km, unsigned flags,
                       char *out, size_t out_cap, size_t *out_len);

/* "AES128_GCM", "AES256_GCM", "AES256_SIV" (the registry's names); NULL
 * for a bad value. */
const char *vl_json_alg_name(vl_alg alg);
/* The reverse; VL_ERR_FORMAT for an unknown name. */
int vl_json_alg_parse(const char *name, vl_alg *alg);

void vl_json_material_wipe(vl_dek_material *km);

#ifdef __cplusplus
}
#endif

#endif /* VELLUM_JSON_H */
