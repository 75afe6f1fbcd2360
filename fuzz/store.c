/* store: stored KEK and DEK records, which store.h calls untrusted input
 * ("anyone who can write the file can put anything in it").
 *
 * Mode "rows" (mode bit 0 clear): the fuzzer writes arbitrary rows into
 * the SQLite store's tables through a second connection to the same file
 * -- every column any SQLite type (NULL, INTEGER, REAL, TEXT, BLOB) and
 * any value, subject only to the schema's NOT NULL and primary keys --
 * then reads them back through the store (core/store_sqlite.c: get, each,
 * latest, reserve). Every record handed out must pass the shared record
 * checks (core/store_int.h); a bad row may only ever be VL_ERR_FORMAT; a
 * listing that succeeds returns every row.
 *
 * Mode "ops" (mode bit 0 set): one sequence of operations (put, get,
 * delete, reserve, list; records with names, strings without a NUL, flags,
 * algorithms and versions that are right or wrong) runs on the in-memory
 * store and on the SQLite store side by side. store_int.h promises that
 * both accept and refuse exactly the same records: every return code and
 * every record read back must be the same in both, and reserve must match
 * vl_store_grant.
 *
 * Why not fuzz the database file image itself: that fuzzes SQLite's own
 * page parser (fuzzed upstream, around the clock, by OSS-Fuzz); what is
 * ours is what we do with the values SQLite hands back, and rows reach
 * every one of those.
 *
 * The database is one file per process in /dev/shm (tmpfs: the store's
 * fsync costs nothing there), emptied at the start of every input. */
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "store_int.h"

static vl_store *mem, *sql;
static sqlite3 *raw;
static char path[256];

static void cleanup(void)
{
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
    char p[300];
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        unlink(p);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(path, sizeof path, "%s/vellum-fuzz-store-%ld.db", dir, (long)getpid());
    cleanup();
    atexit(cleanup);
    FZ_CHECK(vl_store_sqlite_open(&sql, path) == VL_OK, "vl_store_sqlite_open %s", path);
    FZ_CHECK(sqlite3_open_v2(path, &raw, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK, "open raw");
    sqlite3_busy_timeout(raw, 10000);
    sqlite3_exec(raw, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
    return 0;
}

static void reset_tables(void)
{
    int rc = sqlite3_exec(raw, "DELETE FROM keks; DELETE FROM deks;", NULL, NULL, NULL);
    FZ_CHECK(rc == SQLITE_OK, "reset: %s", sqlite3_errmsg(raw));
}

/* ---- record checks ---------------------------------------------------------- */

static void check_kek_out(const vl_kek_record *r, const char *what)
{
    FZ_CHECK(vl_store_check_kek(r) == VL_OK, "%s handed out a bad KEK record", what);
}

static void check_dek_out(const vl_dek_record *r, const char *what)
{
    FZ_CHECK(vl_store_check_dek(r) == VL_OK, "%s handed out a bad DEK record", what);
}

static int kek_eq(const vl_kek_record *a, const vl_kek_record *b)
{
    return strcmp(a->name, b->name) == 0 && strcmp(a->kms_type, b->kms_type) == 0 &&
           strcmp(a->kms_key_id, b->kms_key_id) == 0 && strcmp(a->kms_props, b->kms_props) == 0 &&
           strcmp(a->doc, b->doc) == 0 && a->shared == b->shared && a->deleted == b->deleted &&
           a->ts_ms == b->ts_ms;
}

static int dek_eq(const vl_dek_record *a, const vl_dek_record *b)
{
    return strcmp(a->kek_name, b->kek_name) == 0 && strcmp(a->subject, b->subject) == 0 &&
           a->alg == b->alg && a->version == b->version && a->wrapped_len == b->wrapped_len &&
           memcmp(a->wrapped, b->wrapped, a->wrapped_len) == 0 && a->ts_ms == b->ts_ms &&
           a->deleted == b->deleted && a->reserved_seals == b->reserved_seals;
}

/* ---- listings ------------------------------------------------------------------ */

struct list {
    void *items;
    size_t n, elem;
    int stop_at; /* the callback returns 99 at this index (-1: never) */
};

static int collect(struct list *l, const void *r)
{
    void *p = realloc(l->items, (l->n + 1) * l->elem);
    FZ_CHECK(p != NULL, "realloc");
    l->items = p;
    memcpy((char *)p + l->n * l->elem, r, l->elem);
    return (int)l->n++ == l->stop_at ? 99 : 0;
}

static int collect_kek(void *arg, const vl_kek_record *r)
{
    check_kek_out(r, "each_kek");
    return collect(arg, r);
}

static int collect_dek(void *arg, const vl_dek_record *r)
{
    check_dek_out(r, "each_dek");
    return collect(arg, r);
}

/* ---- mode "rows" --------------------------------------------------------------- */

static const char *const KEK_INSERT =
    "INSERT INTO keks (name, kms_type, kms_key_id, kms_props, doc, shared, deleted, ts_ms)"
    " VALUES (?1,?2,?3,?4,?5,?6,?7,?8)";
static const char *const DEK_INSERT =
    "INSERT INTO deks (kek_name, subject, alg, version, wrapped, ts_ms, deleted, reserved_seals)"
    " VALUES (?1,?2,?3,?4,?5,?6,?7,?8)";

/* Binds one fuzzer-chosen value; remembers a TEXT value in |text|. */
static void bind_value(fz *f, sqlite3_stmt *st, int col, char *text, size_t text_cap)
{
    uint8_t type = fz_u8(f);
    size_t n;
    const uint8_t *p;
    uint64_t v;
    double d;
    switch (type % 6) {
    case 0:
        sqlite3_bind_null(st, col);
        break;
    case 1: /* small integers: the range checks' edges */
        sqlite3_bind_int64(st, col, (int8_t)fz_u8(f));
        break;
    case 2:
        v = (uint64_t)fz_u32(f) << 32 | fz_u32(f);
        sqlite3_bind_int64(st, col, (sqlite3_int64)v);
        break;
    case 3:
        v = (uint64_t)fz_u32(f) << 32 | fz_u32(f);
        memcpy(&d, &v, sizeof d);
        sqlite3_bind_double(st, col, d);
        break;
    case 4:
        p = fz_take(f, fz_u16(f) % 4200, &n);
        sqlite3_bind_text(st, col, (const char *)p, (int)n, SQLITE_TRANSIENT);
        if (text != NULL && n < text_cap) {
            memcpy(text, p, n);
            text[n] = '\0';
        }
        break;
    default:
        p = fz_take(f, fz_u16(f) % 4200, &n);
        sqlite3_bind_blob(st, col, p, (int)n, SQLITE_TRANSIENT);
        break;
    }
}

static int allowed_read(int rc)
{
    return rc == VL_OK || rc == VL_ERR_FORMAT || rc == VL_ERR_NOT_FOUND || rc == VL_ERR_ARG;
}

static void rows_mode(fz *f)
{
    char names[8][VL_NAME_MAX], subjects[8][VL_NAME_MAX];
    long long algs[8], versions[8];
    size_t keks = 0, deks = 0, n_rows = fz_u8(f) % 9;
    sqlite3_stmt *ins[2];
    FZ_CHECK(sqlite3_prepare_v2(raw, KEK_INSERT, -1, &ins[0], NULL) == SQLITE_OK &&
                 sqlite3_prepare_v2(raw, DEK_INSERT, -1, &ins[1], NULL) == SQLITE_OK,
             "prepare");
    sqlite3_exec(raw, "BEGIN", NULL, NULL, NULL);
    for (size_t i = 0; i < n_rows; i++) {
        int dek = fz_u8(f) & 1;
        sqlite3_stmt *st = ins[dek];
        char *name = names[i], *subject = subjects[i];
        name[0] = subject[0] = '\0';
        algs[i] = versions[i] = 0;
        for (int col = 1; col <= 8; col++) {
            char *keep = col == 1 ? name : (dek && col == 2) ? subject : NULL;
            bind_value(f, st, col, keep, VL_NAME_MAX);
        }
        if (sqlite3_step(st) == SQLITE_DONE) /* NOT NULL or a taken key: skipped */
            dek ? deks++ : keks++;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        algs[i] = fz_u8(f) % 5;
        versions[i] = (int8_t)fz_u8(f);
    }
    sqlite3_exec(raw, "COMMIT", NULL, NULL, NULL);
    sqlite3_finalize(ins[0]);
    sqlite3_finalize(ins[1]);

    struct list l = {NULL, 0, sizeof(vl_kek_record), -1};
    int rc = sql->ops->each_kek(sql, collect_kek, &l);
    FZ_CHECK(rc == VL_OK || rc == VL_ERR_FORMAT, "each_kek: %d", rc);
    FZ_CHECK(rc != VL_OK || l.n == keks, "each_kek: %zu records of %zu rows", l.n, keks);
    free(l.items);
    l = (struct list){NULL, 0, sizeof(vl_dek_record), -1};
    rc = sql->ops->each_dek(sql, NULL, collect_dek, &l);
    FZ_CHECK(rc == VL_OK || rc == VL_ERR_FORMAT, "each_dek: %d", rc);
    FZ_CHECK(rc != VL_OK || l.n == deks, "each_dek: %zu records of %zu rows", l.n, deks);
    free(l.items);
    for (size_t i = 0; i < n_rows; i++) {
        vl_kek_record kr;
        vl_dek_record dr;
        rc = sql->ops->get_kek(sql, names[i], &kr);
        FZ_CHECK(allowed_read(rc), "get_kek: %d", rc);
        if (rc == VL_OK)
            check_kek_out(&kr, "get_kek");
        l = (struct list){NULL, 0, sizeof(vl_dek_record), -1};
        if (names[i][0] != '\0') {
            rc = sql->ops->each_dek(sql, names[i], collect_dek, &l);
            FZ_CHECK(rc == VL_OK || rc == VL_ERR_FORMAT, "each_dek(%s): %d", names[i], rc);
        }
        free(l.items);
        vl_dek_id id = {names[i], subjects[i], (vl_alg)algs[i], (int32_t)versions[i]};
        rc = sql->ops->get_dek(sql, &id, &dr);
        FZ_CHECK(allowed_read(rc), "get_dek: %d", rc);
        if (rc == VL_OK)
            check_dek_out(&dr, "get_dek");
        id.version = -1;
        rc = sql->ops->get_dek(sql, &id, &dr);
        FZ_CHECK(allowed_read(rc), "get_dek(latest): %d", rc);
        if (rc == VL_OK)
            check_dek_out(&dr, "get_dek(latest)");
        uint64_t start = 7, granted = 7;
        id.version = (int32_t)versions[i];
        rc = sql->ops->reserve(sql, &id, i * 1000, UINT64_MAX - i, &start, &granted);
        FZ_CHECK(allowed_read(rc), "reserve: %d", rc);
        if (rc == VL_OK)
            FZ_CHECK(granted == vl_store_grant(start, i * 1000, UINT64_MAX - i),
                     "reserve: start %llu granted %llu", (unsigned long long)start,
                     (unsigned long long)granted);
        else
            FZ_CHECK(start == 0 && granted == 0, "reserve failed, outputs set");
    }
}

/* ---- mode "ops" ---------------------------------------------------------------- */

static const char *const NAMES[] = {"kek1", "a", "b\xc3\xa9", "topic1-value"};

/* A string field: one of a few names (so operations meet), empty, as
 * long as fits, raw bytes, or no NUL at all. */
static void fill_str(fz *f, char *dst, size_t cap)
{
    uint8_t sel = fz_u8(f);
    size_t n;
    const uint8_t *p;
    memset(dst, 0, cap);
    switch (sel % 8) {
    case 4:
        break;
    case 5:
        memset(dst, 'x' + sel % 3, cap - 1);
        break;
    case 6:
        p = fz_take(f, fz_u8(f), &n);
        memcpy(dst, p, n < cap - 1 ? n : cap - 1);
        break;
    case 7:
        memset(dst, 'y', cap); /* no NUL: must be refused */
        break;
    default:
        strcpy(dst, NAMES[sel % 4]);
        break;
    }
}

static int fill_flag(fz *f)
{
    uint8_t b = fz_u8(f);
    return b < 250 ? b & 1 : b;
}

static vl_alg fill_alg(fz *f)
{
    uint8_t b = fz_u8(f);
    return (vl_alg)(b < 250 ? b % 3 + 1 : b % 5);
}

static int32_t fill_version(fz *f)
{
    uint8_t b = fz_u8(f);
    static const int32_t odd[] = {0, -1, -2, INT32_MAX, INT32_MIN, 1000};
    return b < 240 ? b % 4 + 1 : odd[b % 6];
}

static void fill_kek(fz *f, vl_kek_record *r)
{
    fill_str(f, r->name, sizeof r->name);
    fill_str(f, r->kms_type, sizeof r->kms_type);
    fill_str(f, r->kms_key_id, sizeof r->kms_key_id);
    fill_str(f, r->kms_props, sizeof r->kms_props);
    fill_str(f, r->doc, sizeof r->doc);
    r->shared = fill_flag(f);
    r->deleted = fill_flag(f);
    r->ts_ms = (int64_t)((uint64_t)fz_u32(f) << 32 | fz_u32(f));
}

static void fill_dek(fz *f, vl_dek_record *r)
{
    size_t n;
    fill_str(f, r->kek_name, sizeof r->kek_name);
    fill_str(f, r->subject, sizeof r->subject);
    r->alg = fill_alg(f);
    r->version = fill_version(f);
    uint16_t len = fz_u16(f);
    memset(r->wrapped, 0, sizeof r->wrapped);
    memcpy(r->wrapped, fz_take(f, len % 200, &n), n);
    r->wrapped_len = len >= 0xfff0 ? VL_KMS_MAX_BLOB + (len & 1) : n;
    r->ts_ms = (int64_t)fz_u32(f) - (1 << 20);
    r->deleted = fill_flag(f);
    r->reserved_seals = fz_u8(f) < 200 ? fz_u8(f) : UINT64_MAX - fz_u8(f);
}

static void fill_id(fz *f, vl_dek_id *id, char *kek, char *subject)
{
    fill_str(f, kek, VL_NAME_MAX);
    fill_str(f, subject, VL_NAME_MAX);
    id->kek_name = kek;
    id->subject = subject;
    id->alg = fill_alg(f);
    id->version = fill_version(f);
}

#define SAME_RC(a, b, what)                                                                  \
    FZ_CHECK((a) == (b), "%s: memory store %d, SQLite store %d", what, a, b)

static void compare_lists(int which, const char *kek)
{
    size_t elem = which ? sizeof(vl_dek_record) : sizeof(vl_kek_record);
    struct list a = {NULL, 0, elem, -1}, b = {NULL, 0, elem, -1};
    int ra = which ? mem->ops->each_dek(mem, kek, collect_dek, &a)
                   : mem->ops->each_kek(mem, collect_kek, &a);
    int rb = which ? sql->ops->each_dek(sql, kek, collect_dek, &b)
                   : sql->ops->each_kek(sql, collect_kek, &b);
    SAME_RC(ra, rb, which ? "each_dek" : "each_kek");
    FZ_CHECK(a.n == b.n, "listing: memory store %zu records, SQLite store %zu", a.n, b.n);
    for (size_t i = 0; i < a.n; i++) {
        const char *pa = (const char *)a.items + i * elem, *pb = (const char *)b.items + i * elem;
        FZ_CHECK(which ? dek_eq((const vl_dek_record *)pa, (const vl_dek_record *)pb)
                       : kek_eq((const vl_kek_record *)pa, (const vl_kek_record *)pb),
                 "listing: record %zu differs between the stores", i);
        if (i > 0)
            FZ_CHECK((which ? vl_store_dek_cmp(pa - elem, pa) : vl_store_kek_cmp(pa - elem, pa)) < 0,
                     "listing not sorted at %zu", i);
    }
    free(a.items);
    free(b.items);
}

static void ops_mode(fz *f)
{
    static vl_kek_record ka, kb, kin;
    static vl_dek_record da, db, din;
    size_t n_ops = fz_u8(f) % 24;
    FZ_CHECK(vl_store_mem_new(&mem) == VL_OK, "mem store");
    for (size_t i = 0; i < n_ops && f->n > 0; i++) {
        uint8_t op = fz_u8(f);
        char kek[VL_NAME_MAX], subject[VL_NAME_MAX];
        vl_dek_id id;
        int ra, rb, create = op >> 7;
        uint64_t sa = 7, ga = 7, sb = 8, gb = 8, want, max;
        switch (op % 8) {
        case 0:
            fill_kek(f, &kin);
            ra = mem->ops->put_kek(mem, &kin, create);
            rb = sql->ops->put_kek(sql, &kin, create);
            SAME_RC(ra, rb, "put_kek");
            FZ_CHECK(vl_store_check_kek(&kin) == VL_OK || ra == VL_ERR_ARG,
                     "put_kek took a bad record");
            break;
        case 1:
            fill_str(f, kek, sizeof kek);
            memset(&ka, 0xa5, sizeof ka);
            memset(&kb, 0x5a, sizeof kb);
            ra = mem->ops->get_kek(mem, kek, &ka);
            rb = sql->ops->get_kek(sql, kek, &kb);
            SAME_RC(ra, rb, "get_kek");
            if (ra == VL_OK) {
                check_kek_out(&ka, "get_kek");
                FZ_CHECK(kek_eq(&ka, &kb), "get_kek: the stores disagree");
            }
            break;
        case 2:
            fill_str(f, kek, sizeof kek);
            ra = mem->ops->delete_kek(mem, kek);
            rb = sql->ops->delete_kek(sql, kek);
            SAME_RC(ra, rb, "delete_kek");
            break;
        case 3:
            fill_dek(f, &din);
            ra = mem->ops->put_dek(mem, &din, create);
            rb = sql->ops->put_dek(sql, &din, create);
            SAME_RC(ra, rb, "put_dek");
            FZ_CHECK(vl_store_check_dek(&din) == VL_OK || ra == VL_ERR_ARG,
                     "put_dek took a bad record");
            break;
        case 4:
            fill_id(f, &id, kek, subject);
            memset(&da, 0xa5, sizeof da);
            memset(&db, 0x5a, sizeof db);
            ra = mem->ops->get_dek(mem, &id, &da);
            rb = sql->ops->get_dek(sql, &id, &db);
            SAME_RC(ra, rb, "get_dek");
            if (ra == VL_OK) {
                check_dek_out(&da, "get_dek");
                FZ_CHECK(dek_eq(&da, &db), "get_dek: the stores disagree");
            }
            break;
        case 5:
            fill_id(f, &id, kek, subject);
            ra = mem->ops->delete_dek(mem, &id);
            rb = sql->ops->delete_dek(sql, &id);
            SAME_RC(ra, rb, "delete_dek");
            break;
        case 6:
            fill_id(f, &id, kek, subject);
            want = fz_u8(f) < 128 ? fz_u8(f) : UINT64_MAX - fz_u8(f);
            max = fz_u8(f) < 128 ? fz_u16(f) : UINT64_MAX - fz_u8(f);
            ra = mem->ops->reserve(mem, &id, want, max, &sa, &ga);
            rb = sql->ops->reserve(sql, &id, want, max, &sb, &gb);
            SAME_RC(ra, rb, "reserve");
            FZ_CHECK(sa == sb && ga == gb, "reserve: memory %llu+%llu, SQLite %llu+%llu",
                     (unsigned long long)sa, (unsigned long long)ga, (unsigned long long)sb,
                     (unsigned long long)gb);
            if (ra == VL_OK)
                FZ_CHECK(ga == vl_store_grant(sa, want, max), "reserve: wrong grant");
            break;
        default:
            fill_str(f, kek, sizeof kek);
            compare_lists(0, NULL);
            compare_lists(1, (op & 16) ? kek : NULL);
            break;
        }
    }
    compare_lists(0, NULL);
    compare_lists(1, NULL);
    vl_store_close(mem);
    mem = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz f = {data, size};
    uint8_t mode = fz_u8(&f);
    reset_tables();
    if (mode & 1)
        ops_mode(&f);
    else
        rows_mode(&f);
    return 0;
}
