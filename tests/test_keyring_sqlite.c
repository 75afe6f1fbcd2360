/* The keyring's usage guarantee across processes and crashes, with the
 * SQLite store: a child encrypting fields is killed with SIGKILL mid-run, a
 * new process carries on, and two processes encrypt at once on one store
 * file. The seals of every DEK version are counted from the ciphertexts
 * themselves (the version prefix of each field) and must never pass the
 * version's max_seals; every field must still decrypt. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "vellum.h"

#define SECRET "keyring-sqlite-secret"
#define MAX_SEALS 300
#define PT_LEN 16
/* versioned AES-256-GCM field: prefix 5 + nonce 12 + body + tag 16 */
#define FIELD_LEN (5 + 12 + PT_LEN + 16)
#define MAX_FIELDS 20000

static char dir[64], db[128];
static uint8_t fields[MAX_FIELDS][FIELD_LEN];
static size_t nfields;

struct ring {
    vl_store *store;
    vl_kms *kms;
    vl_keyring *kr;
};

static int ring_open(struct ring *r)
{
    vl_keyring_config cfg = {0};
    int rc = vl_store_sqlite_open(&r->store, db);
    if (rc == VL_OK)
        rc = vl_kms_local_new(&r->kms, SECRET, strlen(SECRET));
    cfg.store = r->store;
    cfg.versioned = 1;
    cfg.dek_limits = (vl_limits){MAX_SEALS, UINT64_MAX, UINT64_MAX, MAX_SEALS};
    cfg.reserve_min = 8;
    cfg.reserve_max = 64;
    if (rc == VL_OK)
        rc = vl_keyring_new(&r->kr, &cfg);
    if (rc == VL_OK)
        rc = vl_keyring_register_kms(r->kr, "local-kms", r->kms);
    return rc;
}

static void ring_close(struct ring *r)
{
    vl_keyring_free(r->kr);
    vl_kms_close(r->kms);
    vl_store_close(r->store);
}

/* Child: encrypt |count| fields (0 = until killed), each written whole to
 * |fd| (FIELD_LEN < PIPE_BUF, so a write is atomic), then exit. */
static void encrypt_child(int fd, int count)
{
    struct ring r;
    if (ring_open(&r) != VL_OK)
        _exit(3);
    uint8_t pt[PT_LEN];
    memset(pt, 'p', sizeof pt);
    for (int i = 0; count == 0 || i < count; i++) {
        uint8_t out[FIELD_LEN];
        size_t n;
        int rc = vl_field_encrypt(r.kr, "kek", "subj", VL_AES256_GCM, pt, sizeof pt, out,
                                  sizeof out, &n);
        if (rc != VL_OK || n != FIELD_LEN || write(fd, out, n) != (ssize_t)n)
            _exit(4);
    }
    ring_close(&r);
    _exit(0);
}

static pid_t spawn(int *rfd, int count)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(p[0]);
        encrypt_child(p[1], count);
    }
    close(p[1]);
    *rfd = p[0];
    return pid;
}

/* Reads whole fields from |fd| until EOF or |limit| fields; a torn tail
 * (the writer killed mid-write cannot happen for one atomic write, but be
 * safe) is dropped. */
static void collect(int fd, size_t limit)
{
    uint8_t buf[FIELD_LEN];
    size_t have = 0;
    while (nfields < MAX_FIELDS && nfields < limit) {
        ssize_t r = read(fd, buf + have, FIELD_LEN - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        have += (size_t)r;
        if (have == FIELD_LEN) {
            memcpy(fields[nfields++], buf, FIELD_LEN);
            have = 0;
        }
    }
}

static void setup(void)
{
    strcpy(dir, "/tmp/vl-krsql-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/store.db", dir);
    nfields = 0;
    struct ring r;
    cr_assert_eq(ring_open(&r), VL_OK);
    cr_assert_eq(vl_kek_create(r.kr, "kek", "local-kms", "k1", 0, "crash test"), VL_OK);
    ring_close(&r);
}

static void teardown(void)
{
    char path[160];
    static const char *const files[] = {"store.db", "store.db-wal", "store.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* Seals per version from the fields' prefixes; every field decrypts. */
static void verify_fields(void)
{
    static size_t per_version[1024];
    memset(per_version, 0, sizeof per_version);
    struct ring r;
    cr_assert_eq(ring_open(&r), VL_OK);
    int32_t top = 0;
    for (size_t i = 0; i < nfields; i++) {
        const uint8_t *f = fields[i];
        cr_assert_eq(f[0], 0, "field %zu: magic byte", i);
        int32_t v = (int32_t)((uint32_t)f[1] << 24 | (uint32_t)f[2] << 16 | (uint32_t)f[3] << 8 | f[4]);
        cr_assert(v >= 1 && v < 1024, "field %zu: version %d", i, v);
        per_version[v]++;
        top = v > top ? v : top;
        uint8_t pt[PT_LEN + 16];
        size_t n;
        cr_assert_eq(vl_field_decrypt(r.kr, "kek", "subj", VL_AES256_GCM, f, FIELD_LEN, pt,
                                      sizeof pt, &n),
                     VL_OK, "field %zu (version %d) does not decrypt", i, v);
        cr_assert_eq(n, PT_LEN);
    }
    for (int32_t v = 1; v <= top; v++)
        cr_assert_leq(per_version[v], MAX_SEALS, "version %d sealed %zu fields, limit %d", v,
                      per_version[v], MAX_SEALS);
    cr_log_info("%zu fields over %d DEK versions, none past %d seals", nfields, top, MAX_SEALS);
    ring_close(&r);
}

Test(keyring_sqlite, sigkill_mid_run_then_a_new_process_continues, .init = setup,
     .fini = teardown, .timeout = 120)
{
    int fd;
    pid_t pid = spawn(&fd, 0);
    collect(fd, 700); /* past at least two rotations, then kill */
    cr_assert_eq(kill(pid, SIGKILL), 0);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    collect(fd, MAX_FIELDS); /* whatever it wrote before dying */
    close(fd);
    size_t before = nfields;

    pid = spawn(&fd, 800); /* a new process continues on the same store */
    collect(fd, MAX_FIELDS);
    close(fd);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "second process status %d", status);
    cr_assert_eq(nfields, before + 800);
    verify_fields();
}

Test(keyring_sqlite, two_processes_share_one_store, .init = setup, .fini = teardown,
     .timeout = 120)
{
    int fd[2];
    pid_t pid[2];
    for (int i = 0; i < 2; i++)
        pid[i] = spawn(&fd[i], 700);
    /* Drain both pipes (one after the other: each child only blocks once its
     * pipe buffer is full, and 700 fields fit in the 64 KiB pipe). */
    for (int i = 0; i < 2; i++) {
        int status;
        cr_assert_eq(waitpid(pid[i], &status, 0), pid[i]);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d status %d", i,
                  status);
        collect(fd[i], MAX_FIELDS);
        close(fd[i]);
    }
    cr_assert_eq(nfields, 1400);
    verify_fields();
}
