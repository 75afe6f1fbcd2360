/* The store, KMS and keyring options shared by `vellum kek`, `vellum dek`,
 * `vellum encrypt` and `vellum decrypt` (core/cli_env.c). Not installed.
 *
 *   --store FILE      the SQLite store (default $VELLUM_STORE, else ./vellum.db)
 *   --kms TYPE        local-kms (default), pkcs11 or kmip
 *   --kms-secret S    local-kms secret (default $LOCAL_SECRET)
 *   --pkcs11-module PATH --pkcs11-token LABEL --pkcs11-pin PIN (default $PKCS11_PIN)
 *   --kmip-host H --kmip-port N --kmip-ca F --kmip-cert F --kmip-key F
 *   --config FILE     the same settings as `name=value` lines (option names
 *                     without the dashes; '#' starts a comment); options on
 *                     the command line win over the file. */
#ifndef VL_CORE_CLI_ENV_H
#define VL_CORE_CLI_ENV_H

#include <getopt.h>
#include <stdio.h>

#include "vellum/envelope.h"
#include "vellum/kms.h"
#include "vellum/store.h"

enum {
    VL_ENV_STORE = 1000, VL_ENV_KMS, VL_ENV_SECRET, VL_ENV_P11_MODULE, VL_ENV_P11_TOKEN,
    VL_ENV_P11_PIN, VL_ENV_KMIP_HOST, VL_ENV_KMIP_PORT, VL_ENV_KMIP_CA, VL_ENV_KMIP_CERT,
    VL_ENV_KMIP_KEY, VL_ENV_CONFIG
};

#define VL_CLI_ENV_OPTIONS                                                                  \
    {"store", required_argument, NULL, VL_ENV_STORE},                                      \
    {"kms", required_argument, NULL, VL_ENV_KMS},                                          \
    {"kms-secret", required_argument, NULL, VL_ENV_SECRET},                                \
    {"pkcs11-module", required_argument, NULL, VL_ENV_P11_MODULE},                         \
    {"pkcs11-token", required_argument, NULL, VL_ENV_P11_TOKEN},                           \
    {"pkcs11-pin", required_argument, NULL, VL_ENV_P11_PIN},                               \
    {"kmip-host", required_argument, NULL, VL_ENV_KMIP_HOST},                              \
    {"kmip-port", required_argument, NULL, VL_ENV_KMIP_PORT},                              \
    {"kmip-ca", required_argument, NULL, VL_ENV_KMIP_CA},                                  \
    {"kmip-cert", required_argument, NULL, VL_ENV_KMIP_CERT},                              \
    {"kmip-key", required_argument, NULL, VL_ENV_KMIP_KEY},                                \
    {"config", required_argument, NULL, VL_ENV_CONFIG}

#define VL_CLI_ENV_HELP                                                                     \
    "store and KMS (every command that touches keys):\n"                                    \
    "  --store FILE        SQLite store (default $VELLUM_STORE, else ./vellum.db)\n"          \
    "  --kms TYPE          local-kms (default; tests and demos only), pkcs11 or kmip\n"      \
    "  --kms-secret S      local-kms secret (default $LOCAL_SECRET)\n"                      \
    "  --pkcs11-module P --pkcs11-token LABEL --pkcs11-pin PIN (default $PKCS11_PIN)\n"      \
    "  --kmip-host H --kmip-port N --kmip-ca F --kmip-cert F --kmip-key F\n"                 \
    "  --config FILE       the same as name=value lines (e.g. kms=pkcs11); the\n"           \
    "                      command line wins\n"

#define VL_ENV_MAX_CONFIG 64

struct vl_cli_env {
    const char *cmd; /* "vellum kek", for messages */
    const char *store_path, *kms_type, *secret;
    const char *p11_module, *p11_token, *p11_pin;
    const char *kmip_host, *kmip_port, *kmip_ca, *kmip_cert, *kmip_key;
    const char *config;
    char *config_text; /* the config file, owned (values point into it) */
    vl_store *store;
    vl_kms *kms;
    vl_keyring *kr;
};

/* 1 when |opt| is one of the shared options (applied), else 0. */
int vl_cli_env_option(struct vl_cli_env *e, int opt, const char *v);
/* Reads --config (if any), fills defaults from the environment, opens the
 * store, the KMS and a versioned keyring. VL_CLI_OK or VL_CLI_USAGE with
 * the reason (and what to do) on stderr. |need_kms| 0: store only. */
int vl_cli_env_open(struct vl_cli_env *e, int need_kms);
void vl_cli_env_close(struct vl_cli_env *e);

/* getopt_long over argv[0..argc) (argv[0] is the subcommand word).
 * |apply| gets every option not in the shared set; returns VL_CLI_OK,
 * VL_CLI_USAGE (message printed), or -1 when --help was printed. On
 * success *first_arg is the index of the first positional argument. */
int vl_cli_parse(int argc, char **argv, const struct option *opts, struct vl_cli_env *e,
                 int (*apply)(void *arg, int opt, const char *v), void *arg,
                 void (*usage)(FILE *f), int *first_arg);

/* Before wrapping a new DEK under KEK |kek|: unwraps one of its existing
 * DEKs, so a wrong secret (local-kms accepts any) or key is refused
 * instead of wrapping a DEK nobody can read with the right one. VL_OK
 * when it unwraps or there is no DEK yet; the error printed otherwise. */
int vl_cli_env_check_kek(struct vl_cli_env *e, const char *kek);

/* Prints "cmd: msg\n" on stderr; returns VL_CLI_USAGE. */
int vl_cli_fail(const struct vl_cli_env *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* What to do about a library error, for messages ("" when nothing useful). */
const char *vl_cli_hint(int rc);

/* Algorithm names as the DEK Registry spells them (AES256_GCM, ...). */
int vl_cli_alg(const char *name, vl_alg *alg);
const char *vl_cli_alg_name(vl_alg alg);

#endif /* VL_CORE_CLI_ENV_H */
