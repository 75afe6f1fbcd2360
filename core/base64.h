/* Standard base64 (RFC 4648 §4, '+' '/', '=' padding) as Confluent stores
 * STRING fields and key material. Decoding is strict and constant-time in
 * the data (no table indexed by the input). */
#ifndef VL_CORE_BASE64_H
#define VL_CORE_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Encoded length of |len| bytes (without a NUL). */
size_t vl_base64_encoded_len(size_t len);
/* Writes the encoding and a NUL; out_cap >= encoded_len + 1. */
int vl_base64_encode(char *out, size_t out_cap, const uint8_t *in, size_t len);
/* Decodes untrusted text (padding required, no whitespace); VL_ERR_FORMAT
 * for anything else, with |out| zeroed. */
int vl_base64_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *in,
                     size_t in_len);

#endif /* VL_CORE_BASE64_H */
