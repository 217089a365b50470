import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../store/database.ts';
import { appendAudit, loadCheckpointKey, verifyChain } from './chain.ts';
import { readCheckpointLog } from './checkpoint.ts';
import { startCheckpoints } from './checkpoint-schedule.ts';
import { migratedPglite, readOf } from './test-support.ts';

let db: Database;
let keyDir: string;
const log = { info: () => undefined, error: () => undefined };

beforeEach(async () => {
  db = await migratedPglite();
  keyDir = await mkdtemp(join(tmpdir(), 'katahdin-cp-'));
});
afterEach(async () => {
  await db.close();
  await rm(keyDir, { recursive: true, force: true });
});

describe('startCheckpoints', () => {
  it('signs the chain heads when the server stops, with a key it creates outside the database', async () => {
    const schedule = await startCheckpoints(db, keyDir, 60, log);
    for (let i = 1; i <= 3; i++) await db.transaction((tx) => appendAudit(tx, readOf(`p${i}`, `Observation/o${i}`)));
    await schedule.close();
    const key = await loadCheckpointKey(keyDir);
    expect(key).toBeDefined();
    expect(await verifyChain(db, { key })).toMatchObject({ ok: true, count: 3, checkpoints: 1, signaturesChecked: true });
    // The same signed checkpoint also lands outside the database, where deleting checkpoint rows cannot reach it.
    const outside = await readCheckpointLog(keyDir);
    expect(outside).toMatchObject([{ chain: 1, seq: 3 }]);
    expect(await readFile(join(keyDir, 'audit-checkpoints.ndjson'), 'utf8')).toContain(outside[0].signature);
    expect(await verifyChain(db, { key, externalCheckpoints: outside })).toMatchObject({ ok: true, checkpoints: 1 });
  });

  it('does nothing when switched off', async () => {
    const schedule = await startCheckpoints(db, keyDir, 0, log);
    await schedule.close();
    expect(await loadCheckpointKey(keyDir)).toBeUndefined();
    expect((await db.query('select * from audit_checkpoints')).rows).toHaveLength(0);
  });
});
