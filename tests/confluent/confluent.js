'use strict';
// vellum against the real Confluent client (@confluentinc/schemaregistry),
// both ways, through the client's own Avro serializer and deserializer with
// an ENCRYPT (field) or ENCRYPT_PAYLOAD rule, its local KMS and its
// in-memory schema and DEK registries:
//
//   client -> vellum  the serializer encrypts STRING and BYTES fields (and
//                     whole payloads); `vellum field decrypt` must return
//                     every plaintext, given the DEK records the client
//                     registered (as the DEK Registry's JSON).
//   vellum -> client  `vellum field encrypt` seals plaintexts, creating its
//                     DEKs (--dek-out) or reusing them (--dek); the client's
//                     deserializer, with vellum's DEK records registered in
//                     its DEK registry, must return every plaintext.
//
// Covered: AES128_GCM, AES256_GCM, AES256_SIV; DEK expiry off (no prefix,
// version 1) and on (encrypt.dek.expiry.days = 1, the clock advanced so
// the client rotates to versions 2 and 3); three secrets (ASCII, long,
// non-ASCII); plaintext lengths 0..1000 (every length, for each algorithm
// and expiry setting, spread over the secrets); Avro STRING (base64 text)
// and BYTES fields; payload encryption with both schema id framings.
//
// usage: NODE_PATH=<dir>/node_modules node confluent.js VELLUM WORKDIR
// (run by tests/confluent/run.sh). SEED=<n> replays a run.

const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const sr = require('@confluentinc/schemaregistry');
const avro = require('avsc');

const [VELLUM, WORK] = process.argv.slice(2);
const ALGS = ['AES128_GCM', 'AES256_GCM', 'AES256_SIV'];
const SECRETS = ['mysecret', 'a longer local-kms secret: 0123456789abcdefghijklmnopqrstuvwxyz',
    'sécret-ü-中文-🔑'];
const DAY = 86400000;
const T0 = Date.UTC(2025, 0, 1);
const MAX_LEN = 1000;
const PAYLOAD_STEP = 5;
const TOPIC = 'orders';
const SUBJECT = TOPIC + '-value';
const KEK = 'kek1';
const FIELD_SCHEMA = {
    type: 'record', name: 'Rec', fields: [
        { name: 's', type: 'string', 'confluent:tags': ['PII'] },
        { name: 'b', type: 'bytes', 'confluent:tags': ['PII'] },
    ],
};
const PAYLOAD_SCHEMA = {
    type: 'record', name: 'Payload', fields: [{ name: 'p', type: 'bytes' }, { name: 'n', type: 'long' }],
};

// ------------------------------------------------------------ deterministic randomness

let seed = BigInt(process.env.SEED || Date.now()) & 0xffffffffffffffffn;
const SEED0 = seed;
function rnd64() { // splitmix64
    seed = (seed + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
    let z = seed;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
    return z ^ (z >> 31n);
}
function below(n) { return Number(rnd64() % BigInt(n)); }
function randBytes(n) {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = below(256);
    return b;
}
// n code points: mostly ASCII, with 2-, 3- and 4-byte UTF-8, NUL and newline.
const ALPHABET = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 +/=',
    'é', 'ß', 'Ω', '中', '文', '€', '🔑', '😀', '\u0000', '\n'];
function randString(n) {
    let s = '';
    for (let i = 0; i < n; i++) s += ALPHABET[below(ALPHABET.length)];
    return s;
}

// ------------------------------------------------------------ results

const counts = {};
const failures = [];
function count(key, n) { counts[key] = (counts[key] || 0) + n; }
function fail(where, msg) {
    failures.push(`${where}: ${msg}`);
}
function short(s) { s = String(s); return s.length > 80 ? s.slice(0, 77) + '...' : s; }

// ------------------------------------------------------------ the vellum CLI

function vellum(where, args, lines) {
    const input = lines.length ? lines.join('\n') + '\n' : '';
    const r = spawnSync(VELLUM, ['field', ...args], { input, maxBuffer: 1 << 28, encoding: 'utf8' });
    if (r.error) throw r.error;
    if (r.status !== 0) {
        fail(where, `vellum field ${args.join(' ')} exited ${r.status}: ${short(r.stderr.trim())}`);
        return null;
    }
    const out = r.stdout.split('\n');
    if (out.pop() !== '' || out.length !== lines.length) {
        fail(where, `vellum wrote ${out.length} lines for ${lines.length}`);
        return null;
    }
    return out;
}

function kmsArgs(sc) { return ['--kms', 'local-kms', '--kms-secret', SECRETS[sc.s]]; }

// ------------------------------------------------------------ the client

class TestClock extends sr.Clock {
    constructor() { super(); this.t = T0; }
    now() { return this.t; }
}

// One scenario's client side: its own rule registry, executor, clock and
// in-memory registries, so scenarios share nothing (the local KMS clients
// are cached process-wide by key URL, hence clearKmsClients).
async function makeContext(sc) {
    sr.clearKmsClients();
    const field = sc.kind === 'field';
    const clock = new TestClock();
    const registry = new sr.RuleRegistry();
    const executor = field ? new sr.FieldEncryptionExecutor(clock) : new sr.EncryptionExecutor(clock);
    registry.registerExecutor(executor);
    const client = sr.SchemaRegistryClient.newClient({ baseURLs: ['mock://'], cacheCapacity: 1000 });
    const params = {
        'encrypt.kek.name': KEK, 'encrypt.kms.type': 'local-kms',
        'encrypt.kms.key.id': `key-${sc.s}`, 'encrypt.dek.algorithm': sc.alg,
    };
    if (sc.expiry) params['encrypt.dek.expiry.days'] = '1';
    const rule = {
        name: 'encrypt', kind: 'TRANSFORM', mode: sr.RuleMode.WRITEREAD,
        type: field ? 'ENCRYPT' : 'ENCRYPT_PAYLOAD', params, onFailure: 'ERROR,ERROR',
    };
    if (field) rule.tags = ['PII'];
    const schema = field ? FIELD_SCHEMA : PAYLOAD_SCHEMA;
    const ruleSet = field ? { domainRules: [rule] } : { encodingRules: [rule] };
    const id = await client.register(SUBJECT, { schemaType: 'AVRO', schema: JSON.stringify(schema), ruleSet }, false);
    const guid = (await client.getLatestSchemaMetadata(SUBJECT)).guid;
    const conf = { ruleConfig: { secret: SECRETS[sc.s] } };
    // The executor's DEK registry client is created when it is configured.
    executor.configure(client.config(), new Map(Object.entries(conf.ruleConfig)));
    const dekClient = field ? executor.executor.client : executor.client;
    // The in-memory DEK registry stamps every DEK with one fixed ts; a real
    // registry stamps the creation time, which rotation compares against.
    const register = dekClient.registerDek.bind(dekClient);
    dekClient.registerDek = async (...a) => {
        const before = dekClient.dekCache.size;
        const d = await register(...a);
        if (dekClient.dekCache.size > before) d.ts = clock.t;
        return d;
    };
    return { sc, clock, registry, client, dekClient, id, guid, conf, type: avro.Type.forSchema(schema) };
}

function header(ctx, guid) {
    if (guid) return Buffer.concat([Buffer.from([1]), Buffer.from(ctx.guid.replace(/-/g, ''), 'hex')]);
    const h = Buffer.alloc(5);
    h.writeInt32BE(ctx.id, 1);
    return h;
}

// Every DEK version the client registered, as DEK Registry JSON files.
async function exportDeks(ctx, dir) {
    const latest = await ctx.dekClient.getDek(KEK, SUBJECT, ctx.sc.alg, -1, false);
    const files = [];
    for (let v = 1; v <= latest.version; v++) {
        const d = await ctx.dekClient.getDek(KEK, SUBJECT, ctx.sc.alg, v, false);
        const rec = {
            kekName: d.kekName, subject: d.subject, version: d.version, algorithm: d.algorithm,
            encryptedKeyMaterial: d.encryptedKeyMaterial, ts: d.ts, deleted: false,
        };
        // A registry returns keyMaterial too for shared KEKs: vellum must
        // ignore it and unwrap encryptedKeyMaterial through its own KMS.
        if (ctx.sc.s === 0) rec.keyMaterial = d.keyMaterial;
        const f = path.join(dir, `dek-v${v}.json`);
        fs.writeFileSync(f, JSON.stringify(rec));
        files.push(f);
    }
    return { files, latest: latest.version };
}

// Clock steps: with expiry on, two days pass at 1/3 and 2/3 of the run,
// so the serializer rotates to versions 2 and 3.
function tick(ctx, i, total) {
    if (ctx.sc.expiry && (i === Math.floor(total / 3) || i === Math.floor(2 * total / 3)))
        ctx.clock.t += 2 * DAY;
}

function expectVersions(where, sc, latest) {
    const want = sc.expiry ? 3 : 1;
    if (latest !== want) fail(where, `client has DEK versions 1..${latest}, expected 1..${want}`);
}

// ------------------------------------------------------------ client -> vellum

function checkLines(where, got, want, label) {
    if (got === null) return;
    let bad = 0;
    for (let i = 0; i < want.length; i++) {
        if (got[i] === want[i]) continue;
        if (bad++ < 3) fail(where, `${label} line ${i + 1}: vellum gave ${short(got[i])}, expected ${short(want[i])}`);
    }
    if (bad > 3) fail(where, `${label}: ${bad} lines differ in all`);
    count(`fwd ${label}`, want.length - bad);
}

async function forwardField(sc, dir) {
    const ctx = await makeContext(sc);
    const ser = new sr.AvroSerializer(ctx.client, sr.SerdeType.VALUE, { useLatestVersion: true, ...ctx.conf }, ctx.registry);
    const str = { in: [], want: [] }, byt = { in: [], want: [] };
    for (let i = 0; i < sc.lengths.length; i++) {
        tick(ctx, i, sc.lengths.length);
        const n = sc.lengths[i], s = randString(n), b = randBytes(n);
        const msg = await ser.serialize(TOPIC, { s, b: Buffer.from(b) });
        if (msg[0] !== 0 || msg.readInt32BE(1) !== ctx.id) fail(dir, 'unexpected schema framing');
        const rec = ctx.type.fromBuffer(msg.subarray(5));
        str.in.push(rec.s); // a STRING field is stored as base64 text
        str.want.push(Buffer.from(s, 'utf8').toString('base64'));
        byt.in.push(rec.b.toString('base64'));
        byt.want.push(b.toString('base64'));
    }
    const { files, latest } = await exportDeks(ctx, dir);
    expectVersions(dir, sc, latest);
    const args = ['decrypt', ...kmsArgs(sc), ...files.flatMap(f => ['--dek', f])];
    if (sc.expiry) args.push('--versioned');
    checkLines(dir, vellum(dir, args, str.in), str.want, 'STRING');
    checkLines(dir, vellum(dir, args, byt.in), byt.want, 'BYTES');
    return latest;
}

async function forwardPayload(sc, dir) {
    const ctx = await makeContext(sc);
    const guidFraming = (topic, type, payload, schemaId) => Buffer.concat([schemaId.guidToBytes(), payload]);
    const sers = [false, true].map(g => new sr.AvroSerializer(ctx.client, sr.SerdeType.VALUE,
        { useLatestVersion: true, ...ctx.conf, ...(g ? { schemaIdSerializer: guidFraming } : {}) }, ctx.registry));
    const lines = [], want = [];
    for (let i = 0; i < sc.lengths.length; i++) {
        tick(ctx, i, sc.lengths.length);
        const rec = { p: randBytes(sc.lengths[i]), n: i };
        const guid = i % 2 === 1;
        const msg = await sers[i % 2].serialize(TOPIC, { ...rec });
        const h = header(ctx, guid);
        if (!msg.subarray(0, h.length).equals(h)) fail(dir, 'unexpected schema framing');
        lines.push(msg.toString('base64'));
        want.push(Buffer.concat([h, ctx.type.toBuffer(rec)]).toString('base64'));
    }
    const { files, latest } = await exportDeks(ctx, dir);
    expectVersions(dir, sc, latest);
    const args = ['decrypt', '--payload', ...kmsArgs(sc), ...files.flatMap(f => ['--dek', f])];
    if (sc.expiry) args.push('--versioned');
    checkLines(dir, vellum(dir, args, lines), want, 'payload');
    return latest;
}

// ------------------------------------------------------------ vellum -> client

// Splits the values into chunks, each sealed by one vellum run: with expiry
// the first three create DEK versions 1, 2, 3 (--dek-out) and the last
// reuses them (--dek, the highest seals); without, version 1 is created
// and then reused. Within a chunk, the first run creates the DEK and any
// later run (the other field type) passes --dek.
function chunkPlan(sc) {
    return sc.expiry ? [{ create: 1 }, { create: 2 }, { create: 3 }, { reuse: [1, 2, 3] }]
        : [{ create: 1 }, { reuse: [1] }];
}

function sealRuns(sc, dir, where, kinds, extra) {
    // kinds: [{ lines: [...] }, ...] sealed chunk by chunk with shared DEKs.
    const plan = chunkPlan(sc), dekFile = v => path.join(dir, `vellum-dek-v${v}.json`);
    const out = kinds.map(() => []);
    for (let c = 0; c < plan.length; c++) {
        for (let k = 0; k < kinds.length; k++) {
            const all = kinds[k].lines, lo = Math.floor(c * all.length / plan.length);
            const part = all.slice(lo, Math.floor((c + 1) * all.length / plan.length));
            const args = ['encrypt', ...kmsArgs(sc), ...extra];
            if (sc.expiry) args.push('--versioned');
            const p = plan[c];
            if (p.create && k === 0) {
                args.push('--kek', KEK, '--subject', SUBJECT, '--algorithm', sc.alg,
                    '--dek-out', dekFile(p.create));
                if (p.create !== 1) args.push('--dek-version', String(p.create));
            } else {
                for (const v of p.reuse || [p.create]) args.push('--dek', dekFile(v));
            }
            const got = vellum(where, args, part);
            if (got === null) return null;
            out[k].push(...got);
        }
    }
    return { out, files: plan.filter(p => p.create).map(p => dekFile(p.create)) };
}

// vellum's DEK records into the client's DEK registry, as a host would
// register them through the REST API.
async function importDeks(ctx, where, files) {
    await ctx.dekClient.registerKek(KEK, 'local-kms', `key-${ctx.sc.s}`, false);
    for (const f of files) {
        let d;
        try {
            d = JSON.parse(fs.readFileSync(f, 'utf8'));
        } catch (e) {
            fail(where, `vellum's DEK record ${path.basename(f)}: ${short(e.message)}`);
            continue;
        }
        if (d.kekName !== KEK || d.subject !== SUBJECT || d.algorithm !== ctx.sc.alg || 'keyMaterial' in d)
            fail(where, `${path.basename(f)}: unexpected record ${short(JSON.stringify(d))}`);
        await ctx.dekClient.registerDek(d.kekName, d.subject, d.algorithm, d.version, d.encryptedKeyMaterial);
    }
}

async function deserializeAll(ctx, where, label, msgs, check) {
    const deser = new sr.AvroDeserializer(ctx.client, sr.SerdeType.VALUE, ctx.conf, ctx.registry);
    let ok = 0, bad = 0;
    for (let i = 0; i < msgs.length; i++) {
        let err = null;
        try {
            err = check(i, await deser.deserialize(TOPIC, msgs[i]));
        } catch (e) {
            err = `client refused it: ${short(e.message)}`;
        }
        if (err === null) ok++;
        else if (bad++ < 3) fail(where, `${label} value ${i + 1}: ${err}`);
    }
    if (bad > 3) fail(where, `${label}: ${bad} values failed in all`);
    count(`rev ${label}`, ok);
}

async function reverseField(sc, dir) {
    const ctx = await makeContext(sc);
    const recs = sc.lengths.map(n => ({ s: randString(n), b: randBytes(n) }));
    const sealed = sealRuns(sc, dir, dir, [
        { lines: recs.map(r => Buffer.from(r.s, 'utf8').toString('base64')) },
        { lines: recs.map(r => r.b.toString('base64')) },
    ], []);
    if (sealed === null) return;
    await importDeks(ctx, dir, sealed.files);
    const [strs, byts] = sealed.out;
    // vellum's base64 line is the STRING field's stored text as it is.
    const msgs = recs.map((r, i) => Buffer.concat([header(ctx, false),
        ctx.type.toBuffer({ s: strs[i], b: Buffer.from(byts[i], 'base64') })]));
    await deserializeAll(ctx, dir, 'STRING+BYTES records', msgs, (i, obj) => {
        if (obj.s !== recs[i].s) return `STRING came back as ${short(obj.s)}`;
        if (!Buffer.from(obj.b).equals(recs[i].b)) return 'BYTES came back different';
        return null;
    });
}

async function reversePayload(sc, dir) {
    const ctx = await makeContext(sc);
    const recs = sc.lengths.map((n, i) => ({ p: randBytes(n), n: i }));
    const values = recs.map((r, i) => Buffer.concat([header(ctx, i % 2 === 1), ctx.type.toBuffer(r)]));
    const sealed = sealRuns(sc, dir, dir, [{ lines: values.map(v => v.toString('base64')) }], ['--payload']);
    if (sealed === null) return;
    await importDeks(ctx, dir, sealed.files);
    const msgs = sealed.out[0].map(l => Buffer.from(l, 'base64'));
    await deserializeAll(ctx, dir, 'payloads', msgs, (i, obj) =>
        Buffer.from(obj.p).equals(recs[i].p) && Number(obj.n) === i ? null : 'payload came back different');
}

// ------------------------------------------------------------ scenarios

function scenarios() {
    const out = [];
    for (const alg of ALGS) for (const expiry of [false, true]) {
        // Every length 0..MAX_LEN for each (algorithm, expiry), spread over
        // the secrets; payloads every PAYLOAD_STEP bytes, one secret each.
        for (let s = 0; s < SECRETS.length; s++) {
            const lengths = [];
            for (let n = s; n <= MAX_LEN; n += SECRETS.length) lengths.push(n);
            out.push({ kind: 'field', alg, expiry, s, lengths });
        }
        const lengths = [];
        for (let n = 0; n <= MAX_LEN; n += PAYLOAD_STEP) lengths.push(n);
        out.push({ kind: 'payload', alg, expiry, s: out.length % SECRETS.length, lengths });
    }
    return out;
}

function name(sc) {
    return `${sc.kind}-${sc.alg}-${sc.expiry ? 'expiry' : 'noexpiry'}-secret${sc.s}`;
}

// A wrong secret must not decrypt anything (the KMS refuses the DEK).
function wrongSecret(dir) {
    const files = fs.readdirSync(dir).filter(f => /^dek-v\d+\.json$/.test(f)).map(f => path.join(dir, f));
    const r = spawnSync(VELLUM, ['field', 'decrypt', '--kms', 'local-kms', '--kms-secret', 'not the secret',
        ...files.flatMap(f => ['--dek', f])], { input: '', encoding: 'utf8' });
    if (r.status !== 2 || !/wrong KMS secret/.test(r.stderr))
        fail('wrong secret', `expected exit 2 naming the secret, got ${r.status}: ${short(r.stderr)}`);
    else count('wrong-secret refusals', 1);
}

async function main() {
    sr.LocalKmsDriver.register();
    const t0 = Date.now();
    const versions = new Set();
    for (const sc of scenarios()) {
        const fwd = path.join(WORK, 'client-to-vellum', name(sc));
        const rev = path.join(WORK, 'vellum-to-client', name(sc));
        fs.mkdirSync(fwd, { recursive: true });
        fs.mkdirSync(rev, { recursive: true });
        const latest = sc.kind === 'field' ? await forwardField(sc, fwd) : await forwardPayload(sc, fwd);
        for (let v = 1; v <= latest; v++) versions.add(v);
        if (sc.kind === 'field') await reverseField(sc, rev);
        else await reversePayload(sc, rev);
    }
    wrongSecret(path.join(WORK, 'client-to-vellum', name(scenarios()[0])));
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    const fwd = (counts['fwd STRING'] || 0) + (counts['fwd BYTES'] || 0) + (counts['fwd payload'] || 0);
    const rev = (counts['rev STRING+BYTES records'] || 0) * 2 + (counts['rev payloads'] || 0);
    console.log(`confluent: client -> vellum: ${counts['fwd STRING'] || 0} STRING + ${counts['fwd BYTES'] || 0} BYTES fields + ` +
        `${counts['fwd payload'] || 0} payloads decrypted by vellum`);
    console.log(`confluent: vellum -> client: ${counts['rev STRING+BYTES records'] || 0} records (STRING + BYTES) + ` +
        `${counts['rev payloads'] || 0} payloads decrypted by the client`);
    console.log(`confluent: ${ALGS.join(', ')}; expiry off/on (DEK versions ${[...versions].sort().join(', ')}); ` +
        `${SECRETS.length} secrets; plaintext lengths 0..${MAX_LEN}; id and GUID framing; seed ${SEED0}; ${secs} s`);
    for (const f of failures.slice(0, 30)) console.log(`FAIL ${f}`);
    const passed = fwd + rev + (counts['wrong-secret refusals'] || 0);
    console.log(`confluent: ${passed} passed, ${failures.length} failed`);
    process.exit(failures.length === 0 ? 0 : 1);
}

main().catch(e => {
    console.error('confluent: FAIL', e && e.stack ? e.stack : e);
    process.exit(1);
});
