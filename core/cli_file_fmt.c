/* The file format of `vellum encrypt` (core/cli_file.c), version 1.
 *
 *   header = "VLMF"                      magic
 *            u8  format version          1
 *            u8  algorithm               1 AES-128-GCM, 2 AES-256-GCM, 3 AES-256-SIV
 *            u8  len(KEK name)           1..255
 *            u8  len(subject)            1..255
 *            be32 chunk size C           16 .. 16 MiB (plaintext bytes per chunk)
 *            be32 DEK version            >= 1
 *            12 bytes nonce base N       random, per file
 *            KEK name, subject           UTF-8, no NUL
 *   chunks = chunk_0 .. chunk_n          n >= 0: at least one chunk, even for
 *                                        an empty file
 *   chunk_i = seal(DEK, nonce_i, P_i, AD_i)   = P_i's ciphertext || 16-byte tag
 *                                             (SIV: V || C), |P_i| = C for
 *                                             every chunk but the last, 0..C
 *                                             for the last
 *   nonce_i = N XOR (0^4 || be64(i))
 *   AD_i    = SHA-256(header) || be64(i) || u8 final   (final = 1 on chunk_n only)
 *
 * The DEK is the keyring's DEK version (KEK, subject, algorithm, version)
 * named by the header, so `vellum dek rotate` and `dek rewrap` apply to
 * files; decryption finds the version from the header.
 *
 * What the binding detects: the header hash in every AD ties each chunk to
 * this file's header (KEK, DEK version, algorithm, chunk size, nonce base:
 * an altered header fails the first chunk); the index detects reordering
 * and chunks spliced from another position; the final flag detects
 * truncation at a chunk boundary (the last chunk left was sealed with
 * final = 0) and extension (a chunk after one sealed with final = 1 is
 * opened as non-final, and fails). A reader decides "final" from the
 * length alone: a chunk shorter than C + 16, or one followed by end of file.
 *
 * Nonces: within a file they are distinct by construction (the index).
 * Across files the 96-bit random base makes a collision as likely as
 * between random 96-bit nonces, which is what the DEK's usage limits
 * assume (SP 800-38D §8.3: at most 2^32 random-nonce seals per key, with
 * vellum's default max_seals, core/usage.c); every chunk
 * counts as one seal against those limits, reserved in the store, so a
 * DEK version shared by many files and processes never passes them.
 * A derived per-file key would lift that bound but needs the raw DEK
 * outside the AEAD key, which vellum keeps opaque. */
#include <string.h>

#include "cli_file.h"

static void be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t vlmf_header_encode(struct vlmf_header *h, uint8_t *out)
{
    size_t kl = strlen(h->kek), sl = strlen(h->subject);
    memcpy(out, VLMF_MAGIC, 4);
    out[4] = VLMF_VERSION;
    out[5] = (uint8_t)h->alg;
    out[6] = (uint8_t)kl;
    out[7] = (uint8_t)sl;
    be32(out + 8, h->chunk_size);
    be32(out + 12, (uint32_t)h->dek_version);
    memcpy(out + 16, h->nonce_base, VLMF_NONCE);
    memcpy(out + VLMF_FIXED, h->kek, kl);
    memcpy(out + VLMF_FIXED + kl, h->subject, sl);
    vl_sha256(h->hash, out, VLMF_FIXED + kl + sl);
    return VLMF_FIXED + kl + sl;
}

static int name_ok(const uint8_t *p, size_t n)
{
    return n > 0 && memchr(p, 0, n) == NULL;
}

static int fixed_ok(const uint8_t *b, const char **why)
{
    *why = NULL;
    if (memcmp(b, VLMF_MAGIC, 4) != 0)
        *why = "not a vellum file (no VLMF header): was it made by `vellum encrypt`?";
    else if (b[4] != VLMF_VERSION)
        *why = "a vellum file format this build does not know (newer vellum?)";
    else if (b[5] < VL_AES128_GCM || b[5] > VL_AES256_SIV)
        *why = "bad header: unknown algorithm";
    else if (b[6] == 0 || b[7] == 0)
        *why = "bad header: empty KEK name or subject";
    else if (rd32(b + 8) < VLMF_CHUNK_MIN || rd32(b + 8) > VLMF_CHUNK_MAX)
        *why = "bad header: chunk size out of range";
    else if (rd32(b + 12) < 1 || rd32(b + 12) > INT32_MAX)
        *why = "bad header: DEK version out of range";
    return *why == NULL ? VL_OK : VL_ERR_FORMAT;
}

int vlmf_header_read(FILE *f, struct vlmf_header *h, const char **why)
{
    uint8_t b[VLMF_HEADER_MAX];
    memset(h, 0, sizeof *h);
    size_t got = fread(b, 1, VLMF_FIXED, f);
    if (got >= 4 && memcmp(b, VLMF_MAGIC, 4) != 0)
        return fixed_ok(b, why); /* the magic is wrong: says so */
    if (got != VLMF_FIXED) {
        *why = got < 4 ? "not a vellum file (too short for a header)"
                       : "truncated: the file ends inside the header";
        return VL_ERR_FORMAT;
    }
    if (fixed_ok(b, why) != VL_OK)
        return VL_ERR_FORMAT;
    size_t kl = b[6], sl = b[7];
    if (fread(b + VLMF_FIXED, 1, kl + sl, f) != kl + sl) {
        *why = "truncated: the file ends inside the header";
        return VL_ERR_FORMAT;
    }
    if (!name_ok(b + VLMF_FIXED, kl) || !name_ok(b + VLMF_FIXED + kl, sl)) {
        *why = "bad header: a NUL in the KEK name or subject";
        return VL_ERR_FORMAT;
    }
    h->alg = (vl_alg)b[5];
    h->chunk_size = rd32(b + 8);
    h->dek_version = (int32_t)rd32(b + 12);
    memcpy(h->nonce_base, b + 16, VLMF_NONCE);
    memcpy(h->kek, b + VLMF_FIXED, kl);
    memcpy(h->subject, b + VLMF_FIXED + kl, sl);
    vl_sha256(h->hash, b, VLMF_FIXED + kl + sl);
    return VL_OK;
}

void vlmf_chunk_nonce(const struct vlmf_header *h, uint64_t index, uint8_t nonce[VLMF_NONCE])
{
    memcpy(nonce, h->nonce_base, VLMF_NONCE);
    for (int i = 11; i >= 4; i--, index >>= 8)
        nonce[i] ^= (uint8_t)index;
}

void vlmf_chunk_ad(const struct vlmf_header *h, uint64_t index, int final, uint8_t ad[VLMF_AD])
{
    memcpy(ad, h->hash, VL_SHA256_BYTES);
    for (int i = 7; i >= 0; i--, index >>= 8)
        ad[VL_SHA256_BYTES + i] = (uint8_t)index;
    ad[VLMF_AD - 1] = (uint8_t)(final != 0);
}
