/* Multi-buffer S2V (RFC 5297 §2.4) for the "armv8-ce" path's
 * struct vl_siv_ops.s2v_batch: the CMAC chains of up to 8 messages in
 * flight at once, since one chain is bound by AESE/AESMC latency.
 *
 * Requires (AT_HWCAP): HWCAP_AES (vl_arm_has_ce). Built with
 * -march=armv8-a+crypto (Makefile, *_armv8_ce.c).
 *
 * The interleaving of the aesni path (arch/x86_64/siv_aesni.c, siv_x86.h),
 * with chain values in the ARM form of armv8_ce.h (no round key 0 folded
 * in: AESE adds it):
 * - Waves, for short messages (components before the plaintext few and
 *   short, plaintext at most WAVE_BLOCKS blocks): D is computed at once
 *   (short serial CMACs; field encryption, one empty AD or none, takes the
 *   precomputed D), and each job's final CMAC input is laid out as a column
 *   of a transposed staging area: block k of lane l is stg[k * LANES + l],
 *   so every step loads one row. A wave is up to LANES such jobs.
 * - The lane scheduler, for everything else: each lane runs the S2V of one
 *   job at a time, its CMAC chains one after another; the vector code
 *   absorbs, for m steps, the block at p[lane] + 16 * step of every lane, m
 *   being what every lane's current segment allows. A segment is a run of
 *   whole blocks: a component of up to LANE_BLOCKS blocks is copied whole
 *   into the lane's buffer with its last block finished (subkey, and D for
 *   the plaintext), so it is one segment; a longer one is its in-place
 *   blocks, then the finished last one or two from the buffer. Idle lanes
 *   shadow an active lane's segment, so every read is inside a caller's
 *   buffer or the scheduler.
 * Branches depend on lengths and counts only. Everything copied from
 * messages or derived from the key is wiped before returning. */
#include "siv_armv8_ce.h"

#include "armv8_ce.h"
#include "internal.h"

#define XOR(a, b) veorq_u8((a), (b))

#define LANES 8
/* Waves: at most this many blocks in the final CMAC, this many components
 * before the plaintext, each at most this many blocks. */
#define WAVE_BLOCKS 8
#define WAVE_COMPONENTS 4
#define WAVE_COMPONENT_BLOCKS 8
/* Scheduler: a component of up to this many blocks is copied whole. */
#define LANE_BLOCKS 8

typedef struct wave {
    size_t idx[LANES];         /* the job in each lane */
    uint32_t end[WAVE_BLOCKS]; /* lanes whose job ends at step k */
    size_t steps;              /* blocks of the longest job */
} wave;

typedef struct lane {
    uint8x16_t buf[LANE_BLOCKS]; /* copied blocks / the finished last ones */
    uint8x16_t d;                /* S2V's running D */
    const struct vl_s2v_job *job; /* NULL when idle */
    uint8_t *v;                  /* where the job's V goes */
    size_t comp;  /* component: < ncomp an AD or the nonce, == ncomp the plaintext */
    size_t ncomp;
    size_t ntail; /* blocks in buf after the in-place ones */
    int last;     /* the segment is the component's last */
} lane;

typedef struct sched {
    /* Chain values between runs; a lane whose bit is set in |reset|
     * restarts from x = 0. */
    uint8x16_t x[LANES];
    uint32_t reset;
    const uint8_t *p[LANES]; /* the segment of each lane */
    size_t n[LANES];         /* its blocks left */
    const vl_siv_arm *st;
    const struct vl_s2v_job *jobs;
    uint8_t (*v)[16];
    size_t njobs, next;
    lane lane[LANES];
} sched;

/* ---- the vector code ---- */

#define ENC(j) x[j] = vl_arm_round(x[j], k);
#define ROUND(r) k = m->k1[r]; VL_REP8(ENC)
#define LAST(j) x[j] = vaeseq_u8(x[j], k);
/* Rounds 0..13 of every lane; leaves kl = rk[14] for the final XOR. */
#define ROUNDS8()                                                            \
    do {                                                                     \
        ROUND(0) ROUND(1) ROUND(2) ROUND(3) ROUND(4) ROUND(5) ROUND(6)       \
        ROUND(7) ROUND(8) ROUND(9) ROUND(10) ROUND(11) ROUND(12)             \
        k = m->k1[13];                                                       \
        VL_REP8(LAST)                                                        \
        kl = m->k1[14];                                                      \
    } while (0)

/* |m| >= 1 steps: every lane j absorbs the blocks p[j] .. p[j] + 16 (m - 1),
 * its chain value taken from and put back to sc->x[j]. The scheduler's
 * calls in between clobber every vector register, so the chain values
 * live in sc->x (wiped at the end) between runs, not in spill slots. */
static void run(const vl_siv_arm *s, sched *sc, size_t steps)
{
    const uint8_t *const *p = sc->p;
    const uint32_t reset = sc->reset;
    uint8x16_t x[LANES], k, kl = vdupq_n_u8(0);
    size_t off = 0;

#define RUN_LOAD(j)                                                               \
    x[j] = XOR(vandq_u8(sc->x[j], vdupq_n_u8((uint8_t)(((reset >> (j)) & 1) - 1))), \
               vl_arm_load(p[j]));
#define RUN_NEXT(j) x[j] = XOR(x[j], XOR(kl, vl_arm_load(p[j] + off)));
#define RUN_STORE(j) sc->x[j] = XOR(x[j], kl);
    VL_REP8(RUN_LOAD)
    for (;;) {
        const vl_siv_arm *m = s;

        VL_ARM_OPAQUE(m); /* round keys reloaded at every step, never spilled */
        off += 16;
        ROUNDS8();
        if (--steps == 0)
            break;
        VL_REP8(RUN_NEXT)
    }
    VL_REP8(RUN_STORE)
}

/* One wave. |xs| is scratch for the lanes' values when a job ends. */
static void run_wave(const vl_siv_arm *s, const uint8x16_t *stg, uint8x16_t xs[LANES],
                     const wave *w, uint8_t (*v)[16])
{
    const uint8x16_t *row = stg;
    uint8x16_t x[LANES], k, kl;

#define WAVE_LOAD(j) x[j] = row[j];
#define WAVE_NEXT(j) x[j] = XOR(x[j], XOR(kl, row[j]));
#define WAVE_END(j) xs[j] = x[j] = XOR(x[j], kl);
#define WAVE_XOR(j) x[j] = XOR(x[j], row[j]);
    VL_REP8(WAVE_LOAD)
    for (size_t t = 0; t < w->steps; t++) {
        const vl_siv_arm *m = s;

        VL_ARM_OPAQUE(m);
        ROUNDS8();
        row += LANES;
        if (w->end[t] == 0) {
            VL_REP8(WAVE_NEXT)
            continue;
        }
        VL_REP8(WAVE_END)
        for (uint32_t mask = w->end[t]; mask != 0; mask &= mask - 1)
            vl_arm_store(v[w->idx[__builtin_ctz(mask)]], xs[__builtin_ctz(mask)]);
        if (t + 1 < w->steps) {
            VL_REP8(WAVE_XOR)
        }
    }
}

/* ---- waves ---- */

/* Blocks of the final CMAC input for a |len|-byte plaintext. */
static inline size_t pt_blocks(size_t len)
{
    return vl_siv_arm_pt_head(len) + (len >= 16 && (len & 15) != 0 ? 2 : 1);
}

/* Whether the components before job |j|'s plaintext are few and short. */
static inline int short_components(const struct vl_s2v_job *j)
{
    size_t nad = j->ad_count, ncomp = nad + (j->nonce_len > 0);

    if (ncomp > WAVE_COMPONENTS)
        return 0;
    for (size_t c = 0; c < ncomp; c++) {
        if ((c < nad ? j->ad[c].len : j->nonce_len) > 16 * WAVE_COMPONENT_BLOCKS)
            return 0;
    }
    return 1;
}

/* Whether the scheduler leaves job |j| to the waves. */
static inline int wave_takes(const struct vl_s2v_job *j)
{
    return pt_blocks(j->len) <= WAVE_BLOCKS && short_components(j);
}

/* D for a wave job, whose components before the plaintext are short. */
static inline uint8x16_t wave_d(const vl_siv_arm *s, const struct vl_s2v_job *j)
{
    size_t nad = j->ad_count, ncomp = nad + (j->nonce_len > 0), i = 0;
    uint8x16_t d = s->d0;

    if (nad > 0 && j->ad[0].len == 0) {
        d = s->d_empty;
        i = 1;
    }
    for (; i < ncomp; i++)
        d = vl_siv_arm_d_next(s, d, i < nad ? j->ad[i].ptr : j->nonce,
                              i < nad ? j->ad[i].len : j->nonce_len);
    return d;
}

/* Fills the next wave from jobs[*next..n): up to LANES jobs the waves take,
 * in columns 0..cnt-1 of |stg| (the other lanes, and the rows past a
 * shorter job, zero), and describes it in |w|. Moves *next past them and
 * counts the jobs it passes over in *rest. Returns cnt. */
static size_t wave_fill(const vl_siv_arm *s, uint8x16_t *stg, const struct vl_s2v_job *jobs,
                        size_t n, size_t *next, size_t *rest, wave *w)
{
    size_t nb[LANES] = {0};
    size_t cnt = 0, i = *next, steps = 0;

    for (; i < n && cnt < LANES; i++) {
        const struct vl_s2v_job *j = &jobs[i];
        size_t len = j->len, nh = vl_siv_arm_pt_head(len), b = pt_blocks(len);
        uint8x16_t *col = stg + cnt, d, t[2];

        if (!wave_takes(j)) {
            ++*rest;
            continue;
        }
        d = wave_d(s, j);
        for (size_t k = 0; k < nh; k++)
            col[k * LANES] = vl_arm_load(j->pt + 16 * k);
        if (vl_siv_arm_pt_tail(s, t, d, j->pt, len) == 2)
            col[(nh + 1) * LANES] = t[1];
        col[nh * LANES] = t[0];
        steps = b > steps ? b : steps;
        nb[cnt] = b;
        w->idx[cnt++] = i;
    }
    *next = i;
    memset(w->end, 0, sizeof w->end);
    for (size_t l = 0; l < cnt; l++)
        w->end[nb[l] - 1] |= (uint32_t)1 << l;
    for (size_t l = 0; l < LANES; l++) {
        for (size_t k = nb[l]; k < steps; k++)
            stg[k * LANES + l] = vdupq_n_u8(0);
    }
    w->steps = steps;
    return cnt;
}

/* ---- the lane scheduler ---- */

/* Sets lane |i|'s segment. */
static inline void lane_segment(sched *sc, size_t i, const void *p, size_t n, int last)
{
    sc->p[i] = p;
    sc->n[i] = n;
    sc->lane[i].last = last;
}

/* Points lane |i| at its plaintext, the last S2V component, D final. */
static inline void lane_plaintext(sched *sc, size_t i, const uint8_t *pt, size_t len)
{
    lane *ln = &sc->lane[i];
    size_t nh = vl_siv_arm_pt_head(len);

    if (nh <= LANE_BLOCKS - 2) {
        for (size_t b = 0; b < nh; b++)
            ln->buf[b] = vl_arm_load(pt + 16 * b);
        lane_segment(sc, i, ln->buf,
                     nh + (size_t)vl_siv_arm_pt_tail(sc->st, ln->buf + nh, ln->d, pt, len), 1);
    } else {
        ln->ntail = (size_t)vl_siv_arm_pt_tail(sc->st, ln->buf, ln->d, pt, len);
        lane_segment(sc, i, pt, nh, 0);
    }
}

/* Points lane |i| at its next non-empty component; empty ones go into D
 * here (CMAC(<empty>) is precomputed). */
static void lane_component(sched *sc, size_t i)
{
    lane *ln = &sc->lane[i];
    const struct vl_s2v_job *j = ln->job;

    for (; ln->comp < ln->ncomp; ln->comp++) {
        const uint8_t *c = ln->comp < j->ad_count ? j->ad[ln->comp].ptr : j->nonce;
        size_t cl = ln->comp < j->ad_count ? j->ad[ln->comp].len : j->nonce_len;
        size_t h = (cl - 1) / 16;

        if (cl == 0) {
            ln->d = XOR(vl_siv_arm_dbl(ln->d), sc->st->mac_empty);
        } else if (h < LANE_BLOCKS) {
            for (size_t b = 0; b < h; b++)
                ln->buf[b] = vl_arm_load(c + 16 * b);
            ln->buf[h] = vl_siv_arm_cmac_last(sc->st, c, cl);
            lane_segment(sc, i, ln->buf, h + 1, 1);
            return;
        } else {
            ln->buf[0] = vl_siv_arm_cmac_last(sc->st, c, cl);
            ln->ntail = 1;
            lane_segment(sc, i, c, h, 0);
            return;
        }
    }
    lane_plaintext(sc, i, j->pt, j->len);
}

/* Gives lane |i| the next job the waves do not take, or makes it idle. */
static inline void lane_next_job(sched *sc, size_t i)
{
    lane *ln = &sc->lane[i];
    const struct vl_s2v_job *j;

    while (sc->next < sc->njobs && wave_takes(&sc->jobs[sc->next]))
        sc->next++;
    if (sc->next >= sc->njobs) {
        ln->job = NULL;
        return;
    }
    j = &sc->jobs[sc->next];
    ln->job = j;
    ln->v = sc->v[sc->next++];
    ln->ncomp = j->ad_count + (j->nonce_len > 0);
    ln->comp = 0;
    ln->d = sc->st->d0;
    if (j->ad_count > 0 && j->ad[0].len == 0) {
        ln->d = sc->st->d_empty;
        ln->comp = 1;
    }
    if (ln->comp == ln->ncomp)
        lane_plaintext(sc, i, j->pt, j->len); /* field encryption: no chain before */
    else
        lane_component(sc, i);
}

/* The shortest segment among active lanes; idle lanes shadow that one.
 * 0 when every lane is idle. */
static size_t sched_run_len(sched *s)
{
    size_t a = SIZE_MAX, m = SIZE_MAX;

    for (size_t i = 0; i < LANES; i++) {
        if (s->lane[i].job != NULL && s->n[i] < m)
            m = s->n[a = i];
    }
    if (a == SIZE_MAX)
        return 0;
    for (size_t i = 0; i < LANES; i++) {
        if (s->lane[i].job == NULL) {
            s->p[i] = s->p[a];
            s->n[i] = s->n[a];
        }
    }
    return m;
}

/* Starts a job on each lane, every chain from zero; returns the steps of
 * the first run (0: no job). */
static size_t sched_init(sched *s, const vl_siv_arm *st, uint8_t (*v)[16],
                         const struct vl_s2v_job *jobs, size_t n)
{
    s->st = st;
    s->jobs = jobs;
    s->v = v;
    s->njobs = n;
    s->next = 0;
    s->reset = ((uint32_t)1 << LANES) - 1;
    for (size_t i = 0; i < LANES; i++) {
        s->x[i] = vdupq_n_u8(0);
        lane_next_job(s, i);
    }
    return sched_run_len(s);
}

/* After a run of |m| steps, with x[] stored back: moves every lane whose
 * segment ended on, sets |reset| to the lanes whose chain restarts, and
 * returns the steps of the next run, or 0 when every job is done. */
static size_t sched_advance(sched *s, size_t m)
{
    uint32_t reset = 0;

    for (size_t i = 0; i < LANES; i++) {
        lane *ln = &s->lane[i];

        s->p[i] += 16 * m;
        s->n[i] -= m;
        if (s->n[i] != 0 || ln->job == NULL)
            continue;
        if (!ln->last) {
            /* In-place blocks done; the finished last one or two follow. */
            lane_segment(s, i, ln->buf, ln->ntail, 1);
            continue;
        }
        if (ln->comp < ln->ncomp) {
            ln->d = XOR(vl_siv_arm_dbl(ln->d), s->x[i]);
            ln->comp++;
            lane_component(s, i);
        } else {
            vl_arm_store(ln->v, s->x[i]);
            lane_next_job(s, i);
        }
        reset |= (uint32_t)1 << i;
    }
    s->reset = reset;
    return sched_run_len(s);
}

/* ---- the op ---- */

void vl_siv_armv8_ce_s2v_batch(const void *st, uint8_t (*v)[16], const struct vl_s2v_job *jobs,
                               size_t n)
{
    const vl_siv_arm *s = st;
    uint8x16_t stg[WAVE_BLOCKS * LANES], xs[LANES];
    size_t next = 0, rest = 0, rows = 0, m;
    wave w;
    sched sc;

    if (n == 1) {
        vl_siv_armv8_ce_s2v(st, v[0], jobs[0].ad, jobs[0].ad_count, jobs[0].nonce,
                            jobs[0].nonce_len, jobs[0].pt, jobs[0].len);
        return;
    }
    while (wave_fill(s, stg, jobs, n, &next, &rest, &w) > 0) {
        run_wave(s, stg, xs, &w, v);
        rows = w.steps > rows ? w.steps : rows;
    }
    if (rows > 0) {
        vl_memzero(stg, rows * LANES * sizeof stg[0]);
        vl_memzero(xs, sizeof xs);
    }
    if (rest == 0)
        return;
    for (m = sched_init(&sc, s, v, jobs, n); m != 0; m = sched_advance(&sc, m))
        run(s, &sc, m);
    vl_memzero(sc.x, sizeof sc.x);
    vl_memzero(sc.lane, sizeof sc.lane);
}
