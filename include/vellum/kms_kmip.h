/* vellum: the KMIP provider ("kmip"). A minimal KMIP 1.4 client: TTLV
 * over TLS 1.2+ with a client certificate, wrapping and unwrapping DEKs
 * with the server's Encrypt and Decrypt operations (AES-GCM, 16-byte tag)
 * under a symmetric key that never leaves the server; kek_id is that key's
 * KMIP Unique Identifier.
 *
 * It needs OpenSSL (libssl) for TLS, so it is its own archive: hosts link
 *   build/libvellum-kmip.a build/libvellum.a -lssl -lcrypto -lpthread
 * and the core library stays libc-only.
 *
 * Wrapped blob (version 1), 1 + 12 + n + 16 bytes for an n-byte DEK:
 *   0x01 || IV(12) || C(n) || TAG(16)
 * C || TAG is the server's AES-GCM of the DEK under the key, with the IV
 * drawn by vellum (getrandom) and AAD = "vellum-kmip" || 0x01 || kek_id, so
 * a blob only unwraps under the key id it was wrapped for.
 *
 * Errors (kms.h's set; provider text is never passed on):
 *   VL_ERR_KMS_UNAVAILABLE  connect refused or timed out, a read or write
 *                           timed out or broke, a reply that is not valid
 *                           KMIP, server faults (General Failure on Encrypt)
 *   VL_ERR_KMS_DENIED       TLS authentication failed on either side (the
 *                           server's certificate is not trusted, or the
 *                           server refused ours), Authentication Not
 *                           Successful, Permission Denied on a key whose
 *                           state is Active (the policy says no)
 *   VL_ERR_KEY_DISABLED     the key is Pre-Active, Deactivated (revoked) or
 *                           Compromised, or archived
 *   VL_ERR_KEY_DESTROYED    the key is Destroyed; and on unwrap, a key the
 *                           server does not know (see below)
 *   VL_ERR_NOT_FOUND        wrap under a key the server does not know
 *   VL_ERR_AUTH             the blob was altered, is not ours, or belongs
 *                           to another key id (the server's tag check
 *                           fails: General or Cryptographic Failure)
 * Permission Denied and Wrong Key Lifecycle State are ambiguous, so the
 * provider asks the server for the key's State (Get Attributes) and
 * answers from it. Servers that delete destroyed keys (PyKMIP) answer
 * Item Not Found for them, exactly as for an id that never existed; a
 * wrapped blob proves its key existed, so on unwrap that is
 * VL_ERR_KEY_DESTROYED, while wrap reports VL_ERR_NOT_FOUND.
 *
 * Connection: one TLS connection per provider, opened on first use,
 * reused by every call (a mutex serializes calls), closed on any transport
 * error and reopened by the next call, so the provider resumes by itself
 * when the server comes back. A request that fails on a reused connection
 * before any reply byte arrives (the server closed an idle connection) is
 * sent once more on a fresh one: Encrypt and Decrypt have no side effects.
 * Writes never raise SIGPIPE. Name resolution (getaddrinfo) is not bounded
 * by the timeouts; use an address literal where that matters. */
#ifndef VELLUM_KMS_KMIP_H
#define VELLUM_KMS_KMIP_H

#include <stdint.h>

#include "vellum/kms.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vl_kms_kmip_config {
    /* Server name or address literal; the server certificate must carry it
     * in its subjectAltName (DNS or IP). Required. */
    const char *host;
    uint16_t port; /* 0 = 5696, KMIP's port */
    /* PEM files: the CA(s) trusted for the server's certificate, the client
     * certificate (chain) and its private key. All required. */
    const char *ca_file;
    const char *cert_file;
    const char *key_file;
    uint32_t connect_timeout_ms; /* TCP connect + TLS handshake; 0 = 5000 */
    uint32_t io_timeout_ms;      /* one request's write + reply; 0 = 10000 */
} vl_kms_kmip_config;

/* Creates the provider (no connection yet: the server may be down now).
 * Nothing in |cfg| is kept: the host is copied, the files are read here. Errors: VL_ERR_ARG (a required field
 * missing, a host longer than 255 bytes, a key that does not match the
 * certificate), VL_ERR_IO (a file cannot be read), VL_ERR_FORMAT (a file
 * is not PEM OpenSSL can load), VL_ERR_NOMEM. Release with vl_kms_close. */
int vl_kms_kmip_new(vl_kms **out, const vl_kms_kmip_config *cfg);

#ifdef __cplusplus
}
#endif

#endif /* VELLUM_KMS_KMIP_H */
