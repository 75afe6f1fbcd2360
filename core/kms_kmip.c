/* The KMIP provider (include/vellum/kms_kmip.h): Encrypt and Decrypt with
 * AES-GCM over TLS, through OpenSSL. Built into its own archive,
 * build/libvellum-kmip.a; the messages themselves are core/kmip_ttlv.c.
 *
 * Decisions:
 *   - The IV is drawn here (12 bytes, getrandom) and sent with the request:
 *     PyKMIP would otherwise make a 16-byte one, other servers may refuse
 *     to. Random 96-bit IVs bound a key to 2^32 wraps (SP 800-38D §8.3);
 *     a KEK wraps DEKs, not records, so that is far away.
 *   - AAD = "vellum-kmip" || version || kek_id: a blob moved to another key
 *     id fails the server's tag check even if both ids name one key.
 *   - Sockets: a BIO of our own over a non-blocking socket, so every wait
 *     is a poll() against the call's deadline, and send() uses
 *     MSG_NOSIGNAL: a dead server never raises SIGPIPE in the host.
 *   - TLS authentication failures are VL_ERR_KMS_DENIED, not UNAVAILABLE:
 *     retrying cannot fix a certificate, and the keyring must not treat a
 *     misconfigured KMS as a passing outage. Anything else that breaks the
 *     connection, including a reply that is not valid KMIP, is UNAVAILABLE
 *     and closes the connection.
 *   - One connection and one pair of message buffers per provider, under a
 *     mutex; both buffers are wiped after every call (they carry DEKs). The
 *     DEK also passes through OpenSSL's record buffers, which we cannot
 *     wipe.
 *   - General Failure on Decrypt is VL_ERR_AUTH: it is what PyKMIP answers
 *     for a bad tag (not Cryptographic Failure). On Encrypt it is a server
 *     fault: UNAVAILABLE. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "internal.h"
#include "kmip_ttlv.h"
#include "rand.h"

#include "vellum/kms_kmip.h"

#define DEFAULT_PORT 5696
#define DEFAULT_CONNECT_MS 5000
#define DEFAULT_IO_MS 10000
#define HOST_MAX 255
#define UID_MAX 1023
#define IV_BYTES 12
#define TAG_BYTES 16
#define BLOB_VERSION 0x01
#define BLOB_HDR (1 + IV_BYTES)
#define BLOB_OVERHEAD (BLOB_HDR + TAG_BYTES)
#define AAD_LABEL "vellum-kmip"
#define AAD_LABEL_LEN (sizeof AAD_LABEL - 1)
#define AAD_MAX (AAD_LABEL_LEN + 1 + UID_MAX)
#define REQ_CAP 4096
#define RSP_CAP 16384 /* the largest reply read; ours are < 1 KiB */

/* What the socket BIO needs: the descriptor and the current deadline. */
struct io {
    int fd;
    int64_t deadline_ms;
    int timed_out;
};

struct kmip {
    vl_kms kms;
    pthread_mutex_t mu;
    SSL_CTX *ctx;
    BIO_METHOD *meth;
    SSL *ssl; /* NULL: not connected */
    struct io io;
    int reused; /* the connection has carried a whole exchange */
    uint32_t connect_ms, io_ms;
    char host[HOST_MAX + 1];
    char port[8];
    uint8_t req[REQ_CAP];
    uint8_t rsp[RSP_CAP];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the socket BIO ------------------------------------------------------- */

/* Waits for |events| until the deadline: 0, or -1 (timed_out set on a
 * timeout). */
static int io_wait(struct io *io, short events)
{
    for (;;) {
        int64_t left = io->deadline_ms - now_ms();
        if (left <= 0) {
            io->timed_out = 1;
            return -1;
        }
        struct pollfd p = {.fd = io->fd, .events = events};
        int r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

static int bio_read(BIO *b, char *buf, int n)
{
    struct io *io = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t r = recv(io->fd, buf, (size_t)n, 0);
        if (r >= 0)
            return (int)r;
        if (errno == EINTR)
            continue;
        if ((errno != EAGAIN && errno != EWOULDBLOCK) || io_wait(io, POLLIN) != 0)
            return -1;
    }
}

static int bio_write(BIO *b, const char *buf, int n)
{
    struct io *io = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t r = send(io->fd, buf, (size_t)n, MSG_NOSIGNAL);
        if (r >= 0)
            return (int)r;
        if (errno == EINTR)
            continue;
        if ((errno != EAGAIN && errno != EWOULDBLOCK) || io_wait(io, POLLOUT) != 0)
            return -1;
    }
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *bio_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "vellum-kmip");
    if (m != NULL &&
        (!BIO_meth_set_read(m, bio_read) || !BIO_meth_set_write(m, bio_write) ||
         !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create))) {
        BIO_meth_free(m);
        m = NULL;
    }
    return m;
}

/* ---- connection ----------------------------------------------------------- */

static void conn_close(struct kmip *k)
{
    SSL_free(k->ssl); /* also frees the BIO; the descriptor is ours */
    k->ssl = NULL;
    if (k->io.fd >= 0)
        close(k->io.fd);
    k->io.fd = -1;
    k->reused = 0;
}

/* One address: a non-blocking connect finished within the deadline. */
static int try_connect(const struct addrinfo *ai, struct io *io)
{
    int one = 1, err = 0;
    socklen_t len = sizeof err;
    io->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (io->fd < 0)
        return -1;
    if (connect(io->fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
        (errno != EINPROGRESS || io_wait(io, POLLOUT) != 0 ||
         getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)) {
        close(io->fd);
        io->fd = -1;
        return -1;
    }
    /* One request, one reply: never wait for Nagle. */
    setsockopt(io->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return 0;
}

static int tcp_connect(struct kmip *k)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (getaddrinfo(k->host, k->port, &hints, &res) != 0)
        return VL_ERR_KMS_UNAVAILABLE;
    int rc = VL_ERR_KMS_UNAVAILABLE;
    for (const struct addrinfo *ai = res; ai != NULL && rc != VL_OK; ai = ai->ai_next)
        rc = try_connect(ai, &k->io) == 0 ? VL_OK : VL_ERR_KMS_UNAVAILABLE;
    freeaddrinfo(res);
    return rc;
}

/* 1 for the TLS errors that mean "a certificate was refused". */
static int auth_reason(unsigned long e)
{
    if (ERR_GET_LIB(e) != ERR_LIB_SSL)
        return 0;
    switch (ERR_GET_REASON(e)) {
    case SSL_R_CERTIFICATE_VERIFY_FAILED:         /* we refused the server */
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:       /* the server refused us */
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED: return 1;
    default: return 0;
    }
}

/* After a failed TLS call: DENIED for a refused certificate, else
 * UNAVAILABLE. Empties this thread's OpenSSL error queue. */
static int tls_failure(void)
{
    int denied = 0;
    for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error())
        denied |= auth_reason(e);
    return denied ? VL_ERR_KMS_DENIED : VL_ERR_KMS_UNAVAILABLE;
}

/* The server certificate must name |host| (an IP SAN for an address). */
static int set_peer_name(SSL *ssl, const char *host)
{
    unsigned char addr[16];
    if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1)
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1;
    return SSL_set_tlsext_host_name(ssl, host) == 1 && SSL_set1_host(ssl, host) == 1;
}

static int conn_open(struct kmip *k)
{
    k->io.deadline_ms = now_ms() + k->connect_ms;
    k->io.timed_out = 0;
    int rc = tcp_connect(k);
    if (rc != VL_OK)
        return rc;
    BIO *b = BIO_new(k->meth);
    k->ssl = SSL_new(k->ctx);
    if (b == NULL || k->ssl == NULL || !set_peer_name(k->ssl, k->host)) {
        BIO_free(b);
        conn_close(k);
        ERR_clear_error();
        return VL_ERR_NOMEM;
    }
    BIO_set_data(b, &k->io);
    SSL_set_bio(k->ssl, b, b);
    if (SSL_connect(k->ssl) != 1) {
        rc = tls_failure();
        conn_close(k);
    }
    return rc;
}

/* ---- one exchange ---------------------------------------------------------- */

/* Reads exactly |n| bytes. *got says how many arrived before a failure. */
static int read_full(struct kmip *k, uint8_t *p, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n) {
        size_t r = 0;
        if (SSL_read_ex(k->ssl, p + *got, n - *got, &r) != 1)
            return tls_failure();
        *got += r;
    }
    return VL_OK;
}

/* Sends k->req and reads one whole reply into k->rsp. *stale: the
 * connection broke before any reply byte (not a timeout), the sign of a
 * connection the server had already dropped. */
static int exchange(struct kmip *k, size_t req_len, size_t *rsp_len, int *stale)
{
    size_t w = 0, got = 0, total = 0;
    k->io.deadline_ms = now_ms() + k->io_ms;
    k->io.timed_out = 0;
    *stale = 0;
    if (SSL_write_ex(k->ssl, k->req, req_len, &w) != 1 || w != req_len) {
        int rc = tls_failure();
        *stale = rc == VL_ERR_KMS_UNAVAILABLE && !k->io.timed_out;
        return rc;
    }
    int rc = read_full(k, k->rsp, VL_TTLV_HDR, &got);
    if (rc != VL_OK) {
        *stale = rc == VL_ERR_KMS_UNAVAILABLE && got == 0 && !k->io.timed_out;
        return rc;
    }
    if (vl_ttlv_msg_len(k->rsp, RSP_CAP, &total) != VL_OK)
        return VL_ERR_KMS_UNAVAILABLE;
    rc = read_full(k, k->rsp + VL_TTLV_HDR, total - VL_TTLV_HDR, &got);
    *rsp_len = rc == VL_OK ? total : 0;
    return rc;
}

/* k->req out, a reply in k->rsp: on the open connection, or a new one; once
 * more on a new one when a reused connection turns out stale. */
static int call(struct kmip *k, size_t req_len, size_t *rsp_len)
{
    *rsp_len = 0;
    for (int attempt = 0;; attempt++) {
        int reused = k->ssl != NULL && k->reused, stale = 0;
        int rc = k->ssl == NULL ? conn_open(k) : VL_OK;
        if (rc == VL_OK)
            rc = exchange(k, req_len, rsp_len, &stale);
        if (rc == VL_OK) {
            k->reused = 1;
            return VL_OK;
        }
        conn_close(k);
        if (!reused || !stale || attempt > 0)
            return rc;
    }
}

/* call + decode; a reply that is not one well-formed KMIP response to |op|
 * (for |uid|, when it names one) drops the connection. */
static int transact(struct kmip *k, uint32_t op, const char *uid, size_t uid_len,
                    size_t req_len, vl_kmip_reply *r)
{
    size_t rsp_len = 0;
    int rc = call(k, req_len, &rsp_len);
    if (rc == VL_OK && vl_kmip_decode_reply(k->rsp, rsp_len, r) != VL_OK)
        rc = VL_ERR_KMS_UNAVAILABLE;
    if (rc == VL_OK && ((r->op != 0 && r->op != op) ||
                        (r->uid != NULL && (r->uid_len != uid_len ||
                                            memcmp(r->uid, uid, uid_len) != 0))))
        rc = VL_ERR_KMS_UNAVAILABLE;
    if (rc != VL_OK) {
        memset(r, 0, sizeof *r);
        conn_close(k);
    }
    return rc;
}

/* ---- result reasons --------------------------------------------------------- */

static int state_code(uint32_t state, int fallback)
{
    switch (state) {
    case VL_KMIP_STATE_PRE_ACTIVE:
    case VL_KMIP_STATE_DEACTIVATED:
    case VL_KMIP_STATE_COMPROMISED: return VL_ERR_KEY_DISABLED;
    case VL_KMIP_STATE_DESTROYED:
    case VL_KMIP_STATE_DESTROYED_COMPROMISED: return VL_ERR_KEY_DESTROYED;
    default: return fallback;
    }
}

static int not_found(uint32_t op)
{
    return op == VL_KMIP_OP_DECRYPT ? VL_ERR_KEY_DESTROYED : VL_ERR_NOT_FOUND;
}

/* Permission Denied or Wrong Key Lifecycle State: the key's State decides.
 * |fallback| when the server will not say. */
static int ask_state(struct kmip *k, uint32_t op, const char *uid, size_t uid_len, int fallback)
{
    vl_kmip_reply r;
    size_t len = 0;
    vl_memzero(k->req, sizeof k->req);
    if (vl_kmip_encode_get_state(k->req, sizeof k->req, &len, uid, uid_len) != VL_OK ||
        transact(k, VL_KMIP_OP_GET_ATTRIBUTES, uid, uid_len, len, &r) != VL_OK)
        return fallback;
    if (r.status == VL_KMIP_STATUS_SUCCESS)
        return r.has_state ? state_code(r.state, fallback) : fallback;
    if (r.reason == VL_KMIP_REASON_ITEM_NOT_FOUND || r.reason == VL_KMIP_REASON_OBJECT_NOT_FOUND)
        return not_found(op);
    return r.reason == VL_KMIP_REASON_OBJECT_DESTROYED ? VL_ERR_KEY_DESTROYED : fallback;
}

static int failure_code(struct kmip *k, uint32_t op, const char *uid, size_t uid_len,
                        const vl_kmip_reply *r)
{
    if (r->status != VL_KMIP_STATUS_FAILED)
        return VL_ERR_KMS_UNAVAILABLE; /* pending, undone: not ours */
    switch (r->reason) {
    case VL_KMIP_REASON_AUTH_NOT_SUCCESSFUL:
    case VL_KMIP_REASON_NOT_AUTHORISED: return VL_ERR_KMS_DENIED;
    case VL_KMIP_REASON_ITEM_NOT_FOUND:
    case VL_KMIP_REASON_OBJECT_NOT_FOUND: return not_found(op);
    case VL_KMIP_REASON_OBJECT_DESTROYED: return VL_ERR_KEY_DESTROYED;
    case VL_KMIP_REASON_OBJECT_ARCHIVED:
    case VL_KMIP_REASON_USAGE_LIMIT_EXCEEDED: return VL_ERR_KEY_DISABLED;
    case VL_KMIP_REASON_PERMISSION_DENIED:
        return ask_state(k, op, uid, uid_len, VL_ERR_KMS_DENIED);
    case VL_KMIP_REASON_WRONG_STATE:
        return ask_state(k, op, uid, uid_len, VL_ERR_KEY_DISABLED);
    case VL_KMIP_REASON_CRYPTO_FAILURE:
    case VL_KMIP_REASON_GENERAL_FAILURE:
        return op == VL_KMIP_OP_DECRYPT ? VL_ERR_AUTH : VL_ERR_KMS_UNAVAILABLE;
    default: return VL_ERR_KMS_UNAVAILABLE;
    }
}

/* ---- wrap / unwrap ---------------------------------------------------------- */

static size_t make_aad(uint8_t aad[AAD_MAX], const char *uid, size_t uid_len)
{
    memcpy(aad, AAD_LABEL, AAD_LABEL_LEN);
    aad[AAD_LABEL_LEN] = BLOB_VERSION;
    memcpy(aad + AAD_LABEL_LEN + 1, uid, uid_len);
    return AAD_LABEL_LEN + 1 + uid_len;
}

/* Encrypt or Decrypt |c| under the lock; on success |r| points into
 * k->rsp, and the caller copies out before do_unlock. */
static int crypt_locked(struct kmip *k, vl_kmip_crypt *c, vl_kmip_reply *r)
{
    size_t len = 0;
    int rc = vl_kmip_encode_crypt(k->req, sizeof k->req, &len, c);
    if (rc == VL_OK)
        rc = transact(k, c->op, c->uid, c->uid_len, len, r);
    if (rc == VL_OK && r->status != VL_KMIP_STATUS_SUCCESS)
        rc = failure_code(k, c->op, c->uid, c->uid_len, r);
    return rc;
}

static void do_unlock(struct kmip *k)
{
    vl_memzero(k->req, sizeof k->req);
    vl_memzero(k->rsp, sizeof k->rsp);
    ERR_clear_error();
    pthread_mutex_unlock(&k->mu);
}

static size_t uid_len_of(const char *kek_id)
{
    size_t n = strnlen(kek_id, UID_MAX + 1);
    return n > UID_MAX ? 0 : n;
}

static int kmip_wrap(vl_kms *kms, const char *kek_id, const uint8_t *key, size_t key_len,
                     uint8_t *out, size_t out_cap, size_t *out_len)
{
    struct kmip *k = kms->ctx;
    uint8_t aad[AAD_MAX];
    vl_kmip_reply r;
    size_t uid_len = uid_len_of(kek_id);
    if (uid_len == 0 || out_cap < BLOB_OVERHEAD || out_cap - BLOB_OVERHEAD < key_len)
        return VL_ERR_ARG;
    out[0] = BLOB_VERSION;
    int rc = vl_random(out + 1, IV_BYTES);
    if (rc != VL_OK)
        return rc;
    vl_kmip_crypt c = {.op = VL_KMIP_OP_ENCRYPT, .uid = kek_id, .uid_len = uid_len,
                       .data = key, .data_len = key_len, .iv = out + 1, .iv_len = IV_BYTES,
                       .aad = aad, .aad_len = make_aad(aad, kek_id, uid_len)};
    pthread_mutex_lock(&k->mu);
    rc = crypt_locked(k, &c, &r);
    /* C and a 16-byte tag; an IV, if the server echoes one, must be ours. */
    if (rc == VL_OK && (r.data_len != key_len || r.tag_len != TAG_BYTES ||
                        (r.iv != NULL && (r.iv_len != IV_BYTES ||
                                          memcmp(r.iv, out + 1, IV_BYTES) != 0))))
        rc = VL_ERR_KMS_UNAVAILABLE;
    if (rc == VL_OK) {
        memcpy(out + BLOB_HDR, r.data, key_len);
        memcpy(out + BLOB_HDR + key_len, r.tag, TAG_BYTES);
        *out_len = BLOB_OVERHEAD + key_len;
    }
    do_unlock(k);
    return rc;
}

static int kmip_unwrap(vl_kms *kms, const char *kek_id, const uint8_t *blob, size_t blob_len,
                       uint8_t *out, size_t out_cap, size_t *out_len)
{
    struct kmip *k = kms->ctx;
    uint8_t aad[AAD_MAX];
    vl_kmip_reply r;
    size_t uid_len = uid_len_of(kek_id);
    if (uid_len == 0)
        return VL_ERR_ARG;
    /* Not a blob this provider wrote: altered, as far as we can tell. */
    if (blob_len <= BLOB_OVERHEAD || blob[0] != BLOB_VERSION ||
        blob_len - BLOB_OVERHEAD > VL_KMS_MAX_KEY)
        return VL_ERR_AUTH;
    size_t n = blob_len - BLOB_OVERHEAD;
    if (out_cap < n)
        return VL_ERR_ARG;
    vl_kmip_crypt c = {.op = VL_KMIP_OP_DECRYPT, .uid = kek_id, .uid_len = uid_len,
                       .data = blob + BLOB_HDR, .data_len = n, .iv = blob + 1,
                       .iv_len = IV_BYTES, .aad = aad,
                       .aad_len = make_aad(aad, kek_id, uid_len),
                       .tag = blob + BLOB_HDR + n, .tag_len = TAG_BYTES};
    pthread_mutex_lock(&k->mu);
    int rc = crypt_locked(k, &c, &r);
    if (rc == VL_OK && r.data_len != n)
        rc = VL_ERR_KMS_UNAVAILABLE;
    if (rc == VL_OK) {
        memcpy(out, r.data, n);
        *out_len = n;
    }
    do_unlock(k);
    return rc;
}

/* ---- lifetime --------------------------------------------------------------- */

static void kmip_free(struct kmip *k)
{
    if (k->ssl != NULL) { /* close_notify, without waiting for the reply */
        k->io.deadline_ms = now_ms() + 200;
        SSL_shutdown(k->ssl);
    }
    conn_close(k);
    SSL_CTX_free(k->ctx);
    BIO_meth_free(k->meth);
    pthread_mutex_destroy(&k->mu);
    vl_memzero(k, sizeof *k);
    free(k);
    ERR_clear_error();
}

static void kmip_close(vl_kms *kms)
{
    kmip_free(kms->ctx);
}

static const vl_kms_ops KMIP_OPS = {
    .size = sizeof(vl_kms_ops),
    .name = "kmip",
    .wrap = kmip_wrap,
    .unwrap = kmip_unwrap,
    .probe = NULL, /* the front end's wrap + unwrap round trip */
    .close = kmip_close,
};

static int readable(const char *path)
{
    return path != NULL && path[0] != '\0' && access(path, R_OK) == 0;
}

static EVP_PKEY *read_key(const char *path)
{
    BIO *b = BIO_new_file(path, "r");
    EVP_PKEY *pkey = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return pkey;
}

/* TLS 1.2+, the server verified against ca_file, our certificate and key. */
static int make_ctx(struct kmip *k, const vl_kms_kmip_config *cfg)
{
    if (!readable(cfg->ca_file) || !readable(cfg->cert_file) || !readable(cfg->key_file))
        return VL_ERR_IO;
    k->ctx = SSL_CTX_new(TLS_client_method());
    k->meth = bio_method();
    if (k->ctx == NULL || k->meth == NULL ||
        SSL_CTX_set_min_proto_version(k->ctx, TLS1_2_VERSION) != 1)
        return VL_ERR_NOMEM;
    SSL_CTX_set_verify(k->ctx, SSL_VERIFY_PEER, NULL);
    EVP_PKEY *pkey = read_key(cfg->key_file);
    int rc = VL_OK;
    if (pkey == NULL || SSL_CTX_load_verify_locations(k->ctx, cfg->ca_file, NULL) != 1 ||
        SSL_CTX_use_certificate_chain_file(k->ctx, cfg->cert_file) != 1)
        rc = VL_ERR_FORMAT;
    else if (SSL_CTX_use_PrivateKey(k->ctx, pkey) != 1 || SSL_CTX_check_private_key(k->ctx) != 1)
        rc = VL_ERR_ARG; /* the key is not the certificate's */
    EVP_PKEY_free(pkey);
    return rc;
}

static int config_ok(const vl_kms_kmip_config *cfg)
{
    return cfg != NULL && cfg->host != NULL && cfg->host[0] != '\0' &&
           strnlen(cfg->host, HOST_MAX + 1) <= HOST_MAX && cfg->ca_file != NULL &&
           cfg->cert_file != NULL && cfg->key_file != NULL;
}

int vl_kms_kmip_new(vl_kms **out, const vl_kms_kmip_config *cfg)
{
    if (out == NULL)
        return VL_ERR_ARG;
    *out = NULL;
    if (!config_ok(cfg))
        return VL_ERR_ARG;
    struct kmip *k = calloc(1, sizeof *k);
    if (k == NULL)
        return VL_ERR_NOMEM;
    k->io.fd = -1;
    if (pthread_mutex_init(&k->mu, NULL) != 0) {
        free(k);
        return VL_ERR_NOMEM;
    }
    strcpy(k->host, cfg->host);
    snprintf(k->port, sizeof k->port, "%u", cfg->port != 0 ? cfg->port : DEFAULT_PORT);
    k->connect_ms = cfg->connect_timeout_ms != 0 ? cfg->connect_timeout_ms : DEFAULT_CONNECT_MS;
    k->io_ms = cfg->io_timeout_ms != 0 ? cfg->io_timeout_ms : DEFAULT_IO_MS;
    int rc = make_ctx(k, cfg);
    if (rc != VL_OK) {
        kmip_free(k);
        return rc;
    }
    k->kms.ops = &KMIP_OPS;
    k->kms.ctx = k;
    *out = &k->kms;
    return VL_OK;
}
