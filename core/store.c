/* What every record store shares: vl_store_close and the record checks
 * (see store_int.h). */
#include <string.h>

#include "store_int.h"

void vl_store_close(vl_store *s)
{
    if (s != NULL && s->ops != NULL && s->ops->close != NULL)
        s->ops->close(s);
}

/* strnlen, not memchr: |s| may be a caller's short string, and strnlen
 * never reads past its NUL. */
int vl_store_str_ok(const char *s, size_t cap, int nonempty)
{
    if (s == NULL || strnlen(s, cap) == cap)
        return 0;
    return !nonempty || s[0] != '\0';
}

int vl_store_alg_ok(long long alg)
{
    return alg == VL_AES128_GCM || alg == VL_AES256_GCM || alg == VL_AES256_SIV;
}

static int flag_ok(int v)
{
    return v == 0 || v == 1;
}

int vl_store_check_kek(const vl_kek_record *r)
{
    if (r == NULL || !vl_store_str_ok(r->name, sizeof r->name, 1) ||
        !vl_store_str_ok(r->kms_type, sizeof r->kms_type, 0) ||
        !vl_store_str_ok(r->kms_key_id, sizeof r->kms_key_id, 0) ||
        !vl_store_str_ok(r->kms_props, sizeof r->kms_props, 0) ||
        !vl_store_str_ok(r->doc, sizeof r->doc, 0))
        return VL_ERR_ARG;
    if (!flag_ok(r->shared) || !flag_ok(r->deleted))
        return VL_ERR_ARG;
    return VL_OK;
}

int vl_store_check_dek(const vl_dek_record *r)
{
    if (r == NULL || !vl_store_str_ok(r->kek_name, sizeof r->kek_name, 1) ||
        !vl_store_str_ok(r->subject, sizeof r->subject, 1))
        return VL_ERR_ARG;
    /* wrapped_len 0 is allowed: a permanently deleted version may keep its
     * row with the material erased. */
    if (!vl_store_alg_ok(r->alg) || r->version < 1 || r->wrapped_len > VL_KMS_MAX_BLOB ||
        !flag_ok(r->deleted))
        return VL_ERR_ARG;
    return VL_OK;
}

int vl_store_check_id(const vl_dek_id *id, int allow_latest)
{
    if (id == NULL || !vl_store_str_ok(id->kek_name, VL_NAME_MAX, 1) ||
        !vl_store_str_ok(id->subject, VL_NAME_MAX, 1) || !vl_store_alg_ok(id->alg))
        return VL_ERR_ARG;
    if (id->version >= 1 || (allow_latest && id->version == -1))
        return VL_OK;
    return VL_ERR_ARG;
}

int vl_store_dek_match(const vl_dek_record *r, const vl_dek_id *id)
{
    return r->alg == id->alg && (id->version == -1 || r->version == id->version) &&
           strcmp(r->kek_name, id->kek_name) == 0 && strcmp(r->subject, id->subject) == 0;
}

int vl_store_kek_cmp(const void *a, const void *b)
{
    const vl_kek_record *x = a, *y = b;
    return strcmp(x->name, y->name);
}

int vl_store_dek_cmp(const void *a, const void *b)
{
    const vl_dek_record *x = a, *y = b;
    int c = strcmp(x->kek_name, y->kek_name);
    if (c == 0)
        c = strcmp(x->subject, y->subject);
    if (c == 0)
        c = (x->alg > y->alg) - (x->alg < y->alg);
    if (c == 0)
        c = (x->version > y->version) - (x->version < y->version);
    return c;
}
