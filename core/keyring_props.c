/* kmsProps: the KEK record's JSON object of string properties, as
 * Confluent's DEK Registry keeps it (csfle-spec.md §7.1). The keyring
 * reads and writes exactly one member, "encrypt.alternate.kms.key.ids"
 * (§6): comma-separated key ids that unwrap tries after the primary one.
 * KEK rewrap parks the old key id there while it rewraps, so every DEK
 * stays readable at every step, and Confluent's clients read it too.
 *
 * The text is untrusted (it comes from the store): a strict scanner over
 * a flat object of string values; anything else is VL_ERR_FORMAT. Other
 * members are kept byte for byte when the alternates are rewritten. */
#include <string.h>

#include "keyring_internal.h"

struct span {
    const char *p;
    size_t n;
};

struct scan {
    const char *p, *end;
};

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int eat(struct scan *s, char c)
{
    skip_ws(s);
    if (s->p >= s->end || *s->p != c)
        return 0;
    s->p++;
    return 1;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A JSON string; |out| is its raw text between the quotes. */
static int scan_string(struct scan *s, struct span *out)
{
    if (!eat(s, '"'))
        return VL_ERR_FORMAT;
    const char *start = s->p;
    while (s->p < s->end && *s->p != '"') {
        unsigned char c = (unsigned char)*s->p++;
        if (c < 0x20)
            return VL_ERR_FORMAT;
        if (c != '\\')
            continue;
        if (s->p >= s->end)
            return VL_ERR_FORMAT;
        c = (unsigned char)*s->p++;
        if (c == 'u') {
            if (s->end - s->p < 4 || !is_hex(s->p[0]) || !is_hex(s->p[1]) || !is_hex(s->p[2]) ||
                !is_hex(s->p[3]))
                return VL_ERR_FORMAT;
            s->p += 4;
        } else if (strchr("\"\\/bfnrt", c) == NULL || c == '\0') {
            return VL_ERR_FORMAT;
        }
    }
    if (s->p >= s->end)
        return VL_ERR_FORMAT;
    out->p = start;
    out->n = (size_t)(s->p - start);
    s->p++;
    return VL_OK;
}

static unsigned hex_val(char c)
{
    if (c <= '9')
        return (unsigned)(c - '0');
    return (unsigned)((c | 0x20) - 'a' + 10);
}

static int put(char *out, size_t cap, size_t *n, char c)
{
    if (*n + 1 >= cap)
        return VL_ERR_FORMAT;
    out[(*n)++] = c;
    return VL_OK;
}

/* \uXXXX as UTF-8; surrogates (pairs included) are refused, since no key
 * id needs them. */
static int put_u(char *out, size_t cap, size_t *n, const char *hex)
{
    unsigned u = hex_val(hex[0]) << 12 | hex_val(hex[1]) << 8 | hex_val(hex[2]) << 4 |
                 hex_val(hex[3]);
    int rc = VL_OK;
    if (u == 0 || (u >= 0xD800 && u <= 0xDFFF))
        return VL_ERR_FORMAT;
    if (u < 0x80)
        return put(out, cap, n, (char)u);
    if (u < 0x800) {
        rc = put(out, cap, n, (char)(0xC0 | u >> 6));
    } else {
        rc = put(out, cap, n, (char)(0xE0 | u >> 12));
        if (rc == VL_OK)
            rc = put(out, cap, n, (char)(0x80 | ((u >> 6) & 0x3F)));
    }
    return rc == VL_OK ? put(out, cap, n, (char)(0x80 | (u & 0x3F))) : rc;
}

/* Decodes a scanned string (escapes already validated) into |out|. */
static int decode(struct span in, char *out, size_t cap)
{
    size_t n = 0;
    int rc = VL_OK;
    for (size_t i = 0; i < in.n && rc == VL_OK; i++) {
        char c = in.p[i];
        if (c != '\\') {
            rc = put(out, cap, &n, c);
            continue;
        }
        c = in.p[++i];
        if (c == 'u') {
            rc = put_u(out, cap, &n, in.p + i + 1);
            i += 4;
            continue;
        }
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
        rc = put(out, cap, &n, to[strchr(from, c) - from]);
    }
    if (cap > 0)
        out[rc == VL_OK ? n : 0] = '\0';
    return rc;
}

static int is_alt_key(struct span key)
{
    char name[sizeof VL_KR_ALT_KEY + 1];
    return decode(key, name, sizeof name) == VL_OK && strcmp(name, VL_KR_ALT_KEY) == 0;
}

/* Calls |fn| on each member of the object |props| ("" = empty object). */
static int each_member(const char *props, int (*fn)(void *arg, struct span k, struct span v),
                       void *arg)
{
    struct scan s = {props, props + strlen(props)};
    skip_ws(&s);
    if (s.p == s.end)
        return VL_OK;
    if (!eat(&s, '{'))
        return VL_ERR_FORMAT;
    if (!eat(&s, '}')) {
        do {
            struct span k, v;
            int rc = scan_string(&s, &k);
            if (rc == VL_OK)
                rc = eat(&s, ':') ? scan_string(&s, &v) : VL_ERR_FORMAT;
            if (rc == VL_OK)
                rc = fn(arg, k, v);
            if (rc != VL_OK)
                return rc;
        } while (eat(&s, ','));
        if (!eat(&s, '}'))
            return VL_ERR_FORMAT;
    }
    skip_ws(&s);
    return s.p == s.end ? VL_OK : VL_ERR_FORMAT;
}

struct get_arg {
    char *out;
    size_t cap;
};

static int get_member(void *arg, struct span k, struct span v)
{
    struct get_arg *g = arg;
    return is_alt_key(k) ? decode(v, g->out, g->cap) : VL_OK;
}

int vl_kr_props_alternates(const char *props, char *out, size_t cap)
{
    struct get_arg g = {out, cap};
    out[0] = '\0';
    int rc = each_member(props, get_member, &g);
    if (rc != VL_OK)
        out[0] = '\0';
    return rc;
}

struct set_arg {
    char *out;
    size_t cap, n;
};

static int append(struct set_arg *a, const char *p, size_t n)
{
    if (a->n + n >= a->cap)
        return VL_ERR_ARG;
    memcpy(a->out + a->n, p, n);
    a->n += n;
    a->out[a->n] = '\0';
    return VL_OK;
}

static int append_member(struct set_arg *a, struct span k, struct span v)
{
    int rc = append(a, a->n > 1 ? ",\"" : "\"", a->n > 1 ? 2 : 1);
    if (rc == VL_OK)
        rc = append(a, k.p, k.n);
    if (rc == VL_OK)
        rc = append(a, "\":\"", 3);
    if (rc == VL_OK)
        rc = append(a, v.p, v.n);
    return rc == VL_OK ? append(a, "\"", 1) : rc;
}

static int copy_member(void *arg, struct span k, struct span v)
{
    return is_alt_key(k) ? VL_OK : append_member(arg, k, v);
}

/* Key ids are written as they are, except the characters JSON escapes. */
static int value_ok(const char *value)
{
    for (const char *c = value; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == '"' || *c == '\\')
            return 0;
    return 1;
}

int vl_kr_props_set_alternates(const char *props, const char *value, char *out, size_t cap)
{
    struct set_arg a = {out, cap, 0};
    if (!value_ok(value))
        return VL_ERR_ARG;
    int rc = append(&a, "{", 1);
    if (rc == VL_OK)
        rc = each_member(props, copy_member, &a);
    if (rc == VL_OK && value[0] != '\0') {
        struct span k = {VL_KR_ALT_KEY, strlen(VL_KR_ALT_KEY)}, v = {value, strlen(value)};
        rc = append_member(&a, k, v);
    }
    if (rc == VL_OK)
        rc = append(&a, "}", 1);
    if (rc == VL_OK && strcmp(out, "{}") == 0)
        out[0] = '\0'; /* no members: the empty text the record started with */
    return rc;
}

const char *vl_kr_next_id(const char *list, char *id, size_t cap)
{
    while (*list == ' ' || *list == ',')
        list++;
    if (*list == '\0')
        return NULL;
    size_t n = strcspn(list, ",");
    size_t len = n;
    while (len > 0 && list[len - 1] == ' ')
        len--;
    if (len >= cap)
        len = 0; /* too long to be a key id: yields "" and is skipped */
    memcpy(id, list, len);
    id[len] = '\0';
    return list + n;
}
