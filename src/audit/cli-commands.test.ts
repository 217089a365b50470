import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../store/database.ts';
import { checkArchive, retentionCutoff, verifyArchive } from './archive.ts';
import { appendAudit } from './chain.ts';
import { auditCheckpoint, auditExport, auditVerify, auditVerifyArchive } from './cli-commands.ts';
import { migratedPglite, readOf } from './test-support.ts';

let db: Database;
let dir: string;
beforeAll(async () => {
  db = await migratedPglite();
  dir = await mkdtemp(join(tmpdir(), 'audit-cli-'));
  for (let i = 1; i <= 6; i++) {
    await db.transaction((tx) => appendAudit(tx, readOf(`p${i}`, `Patient/${i}`), { now: new Date(`2026-0${i}-01T00:00:00Z`) }));
  }
});

describe('audit CLI commands', () => {
  it('verify reports OK, then OK with signatures after a checkpoint (key created under keyDir, not in the database)', async () => {
    const keyDir = join(dir, 'keys');
    expect((await auditVerify(db, keyDir)).text).toBe('audit log OK: 6 entries, 0 checkpoints, signatures NOT checked (no checkpoint key found)');
    const cp = await auditCheckpoint(db, keyDir);
    expect(cp.result.seq).toBe(6);
    expect(await readFile(join(keyDir, 'audit-checkpoint.key'), 'utf8')).toContain('PRIVATE KEY');
    const ok = await auditVerify(db, keyDir);
    expect(ok).toMatchObject({ ok: true, text: 'audit log OK: 6 entries, 1 checkpoints, signatures verified' });
  });

  it('exports entries before a date as NDJSON whose chain verifies and links to the live log', async () => {
    const out = join(dir, 'archive.ndjson');
    const res = await auditExport(db, { before: new Date('2026-04-01T00:00:00Z'), out });
    expect(res.result).toMatchObject({ count: 3, firstSeq: 1, lastSeq: 3 });
    const lines = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.seq)).toEqual([1, 2, 3]);
    expect(await verifyArchive(out)).toEqual({ ok: true, count: 3, lastHash: res.result.lastHash });
    const next = (await db.query<{ prev_hash: string }>('select prev_hash from audit_log where seq = 4')).rows[0];
    expect(next.prev_hash).toBe(res.result.lastHash);
    const manifest = JSON.parse(await readFile(`${out}.manifest.json`, 'utf8'));
    expect(manifest.lastHash).toBe(res.result.lastHash);
    lines[1].agent_name = 'Someone else';
    await writeFile(out, lines.map((l) => JSON.stringify(l)).join('\n'));
    expect(await verifyArchive(out)).toEqual({ ok: false, firstBadSeq: 2 });
    expect((await db.query('select count(*)::int as n from audit_log')).rows[0]).toEqual({ n: 6 });
  });

  it('verify prints the first tampered entry', async () => {
    await db.query('alter table audit_log disable trigger audit_log_no_update');
    await db.query(`update audit_log set source_ip = '6.6.6.6' where seq = 2`);
    await db.query('alter table audit_log enable always trigger audit_log_no_update');
    const bad = await auditVerify(db, join(dir, 'keys'));
    expect(bad).toMatchObject({ ok: false, text: 'audit log TAMPERED: entry 2 entry was changed' });
  });
});

describe('archives checked on their own and against the log', () => {
  it('finds lines removed at either end of an archive (manifest) and a file the log never exported', async () => {
    const own = await migratedPglite();
    for (let i = 1; i <= 5; i++) await own.transaction((tx) => appendAudit(tx, readOf(`q${i}`, `Patient/${i}`), { now: new Date(`2026-0${i}-01T00:00:00Z`) }));
    const out = join(dir, 'ends.ndjson');
    await auditExport(own, { before: new Date('2026-05-01T00:00:00Z'), out });
    expect(await auditVerifyArchive(own, out)).toMatchObject({ ok: true, text: `archive OK: 4 entries in ${out}, checked against its chains, its manifest, the audit log` });
    const lines = (await readFile(out, 'utf8')).trim().split('\n');
    await writeFile(out, lines.slice(1).join('\n') + '\n');
    expect(await verifyArchive(out)).toMatchObject({ ok: true }); // each remaining chain link is intact
    expect(await checkArchive(out)).toEqual({ ok: false, text: `archive TAMPERED: ${out} does not match its manifest (sha256, count (3, manifest 4), first entry, first previous hash)` });
    await writeFile(out, lines.slice(0, -1).join('\n') + '\n');
    expect((await checkArchive(out)).text).toBe(`archive TAMPERED: ${out} does not match its manifest (sha256, count (3, manifest 4), last entry, last hash)`);
    await rm(`${out}.manifest.json`);
    expect(await auditVerifyArchive(own, out)).toMatchObject({ ok: false, text: expect.stringContaining('the audit log recorded no export of') });
  });
});

describe('checkpoints kept outside the database', () => {
  it('reveal a truncated tail even when its checkpoint rows are deleted and the published head rolled back', async () => {
    const own = await migratedPglite();
    const keyDir = join(dir, 'keys-outside');
    for (let i = 1; i <= 6; i++) await own.transaction((tx) => appendAudit(tx, readOf(`r${i}`, `Patient/${i}`)));
    await auditCheckpoint(own, keyDir);
    expect(await readFile(join(keyDir, 'audit-checkpoints.ndjson'), 'utf8')).toContain('"seq":6');
    for (const t of ['audit_log', 'audit_checkpoints', 'audit_chain_head']) await own.query(`alter table ${t} disable trigger all`);
    await own.query('delete from audit_log where seq > 4');
    await own.query('delete from audit_checkpoints');
    await own.query('update audit_chain_head set seq = 4, hash = (select hash from audit_log where seq = 4) where id = 1');
    expect(await auditVerify(own, keyDir)).toMatchObject({
      ok: false, text: 'audit log TAMPERED: entry 5 and every later entry are missing (the log was truncated)',
    });
  });
});

describe('retentionCutoff', () => {
  it('never goes below six years', () => {
    const now = new Date('2026-11-25T00:00:00Z');
    expect(retentionCutoff(6, now).toISOString()).toBe('2020-11-25T00:00:00.000Z');
    expect(retentionCutoff(2, now).toISOString()).toBe('2020-11-25T00:00:00.000Z');
    expect(retentionCutoff(10, now).toISOString()).toBe('2016-11-25T00:00:00.000Z');
  });
});
