/* The shared store / KMS / keyring options of the key and file commands
 * (core/cli_env.h). The keyring is opened versioned (so `dek rotate` can
 * start new versions) over the SQLite store, with the one KMS chosen
 * registered under its kms_type; KEKs of other types are refused by the
 * keyring with VL_ERR_UNSUPPORTED, which the hint below explains. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_env.h"
#include "internal.h"

#include "vellum/json.h"
#include "vellum/kms_kmip.h"
#include "vellum/kms_pkcs11.h"

int vl_cli_fail(const struct vl_cli_env *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", e != NULL ? e->cmd : "vellum");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return VL_CLI_USAGE;
}

const char *vl_cli_hint(int rc)
{
    switch (rc) {
    case VL_ERR_AUTH:
        return " (wrong KMS secret or key, or the data was altered)";
    case VL_ERR_NOT_FOUND:
        return " (see `vellum kek list` and `vellum dek list`)";
    case VL_ERR_UNSUPPORTED:
        return " (the KEK belongs to another KMS: pass its --kms and options)";
    case VL_ERR_KMS_UNAVAILABLE:
        return " (is the KMS reachable? check host, port, module)";
    case VL_ERR_KMS_DENIED:
        return " (check the PIN, certificate or permissions)";
    case VL_ERR_KEY_DISABLED:
        return " (the KEK or DEK is soft-deleted: undelete it or use another)";
    case VL_ERR_BUSY:
        return " (delete its DEKs first, or use --soft)";
    case VL_ERR_EXISTS:
        return " (the name is taken)";
    case VL_ERR_LIMIT:
        return " (this DEK version is used up: run `vellum dek rotate`)";
    default:
        return "";
    }
}

int vl_cli_alg(const char *name, vl_alg *alg)
{
    return vl_json_alg_parse(name, alg);
}

const char *vl_cli_alg_name(vl_alg alg)
{
    const char *n = vl_json_alg_name(alg);
    return n != NULL ? n : "?";
}

/* ---------------------------------------------------------------- options */

static const char **slot(struct vl_cli_env *e, int opt)
{
    switch (opt) {
    case VL_ENV_STORE: return &e->store_path;
    case VL_ENV_KMS: return &e->kms_type;
    case VL_ENV_SECRET: return &e->secret;
    case VL_ENV_P11_MODULE: return &e->p11_module;
    case VL_ENV_P11_TOKEN: return &e->p11_token;
    case VL_ENV_P11_PIN: return &e->p11_pin;
    case VL_ENV_KMIP_HOST: return &e->kmip_host;
    case VL_ENV_KMIP_PORT: return &e->kmip_port;
    case VL_ENV_KMIP_CA: return &e->kmip_ca;
    case VL_ENV_KMIP_CERT: return &e->kmip_cert;
    case VL_ENV_KMIP_KEY: return &e->kmip_key;
    case VL_ENV_CONFIG: return &e->config;
    default: return NULL;
    }
}

int vl_cli_env_option(struct vl_cli_env *e, int opt, const char *v)
{
    const char **p = slot(e, opt);
    if (p == NULL)
        return 0;
    *p = v;
    return 1;
}

int vl_cli_parse(int argc, char **argv, const struct option *opts, struct vl_cli_env *e,
                 int (*apply)(void *arg, int opt, const char *v), void *arg,
                 void (*usage)(FILE *f), int *first_arg)
{
    int opt, rc;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        if (opt == 'h') {
            usage(stdout);
            return -1;
        }
        if (opt == '?' || opt == ':')
            return vl_cli_fail(e, "%s %s (see %s --help)",
                               opt == ':' ? "this option needs a value:" : "unknown option",
                               argv[optind - 1], e != NULL ? e->cmd : "vellum");
        if (e != NULL && vl_cli_env_option(e, opt, optarg))
            continue;
        if ((rc = apply(arg, opt, optarg)) != VL_CLI_OK)
            return rc;
    }
    *first_arg = optind;
    return VL_CLI_OK;
}

/* ---------------------------------------------------------------- config */

static const struct option CONFIG_KEYS[] = {VL_CLI_ENV_OPTIONS, {NULL, 0, NULL, 0}};

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* name=value; a value already set on the command line wins. */
static int config_line(struct vl_cli_env *e, char *line, size_t lineno)
{
    char *eq = strchr(line, '=');
    line = trim(line);
    if (*line == '\0' || *line == '#')
        return VL_CLI_OK;
    if (eq == NULL)
        return vl_cli_fail(e, "%s:%zu: expected name=value", e->config, lineno);
    *eq = '\0';
    char *name = trim(line), *value = trim(eq + 1);
    for (const struct option *o = CONFIG_KEYS; o->name != NULL; o++) {
        if (strcmp(o->name, name) != 0 || o->val == VL_ENV_CONFIG)
            continue;
        const char **p = slot(e, o->val);
        if (*p == NULL)
            *p = value;
        return VL_CLI_OK;
    }
    return vl_cli_fail(e, "%s:%zu: unknown setting '%s' (settings are the long option "
                          "names: store, kms, kms-secret, pkcs11-module, ...)",
                       e->config, lineno, name);
}

static int read_config(struct vl_cli_env *e)
{
    size_t len = 0, lineno = 0;
    e->config_text = vl_cli_read_file(e->config, 1u << 16, &len);
    if (e->config_text == NULL)
        return vl_cli_fail(e, "cannot read --config %s: %s", e->config, strerror(errno));
    for (char *p = e->config_text; *p != '\0';) {
        char *nl = strchr(p, '\n');
        if (nl != NULL)
            *nl = '\0';
        lineno++;
        int rc = config_line(e, p, lineno);
        if (rc != VL_CLI_OK)
            return rc;
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    return VL_CLI_OK;
}

static const char *env_or(const char *v, const char *name, const char *dflt)
{
    const char *x = v != NULL ? v : getenv(name);
    return x != NULL && *x != '\0' ? x : dflt;
}

/* ---------------------------------------------------------------- KMS */

static int open_local(struct vl_cli_env *e)
{
    e->secret = env_or(e->secret, "LOCAL_SECRET", NULL);
    if (e->secret == NULL)
        return vl_cli_fail(e, "--kms local-kms needs --kms-secret S or LOCAL_SECRET in the "
                              "environment (the environment is safer: argv is visible to "
                              "other users)");
    int rc = vl_kms_local_new(&e->kms, e->secret, strlen(e->secret));
    return rc == VL_OK ? VL_CLI_OK : vl_cli_fail(e, "local-kms: %s", vl_strerror(rc));
}

static int open_pkcs11(struct vl_cli_env *e)
{
    vl_kms_pkcs11_config c = {0};
    c.module = e->p11_module;
    c.token_label = e->p11_token;
    c.pin = env_or(e->p11_pin, "PKCS11_PIN", NULL);
    c.mech = VL_PKCS11_KWP;
    if (c.module == NULL || c.token_label == NULL)
        return vl_cli_fail(e, "--kms pkcs11 needs --pkcs11-module PATH and --pkcs11-token "
                              "LABEL (and --pkcs11-pin or PKCS11_PIN)");
    int rc = vl_kms_pkcs11_new(&e->kms, &c);
    return rc == VL_OK ? VL_CLI_OK
                       : vl_cli_fail(e, "pkcs11 (%s, token '%s'): %s%s", c.module,
                                     c.token_label, vl_strerror(rc), vl_cli_hint(rc));
}

static int open_kmip(struct vl_cli_env *e)
{
    vl_kms_kmip_config c = {0};
    char *end = NULL;
    c.host = e->kmip_host;
    c.ca_file = e->kmip_ca;
    c.cert_file = e->kmip_cert;
    c.key_file = e->kmip_key;
    if (e->kmip_port != NULL) {
        long p = strtol(e->kmip_port, &end, 10);
        if (*end != '\0' || p < 1 || p > 65535)
            return vl_cli_fail(e, "--kmip-port must be 1 to 65535, not '%s'", e->kmip_port);
        c.port = (uint16_t)p;
    }
    if (c.host == NULL || c.ca_file == NULL || c.cert_file == NULL || c.key_file == NULL)
        return vl_cli_fail(e, "--kms kmip needs --kmip-host, --kmip-ca, --kmip-cert and "
                              "--kmip-key (PEM files)");
    int rc = vl_kms_kmip_new(&e->kms, &c);
    return rc == VL_OK ? VL_CLI_OK
                       : vl_cli_fail(e, "kmip (%s): %s", c.host, vl_strerror(rc));
}

static int open_kms(struct vl_cli_env *e)
{
    if (strcmp(e->kms_type, "local-kms") == 0)
        return open_local(e);
    if (strcmp(e->kms_type, "pkcs11") == 0)
        return open_pkcs11(e);
    if (strcmp(e->kms_type, "kmip") == 0)
        return open_kmip(e);
    return vl_cli_fail(e, "--kms must be local-kms, pkcs11 or kmip, not '%s'", e->kms_type);
}

/* ---------------------------------------------------------------- open */

static int open_keyring(struct vl_cli_env *e)
{
    vl_keyring_config kc = {0};
    kc.store = e->store;
    kc.versioned = 1;
    int rc = vl_keyring_new(&e->kr, &kc);
    if (rc == VL_OK && e->kms != NULL)
        rc = vl_keyring_register_kms(e->kr, e->kms_type, e->kms);
    return rc == VL_OK ? VL_CLI_OK : vl_cli_fail(e, "keyring: %s", vl_strerror(rc));
}

int vl_cli_env_open(struct vl_cli_env *e, int need_kms)
{
    int rc = e->config != NULL ? read_config(e) : VL_CLI_OK;
    if (rc != VL_CLI_OK)
        return rc;
    e->store_path = env_or(e->store_path, "VELLUM_STORE", "vellum.db");
    e->kms_type = e->kms_type != NULL ? e->kms_type : "local-kms";
    if (need_kms && (rc = open_kms(e)) != VL_CLI_OK)
        return rc;
    int lrc = vl_store_sqlite_open(&e->store, e->store_path);
    if (lrc != VL_OK)
        return vl_cli_fail(e, "cannot open the store %s: %s (a SQLite file; --store FILE "
                              "or VELLUM_STORE)",
                           e->store_path, vl_strerror(lrc));
    return open_keyring(e);
}

static int first_wrapped(void *arg, const vl_dek_record *r)
{
    vl_dek_record *out = arg;
    if (r->wrapped_len == 0)
        return 0;
    *out = *r;
    return 1;
}

int vl_cli_env_check_kek(struct vl_cli_env *e, const char *kek)
{
    vl_kek_record k;
    vl_dek_record *d = calloc(1, sizeof *d);
    uint8_t raw[VL_KMS_MAX_KEY];
    size_t raw_len = 0;
    int rc = d == NULL ? VL_ERR_NOMEM : vl_kek_get(e->kr, kek, &k);
    if (rc == VL_OK && e->store->ops->each_dek(e->store, kek, first_wrapped, d) == 1 &&
        strcmp(k.kms_type, e->kms_type) == 0)
        rc = vl_kms_unwrap(e->kms, k.kms_key_id, d->wrapped, d->wrapped_len, raw, sizeof raw,
                           &raw_len);
    vl_memzero(raw, sizeof raw);
    free(d);
    if (rc == VL_OK || rc == VL_ERR_NOT_FOUND)
        return VL_OK; /* a missing KEK is reported by what follows */
    fprintf(stderr, "%s: KEK %s: its existing DEKs do not unwrap through this KMS: %s%s\n",
            e->cmd, kek, vl_strerror(rc), vl_cli_hint(rc));
    return rc;
}

void vl_cli_env_close(struct vl_cli_env *e)
{
    vl_keyring_free(e->kr);
    vl_store_close(e->store);
    vl_kms_close(e->kms);
    if (e->config_text != NULL) {
        vl_memzero(e->config_text, strlen(e->config_text));
        free(e->config_text);
    }
    e->kr = NULL;
    e->store = NULL;
    e->kms = NULL;
    e->config_text = NULL;
}
