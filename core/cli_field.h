/* `vellum field`: state shared by core/cli_field.c (options, DEKs) and
 * core/cli_field_lines.c (the line loop). Not installed. */
#ifndef VL_CORE_CLI_FIELD_H
#define VL_CORE_CLI_FIELD_H

#include <stddef.h>
#include <stdint.h>

#include "vellum/csfle.h"
#include "vellum/store.h"

#define VL_CLI_MAX_DEKS 64

enum vl_cli_encoding { VL_CLI_BASE64, VL_CLI_HEX };

struct vl_cli_field_cfg {
    int encrypt; /* 1: encrypt, 0: decrypt */
    const char *kms_type, *secret, *kms_key_id;
    const char *dek_files[VL_CLI_MAX_DEKS];
    size_t n_dek_files;
    const char *dek_out, *kek_out, *kek_name, *subject;
    const char *alg_arg, *version_arg, *on_failure_arg;
    vl_alg alg;
    int32_t dek_version;
    int versioned, payload, protobuf;
    enum vl_cli_encoding enc;
    vl_csfle_opts opts;
};

struct vl_cli_field_run {
    const struct vl_cli_field_cfg *cfg;
    vl_kms *kms;
    vl_csfle_dek *deks; /* VL_CLI_MAX_DEKS, 64-byte aligned */
    size_t n_deks;
    vl_csfle_dek *writer; /* encrypt: the DEK that seals */
    /* What every DEK given must share (csfle-spec.md §7.1 identity). */
    char kek_name[VL_NAME_MAX], subject[VL_NAME_MAX];
    vl_alg alg;
    /* Per-line buffers, grown as lines need and wiped when released. */
    uint8_t *in, *out;
    char *text;
    size_t in_cap, out_cap, text_cap;
    size_t lines, failed, passed;
};

/* Reads stdin to the end, one value per line, writing one per line to
 * stdout. VL_CLI_OK, or VL_CLI_FAILED when any line failed (each named on
 * stderr) or stdout could not be written. */
int vl_cli_field_lines(struct vl_cli_field_run *r);

#endif /* VL_CORE_CLI_FIELD_H */
