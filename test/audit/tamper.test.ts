import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { appendAudit } from '../../src/audit/chain.ts';
import { readOf } from '../../src/audit/test-support.ts';
import { loadConfig } from '../../src/config.ts';
import { main } from '../../src/main.ts';
import { openDatabase } from '../../src/services.ts';
import type { Database } from '../../src/store/database.ts';
import { migrate } from '../../src/store/migrate.ts';
import { databaseKinds, throwawaySchema } from '../support/databases.ts';

const kinds = await databaseKinds();
const ENTRIES = 12;

/** `katahdin <args>` in-process, with the environment the operator would set; returns exit code and printed text. */
async function katahdin(env: Record<string, string | undefined>, ...args: string[]): Promise<{ code: number; text: string }> {
  const saved = { DATA_DIR: process.env.DATA_DIR, DATABASE_URL: process.env.DATABASE_URL };
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a) => void lines.push(a.join(' ')));
  const err = vi.spyOn(console, 'error').mockImplementation((...a) => void lines.push(a.join(' ')));
  try {
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    return { code: await main(args), text: lines.join('\n') };
  } finally {
    log.mockRestore();
    err.mockRestore();
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

describe.each(kinds)('katahdin audit verify / checkpoint / export on %s', (kind) => {
  let dataDir: string;
  let env: Record<string, string | undefined>;
  let drop: (() => Promise<void>) | undefined;

  /** Opens the same database the CLI uses (PGlite on disk allows one opener at a time), runs `fn`, closes it. */
  async function withDb<T>(fn: (db: Database) => Promise<T>): Promise<T> {
    const db = await openDatabase(loadConfig({ ...process.env, ...env }));
    try {
      return await fn(db);
    } finally {
      await db.close();
    }
  }
  // A superuser bypassing the append-only trigger: exactly what the hash chain must still catch.
  const tamper = (sqlText: string) => withDb(async (db) => {
    await db.query('alter table audit_log disable trigger all');
    await db.query(sqlText);
    await db.query('alter table audit_log enable trigger all');
    for (const t of ['audit_log_no_update', 'audit_log_no_truncate']) await db.query(`alter table audit_log enable always trigger ${t}`);
  });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'katahdin-tamper-'));
    const schema = kind === 'postgres' ? await throwawaySchema() : undefined;
    drop = schema?.drop;
    env = { DATA_DIR: dataDir, DATABASE_URL: schema?.url };
    await withDb(async (db) => {
      await migrate(db);
      for (let i = 1; i <= ENTRIES; i++) {
        await db.transaction((tx) => appendAudit(tx, readOf(`person-${i}`, `Observation/${i}`), { now: new Date(Date.UTC(2026, 0, i)) }));
      }
    });
  }, 300_000);
  afterAll(async () => {
    await drop?.();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('verifies an intact log, signs a checkpoint with a key kept outside the database, and exports NDJSON', async () => {
    const ok = await katahdin(env, 'audit', 'verify');
    expect(ok).toEqual({ code: 0, text: expect.stringContaining(`audit log OK: ${ENTRIES} entries`) });
    const cp = await katahdin(env, 'audit', 'checkpoint');
    expect(cp.code).toBe(0);
    expect(cp.text).toContain(`checkpoint at entry ${ENTRIES}`);
    expect(await readFile(join(dataDir, 'keys', 'audit-checkpoint.key'), 'utf8')).toContain('PRIVATE KEY');
    const signed = await katahdin(env, 'audit', 'verify');
    expect(signed.text).toContain('1 checkpoints, signatures verified');
    const out = join(dataDir, 'archive.ndjson');
    const exported = await katahdin(env, 'audit', 'export', '--before', '2026-01-04T00:00:00Z', '--out', out);
    expect(exported.code).toBe(0);
    expect((await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l).seq)).toEqual([1, 2, 3]);
    expect((await katahdin(env, 'audit', 'export', '--before', 'not-a-date', '--out', out)).code).toBe(1);
    expect(await katahdin(env, 'audit', 'verify-archive', '--file', out)).toEqual({
      code: 0, text: `archive OK: 3 entries in ${out}, checked against its chains, its manifest, the audit log`,
    });
  });

  it('audit export defaults to entries older than AUDIT_RETENTION_YEARS; verify-archive finds an edited archive', async () => {
    const old = join(dataDir, 'retention.ndjson');
    const res = await katahdin({ ...env, AUDIT_RETENTION_YEARS: '7' }, 'audit', 'export', '--out', old);
    const cutoff = new Date();
    cutoff.setUTCFullYear(cutoff.getUTCFullYear() - 7);
    expect(res).toEqual({ code: 0, text: expect.stringContaining(`exported 0 audit entries before ${cutoff.toISOString().slice(0, 10)}`) });
    const out = join(dataDir, 'archive.ndjson');
    const lines = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    lines[0].source_ip = '6.6.6.6';
    await writeFile(out, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    expect(await katahdin(env, 'audit', 'verify-archive', '--file', out)).toEqual({
      code: 1, text: `archive TAMPERED: entry 1 was changed, removed or reordered in ${out}`,
    });
  });

  // Each tamper is earlier in the chain than the one before, so each becomes the first bad entry reported.
  it('reports truncation of the tail (entries after the signed checkpoint head removed)', async () => {
    await tamper(`delete from audit_log where seq > ${ENTRIES - 2}`);
    const res = await katahdin(env, 'audit', 'verify');
    expect(res).toEqual({ code: 1, text: `audit log TAMPERED: entry ${ENTRIES - 1} and every later entry are missing (the log was truncated)` });
  });

  it('reports reordered entries', async () => {
    const cols = 'recorded, action, subtype, outcome, purpose, agent_user_id, agent_name, agent_role, agent_org, agent_client, source_ip, person_ids, entity_refs, relationship, break_glass, event, query, detail, prev_hash, hash';
    const set = cols.split(', ').map((c) => `${c} = o.${c}`).join(', ');
    await tamper(`update audit_log a set ${set} from (select ${cols}, case seq when 7 then 8 else 7 end as target from audit_log where seq in (7, 8)) o where a.seq = o.target`);
    const res = await katahdin(env, 'audit', 'verify');
    expect(res).toEqual({ code: 1, text: 'audit log TAMPERED: entry 7 entries were reordered' });
  });

  it('reports a deleted entry', async () => {
    await tamper('delete from audit_log where seq = 5');
    const res = await katahdin(env, 'audit', 'verify');
    expect(res).toEqual({ code: 1, text: 'audit log TAMPERED: entry 5 entry is missing (removed)' });
  });

  it('reports a modified entry', async () => {
    await tamper(`update audit_log set agent_name = 'Someone Else', source_ip = '6.6.6.6' where seq = 3`);
    const res = await katahdin(env, 'audit', 'verify');
    expect(res).toEqual({ code: 1, text: 'audit log TAMPERED: entry 3 entry was changed' });
  });

  it('the append-only trigger refuses the same edits when not bypassed', async () => {
    await withDb(async (db) => {
      await expect(db.query(`update audit_log set agent_name = 'x' where seq = 1`)).rejects.toThrow();
      await expect(db.query('delete from audit_log where seq = 1')).rejects.toThrow();
    });
  });
});
