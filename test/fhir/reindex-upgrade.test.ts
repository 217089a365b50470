import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Observation } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { openDatabase } from '../../src/services.ts';
import type { Database } from '../../src/store/database.ts';
import { migrate } from '../../src/store/migrate.ts';
import { readIndexState, rebuildPending, requestRebuild } from '../../src/store/search/index-state.ts';
import { databaseKinds, throwawaySchema } from '../support/databases.ts';
import { systemClientToken } from '../support/tokens.ts';

const kinds = await databaseKinds();
const PUBLIC_URL = 'https://hie.example.org';
const BASE = `${PUBLIC_URL}/fhir`;
const MOVED_URL = 'https://moved.example.org';
const OTHER = 'http://other.example.org/fhir';
const TABLES = ['search_string', 'search_token', 'search_date', 'search_reference', 'search_quantity', 'search_number', 'search_uri'];

/**
 * Upgrading a database whose index rows were written before absolute references were resolved against this server's
 * FHIR base (migration 0024 marks such a database), and moving the server to another PUBLIC_URL: the server rebuilds a
 * pending index before it serves, resumes a rebuild that was cut off, records the base the index was built for, and
 * refuses to serve an index built for another base. Each server here runs on the same database, one after the other.
 */
describe.each(kinds)('search index rebuild at start on %s', (kind) => {
  let dataDir: string;
  let drop: (() => Promise<void>) | undefined;
  let databaseUrl: string | undefined;
  let server: RunningServer | undefined;
  let logs: string[] = [];
  let token: string;
  let orgId: string;
  let patient: string;
  const obs: Record<string, string> = {};
  /** Every index row as the write path wrote it under BASE. */
  let fresh: Map<string, string[]>;

  /** `null`: no PUBLIC_URL, the base follows the (random) port as in development. */
  async function start(publicUrl: string | null = PUBLIC_URL): Promise<RunningServer> {
    logs = [];
    const logStream = new Writable({
      write(chunk, _enc, done) {
        logs.push(String(chunk));
        done();
      },
    });
    server = await startServer({
      env: {}, logStream,
      config: { port: 0, mllpPort: 0, host: '127.0.0.1', dataDir, demo: false, logLevel: 'info', accessTokenSeconds: 3600, databaseUrl, ...(publicUrl === null ? {} : { publicUrl }) },
    });
    token = await systemClientToken(server, `upgrade-ehr-${Math.random().toString(36).slice(2, 8)}`, orgId ?? (await organization(server)));
    return server;
  }
  async function stop(): Promise<void> {
    await server?.close();
    server = undefined;
  }
  async function organization(s: RunningServer): Promise<string> {
    const org = await s.services.gate.run(systemContext('test'), { action: 'create' }, (scope) =>
      s.services.records.create(scope, { resourceType: 'Organization', name: 'Upgrade Hospital' }));
    orgId = org.resource.id!;
    return orgId;
  }
  /** The database on its own, as a one-shot command (or a process that is about to crash) opens it. */
  async function withDb<T>(fn: (db: Database) => Promise<T>): Promise<T> {
    const db = await openDatabase(loadConfig({ DATA_DIR: dataDir, DATABASE_URL: databaseUrl }));
    try {
      return await fn(db);
    } finally {
      await db.close();
    }
  }
  const katahdin = (env: Record<string, string>, ...args: string[]) =>
    promisify(execFile)('node', ['bin/katahdin.mjs', ...args], {
      env: { ...process.env, PUBLIC_URL: '', DATA_DIR: dataDir, DATABASE_URL: databaseUrl ?? '', ...env }, timeout: 120_000,
    }).then((r) => ({ code: 0, out: r.stdout }), (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }));

  const call = (method: string, url: string, body?: unknown) =>
    server!.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' }, payload: body === undefined ? undefined : JSON.stringify(body) });
  const create = async (body: { resourceType: string }) => {
    const res = await call('POST', `/fhir/${body.resourceType}`, body);
    expect(res.statusCode, res.body).toBe(201);
    return (res.json() as { id: string }).id;
  };
  const observation = (reference: string): Observation =>
    ({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }], text: 'upgrade test' }, subject: { reference } });
  const matches = async (query: string) => {
    const res = await call('GET', `/fhir/Observation?code:text=upgrade%20test&${query}`);
    expect(res.statusCode, res.body).toBe(200);
    return ((res.json() as Bundle).entry ?? []).map((e) => e.resource!.id!).sort();
  };
  async function indexRows(db: Database): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const table of TABLES) {
      const r = await db.query<{ key: string; row: unknown }>(`select resource_type || '/' || id as key, to_jsonb(x) - 'resource_type' - 'id' as row from ${table} x`);
      for (const { key, row } of r.rows) out.set(key, [...(out.get(key) ?? []), `${table} ${JSON.stringify(row)}`]);
    }
    for (const rows of out.values()) rows.sort();
    return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
  }
  /** What the extraction before the fix wrote: another server's Patient indexed as the local one. */
  const stale = (db: Database) =>
    db.query(`update search_reference set target_type = 'Patient', target_id = $1 where resource_type = 'Observation' and id = $2 and ref like $3`, [patient, obs.foreign, `${OTHER}/%`]);
  const rebuildLogs = () => logs.filter((l) => l.includes('search index'));

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'katahdin-upgrade-'));
    const schema = kind === 'postgres' ? await throwawaySchema() : undefined;
    drop = schema?.drop;
    databaseUrl = schema?.url;
  });
  afterAll(async () => {
    await stop();
    await drop?.();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('a fresh database records the FHIR base it is indexed for and rebuilds nothing', async () => {
    const s = await start();
    expect(await readIndexState(s.services.db)).toMatchObject({ base: BASE, pending: false });
    expect(rebuildLogs()).toEqual([]);
    patient = await create({ resourceType: 'Patient', name: [{ family: 'Upgradewell', given: ['Ursula'] }], birthDate: '1960-03-04' } as { resourceType: string });
    obs.relative = await create(observation(`Patient/${patient}`));
    obs.ownAbsolute = await create(observation(`${BASE}/Patient/${patient}`));
    obs.foreign = await create(observation(`${OTHER}/Patient/${patient}`));
    for (let i = 0; i < 4; i++) obs[`more${i}`] = await create(observation(`Patient/${patient}`));
    fresh = await indexRows(s.services.db);
    expect(await matches(`subject=Patient/${patient}`)).not.toContain(obs.foreign);
  }, 120_000);

  it('an index written before migration 0024 is rebuilt before the server serves, with progress logged without PHI', async () => {
    const db = server!.services.db;
    await stale(db);
    // The stale row is served: another server's Patient is taken for the local one.
    expect(await matches(`subject=Patient/${patient}`)).toContain(obs.foreign);
    // The database as it was before 0024.
    await db.query('drop table reindex_state');
    await db.query(`delete from schema_migrations where name = '0024_reindex_pending.sql'`);
    await stop();

    const s = await start();
    expect(await indexRows(s.services.db)).toEqual(fresh);
    expect(await readIndexState(s.services.db)).toMatchObject({ base: BASE, pending: false });
    expect(await matches(`subject=Patient/${patient}`)).toEqual(Object.entries(obs).filter(([k]) => k !== 'foreign').map(([, id]) => id).sort());
    expect(await matches(`subject=${encodeURIComponent(`${OTHER}/Patient/${patient}`)}`)).toEqual([obs.foreign]);
    const lines = rebuildLogs();
    expect(lines.some((l) => l.includes('search index rebuild before serving'))).toBe(true);
    expect(lines.some((l) => l.includes('search index rebuilt'))).toBe(true);
    for (const l of lines) {
      expect(l).not.toContain(patient);
      expect(l).not.toContain('Upgradewell');
      for (const id of Object.values(obs)) expect(l).not.toContain(id);
    }
    // The rebuild ran before the listener: its last line precedes "Katahdin is running".
    const running = logs.findIndex((l) => l.includes('Katahdin is running'));
    expect(logs.findIndex((l) => l.includes('search index rebuilt'))).toBeLessThan(running);
  }, 120_000);

  it('a rebuild cut off part-way resumes where it stopped at the next start', async () => {
    await stop();
    const total = await withDb(async (db) => {
      await requestRebuild(db, { base: BASE, reason: 'test' });
      await stale(db);
      let batches = 0;
      // The process dies after its second batch committed.
      await expect(rebuildPending(db, { base: BASE, batchSize: 2, onBatch: () => {
        if (++batches === 2) throw new Error('killed');
      } })).rejects.toThrow('killed');
      const state = await readIndexState(db);
      expect(state).toMatchObject({ base: BASE, pending: true, done: 4 });
      return Number((await db.query<{ n: number }>('select count(*)::int as n from resources where not deleted')).rows[0].n);
    });
    const s = await start();
    expect(await readIndexState(s.services.db)).toMatchObject({ pending: false, done: total });
    expect(logs.some((l) => l.includes('search index rebuild before serving') && l.includes('"done":4'))).toBe(true);
    expect(await indexRows(s.services.db)).toEqual(fresh);
    expect(await matches(`subject=Patient/${patient}`)).not.toContain(obs.foreign);
  }, 120_000);

  it('two processes rebuilding at once take batches in turn from the one cursor, none twice', async () => {
    await stop();
    await withDb(async (db) => {
      await requestRebuild(db, { base: BASE, reason: 'test' });
      await stale(db);
      const total = Number((await db.query<{ n: number }>('select count(*)::int as n from resources where not deleted')).rows[0].n);
      const [a, b] = await Promise.all([rebuildPending(db, { base: BASE, batchSize: 1 }), rebuildPending(db, { base: BASE, batchSize: 1 })]);
      expect((a?.total ?? 0) + (b?.total ?? 0)).toBe(total);
      expect(await readIndexState(db)).toMatchObject({ pending: false, done: total });
      expect(await indexRows(db)).toEqual(fresh);
      expect(await rebuildPending(db, { base: BASE })).toBeUndefined();
    });
  }, 120_000);

  it('a server with another PUBLIC_URL refuses to start; `katahdin reindex --rebase` adopts it', async () => {
    await stop();
    const refused = await start(MOVED_URL).then(() => undefined, (err: unknown) => err);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toContain(`search index was built for FHIR base ${BASE}`);
    expect((refused as Error).message).toContain(`${MOVED_URL}/fhir`);
    expect((refused as Error).message).toContain('katahdin reindex --rebase');
    server = undefined;

    // A command without PUBLIC_URL rebuilds for the base the index was built for, not its own default.
    const plain = await katahdin({}, 'reindex');
    expect(plain.code, plain.out).toBe(0);
    expect(plain.out).toContain(`(FHIR base ${BASE})`);
    expect((await katahdin({}, 'reindex', '--rebase')).out).toContain('--rebase needs PUBLIC_URL');
    const rebased = await katahdin({ PUBLIC_URL: MOVED_URL }, 'reindex', '--rebase');
    expect(rebased.code, rebased.out).toBe(0);
    expect(rebased.out).toContain(`(FHIR base ${MOVED_URL}/fhir)`);
    // The old base is no longer the server's: its absolute references are another server's.
    await start(MOVED_URL);
    expect(await readIndexState(server!.services.db)).toMatchObject({ base: `${MOVED_URL}/fhir`, pending: false });
    expect(await matches(`subject=Patient/${patient}`)).not.toContain(obs.ownAbsolute);
    expect(await matches(`subject=Patient/${patient}`)).toContain(obs.relative);
  }, 300_000);

  it('without PUBLIC_URL (development) a changed address rebuilds the index at start instead of refusing', async () => {
    await stop();
    await start(null);
    const derived = `${server!.url.replace(/\/$/, '')}/fhir`;
    expect(await readIndexState(server!.services.db)).toMatchObject({ base: derived, pending: false });
    expect(rebuildLogs().join('\n')).toContain('the server address changed and PUBLIC_URL is not set');
    expect(await matches(`subject=Patient/${patient}`)).toContain(obs.relative);
    expect(await matches(`subject=Patient/${patient}`)).not.toContain(obs.ownAbsolute);
  }, 300_000);

  it('`katahdin migrate` carries out a pending rebuild for the recorded base', async () => {
    await stop();
    await withDb(async (db) => {
      await requestRebuild(db, { base: `${MOVED_URL}/fhir`, reason: 'test' });
      await stale(db);
    });
    const out = await katahdin({}, 'migrate');
    expect(out.code, out.out).toBe(0);
    expect(out.out).toContain(`(FHIR base ${MOVED_URL}/fhir)`);
    await withDb(async (db) => {
      expect(await readIndexState(db)).toMatchObject({ base: `${MOVED_URL}/fhir`, pending: false });
      const rows = await db.query<{ n: number }>(`select count(*)::int as n from search_reference where id = $1 and target_id is not null and ref like $2`, [obs.foreign, `${OTHER}/%`]);
      expect(rows.rows[0].n).toBe(0);
    });
  }, 300_000);

  it('a database upgraded without any resources needs no rebuild', async () => {
    await withDb(async (db) => {
      await db.query('drop table reindex_state');
      await db.query(`delete from schema_migrations where name = '0024_reindex_pending.sql'`);
      for (const table of ['resources', ...TABLES]) await db.query(`delete from ${table}`);
      expect(await migrate(db)).toEqual(['0024_reindex_pending.sql']);
      expect(await readIndexState(db)).toMatchObject({ base: null, pending: false });
    });
  }, 120_000);
});
