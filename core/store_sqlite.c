/* The SQLite record store (build/libvellum-sqlite.a; link -lsqlite3).
 *
 * One file, shared by any number of processes, each with any number of
 * threads:
 * - One connection per vl_store, guarded by a mutex: every operation is a
 *   few statements, so serializing the threads of one process costs less
 *   than a connection (and its statement cache) per call. Statements are
 *   prepared once at open.
 * - WAL journal, so readers never wait for the writer; busy_timeout lets
 *   several processes queue for the write lock instead of failing. A lock
 *   still held after BUSY_TIMEOUT_MS is VL_ERR_IO.
 * - Read-modify-write operations (reserve, update of a DEK) run in BEGIN
 *   IMMEDIATE transactions: the write lock is taken before the read, so two
 *   processes can neither interleave nor deadlock on a lock upgrade.
 * - synchronous=FULL: each commit fsyncs the WAL before returning. With
 *   NORMAL a commit survives the process being killed (SIGKILL included:
 *   the WAL pages are already in the OS page cache) but not power loss or
 *   a kernel crash, after which a reservation already handed to a sealer
 *   could roll back and be handed out again. store.h promises "no crash",
 *   so FULL; the keyring's adaptive reservation chunk amortizes the fsync
 *   (measured on a VM with ext4: reserve ~4 ms with FULL, ~10 us NORMAL).
 * - secure_delete: deleted rows (wrapped DEKs) are overwritten with zeros
 *   in the database file. Copies may persist in the WAL until it is
 *   checkpointed and overwritten.
 * - Every value read back is untrusted (anyone who can write the file can
 *   put anything in it): types, string lengths, embedded NULs, blob
 *   lengths, alg, version and flags are checked; a bad row is
 *   VL_ERR_FORMAT. A corrupt file is VL_ERR_FORMAT, other SQLite failures
 *   VL_ERR_IO, out of memory VL_ERR_NOMEM.
 * - reserved_seals is a uint64_t kept in an INTEGER (int64) column bit for
 *   bit, so all arithmetic on it happens here, in C, never in SQL.
 *
 * A vl_store must not be used across fork(): the child opens its own. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "internal.h"
#include "store_int.h"

#define BUSY_TIMEOUT_MS 10000
#define SCHEMA_VERSION 1
#define STR_(x) #x
#define STR(x) STR_(x)

#define KEK_COLS "name, kms_type, kms_key_id, kms_props, doc, shared, deleted, ts_ms"
#define DEK_COLS "kek_name, subject, alg, version, wrapped, ts_ms, deleted, reserved_seals"
#define DEK_KEY "kek_name = ?1 AND subject = ?2 AND alg = ?3 AND version = ?4"

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS keks ("
    " name TEXT NOT NULL PRIMARY KEY, kms_type TEXT NOT NULL, kms_key_id TEXT NOT NULL,"
    " kms_props TEXT NOT NULL, doc TEXT NOT NULL, shared INTEGER NOT NULL,"
    " deleted INTEGER NOT NULL, ts_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS deks ("
    " kek_name TEXT NOT NULL, subject TEXT NOT NULL, alg INTEGER NOT NULL,"
    " version INTEGER NOT NULL, wrapped BLOB NOT NULL, ts_ms INTEGER NOT NULL,"
    " deleted INTEGER NOT NULL, reserved_seals INTEGER NOT NULL,"
    " PRIMARY KEY (kek_name, subject, alg, version));";

enum {
    S_BEGIN, S_COMMIT, S_ROLLBACK,
    S_KEK_INSERT, S_KEK_UPSERT, S_KEK_GET, S_KEK_ALL, S_KEK_DEL,
    S_DEK_INSERT, S_DEK_UPSERT, S_DEK_GET, S_DEK_LATEST, S_DEK_ALL, S_DEK_OF, S_DEK_DEL,
    S_RES_GET, S_RES_SET,
    S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_KEK_INSERT] = "INSERT INTO keks (" KEK_COLS ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
    [S_KEK_UPSERT] = "INSERT OR REPLACE INTO keks (" KEK_COLS ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
    [S_KEK_GET] = "SELECT " KEK_COLS " FROM keks WHERE name = ?1",
    [S_KEK_ALL] = "SELECT " KEK_COLS " FROM keks ORDER BY name",
    [S_KEK_DEL] = "DELETE FROM keks WHERE name = ?1",
    [S_DEK_INSERT] = "INSERT INTO deks (" DEK_COLS ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
    [S_DEK_UPSERT] = "INSERT OR REPLACE INTO deks (" DEK_COLS ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
    [S_DEK_GET] = "SELECT " DEK_COLS " FROM deks WHERE " DEK_KEY,
    [S_DEK_LATEST] = "SELECT " DEK_COLS " FROM deks WHERE kek_name = ?1 AND subject = ?2"
                     " AND alg = ?3 ORDER BY version DESC LIMIT 1",
    [S_DEK_ALL] = "SELECT " DEK_COLS " FROM deks ORDER BY kek_name, subject, alg, version",
    [S_DEK_OF] = "SELECT " DEK_COLS " FROM deks WHERE kek_name = ?1"
                 " ORDER BY subject, alg, version",
    [S_DEK_DEL] = "DELETE FROM deks WHERE " DEK_KEY,
    [S_RES_GET] = "SELECT reserved_seals FROM deks WHERE " DEK_KEY,
    [S_RES_SET] = "UPDATE deks SET reserved_seals = ?5 WHERE " DEK_KEY,
};

typedef struct sql_store {
    pthread_mutex_t mu;
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
} sql_store;

static sql_store *sql_of(vl_store *s)
{
    return (sql_store *)s->ctx;
}

/* ---- errors, statements, transactions ------------------------------------ */

static int map_err(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return VL_OK;
    case SQLITE_NOMEM:
        return VL_ERR_NOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return VL_ERR_FORMAT;
    default: /* SQLITE_BUSY after the timeout included */
        return VL_ERR_IO;
    }
}

/* The statement |i|, reset and unbound, ready for new parameters. */
static sqlite3_stmt *stmt(sql_store *q, int i)
{
    sqlite3_reset(q->st[i]);
    sqlite3_clear_bindings(q->st[i]);
    return q->st[i];
}

/* Runs a statement that returns no rows (or whose rows don't matter). */
static int run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? VL_OK : map_err(rc);
}

static int begin(sql_store *q)
{
    return run(stmt(q, S_BEGIN));
}

/* Commits when |rc| is VL_OK, else rolls back; returns the first error. A
 * failed COMMIT rolls back too: nothing was handed out, so a reservation
 * that might have reached the disk anyway is only wasted budget. */
static int end(sql_store *q, int rc)
{
    if (rc == VL_OK)
        rc = run(stmt(q, S_COMMIT));
    if (rc != VL_OK && sqlite3_get_autocommit(q->db) == 0)
        run(stmt(q, S_ROLLBACK));
    return rc;
}

/* ---- binding and reading records ----------------------------------------- */

static void bind_text(sqlite3_stmt *st, int col, const char *s)
{
    sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
}

static void bind_key(sqlite3_stmt *st, const vl_dek_id *id)
{
    bind_text(st, 1, id->kek_name);
    bind_text(st, 2, id->subject);
    sqlite3_bind_int(st, 3, (int)id->alg);
    sqlite3_bind_int(st, 4, id->version);
}

static void bind_kek(sqlite3_stmt *st, const vl_kek_record *r)
{
    bind_text(st, 1, r->name);
    bind_text(st, 2, r->kms_type);
    bind_text(st, 3, r->kms_key_id);
    bind_text(st, 4, r->kms_props);
    bind_text(st, 5, r->doc);
    sqlite3_bind_int(st, 6, r->shared);
    sqlite3_bind_int(st, 7, r->deleted);
    sqlite3_bind_int64(st, 8, r->ts_ms);
}

static void bind_dek(sqlite3_stmt *st, const vl_dek_record *r, uint64_t reserved)
{
    vl_dek_id id = {r->kek_name, r->subject, r->alg, r->version};
    bind_key(st, &id);
    /* r->wrapped is an array, never NULL: an empty blob stays a BLOB. */
    sqlite3_bind_blob(st, 5, r->wrapped, (int)r->wrapped_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, r->ts_ms);
    sqlite3_bind_int(st, 7, r->deleted);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)reserved); /* bit for bit */
}

/* A TEXT column into |dst| (|cap| bytes with the NUL): no embedded NUL,
 * no truncation. */
static int col_text(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
    if (sqlite3_column_type(st, col) != SQLITE_TEXT)
        return VL_ERR_FORMAT;
    const unsigned char *t = sqlite3_column_text(st, col);
    int n = sqlite3_column_bytes(st, col);
    if (t == NULL)
        return VL_ERR_NOMEM;
    if (n < 0 || (size_t)n >= cap || memchr(t, '\0', (size_t)n) != NULL)
        return VL_ERR_FORMAT;
    memcpy(dst, t, (size_t)n);
    dst[n] = '\0';
    return VL_OK;
}

static int col_int(sqlite3_stmt *st, int col, int64_t *v)
{
    if (sqlite3_column_type(st, col) != SQLITE_INTEGER)
        return VL_ERR_FORMAT;
    *v = sqlite3_column_int64(st, col);
    return VL_OK;
}

/* An INTEGER column that must lie in [lo, hi]. */
static int col_range(sqlite3_stmt *st, int col, int64_t lo, int64_t hi, int64_t *v)
{
    int rc = col_int(st, col, v);
    return rc == VL_OK && (*v < lo || *v > hi) ? VL_ERR_FORMAT : rc;
}

static int read_kek(sqlite3_stmt *st, vl_kek_record *r)
{
    int64_t shared, deleted;
    memset(r, 0, sizeof *r);
    int rc = col_text(st, 0, r->name, sizeof r->name);
    if (rc == VL_OK)
        rc = col_text(st, 1, r->kms_type, sizeof r->kms_type);
    if (rc == VL_OK)
        rc = col_text(st, 2, r->kms_key_id, sizeof r->kms_key_id);
    if (rc == VL_OK)
        rc = col_text(st, 3, r->kms_props, sizeof r->kms_props);
    if (rc == VL_OK)
        rc = col_text(st, 4, r->doc, sizeof r->doc);
    if (rc == VL_OK)
        rc = col_range(st, 5, 0, 1, &shared);
    if (rc == VL_OK)
        rc = col_range(st, 6, 0, 1, &deleted);
    if (rc == VL_OK)
        rc = col_int(st, 7, &r->ts_ms);
    if (rc == VL_OK) {
        r->shared = (int)shared;
        r->deleted = (int)deleted;
        rc = vl_store_check_kek(r) == VL_OK ? VL_OK : VL_ERR_FORMAT;
    }
    if (rc != VL_OK)
        memset(r, 0, sizeof *r);
    return rc;
}

static int col_wrapped(sqlite3_stmt *st, int col, vl_dek_record *r)
{
    if (sqlite3_column_type(st, col) != SQLITE_BLOB)
        return VL_ERR_FORMAT;
    const void *b = sqlite3_column_blob(st, col);
    int n = sqlite3_column_bytes(st, col);
    if (n < 0 || (size_t)n > sizeof r->wrapped)
        return VL_ERR_FORMAT;
    if (n > 0 && b == NULL)
        return VL_ERR_NOMEM;
    if (n > 0)
        memcpy(r->wrapped, b, (size_t)n);
    r->wrapped_len = (size_t)n;
    return VL_OK;
}

static int read_dek(sqlite3_stmt *st, vl_dek_record *r)
{
    int64_t alg, version, deleted, reserved;
    memset(r, 0, sizeof *r);
    int rc = col_text(st, 0, r->kek_name, sizeof r->kek_name);
    if (rc == VL_OK)
        rc = col_text(st, 1, r->subject, sizeof r->subject);
    if (rc == VL_OK)
        rc = col_range(st, 2, VL_AES128_GCM, VL_AES256_SIV, &alg);
    if (rc == VL_OK)
        rc = col_range(st, 3, 1, INT32_MAX, &version);
    if (rc == VL_OK)
        rc = col_wrapped(st, 4, r);
    if (rc == VL_OK)
        rc = col_int(st, 5, &r->ts_ms);
    if (rc == VL_OK)
        rc = col_range(st, 6, 0, 1, &deleted);
    if (rc == VL_OK)
        rc = col_int(st, 7, &reserved);
    if (rc == VL_OK) {
        r->alg = (vl_alg)alg;
        r->version = (int32_t)version;
        r->deleted = (int)deleted;
        r->reserved_seals = (uint64_t)reserved;
        rc = vl_store_check_dek(r) == VL_OK ? VL_OK : VL_ERR_FORMAT;
    }
    if (rc != VL_OK)
        vl_memzero(r, sizeof *r);
    return rc;
}

/* Steps |st| for its single row: VL_OK with the row read, NOT_FOUND. */
static int get_one(sqlite3_stmt *st, int (*rd)(sqlite3_stmt *, void *), void *out)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        rc = rd(st, out);
    else
        rc = rc == SQLITE_DONE ? VL_ERR_NOT_FOUND : map_err(rc);
    sqlite3_reset(st);
    return rc;
}

static int rd_kek(sqlite3_stmt *st, void *out)
{
    return read_kek(st, out);
}

static int rd_dek(sqlite3_stmt *st, void *out)
{
    return read_dek(st, out);
}

/* ---- KEKs ------------------------------------------------------------------ */

/* A failed primary-key insert is the one constraint this schema has. */
static int insert_rc(int rc)
{
    return (rc & 0xff) == SQLITE_CONSTRAINT ? VL_ERR_EXISTS : map_err(rc);
}

static int sql_put_kek(vl_store *s, const vl_kek_record *r, int create)
{
    if (vl_store_check_kek(r) != VL_OK)
        return VL_ERR_ARG;
    sql_store *q = sql_of(s);
    pthread_mutex_lock(&q->mu);
    sqlite3_stmt *st = stmt(q, create ? S_KEK_INSERT : S_KEK_UPSERT);
    bind_kek(st, r);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    pthread_mutex_unlock(&q->mu);
    return rc == SQLITE_DONE ? VL_OK : insert_rc(rc);
}

static int sql_get_kek(vl_store *s, const char *name, vl_kek_record *out)
{
    if (!vl_store_str_ok(name, VL_NAME_MAX, 1) || out == NULL)
        return VL_ERR_ARG;
    sql_store *q = sql_of(s);
    pthread_mutex_lock(&q->mu);
    sqlite3_stmt *st = stmt(q, S_KEK_GET);
    bind_text(st, 1, name);
    int rc = get_one(st, rd_kek, out);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

static int sql_delete(vl_store *s, int which, const char *name, const vl_dek_id *id)
{
    sql_store *q = sql_of(s);
    pthread_mutex_lock(&q->mu);
    sqlite3_stmt *st = stmt(q, which);
    if (id != NULL)
        bind_key(st, id);
    else
        bind_text(st, 1, name);
    int rc = run(st);
    if (rc == VL_OK && sqlite3_changes(q->db) == 0)
        rc = VL_ERR_NOT_FOUND;
    pthread_mutex_unlock(&q->mu);
    return rc;
}

static int sql_delete_kek(vl_store *s, const char *name)
{
    if (!vl_store_str_ok(name, VL_NAME_MAX, 1))
        return VL_ERR_ARG;
    return sql_delete(s, S_KEK_DEL, name, NULL);
}

/* ---- iteration --------------------------------------------------------------- */

/* Reads every row of |st| into a fresh array of |elem|-byte records, so
 * the callbacks run with no lock held and no statement open (a callback
 * may call back into the store). Any malformed row fails the whole read. */
static int read_all(sqlite3_stmt *st, int (*rd)(sqlite3_stmt *, void *), size_t elem,
                    void **out, size_t *n)
{
    unsigned char *arr = NULL;
    size_t k = 0, cap = 0;
    int rc = VL_OK, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (k == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            void *p = ncap <= SIZE_MAX / elem ? malloc(ncap * elem) : NULL;
            if (p == NULL) {
                step = SQLITE_NOMEM;
                break;
            }
            if (k > 0)
                memcpy(p, arr, k * elem);
            vl_memzero(arr, cap * elem);
            free(arr);
            arr = p;
            cap = ncap;
        }
        if ((rc = rd(st, arr + k * elem)) != VL_OK)
            break;
        k++;
    }
    rc = step == SQLITE_ROW ? rc : step == SQLITE_DONE ? VL_OK : map_err(step);
    sqlite3_reset(st);
    if (rc != VL_OK) {
        vl_memzero(arr, cap * elem);
        free(arr);
        arr = NULL;
        k = 0;
    }
    *out = arr;
    *n = k;
    return rc;
}

static int sql_each_kek(vl_store *s, int (*fn)(void *arg, const vl_kek_record *r), void *arg)
{
    if (fn == NULL)
        return VL_ERR_ARG;
    sql_store *q = sql_of(s);
    void *all;
    size_t n;
    pthread_mutex_lock(&q->mu);
    int rc = read_all(stmt(q, S_KEK_ALL), rd_kek, sizeof(vl_kek_record), &all, &n);
    pthread_mutex_unlock(&q->mu);
    const vl_kek_record *r = all;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = fn(arg, &r[i]);
    free(all);
    return rc;
}

static int sql_each_dek(vl_store *s, const char *kek_name,
                        int (*fn)(void *arg, const vl_dek_record *r), void *arg)
{
    if (fn == NULL || (kek_name != NULL && !vl_store_str_ok(kek_name, VL_NAME_MAX, 1)))
        return VL_ERR_ARG;
    sql_store *q = sql_of(s);
    void *all;
    size_t n;
    pthread_mutex_lock(&q->mu);
    sqlite3_stmt *st = stmt(q, kek_name != NULL ? S_DEK_OF : S_DEK_ALL);
    if (kek_name != NULL)
        bind_text(st, 1, kek_name);
    int rc = read_all(st, rd_dek, sizeof(vl_dek_record), &all, &n);
    pthread_mutex_unlock(&q->mu);
    const vl_dek_record *r = all;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = fn(arg, &r[i]);
    vl_memzero(all, n * sizeof(vl_dek_record));
    free(all);
    return rc;
}

/* ---- DEKs and reservations ------------------------------------------------------ */

/* The stored reserved_seals of |id| (inside a transaction). */
static int reserved_of(sql_store *q, const vl_dek_id *id, uint64_t *out)
{
    sqlite3_stmt *st = stmt(q, S_RES_GET);
    bind_key(st, id);
    int step = sqlite3_step(st), rc;
    if (step == SQLITE_ROW) {
        int64_t v = 0;
        rc = col_int(st, 0, &v);
        *out = (uint64_t)v;
    } else {
        rc = step == SQLITE_DONE ? VL_ERR_NOT_FOUND : map_err(step);
    }
    sqlite3_reset(st);
    return rc;
}

static int set_reserved(sql_store *q, const vl_dek_id *id, uint64_t v)
{
    sqlite3_stmt *st = stmt(q, S_RES_SET);
    bind_key(st, id);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)v);
    return run(st);
}

/* Update: read the stored reserved_seals and write the record with the
 * larger of the two, under one write lock, so a reservation made by
 * another process between the caller's read and this write survives. */
static int update_dek(sql_store *q, const vl_dek_record *r)
{
    vl_dek_id id = {r->kek_name, r->subject, r->alg, r->version};
    uint64_t reserved = 0;
    int rc = begin(q);
    if (rc != VL_OK)
        return rc;
    rc = reserved_of(q, &id, &reserved);
    if (rc == VL_ERR_NOT_FOUND)
        rc = VL_OK;
    if (rc == VL_OK) {
        sqlite3_stmt *st = stmt(q, S_DEK_UPSERT);
        bind_dek(st, r, reserved > r->reserved_seals ? reserved : r->reserved_seals);
        rc = run(st);
    }
    return end(q, rc);
}

static int sql_put_dek(vl_store *s, const vl_dek_record *r, int create)
{
    if (vl_store_check_dek(r) != VL_OK)
        return VL_ERR_ARG;
    sql_store *q = sql_of(s);
    int rc;
    pthread_mutex_lock(&q->mu);
    if (create) {
        sqlite3_stmt *st = stmt(q, S_DEK_INSERT);
        bind_dek(st, r, r->reserved_seals);
        int step = sqlite3_step(st);
        sqlite3_reset(st);
        rc = step == SQLITE_DONE ? VL_OK : insert_rc(step);
    } else {
        rc = update_dek(q, r);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

static int sql_get_dek(vl_store *s, const vl_dek_id *id, vl_dek_record *out)
{
    if (vl_store_check_id(id, 1) != VL_OK || out == NULL)
        return VL_ERR_ARG;
    sql_store *q = sql_of(s);
    pthread_mutex_lock(&q->mu);
    sqlite3_stmt *st = stmt(q, id->version == -1 ? S_DEK_LATEST : S_DEK_GET);
    bind_text(st, 1, id->kek_name);
    bind_text(st, 2, id->subject);
    sqlite3_bind_int(st, 3, (int)id->alg);
    if (id->version != -1)
        sqlite3_bind_int(st, 4, id->version);
    int rc = get_one(st, rd_dek, out);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

static int sql_delete_dek(vl_store *s, const vl_dek_id *id)
{
    if (vl_store_check_id(id, 0) != VL_OK)
        return VL_ERR_ARG;
    return sql_delete(s, S_DEK_DEL, NULL, id);
}

/* The grant is computed and written inside one IMMEDIATE transaction and
 * returned only after COMMIT (fsync'd, synchronous=FULL) succeeds. */
static int sql_reserve(vl_store *s, const vl_dek_id *id, uint64_t want, uint64_t max,
                       uint64_t *start, uint64_t *granted)
{
    if (start == NULL || granted == NULL)
        return VL_ERR_ARG;
    *start = 0;
    *granted = 0;
    if (vl_store_check_id(id, 0) != VL_OK)
        return VL_ERR_ARG;
    sql_store *q = sql_of(s);
    uint64_t cur = 0, g = 0;
    pthread_mutex_lock(&q->mu);
    int rc = begin(q);
    if (rc == VL_OK) {
        rc = reserved_of(q, id, &cur);
        g = rc == VL_OK ? vl_store_grant(cur, want, max) : 0;
        if (rc == VL_OK && g > 0)
            rc = set_reserved(q, id, cur + g);
        rc = end(q, rc);
    }
    pthread_mutex_unlock(&q->mu);
    if (rc == VL_OK) {
        *start = cur;
        *granted = g;
    }
    return rc;
}

/* ---- open and close ------------------------------------------------------------ */

static void sql_free(sql_store *q)
{
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(q->st[i]);
    sqlite3_close(q->db);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

static void sql_close(vl_store *s)
{
    sql_free(sql_of(s));
    free(s);
}

static const vl_store_ops sql_ops = {
    .size = sizeof(vl_store_ops),
    .name = "sqlite",
    .put_kek = sql_put_kek,
    .get_kek = sql_get_kek,
    .each_kek = sql_each_kek,
    .delete_kek = sql_delete_kek,
    .put_dek = sql_put_dek,
    .get_dek = sql_get_dek,
    .each_dek = sql_each_dek,
    .delete_dek = sql_delete_dek,
    .reserve = sql_reserve,
    .close = sql_close,
};

/* Runs |sql| (one statement) and, if it returns a row, copies column 0 as
 * text into |out| (or as an integer into |num|). Returns the SQLite code. */
static int pragma(sqlite3 *db, const char *sql, char *out, size_t cap, int64_t *num)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && out != NULL) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(out, cap, "%s", t != NULL ? (const char *)t : "");
    }
    if (rc == SQLITE_ROW && num != NULL)
        *num = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Switching a new file to WAL takes an exclusive lock and SQLite does not
 * run the busy handler for it: processes opening a fresh file at the same
 * moment get SQLITE_BUSY at once (seen in tests/test_store.c). So retry
 * here, for as long as the busy timeout would have waited. */
static int set_wal(sqlite3 *db)
{
    char mode[16] = "";
    int rc;
    for (int waited = 0;; waited += 5) {
        rc = pragma(db, "PRAGMA journal_mode=WAL", mode, sizeof mode, NULL);
        if ((rc & 0xff) != SQLITE_BUSY || waited >= BUSY_TIMEOUT_MS)
            break;
        sqlite3_sleep(5);
    }
    if (rc != SQLITE_OK)
        return map_err(rc);
    /* "memory" is what an in-memory database (":memory:") reports. */
    return strcmp(mode, "wal") == 0 || strcmp(mode, "memory") == 0 ? VL_OK : VL_ERR_IO;
}

/* Connection settings; none of them persist in the file but WAL. */
static int configure(sqlite3 *db)
{
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    /* The file is untrusted: no triggers or views with side effects, no
     * writes to the schema table through SQL. */
#ifdef SQLITE_DBCONFIG_DEFENSIVE /* SQLite >= 3.26 */
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
#endif
#ifdef SQLITE_DBCONFIG_TRUSTED_SCHEMA /* SQLite >= 3.31 */
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
#endif
    int rc = set_wal(db);
    if (rc == VL_OK)
        rc = map_err(pragma(db, "PRAGMA synchronous=FULL", NULL, 0, NULL));
    if (rc == VL_OK)
        rc = map_err(pragma(db, "PRAGMA secure_delete=ON", NULL, 0, NULL));
    return rc;
}

/* Creates the tables in a fresh file, or checks the schema version of an
 * existing one, under the write lock (processes may open a new file at
 * the same moment). A newer version is not ours to read: VL_ERR_FORMAT. */
static int ensure_schema(sqlite3 *db)
{
    int64_t ver = 0;
    int rc = map_err(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL));
    if (rc == VL_OK)
        rc = map_err(pragma(db, "PRAGMA user_version", NULL, 0, &ver));
    if (rc == VL_OK && ver == 0)
        rc = map_err(sqlite3_exec(db, schema_sql, NULL, NULL, NULL));
    if (rc == VL_OK && ver == 0)
        rc = map_err(pragma(db, "PRAGMA user_version = " STR(SCHEMA_VERSION), NULL, 0, NULL));
    else if (rc == VL_OK && ver != SCHEMA_VERSION)
        rc = VL_ERR_FORMAT;
    if (rc == VL_OK)
        rc = map_err(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL));
    if (rc != VL_OK && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int prepare_all(sql_store *q)
{
    for (int i = 0; i < S_COUNT; i++) {
        int rc = sqlite3_prepare_v3(q->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                    &q->st[i], NULL);
        if (rc != SQLITE_OK) /* e.g. a file whose tables are not ours */
            return (rc & 0xff) == SQLITE_ERROR ? VL_ERR_FORMAT : map_err(rc);
    }
    return VL_OK;
}

static int sql_open(sql_store *q, const char *path)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = map_err(sqlite3_open_v2(path, &q->db, flags, NULL));
    if (rc == VL_OK && q->db == NULL)
        rc = VL_ERR_NOMEM;
    if (rc == VL_OK)
        rc = configure(q->db);
    if (rc == VL_OK)
        rc = ensure_schema(q->db);
    if (rc == VL_OK)
        rc = prepare_all(q);
    return rc;
}

int vl_store_sqlite_open(vl_store **out, const char *path)
{
    if (out == NULL)
        return VL_ERR_ARG;
    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return VL_ERR_ARG;
    vl_store *s = calloc(1, sizeof *s);
    sql_store *q = calloc(1, sizeof *q);
    if (s == NULL || q == NULL || pthread_mutex_init(&q->mu, NULL) != 0) {
        free(s);
        free(q);
        return VL_ERR_NOMEM;
    }
    int rc = sql_open(q, path);
    if (rc != VL_OK) {
        sql_free(q);
        free(s);
        return rc;
    }
    s->ops = &sql_ops;
    s->ctx = q;
    *out = s;
    return VL_OK;
}
