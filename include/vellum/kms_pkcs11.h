/* vellum: the PKCS#11 KMS provider ("pkcs11"). The KEK is an AES key inside
 * a PKCS#11 token (an HSM, SoftHSM2, a cloud HSM's PKCS#11 library) that
 * never leaves it; vellum asks the token to wrap and unwrap DEKs.
 *
 * The module is loaded at run time with dlopen(3) from the configured
 * path, so libvellum.a needs no PKCS#11 library at build time; hosts link
 * with -ldl (part of libc since glibc 2.34, still accepted there).
 *
 * Key ids (the kms_key_id of a KEK record) name one AES secret key on the
 * token:
 *   "label:<text>"  CKA_LABEL equal to <text>
 *   "id:<hex>"      CKA_ID equal to the bytes <hex> (e.g. "id:01")
 *   "<text>"        with neither prefix: a label
 * A key id that matches no AES secret key is VL_ERR_NOT_FOUND, or
 * VL_ERR_KEY_DESTROYED when this provider has found that key before; one
 * that matches several is VL_ERR_ARG.
 *
 * Mechanisms (what wrap uses; unwrap reads the scheme from the blob, so
 * blobs wrapped under any of them stay readable when the choice changes):
 *   VL_PKCS11_KWP  AES key wrap with padding, RFC 5649 (the default)
 *   VL_PKCS11_KW   AES key wrap, RFC 3394
 *   VL_PKCS11_GCM  AES-GCM encryption of the DEK, 96-bit random IV,
 *                  128-bit tag
 * Blob format (at most 1 + 12 + 256 + 16 = 285 bytes):
 *   blob  = scheme(1) || body     scheme 0x01 KWP, 0x02 KW, 0x03 GCM;
 *                                 other values are reserved
 *   KWP, KW: body = WRAP(KEK, be16(len) || DEK || zeros), zero padded to a
 *            multiple of 8 bytes and at least 16: the exact DEK length
 *            survives tokens that pad (SoftHSM2 pads RFC 5649 input to a
 *            multiple of 8 before wrapping), and RFC 3394 gets the
 *            multiple of 8 it needs
 *   GCM:     body = IV(12) || C || TAG(16), C = AES-GCM(KEK, IV, DEK,
 *            AAD = "vellum-pkcs11-gcm" || 0x00 || canonical key id), where
 *            the canonical key id is "label:<text>" or "id:<lower-case
 *            hex>": a GCM blob unwraps only under the key id that wrapped
 *            it, however that id was spelled.
 *
 * Errors (include/vellum/kms.h):
 *   VL_ERR_KMS_DENIED       wrong or locked PIN, not logged in
 *   VL_ERR_NOT_FOUND        no such key (or token, or module)
 *   VL_ERR_KEY_DISABLED     the token refuses this key for this use:
 *                           CKR_KEY_FUNCTION_NOT_PERMITTED (CKA_WRAP,
 *                           CKA_UNWRAP, CKA_ENCRYPT or CKA_DECRYPT false),
 *                           CKR_MECHANISM_INVALID (the key is pinned to
 *                           other mechanisms by CKA_ALLOWED_MECHANISMS),
 *                           or a token policy that will not release an
 *                           unwrapped DEK (CKR_ATTRIBUTE_SENSITIVE, as
 *                           FIPS-mode HSMs do: use VL_PKCS11_GCM there)
 *   VL_ERR_KEY_DESTROYED    a key this provider found before is gone
 *   VL_ERR_AUTH             the blob was altered or is another key's,
 *                           including CKR_GENERAL_ERROR from an unwrap on a
 *                           session that still answers (SoftHSM2 reports a
 *                           failed integrity check that way)
 *   VL_ERR_KMS_UNAVAILABLE  device, session and every other token failure
 *
 * Threads: any number of threads may call wrap and unwrap at once. The
 * provider keeps a pool of at most max_sessions sessions, each used by one
 * thread at a time and reused; a session that fails with a session or
 * device error is closed and the next call opens (and logs in) a new one.
 * The module is initialized with CKF_OS_LOCKING_OK, shared by every
 * provider of this process that loads it, and finalized (C_Finalize) when
 * the last of them closes, unless someone else in the process had
 * initialized it first. After fork(2) a child must build its own provider.
 * PKCS#11 keeps one login state per token for the whole process: while a
 * provider with a PIN is open, a provider without one on the same token
 * sees the private keys too.
 *
 * The PIN is kept (to log in again on new sessions) and wiped on close. */
#ifndef VELLUM_KMS_PKCS11_H
#define VELLUM_KMS_PKCS11_H

#include <stddef.h>

#include "vellum/kms.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vl_pkcs11_mech {
    VL_PKCS11_KWP = 0, /* RFC 5649 (default) */
    VL_PKCS11_KW = 1,  /* RFC 3394 */
    VL_PKCS11_GCM = 2  /* AES-GCM via C_Encrypt / C_Decrypt */
} vl_pkcs11_mech;

/* Mechanism numbers used when the configuration leaves them 0. Tokens
 * differ: SoftHSM2 2.6 implements RFC 5649 as CKM_AES_KEY_WRAP_PAD
 * (0x210A); PKCS#11 v3.0 names RFC 5649 CKM_AES_KEY_WRAP_KWP (0x210B),
 * which SoftHSM2 lacks and some HSMs require. */
#define VL_PKCS11_DEFAULT_KWP 0x210AUL
#define VL_PKCS11_DEFAULT_KW 0x2109UL
#define VL_PKCS11_DEFAULT_GCM 0x1087UL

typedef struct vl_kms_pkcs11_config {
    const char *module;      /* required: path of the PKCS#11 module (.so) */
    const char *token_label; /* the token by label (at most 32 bytes); NULL:
                              * by slot_id. Prefer the label: SoftHSM2 moves
                              * a token to a new slot id when it is made. */
    unsigned long slot_id;
    const char *pin;         /* user PIN (CKU_USER); NULL: do not log in */
    vl_pkcs11_mech mech;     /* what wrap uses */
    /* PKCS#11 mechanism numbers; 0 = the VL_PKCS11_DEFAULT_* value. */
    unsigned long mech_kwp, mech_kw, mech_gcm;
    unsigned max_sessions;   /* session pool size, at most 256; 0 = 4 */
} vl_kms_pkcs11_config;

/* Loads the module, initializes it, finds the token, checks that it offers
 * the chosen mechanism, opens a first session and logs in. On success
 * *out is a provider that vl_kms_close closes and frees. Errors:
 * VL_ERR_ARG (bad configuration, token label matching several tokens),
 * VL_ERR_NOT_FOUND (no module at that path, no such token),
 * VL_ERR_UNSUPPORTED (not a PKCS#11 module, no thread-safe locking, the
 * token lacks the mechanism), VL_ERR_KMS_DENIED (wrong or locked PIN),
 * VL_ERR_KMS_UNAVAILABLE (the module or token failed), VL_ERR_NOMEM. */
int vl_kms_pkcs11_new(vl_kms **out, const vl_kms_pkcs11_config *cfg);

#ifdef __cplusplus
}
#endif

#endif /* VELLUM_KMS_PKCS11_H */
