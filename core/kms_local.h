/* Internals of the local KMS (core/kms_local.c), exposed for tests. */
#ifndef VL_CORE_KMS_LOCAL_H
#define VL_CORE_KMS_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#define VL_KMS_LOCAL_KEK_BYTES 16

/* Confluent's local-kms KEK (csfle-spec.md §2): HKDF-SHA256 with IKM =
 * the secret's bytes, no salt, empty info, L = 16. VL_OK or VL_ERR_ARG. */
int vl_kms_local_derive_kek(uint8_t kek[VL_KMS_LOCAL_KEK_BYTES], const char *secret,
                            size_t secret_len);

#endif /* VL_CORE_KMS_LOCAL_H */
