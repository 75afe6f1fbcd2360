/* `vellum policy check FILE`: a KMS key policy against the best-practice
 * checklist. The kind is told from the JSON's shape (or --kind):
 *   aws    {"Version": ..., "Statement": [...]}: the key-usage statement
 *          (kms:Encrypt, kms:Decrypt, kms:ReEncrypt*, kms:GenerateDataKey*,
 *          kms:DescribeKey) and the grant-management statement
 *          (kms:CreateGrant, kms:ListGrants, kms:RevokeGrant), each in an
 *          "Effect": "Allow" statement with "Resource": "*" and role ARN
 *          principals (arn:aws:iam::<12 digits>:role/<name>). Statements are
 *          matched by their actions (kms:*, kms:ReEncrypt* and the like
 *          cover what they match), so the Sid is free.
 *   gcp    {"bindings": [{"role": ..., "members": [...]}]} (an IAM policy)
 *          or {"includedPermissions": [...]} (a custom role): the role
 *          roles/cloudkms.cryptoKeyEncrypterDecrypter bound to at least one
 *          member, or the permissions cloudkms.cryptoKeyVersions.useToEncrypt
 *          and .useToDecrypt.
 *   azure  {"accessPolicies": [...]} or {"properties": {"accessPolicies":
 *          ...}} (Key Vault access policies: keys get, wrapKey, unwrapKey for
 *          some objectId), or a role assignment / definition naming "Key
 *          Vault Crypto Service Encryption User" (or granting the data
 *          actions .../keys/wrap/action and .../keys/unwrap/action).
 * Every missing piece is printed with its fix; exit 1 if any. */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "cli.h"

#define POLICY_MAX (1u << 20)

struct report {
    const char *file;
    int problems;
};

__attribute__((format(printf, 2, 3))) static void problem(struct report *r, const char *fmt,
                                                          ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("MISSING %s: ", r->file);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    r->problems++;
}

void vl_cli_policy_usage(FILE *f)
{
    fputs("usage: vellum policy check FILE [--kind aws|gcp|azure]\n\n"
          "Validates a KMS key policy JSON against the best-practice checklist:\n"
          "  aws    the key-usage statement (kms:Encrypt, kms:Decrypt, kms:ReEncrypt*,\n"
          "         kms:GenerateDataKey*, kms:DescribeKey) and the grant-management\n"
          "         statement (kms:CreateGrant, kms:ListGrants, kms:RevokeGrant), each\n"
          "         \"Effect\": \"Allow\", \"Resource\": \"*\", with principals that are\n"
          "         role ARNs (arn:aws:iam::<12-digit account>:role/<name>)\n"
          "  gcp    roles/cloudkms.cryptoKeyEncrypterDecrypter bound to a member (or a\n"
          "         role with cloudkms.cryptoKeyVersions.useToEncrypt/useToDecrypt)\n"
          "  azure  a Key Vault access policy with keys get, wrapKey, unwrapKey (or\n"
          "         the role Key Vault Crypto Service Encryption User)\n"
          "The kind is told from the JSON's shape unless --kind is given. Each\n"
          "missing piece is printed with the fix.\n"
          "exit status: 0 the policy passes, 1 something is missing or the file is\n"
          "not valid JSON, 2 usage error or the file cannot be read\n",
          f);
}

/* ---------------------------------------------------------------- aws */

static const char *const USAGE_ACTIONS[] = {"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*",
                                            "kms:GenerateDataKey*", "kms:DescribeKey", NULL};
static const char *const GRANT_ACTIONS[] = {"kms:CreateGrant", "kms:ListGrants",
                                            "kms:RevokeGrant", NULL};

/* A policy action (may hold * and ?) covers a required one; IAM action
 * names are case-insensitive. A required name ending in '*' (a family) is
 * covered by the same family or a wider pattern. */
static int covers(const char *have, const char *want)
{
    return fnmatch(have, want, FNM_CASEFOLD) == 0 || strcasecmp(have, want) == 0;
}

static int has_action(json_t *actions, const char *want)
{
    size_t i;
    json_t *a;
    if (json_is_string(actions))
        return covers(json_string_value(actions), want);
    json_array_foreach(actions, i, a) if (json_is_string(a) && covers(json_string_value(a), want))
        return 1;
    return 0;
}

static size_t count_actions(json_t *actions, const char *const *want)
{
    size_t n = 0;
    for (; *want != NULL; want++)
        n += (size_t)has_action(actions, *want);
    return n;
}

static int role_arn_ok(const char *s)
{
    static const char prefix[] = "arn:aws:iam::";
    if (strncmp(s, prefix, sizeof prefix - 1) != 0)
        return 0;
    s += sizeof prefix - 1;
    for (int i = 0; i < 12; i++, s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    if (strncmp(s, ":role/", 6) != 0)
        return 0;
    s += 6;
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++)
        if (!isalnum((unsigned char)*s) && strchr("+=,.@_-/", *s) == NULL)
            return 0;
    return 1;
}

static void check_principals(struct report *r, json_t *st, const char *what)
{
    json_t *p = json_object_get(st, "Principal");
    json_t *aws = json_is_object(p) ? json_object_get(p, "AWS") : NULL;
    size_t i, n = 0;
    json_t *a;
    if (aws == NULL) {
        problem(r, "the %s statement has no \"Principal\": {\"AWS\": [...]}; fix: name the "
                   "IAM roles that use the key, e.g. \"arn:aws:iam::111122223333:role/app\"",
                what);
        return;
    }
    if (json_is_string(aws))
        n = 1;
    else if (json_is_array(aws))
        n = json_array_size(aws);
    if (n == 0)
        problem(r, "the %s statement's Principal.AWS is empty; fix: list the role ARNs", what);
    for (i = 0; i < n; i++) {
        a = json_is_string(aws) ? aws : json_array_get(aws, i);
        if (!json_is_string(a) || !role_arn_ok(json_string_value(a)))
            problem(r, "the %s statement's principal %s is not a role ARN; fix: use "
                       "arn:aws:iam::<12-digit account id>:role/<role name>",
                    what, json_is_string(a) ? json_string_value(a) : "(not a string)");
    }
}

static int resource_all(json_t *st)
{
    json_t *res = json_object_get(st, "Resource");
    return json_is_string(res) && strcmp(json_string_value(res), "*") == 0;
}

static void check_statement(struct report *r, json_t *st, const char *what,
                            const char *const *want)
{
    json_t *actions = json_object_get(st, "Action");
    for (const char *const *w = want; *w != NULL; w++)
        if (!has_action(actions, *w))
            problem(r, "the %s statement lacks %s; fix: add \"%s\" to its \"Action\"", what,
                    *w, *w);
    if (!resource_all(st))
        problem(r, "the %s statement's \"Resource\" is not \"*\"; fix: \"Resource\": \"*\" "
                   "(in a key policy, * means this key)", what);
    check_principals(r, st, what);
}

/* The Allow statement that grants most of |want|, or NULL. */
static json_t *best_statement(json_t *stmts, const char *const *want)
{
    size_t i, best_n = 0;
    json_t *st, *best = NULL;
    json_array_foreach(stmts, i, st) {
        json_t *eff = json_object_get(st, "Effect");
        if (!json_is_object(st) || !json_is_string(eff) ||
            strcmp(json_string_value(eff), "Allow") != 0)
            continue;
        size_t n = count_actions(json_object_get(st, "Action"), want);
        if (n > best_n) {
            best_n = n;
            best = st;
        }
    }
    return best;
}

static void check_aws(struct report *r, json_t *root)
{
    json_t *stmts = json_object_get(root, "Statement");
    if (json_is_object(stmts)) {
        json_t *one = json_array();
        json_array_append(one, stmts);
        stmts = one;
    } else {
        json_incref(stmts);
    }
    if (!json_is_array(stmts)) {
        problem(r, "no \"Statement\" array; fix: a key policy is {\"Version\": "
                   "\"2012-10-17\", \"Statement\": [...]}");
        json_decref(stmts);
        return;
    }
    json_t *use = best_statement(stmts, USAGE_ACTIONS);
    json_t *grant = best_statement(stmts, GRANT_ACTIONS);
    if (use == NULL)
        problem(r, "no key-usage statement; fix: add an \"Effect\": \"Allow\" statement "
                   "with kms:Encrypt, kms:Decrypt, kms:ReEncrypt*, kms:GenerateDataKey*, "
                   "kms:DescribeKey for your roles, \"Resource\": \"*\"");
    else
        check_statement(r, use, "key-usage", USAGE_ACTIONS);
    if (grant == NULL)
        problem(r, "no grant-management statement; fix: add an \"Effect\": \"Allow\" "
                   "statement with kms:CreateGrant, kms:ListGrants, kms:RevokeGrant for "
                   "your roles, \"Resource\": \"*\"");
    else
        check_statement(r, grant, "grant-management", GRANT_ACTIONS);
    json_decref(stmts);
}

/* ---------------------------------------------------------------- gcp */

#define GCP_ROLE "roles/cloudkms.cryptoKeyEncrypterDecrypter"

static int str_in(json_t *arr, const char *s)
{
    size_t i;
    json_t *a;
    json_array_foreach(arr, i, a) if (json_is_string(a) && strcmp(json_string_value(a), s) == 0)
        return 1;
    return 0;
}

static void check_gcp(struct report *r, json_t *root)
{
    json_t *perms = json_object_get(root, "includedPermissions");
    if (json_is_array(perms)) {
        static const char *const need[] = {"cloudkms.cryptoKeyVersions.useToEncrypt",
                                           "cloudkms.cryptoKeyVersions.useToDecrypt"};
        for (size_t i = 0; i < 2; i++)
            if (!str_in(perms, need[i]))
                problem(r, "the role lacks %s; fix: add it to \"includedPermissions\" (or "
                           "grant %s instead)", need[i], GCP_ROLE);
        return;
    }
    json_t *b, *bindings = json_object_get(root, "bindings");
    size_t i;
    json_array_foreach(bindings, i, b) {
        json_t *role = json_object_get(b, "role"), *members = json_object_get(b, "members");
        if (!json_is_string(role) || strcmp(json_string_value(role), GCP_ROLE) != 0)
            continue;
        if (json_is_array(members) && json_array_size(members) > 0)
            return;
        problem(r, "%s is bound to no member; fix: add the service account, e.g. "
                   "\"serviceAccount:app@project.iam.gserviceaccount.com\"", GCP_ROLE);
        return;
    }
    problem(r, "no binding of %s; fix: add {\"role\": \"%s\", \"members\": "
               "[\"serviceAccount:...\"]} to \"bindings\"", GCP_ROLE, GCP_ROLE);
}

/* ---------------------------------------------------------------- azure */

#define AZ_ROLE "Key Vault Crypto Service Encryption User"

static int ci_in(json_t *arr, const char *s)
{
    size_t i;
    json_t *a;
    json_array_foreach(arr, i, a) {
        const char *v = json_string_value(a);
        if (v != NULL && (strcasecmp(v, s) == 0 || strcasecmp(v, "all") == 0))
            return 1;
    }
    return 0;
}

static void check_azure_policies(struct report *r, json_t *pols)
{
    static const char *const need[] = {"get", "wrapKey", "unwrapKey"};
    json_t *p;
    size_t i;
    if (json_array_size(pols) == 0) {
        problem(r, "no access policy; fix: add one for the application's objectId with "
                   "\"permissions\": {\"keys\": [\"get\", \"wrapKey\", \"unwrapKey\"]}");
        return;
    }
    json_array_foreach(pols, i, p) {
        json_t *keys = json_object_get(json_object_get(p, "permissions"), "keys");
        json_t *oid = json_object_get(p, "objectId");
        if (!json_is_string(oid) || *json_string_value(oid) == '\0')
            problem(r, "access policy %zu has no objectId; fix: set the application's "
                       "(managed identity's) object id", i);
        for (size_t k = 0; k < 3; k++)
            if (!ci_in(keys, need[k]))
                problem(r, "access policy %zu lacks the key permission %s; fix: add \"%s\" "
                           "to permissions.keys", i, need[k], need[k]);
    }
}

static int azure_role_ok(json_t *root)
{
    json_t *props = json_object_get(root, "properties");
    const char *name = json_string_value(json_object_get(root, "roleName"));
    if (name == NULL)
        name = json_string_value(json_object_get(props, "roleName"));
    if (name == NULL)
        name = json_string_value(json_object_get(root, "roleDefinitionName"));
    if (name != NULL && strcmp(name, AZ_ROLE) == 0)
        return 1;
    json_t *perms = json_object_get(props != NULL ? props : root, "permissions");
    json_t *p = json_array_get(perms, 0);
    json_t *da = json_object_get(p, "dataActions");
    return str_in(da, "Microsoft.KeyVault/vaults/keys/wrap/action") &&
           str_in(da, "Microsoft.KeyVault/vaults/keys/unwrap/action") &&
           str_in(da, "Microsoft.KeyVault/vaults/keys/read");
}

static void check_azure(struct report *r, json_t *root)
{
    json_t *pols = json_object_get(root, "accessPolicies");
    if (pols == NULL)
        pols = json_object_get(json_object_get(root, "properties"), "accessPolicies");
    if (json_is_array(pols)) {
        check_azure_policies(r, pols);
        return;
    }
    if (!azure_role_ok(root))
        problem(r, "the role is not \"%s\" and does not grant keys read, wrap and unwrap; "
                   "fix: assign \"%s\" on the key (or add Microsoft.KeyVault/vaults/keys/"
                   "{read,wrap/action,unwrap/action} to dataActions)", AZ_ROLE, AZ_ROLE);
}

/* ---------------------------------------------------------------- run */

static const char *detect(json_t *root)
{
    json_t *props = json_object_get(root, "properties");
    if (json_object_get(root, "Statement") != NULL)
        return "aws";
    if (json_object_get(root, "bindings") != NULL ||
        json_object_get(root, "includedPermissions") != NULL)
        return "gcp";
    if (json_object_get(root, "accessPolicies") != NULL ||
        json_object_get(props, "accessPolicies") != NULL ||
        json_object_get(root, "roleName") != NULL || json_object_get(props, "roleName") ||
        json_object_get(root, "roleDefinitionName") != NULL)
        return "azure";
    return NULL;
}

/* Checks the JSON text of |path|; VL_CLI_OK when it passes. */
static int check_text(const char *path, const char *text, size_t len, const char *kind)
{
    struct report r = {path, 0};
    json_error_t err;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (root == NULL || !json_is_object(root)) {
        printf("INVALID %s: not a JSON object%s%s (line %d, column %d); fix the syntax\n",
               path, root != NULL ? "" : ": ", root != NULL ? "" : err.text, err.line,
               err.column);
        json_decref(root);
        return VL_CLI_FAILED;
    }
    if (kind == NULL && (kind = detect(root)) == NULL) {
        printf("UNKNOWN %s: neither an AWS key policy (Statement), a GCP IAM policy or role "
               "(bindings, includedPermissions) nor an Azure Key Vault policy or role; "
               "pass --kind aws|gcp|azure\n", path);
        json_decref(root);
        return VL_CLI_FAILED;
    }
    if (strcmp(kind, "aws") == 0)
        check_aws(&r, root);
    else if (strcmp(kind, "gcp") == 0)
        check_gcp(&r, root);
    else
        check_azure(&r, root);
    json_decref(root);
    if (r.problems == 0)
        printf("OK %s: %s policy has everything the checklist asks for\n", path, kind);
    else
        printf("FAIL %s: %d missing piece%s (%s)\n", path, r.problems,
               r.problems == 1 ? "" : "s", kind);
    return r.problems == 0 ? VL_CLI_OK : VL_CLI_FAILED;
}

static int check_file(const char *path, const char *kind)
{
    size_t len = 0;
    char *text = vl_cli_read_file(path, POLICY_MAX, &len);
    if (text == NULL) {
        fprintf(stderr, "vellum policy: cannot read %s: %s%s\n", path, strerror(errno),
                errno == EFBIG ? " (over 1 MiB: not a key policy)" : "");
        return VL_CLI_USAGE;
    }
    int rc = check_text(path, text, len, kind);
    free(text);
    return rc;
}

int vl_cli_policy(int argc, char **argv)
{
    const char *kind = NULL, *file = NULL;
    int i = 2;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        vl_cli_policy_usage(stdout);
        return VL_CLI_OK;
    }
    if (argc < 2 || strcmp(argv[1], "check") != 0) {
        fprintf(stderr, "vellum policy: usage: vellum policy check FILE [--kind "
                        "aws|gcp|azure]\n");
        return VL_CLI_USAGE;
    }
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            vl_cli_policy_usage(stdout);
            return VL_CLI_OK;
        }
        if (strcmp(argv[i], "--kind") == 0 && i + 1 < argc)
            kind = argv[++i];
        else if (file == NULL && argv[i][0] != '-')
            file = argv[i];
        else {
            fprintf(stderr, "vellum policy: unexpected argument '%s' (see --help)\n", argv[i]);
            return VL_CLI_USAGE;
        }
    }
    if (file == NULL || (kind != NULL && strcmp(kind, "aws") && strcmp(kind, "gcp") &&
                         strcmp(kind, "azure"))) {
        fprintf(stderr, "vellum policy: %s\n", file == NULL ? "check needs a FILE"
                                                            : "--kind must be aws, gcp or azure");
        return VL_CLI_USAGE;
    }
    return check_file(file, kind);
}
