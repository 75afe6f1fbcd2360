/* The three x86-64 path tables. Built without ISA flags: this file only
 * names functions, each of which lives in a file built for its own ISA and
 * is reached only after the matching vl_x86_has_* probe said yes. */
#include "cpu_x86.h"
#include "gcm_aesni.h"
#include "gcm_vaes_avx2.h"
#include "gcm_vaes_avx512.h"
#include "impl.h"
#include "siv_x86.h"

/* SIV's S2V is one serial CMAC chain per message on every path, so all
 * three share the AES-NI S2V; only CTR and the multi-buffer S2V widen.
 * Only vaes-avx512 has a multi-message CTR: on the narrower paths one
 * 64-byte message already fills the registers its CTR keeps in flight, and
 * packing blocks across messages measured slower than a call each. It alone
 * fuses S2V and CTR for short field messages (one zmm a body). */
const struct vl_impl vl_impl_aesni = {
    .name = "aesni",
    .supported = vl_x86_has_aesni,
    .gcm = {.init = vl_gcm_aesni_init, .seal = vl_gcm_aesni_seal, .open = vl_gcm_aesni_open},
    .siv = {.init = vl_siv_aesni_init, .s2v = vl_siv_aesni_s2v, .ctr = vl_siv_aesni_ctr,
            .s2v_batch = vl_siv_aesni_s2v_batch, .ctr_batch = NULL,
            .field_seal = NULL, .field_open = NULL},
};

const struct vl_impl vl_impl_vaes_avx2 = {
    .name = "vaes-avx2",
    .supported = vl_x86_has_vaes_avx2,
    .gcm = {.init = vl_gcm_vaes_avx2_init, .seal = vl_gcm_vaes_avx2_seal,
            .open = vl_gcm_vaes_avx2_open},
    .siv = {.init = vl_siv_aesni_init, .s2v = vl_siv_aesni_s2v, .ctr = vl_siv_vaes_avx2_ctr,
            .s2v_batch = vl_siv_vaes_avx2_s2v_batch, .ctr_batch = NULL,
            .field_seal = NULL, .field_open = NULL},
};

const struct vl_impl vl_impl_vaes_avx512 = {
    .name = "vaes-avx512",
    .supported = vl_x86_has_vaes_avx512,
    .gcm = {.init = vl_gcm_vaes_avx512_init, .seal = vl_gcm_vaes_avx512_seal,
            .open = vl_gcm_vaes_avx512_open},
    .siv = {.init = vl_siv_aesni_init, .s2v = vl_siv_aesni_s2v, .ctr = vl_siv_vaes_avx512_ctr,
            .s2v_batch = vl_siv_vaes_avx512_s2v_batch,
            .ctr_batch = vl_siv_vaes_avx512_ctr_batch,
            .field_seal = vl_siv_vaes_avx512_field_seal,
            .field_open = vl_siv_vaes_avx512_field_open},
};
