/* Regression tests for what the fuzz targets (fuzz/README.md) found, one
 * per finding, each named after its input in the target's corpus
 * (fuzz/<target>_corpus/regress-*), which every fuzz run replays too.
 *
 * Tests whose fix is not in yet carry .disabled = true and say what
 * enables them. */
#include <criterion/criterion.h>
#include <string.h>

#include "common.h"
#include "vellum/json.h"

/* fuzz/aead_batch_corpus/regress-siv-batch-open-limit: on a path with a
 * multi-buffer S2V, vl_aead_open_batch checked max_open_failures once per
 * 32-message chunk and counted failures afterwards, so after the limit was
 * reached inside a chunk, later messages were still opened; vl_aead_open
 * returns VL_ERR_LIMIT for them (aead.h: "each message ... exactly as
 * vl_aead_open would"). Enable with the per-message decision in
 * core/aead.c siv_batch_chunk (and set FZ_BATCH_OPEN_LIMIT_EXACT to 1 in
 * fuzz/aead_batch.c). */
Test(fuzz_regress, siv_batch_open_limit_per_message)
{
    enum { N = 4 };
    const struct vl_impl *paths[VT_MAX_PATHS];
    size_t npaths = vt_paths(paths);
    uint8_t key[64], pt[N][20], sealed[N][36], back[N][20];
    vt_rng r = {0xba7c};
    vt_rng_fill(&r, key, sizeof key);
    for (size_t pi = 0; pi < npaths; pi++) {
        vl_aead_key kb, ks;
        vt_key_init(&kb, VL_AES256_SIV, key, 64, paths[pi]);
        vt_key_init(&ks, VL_AES256_SIV, key, 64, paths[pi]);
        vl_limits l;
        vl_aead_get_limits(&kb, &l);
        l.max_open_failures = 1;
        cr_assert_eq(vl_aead_set_limits(&kb, &l), VL_OK);
        cr_assert_eq(vl_aead_set_limits(&ks, &l), VL_OK);
        vl_aead_msg mb[N], ms[N];
        for (size_t i = 0; i < N; i++) {
            size_t n;
            vt_rng_fill(&r, pt[i], sizeof pt[i]);
            cr_assert_eq(vl_aead_seal(&kb, sealed[i], &n, sizeof sealed[i], NULL, 0, pt[i],
                                      sizeof pt[i], NULL, 0),
                         VL_OK);
        }
        sealed[0][0] ^= 1; /* the first open fails and reaches the limit */
        for (size_t i = 0; i < N; i++) {
            mb[i] = (vl_aead_msg){.in = sealed[i], .in_len = sizeof sealed[i], .out = back[i],
                                  .out_cap = sizeof back[i]};
            ms[i] = mb[i];
        }
        int rc = vl_aead_open_batch(&kb, mb, N);
        cr_assert_neq(rc, VL_OK, "a tampered message in the batch");
        for (size_t i = 0; i < N; i++) {
            ms[i].status = vl_aead_open(&ks, back[i], &ms[i].out_len, sizeof back[i], NULL, 0,
                                        sealed[i], sizeof sealed[i], NULL, 0);
            cr_assert_eq(mb[i].status, ms[i].status,
                         "%s: message %zu: batch %d, vl_aead_open %d", paths[pi]->name, i,
                         mb[i].status, ms[i].status);
        }
        vl_aead_wipe(&kb);
        vl_aead_wipe(&ks);
    }
}

/* Found by fuzz/dek_json.c (records built from bytes): a KEK or DEK record
 * with a negative ts_ms passes the stores' record checks and formats, but
 * vl_json_*_parse refuses the text it wrote (json.h: negative timestamps
 * are VL_ERR_FORMAT), so an export cannot be imported back. Enable with
 * the fix in core/json_records.c (refuse ts < 0 when formatting, as when
 * parsing). */
Test(fuzz_regress, json_negative_ts_round_trip)
{
    static vl_kek_record k, k2;
    static vl_dek_record d, d2;
    static char out[VL_JSON_RECORD_MAX];
    size_t n = 0;
    strcpy(k.name, "kek1");
    strcpy(k.kms_type, "local-kms");
    strcpy(k.kms_key_id, "mykey");
    k.ts_ms = -1;
    int rc = vl_json_kek_format(&k, out, sizeof out, &n);
    if (rc == VL_OK)
        cr_assert_eq(vl_json_kek_parse(&k2, out, n), VL_OK, "KEK written, then refused: %s", out);
    strcpy(d.kek_name, "kek1");
    strcpy(d.subject, "s");
    d.alg = VL_AES256_GCM;
    d.version = 1;
    d.wrapped_len = 3;
    d.ts_ms = -5;
    rc = vl_json_dek_format(&d, NULL, 0, out, sizeof out, &n);
    if (rc == VL_OK)
        cr_assert_eq(vl_json_dek_parse(&d2, NULL, 0, out, n), VL_OK, "DEK written, then refused: %s",
                     out);
}

/* fuzz/dek_json_corpus/regress-kek-empty-kms-type: a KEK record with an
 * empty kms_type or kms_key_id passes the stores' record checks and
 * formats ("kmsType":""), but vl_json_kek_parse requires both non-empty,
 * so the export cannot be imported back. Enable with the fix in
 * core/json_records.c (refuse empty required strings when formatting, as
 * when parsing). */
Test(fuzz_regress, json_kek_empty_required_round_trip)
{
    static vl_kek_record k, k2;
    static char out[VL_JSON_RECORD_MAX];
    size_t n = 0;
    for (int which = 0; which < 2; which++) {
        memset(&k, 0, sizeof k);
        strcpy(k.name, "kek1");
        strcpy(k.kms_type, which == 0 ? "" : "local-kms");
        strcpy(k.kms_key_id, which == 1 ? "" : "mykey");
        int rc = vl_json_kek_format(&k, out, sizeof out, &n);
        if (rc == VL_OK)
            cr_assert_eq(vl_json_kek_parse(&k2, out, n), VL_OK, "KEK written, then refused: %s",
                         out);
    }
}
