// `katahdin keys rotate` re-seals the inbox: bodies sealed with an older data key are re-encrypted with the new one,
// and bodies stored before sealing existed (plaintext, migration 0009) are sealed. Nothing is lost or changed.
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFieldCrypto } from '../../src/auth/field-crypto.ts';
import type { DataKey } from '../../src/auth/keys.ts';
import { migratedPglite } from '../../src/audit/test-support.ts';
import { getMessage, resealInbox, storeIncoming } from '../../src/ingest/inbox.ts';
import type { Database } from '../../src/store/database.ts';

const oldKey: DataKey = { kid: 'old', key: randomBytes(32) };
const newKey: DataKey = { kid: 'new', key: randomBytes(32) };
const before = createFieldCrypto({ current: oldKey, all: [oldKey], source: 'file' });
const after = createFieldCrypto({ current: newKey, all: [newKey, oldKey], source: 'file' });

let db: Database;
beforeEach(async () => {
  db = await migratedPglite();
});
afterEach(async () => db.close());

const body = (i: number) => `MSH|^~\\&|LAB|A|KATAHDIN|HIE|20260101||ORU^R01|C${i}|P|2.5\rPID|1||MRN${i}||Doe^Jane||19700101|F|||||||||||123-45-${String(6000 + i)}`;

describe('resealInbox', () => {
  it('seals every body with the current key, across pages, and leaves the messages as they were', async () => {
    const ids: string[] = [];
    // 1,100 sealed with the old key (more than two pages), 30 stored as plaintext the way rows before 0009 were, 1 body removed (opted out).
    for (let i = 0; i < 1100; i++) {
      ids.push((await storeIncoming(db, before, { channel: 'mllp', sender: 'LAB', controlId: `C${i}`, messageType: 'ORU^R01', raw: body(i) }, new Date())).message.id);
    }
    for (let i = 1100; i < 1130; i++) {
      ids.push(`legacy-${i}`);
      await db.query(`insert into ingest_messages (id, received_at, channel, sender, control_id, status, raw) values ($1, now(), 'mllp', 'LAB', $2, 'applied', $3)`, [`legacy-${i}`, `C${i}`, body(i)]);
    }
    await db.query(`update ingest_messages set raw = null where id = $1`, [ids[5]]);

    const report = await resealInbox(db, after);
    expect(report).toEqual({ examined: 1129, resealed: 1099, sealedPlaintext: 30 });

    const rows = (await db.query<{ id: string; raw: string | null; raw_sealed: boolean }>('select id, raw, raw_sealed from ingest_messages')).rows;
    expect(rows).toHaveLength(1130);
    for (const r of rows) {
      if (r.id === ids[5]) {
        expect(r.raw).toBeNull();
        continue;
      }
      expect(r.raw_sealed).toBe(true);
      expect(after.keyIdOf(r.raw!)).toBe('new');
      expect(r.raw).not.toContain('Doe^Jane');
    }
    for (const [i, id] of ids.entries()) {
      if (i !== 5) expect((await getMessage(db, after, id))?.raw).toBe(body(i));
    }
    // Running it again changes nothing.
    expect(await resealInbox(db, after)).toEqual({ examined: 1129, resealed: 0, sealedPlaintext: 0 });
  }, 120_000);
});
