/* kms_props: the KEK record's kmsProps text (core/keyring_props.c), a JSON
 * object of strings read from the store, whose member
 * "encrypt.alternate.kms.key.ids" lists the key ids unwrap falls back to.
 *
 * Oracle: jansson. Our scanner is strict by design (an object of string
 * values only; no \u0000; no surrogate escapes at all), so the check is
 * two-sided where the two can agree:
 *   - whatever we accept, jansson parses to an object of strings with
 *     the same alternates value, provided the text is valid UTF-8 and has
 *     no surrogate escape (we pass other members through undecoded, and
 *     jansson insists on UTF-8 and paired surrogates); "" is {};
 *   - whatever jansson parses to an object of strings, with no surrogate
 *     escape in the text, we accept with the same value.
 * Then: setting the alternates (to the fuzzer's value) keeps every other
 * member and re-reads as that value; setting "" removes the member; the
 * list splits (vl_kr_next_id) into ids with no comma and no surrounding
 * blanks, as a simple reference split does.
 *
 * Input: u8 value_len | value (key ids) | props text (the rest). */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "keyring_internal.h"

#define MAX_TEXT 4096

/* RFC 3629 UTF-8, strict (no overlongs, no surrogates, <= U+10FFFF). */
static int utf8_ok(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k + 1;
    }
    return 1;
}

static int blank(const char *s)
{
    return s[strspn(s, " \t\r\n")] == '\0';
}

/* A \u escape of a surrogate or of NUL anywhere in the text: what we
 * refuse when we decode a string, and jansson always refuses. */
static int has_surrogate_escape(const char *s)
{
    for (const char *p = strstr(s, "\\u"); p != NULL; p = strstr(p + 1, "\\u")) {
        if ((p[2] == 'd' || p[2] == 'D') && p[3] != '\0' && strchr("89abcdefABCDEF", p[3]) != NULL)
            return 1;
        if (strncmp(p + 2, "0000", 4) == 0)
            return 1;
    }
    return 0;
}

/* jansson's reading: 1 for an object of strings, with the alternates value
 * (or "" when absent) in |alt|. */
static int jansson_read(const char *text, size_t flags, json_t **obj, const char **alt)
{
    json_error_t err;
    /* "" (or blanks) is how a record holds no properties: an empty object. */
    *obj = blank(text) ? json_object() : json_loads(text, flags, &err);
    *alt = "";
    if (*obj == NULL)
        return 0;
    if (!json_is_object(*obj))
        return 0;
    const char *key;
    json_t *v;
    json_object_foreach(*obj, key, v) {
        if (!json_is_string(v))
            return 0;
    }
    json_t *a = json_object_get(*obj, VL_KR_ALT_KEY);
    if (a != NULL)
        *alt = json_string_value(a);
    return 1;
}

/* Every member of |a| but the alternates is in |b| with the same value. */
static int same_others(json_t *a, json_t *b)
{
    const char *key;
    json_t *v;
    json_object_foreach(a, key, v) {
        if (strcmp(key, VL_KR_ALT_KEY) == 0)
            continue;
        json_t *w = json_object_get(b, key);
        if (w == NULL || !json_equal(v, w))
            return 0;
    }
    return 1;
}

/* vl_kr_next_id against a reference split: on ',', blanks trimmed on both
 * sides, empty ids skipped, and ids too long for the buffer skipped (they
 * come back as "", which every caller skips). */
static void check_split(const char *list)
{
    char ref[MAX_TEXT + 1], id[VL_KMS_KEY_ID_MAX];
    const char *want[MAX_TEXT], *p = list;
    size_t n_want = 0, n_got = 0;
    FZ_CHECK(strlen(list) <= MAX_TEXT, "list too long");
    strcpy(ref, list);
    for (char *tok = ref, *end; tok != NULL; tok = end != NULL ? end + 1 : NULL) {
        end = strchr(tok, ',');
        if (end != NULL)
            *end = '\0';
        while (*tok == ' ')
            tok++;
        size_t n = strlen(tok);
        while (n > 0 && tok[n - 1] == ' ')
            tok[--n] = '\0';
        if (n > 0 && n < sizeof id)
            want[n_want++] = tok;
    }
    while ((p = vl_kr_next_id(p, id, sizeof id)) != NULL) {
        if (id[0] == '\0')
            continue;
        FZ_CHECK(n_got < n_want, "next_id: extra id \"%.60s\"", id);
        FZ_CHECK(strcmp(id, want[n_got]) == 0, "next_id \"%.60s\", reference \"%.60s\"", id,
                 want[n_got]);
        n_got++;
    }
    FZ_CHECK(n_got == n_want, "next_id: %zu ids, reference %zu", n_got, n_want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz f = {data, size};
    size_t vlen, tlen;
    const uint8_t *v = fz_take(&f, fz_u8(&f), &vlen);
    const uint8_t *t = fz_take(&f, f.n, &tlen);
    if (tlen > MAX_TEXT)
        tlen = MAX_TEXT;
    char *value = (char *)fz_alloc(vlen + 1, 0), *text = (char *)fz_alloc(tlen + 1, 0);
    memcpy(value, v, vlen);
    memcpy(text, t, tlen);
    size_t text_len = strlen(text); /* what a C string of it holds */

    char alt[MAX_TEXT + 1];
    int rc = vl_kr_props_alternates(text, alt, sizeof alt);
    FZ_CHECK(rc == VL_OK || rc == VL_ERR_FORMAT, "alternates: %d", rc);
    if (rc != VL_OK)
        FZ_CHECK(alt[0] == '\0', "refused, output not cleared");
    /* jansson keeps the last of duplicate members, as we do, but then no
     * longer shows an earlier one that was not a string (which we refuse):
     * the "jansson accepts => we accept" direction uses a reading that
     * refuses duplicates. */
    json_t *obj, *strict;
    const char *jalt, *salt;
    int jok = jansson_read(text, 0, &obj, &jalt);
    int sok = jansson_read(text, JSON_REJECT_DUPLICATES, &strict, &salt);
    /* Members other than the alternates are never decoded, only copied:
     * a surrogate escape there passes our scanner (jansson refuses it). */
    if (rc == VL_OK && utf8_ok((const uint8_t *)text, text_len) && !has_surrogate_escape(text))
        FZ_CHECK(jok && strcmp(alt, jalt) == 0, "we read \"%.60s\", jansson %s \"%.60s\": %.200s",
                 alt, jok ? "reads" : "refuses", jalt, text);
    if (sok && !has_surrogate_escape(text))
        FZ_CHECK(rc == VL_OK && strcmp(alt, salt) == 0,
                 "jansson reads \"%.60s\", we return %d \"%.60s\": %.200s", salt, rc, alt, text);
    json_decref(strict);
    if (rc == VL_OK)
        check_split(alt);

    /* Setting the alternates. */
    char out[2 * MAX_TEXT + 512], again[2 * MAX_TEXT + 512];
    int src = vl_kr_props_set_alternates(text, value, out, sizeof out);
    int value_ok = strpbrk(value, "\"\\") == NULL;
    for (const char *c = value; *c; c++)
        value_ok &= (unsigned char)*c >= 0x20;
    if (!value_ok)
        FZ_CHECK(src == VL_ERR_ARG, "set: a value JSON must escape was taken (%d)", src);
    else if (rc == VL_OK)
        FZ_CHECK(src == VL_OK, "set: %d on readable props", src);
    /* (rc != VL_OK: set may still succeed, when only the old alternates
     * value was undecodable: set drops it without decoding it.) */
    if (src == VL_OK) {
        int r2 = vl_kr_props_alternates(out, again, sizeof again);
        FZ_CHECK(r2 == VL_OK && strcmp(again, value) == 0,
                 "set then read: %d \"%.60s\", want \"%.60s\"", r2, again, value);
        json_t *o2;
        const char *a2;
        if (jok && utf8_ok((const uint8_t *)value, strlen(value))) {
            FZ_CHECK(jansson_read(out, 0, &o2, &a2), "jansson refuses what set wrote: %.200s", out);
            FZ_CHECK(same_others(obj, o2) && same_others(o2, obj), "set lost or changed a member");
            FZ_CHECK(json_object_size(o2) == json_object_size(obj) -
                                                 (json_object_get(obj, VL_KR_ALT_KEY) != NULL) +
                                                 (value[0] != '\0'),
                     "set: wrong member count");
            json_decref(o2);
        }
    }
    json_decref(obj);
    free(value);
    free(text);
    return 0;
}
