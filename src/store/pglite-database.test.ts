import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from './database.ts';
import { openPglite } from './pglite-database.ts';

describe('PGlite named statements', () => {
  let db: Database;
  const preparedCount = async (text: string) =>
    (await db.query<{ n: number }>('select count(*)::int as n from pg_prepared_statements where statement = $1', [text], { prepare: false })).rows[0].n;

  beforeAll(async () => {
    db = await openPglite();
    await db.query('create table t (id text primary key, doc jsonb, tags text[], at timestamptz, flag boolean, n int)');
  });
  afterAll(() => db.close());

  it('names a statement on its fifth run and answers exactly as the unnamed runs did, every type included', async () => {
    const insert = 'insert into t (id, doc, tags, at, flag, n) values ($1, $2, $3, $4, $5, $6)';
    for (let i = 0; i < 8; i++) {
      const r = await db.query(insert, [`r${i}`, { i, nested: { s: `x'"${i}` } }, [`a${i}`, 'b,c', null], new Date(Date.UTC(2026, 0, i + 1)).toISOString(), i % 2 === 0, i === 3 ? null : i]);
      expect(r.rowCount).toBe(1);
    }
    expect(await preparedCount(insert)).toBe(1);
    const read = 'select id, doc, tags, at, flag, n from t where id = $1';
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push((await db.query(read, [`r${i}`])).rows);
    expect(await preparedCount(read)).toBe(1);
    // Runs 1–4 unnamed, 5–8 named: the same shapes.
    for (let i = 0; i < 8; i++) {
      expect(answers[i]).toEqual([{ id: `r${i}`, doc: { i, nested: { s: `x'"${i}` } }, tags: [`a${i}`, 'b,c', null], at: new Date(Date.UTC(2026, 0, i + 1)), flag: i % 2 === 0, n: i === 3 ? null : i }]);
    }
  });

  it('keeps the database usable after a named statement fails, in and out of a transaction', async () => {
    const insert = 'insert into t (id, n) values ($1, $2)';
    for (let i = 0; i < 5; i++) await db.query(insert, [`e${i}`, i]);
    expect(await preparedCount(insert)).toBe(1);
    await expect(db.query(insert, ['e0', 9])).rejects.toMatchObject({ code: '23505' });
    await expect(
      db.transaction(async (tx) => {
        await tx.query(insert, ['e-new', 1]);
        await tx.query(insert, ['e1', 2]);
      }),
    ).rejects.toMatchObject({ code: '23505' });
    const count = 'select count(*)::int as n from t where id like $1';
    expect((await db.query<{ n: number }>(count, ['e-new'], { prepare: false })).rows[0].n).toBe(0);
    await db.transaction(async (tx) => {
      await tx.query(insert, ['e-kept', 1]);
    });
    expect((await db.query<{ n: number }>(count, ['e-kept'], { prepare: false })).rows[0].n).toBe(1);
  });

  it('never runs a statement outside a transaction inside another caller\'s open transaction', async () => {
    const insert = 'insert into t (id, n) values ($1, $2)';
    const read = 'select count(*)::int as n from t where id = $1';
    for (let i = 0; i < 5; i++) await db.query(read, ['nobody']);
    let release!: () => void;
    let inserted!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const hasInserted = new Promise<void>((resolve) => (inserted = resolve));
    const tx = db.transaction(async (t) => {
      await t.query(insert, ['iso', 1]);
      inserted();
      await held;
      throw new Error('roll back');
    });
    await hasInserted;
    // The named read waits for the transaction to end, so it never sees its uncommitted row.
    const outside = db.query<{ n: number }>(read, ['iso']);
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    await expect(tx).rejects.toThrow('roll back');
    expect((await outside).rows[0].n).toBe(0);
  });

  it('never names a statement run with prepare: false', async () => {
    const text = 'select $1::int * 3 as n';
    for (let i = 1; i <= 8; i++) expect((await db.query<{ n: number }>(text, [i], { prepare: false })).rows[0].n).toBe(i * 3);
    expect(await preparedCount(text)).toBe(0);
  });

  it('keeps what named statements wrote in a data folder across a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'katahdin-pglite-'));
    try {
      const first = await openPglite(dir);
      await first.query('create table kept (id int primary key)');
      const insert = 'insert into kept (id) values ($1)';
      for (let i = 1; i <= 6; i++) await first.query(insert, [i]);
      await first.transaction(async (tx) => {
        for (let i = 7; i <= 12; i++) await tx.query(insert, [i]);
      });
      await first.close();
      const again = await openPglite(dir);
      expect((await again.query<{ n: number }>('select count(*)::int as n from kept')).rows[0].n).toBe(12);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
