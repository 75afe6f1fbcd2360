/* vellum: Confluent client-side field-level encryption (CSFLE) values,
 * read and written byte for byte as Confluent's Java, Go, JavaScript,
 * Python, .NET and C++ clients do (../shared/csfle-spec.md §3-§4, §8),
 * without a keyring: the host holds the DEKs (for instance imported from a
 * DEK Registry with include/vellum/json.h) and these helpers do the rest.
 *
 *   field   = [0x00 || be32(dek version)]  only when versioned (§4.3)
 *             || IV(12) || C || TAG(16)     AES128_GCM, AES256_GCM (§4.1)
 *             || V(16) || C                 AES256_SIV, S2V over one empty
 *                                           AD component (§4.2)
 *   BYTES   field value = field
 *   STRING  field value = base64(field), standard alphabet, padded; the
 *           plaintext is the string's UTF-8 bytes
 *   payload (ENCRYPT_PAYLOAD, §4.5) = framing header in clear || field,
 *           the header being 0x00 || be32(schema id) or 0x01 || GUID(16),
 *           followed for Protobuf by the message indexes
 *
 * Associated data is always empty, as the format fixes it. "versioned" is
 * Confluent's encrypt.dek.expiry.days > 0: the reader is told, it does not
 * sniff the bytes; without it a reader uses DEK version 1 (§4.3).
 *
 * Decrypt helpers take every DEK version the host has (an array, searched
 * by version) and an on_failure choice (§8): VL_CSFLE_ON_FAILURE_ERROR
 * returns the error; VL_CSFLE_ON_FAILURE_NONE copies the input to the
 * output unchanged (the ciphertext is passed through, as Confluent's NONE
 * action leaves the field as it was), returns VL_OK and reports the
 * swallowed error in *failure. Argument errors (VL_ERR_ARG: NULLs, an
 * output too small, overlapping buffers) are never swallowed.
 *
 * Failure: every output is zeroed on failure and *out_len set to 0, as in
 * the AEAD layer. Input bytes are untrusted: a malformed value is
 * VL_ERR_FORMAT, an altered one VL_ERR_AUTH, one whose DEK version is not
 * in the array VL_ERR_NOT_FOUND. */
#ifndef VELLUM_CSFLE_H
#define VELLUM_CSFLE_H

#include <stddef.h>
#include <stdint.h>

#include "vellum/aead.h"
#include "vellum/kms.h"
#include "vellum/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One DEK version, ready to use. Caller-owned; wipe it with
 * vl_csfle_dek_wipe. Seal and open update the key's usage counters, so
 * the helpers take it non-const; one DEK may serve many threads. */
typedef struct vl_csfle_dek {
    vl_aead_key key;
    vl_alg alg;
    int32_t version; /* >= 1 */
} vl_csfle_dek;

enum { VL_CSFLE_ON_FAILURE_ERROR = 0, VL_CSFLE_ON_FAILURE_NONE = 1 };

/* Payload framing: the value is a Protobuf record, whose framing header is
 * followed by the message indexes (zigzag varints), also in clear. */
#define VL_CSFLE_PROTOBUF 1u

typedef struct vl_csfle_opts {
    int versioned;  /* the 5-byte DEK version prefix (encrypt.dek.expiry.days > 0) */
    int on_failure; /* decrypt only: VL_CSFLE_ON_FAILURE_ERROR or _NONE */
    unsigned flags; /* payload helpers only: VL_CSFLE_PROTOBUF */
} vl_csfle_opts;

/* At most this many Protobuf message indexes in a framing header (each a
 * varint of at most 5 bytes, as Confluent's Java reader takes an int). */
#define VL_CSFLE_MAX_MSG_INDEXES 64

/* ---- DEKs ----------------------------------------------------------------- */

/* Sets |d| up from the serialized Tink key proto (what a DEK Registry calls
 * keyMaterial, and what a KMS unwraps: AesGcmKey for the GCM algorithms,
 * AesSivKey for AES256_SIV; §3). Untrusted: VL_ERR_FORMAT when malformed
 * or of the wrong size for |alg|; VL_ERR_ARG for version < 1. */
int vl_csfle_dek_init(vl_csfle_dek *d, vl_alg alg, int32_t version, const uint8_t *proto,
                      size_t proto_len);

/* Unwraps rec->wrapped (the DEK Registry's encryptedKeyMaterial, base64
 * decoded) through |kms| under |kms_key_id| (the KEK's kmsKeyId), parses
 * the key proto and sets |d| up with rec->alg and rec->version. Returns the
 * KMS's code (VL_ERR_AUTH: wrong KEK or altered blob), VL_ERR_FORMAT for a
 * bad proto. Every intermediate key byte is wiped. */
int vl_csfle_dek_unwrap(vl_csfle_dek *d, vl_kms *kms, const char *kms_key_id,
                        const vl_dek_record *rec);

/* Creates a DEK as a Confluent client does for a non-shared KEK (§7.3):
 * fresh random key of |alg|'s size, serialized as the Tink key proto,
 * wrapped through |kms| under |kms_key_id|. Fills |rec| (kek_name,
 * subject, alg, version, wrapped, ts_ms; not deleted) for the host to
 * store or register, and sets |d| up. kek_name and subject: 1 to
 * VL_NAME_MAX - 1 bytes. */
int vl_csfle_dek_generate(vl_csfle_dek *d, vl_dek_record *rec, vl_kms *kms,
                          const char *kms_key_id, const char *kek_name, const char *subject,
                          vl_alg alg, int32_t version, int64_t ts_ms);

/* Zeroizes |d| (the key schedule included). NULL is a no-op. */
void vl_csfle_dek_wipe(vl_csfle_dek *d);

/* The DEK version a field needs: 1 when not versioned, else the prefix's
 * (VL_ERR_FORMAT for a missing or bad prefix). Lets a host fetch the right
 * DEK before decrypting. */
int vl_csfle_field_version(const uint8_t *field, size_t field_len, int versioned,
                           int32_t *version);

/* Bytes a field adds to its plaintext: 28 (GCM) or 16 (SIV), plus 5 when
 * versioned; 0 for a bad |alg|. */
size_t vl_csfle_overhead(vl_alg alg, int versioned);

/* ---- BYTES fields --------------------------------------------------------- */

/* out = field (see the top); out_cap >= pt_len + vl_csfle_overhead().
 * |pt| must not overlap |out|. GCM draws a fresh random IV per call; SIV
 * is deterministic. VL_ERR_LIMIT when the DEK's usage limit is reached. */
int vl_csfle_bytes_encrypt(vl_csfle_dek *d, const vl_csfle_opts *o, const uint8_t *pt,
                           size_t pt_len, uint8_t *out, size_t out_cap,
                           size_t *out_len) VL_MUST_CHECK;

/* Decrypts one field with the DEK of its version among deks[0..n_deks).
 * out_cap >= in_len always suffices (on_failure NONE requires it).
 * |failure| may be NULL; it receives 0, or the error NONE swallowed. */
int vl_csfle_bytes_decrypt(vl_csfle_dek *deks, size_t n_deks, const vl_csfle_opts *o,
                           const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
                           size_t *out_len, int *failure) VL_MUST_CHECK;

/* ---- STRING fields -------------------------------------------------------- */

/* Capacity vl_csfle_string_encrypt needs for |pt_len| bytes: the base64
 * length of the field and a NUL. SIZE_MAX on overflow or a bad |alg|. */
size_t vl_csfle_string_cap(vl_alg alg, int versioned, size_t pt_len);

/* |pt| is the string's UTF-8 bytes (not checked); out = base64(field) and
 * a NUL, *out_len excluding the NUL. |pt| must not overlap |out|. */
int vl_csfle_string_encrypt(vl_csfle_dek *d, const vl_csfle_opts *o, const char *pt,
                            size_t pt_len, char *out, size_t out_cap,
                            size_t *out_len) VL_MUST_CHECK;

/* |in| is the stored base64 text; out = the plaintext bytes and a NUL
 * (*out_len excluding the NUL; the bytes are whatever UTF-8 was
 * encrypted, unchecked, and may contain NULs). out_cap >= in_len + 1
 * always suffices; NONE passes the base64 text itself through. */
int vl_csfle_string_decrypt(vl_csfle_dek *deks, size_t n_deks, const vl_csfle_opts *o,
                            const char *in, size_t in_len, char *out, size_t out_cap,
                            size_t *out_len, int *failure) VL_MUST_CHECK;

/* ---- whole payloads (ENCRYPT_PAYLOAD) ------------------------------------- */

/* Length of the framing header at the start of |value| (kept in clear):
 * 5 for 0x00 || be32 id, 17 for 0x01 || GUID, plus with VL_CSFLE_PROTOBUF
 * the message indexes (a zigzag varint count, then that many zigzag
 * varints; count 0 is one byte). VL_ERR_FORMAT for another magic byte, a
 * short value, or indexes that are negative, too many or cut short. */
int vl_csfle_frame_len(const uint8_t *value, size_t value_len, unsigned flags, size_t *hdr_len);

/* |value| = header || serialized payload (the record as the serializer
 * would send it without the rule); out = header || field(payload).
 * out_cap >= value_len + vl_csfle_overhead(); no overlap. */
int vl_csfle_payload_encrypt(vl_csfle_dek *d, const vl_csfle_opts *o, const uint8_t *value,
                             size_t value_len, uint8_t *out, size_t out_cap,
                             size_t *out_len) VL_MUST_CHECK;

/* The reverse: out = header || payload. out_cap >= value_len suffices. */
int vl_csfle_payload_decrypt(vl_csfle_dek *deks, size_t n_deks, const vl_csfle_opts *o,
                             const uint8_t *value, size_t value_len, uint8_t *out,
                             size_t out_cap, size_t *out_len, int *failure) VL_MUST_CHECK;

#ifdef __cplusplus
}
#endif

#endif /* VELLUM_CSFLE_H */
