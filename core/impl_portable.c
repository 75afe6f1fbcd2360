/* The portable path: constant-time C that runs on any CPU (bitsliced AES,
 * masked-multiply GHASH, CMAC on the same AES). The reference every fast
 * path is checked against. */
#include "gcm_ct.h"
#include "impl.h"
#include "siv_ct.h"

static int always(void)
{
    return 1;
}

const struct vl_impl vl_impl_portable = {
    .name = "portable",
    .supported = always,
    .gcm = {.init = vl_gcm_ct_init, .seal = vl_gcm_ct_seal, .open = vl_gcm_ct_open},
    .siv = {.init = vl_siv_ct_init, .s2v = vl_siv_ct_s2v, .ctr = vl_siv_ct_ctr, .s2v_batch = NULL,
            .ctr_batch = NULL, .field_seal = NULL, .field_open = NULL},
};
