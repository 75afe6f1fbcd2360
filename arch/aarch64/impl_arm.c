/* The armv8-ce path table. Built without ISA flags: this file only names
 * functions, each of which lives in a file built with
 * -march=armv8-a+crypto (*_armv8_ce.c) and is reached only after
 * vl_arm_has_ce() said yes. */
#include "cpu_arm.h"
#include "gcm_armv8_ce.h"
#include "impl.h"
#include "siv_armv8_ce.h"

const struct vl_impl vl_impl_armv8_ce = {
    .name = "armv8-ce",
    .supported = vl_arm_has_ce,
    .gcm = {.init = vl_gcm_armv8_ce_init, .seal = vl_gcm_armv8_ce_seal,
            .open = vl_gcm_armv8_ce_open},
    .siv = {.init = vl_siv_armv8_ce_init, .s2v = vl_siv_armv8_ce_s2v,
            .ctr = vl_siv_armv8_ce_ctr, .s2v_batch = vl_siv_armv8_ce_s2v_batch,
            .ctr_batch = NULL, .field_seal = NULL, .field_open = NULL},
};
