/* `vellum encrypt|decrypt`: the file format's codec (core/cli_file_fmt.c)
 * shared with the command (core/cli_file.c). Not installed. See the
 * format's description at the top of core/cli_file_fmt.c. */
#ifndef VL_CORE_CLI_FILE_H
#define VL_CORE_CLI_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sha256.h"
#include "vellum/aead.h"
#include "vellum/store.h"

#define VLMF_MAGIC "VLMF"
#define VLMF_VERSION 1
#define VLMF_FIXED 28                               /* header bytes before the names */
#define VLMF_HEADER_MAX (VLMF_FIXED + 2 * 255)
#define VLMF_CHUNK_MIN 16u
#define VLMF_CHUNK_MAX (16u << 20)
#define VLMF_CHUNK_DEFAULT (64u << 10)
#define VLMF_NONCE 12
#define VLMF_AD (VL_SHA256_BYTES + 8 + 1)

struct vlmf_header {
    vl_alg alg;
    uint32_t chunk_size;
    int32_t dek_version;
    uint8_t nonce_base[VLMF_NONCE];
    char kek[VL_NAME_MAX], subject[VL_NAME_MAX];
    uint8_t hash[VL_SHA256_BYTES]; /* SHA-256 of the encoded header */
};

/* Encodes |h| into |out| (VLMF_HEADER_MAX) and sets h->hash; the length. */
size_t vlmf_header_encode(struct vlmf_header *h, uint8_t *out);
/* Reads and checks a header from |f|; sets h->hash. VL_OK, or VL_ERR_FORMAT
 * with *why naming the problem. */
int vlmf_header_read(FILE *f, struct vlmf_header *h, const char **why);
/* The chunk's nonce and associated data. */
void vlmf_chunk_nonce(const struct vlmf_header *h, uint64_t index, uint8_t nonce[VLMF_NONCE]);
void vlmf_chunk_ad(const struct vlmf_header *h, uint64_t index, int final, uint8_t ad[VLMF_AD]);

#endif /* VL_CORE_CLI_FILE_H */
