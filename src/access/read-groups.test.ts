import { describe, expect, it } from 'vitest';
import type { Database, Queryable, Statement } from '../store/database.ts';
import { ReadGroups, type GroupJob } from './read-groups.ts';

/** A database whose transactions are recorded and can be made to fail; `commit` gates when one resolves. */
function fakeDatabase() {
  const log: string[] = [];
  let gate: Promise<void> = Promise.resolve();
  const db: Database = {
    dialect: 'postgres',
    query: async () => ({ rows: [], rowCount: 0 }),
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      log.push('begin');
      try {
        const value = await fn(db);
        await gate;
        log.push('commit');
        return value;
      } catch (err) {
        log.push('rollback');
        throw err;
      }
    },
    async readThenWrite<T>(fn: (tx: Queryable) => Promise<{ value: T; final: Statement[] }>): Promise<T> {
      return db.transaction(async (tx) => {
        const { value, final } = await fn(tx);
        for (const st of final) {
          log.push(st.text);
          if (st.text === 'fail') throw new Error('append failed');
        }
        return value;
      });
    },
    close: async () => undefined,
  };
  return { db, log, hold: (p: Promise<void>) => (gate = p) };
}

interface Probe {
  job: GroupJob<string, string>;
  calls: string[];
}

function probe(name: string, opts: { refuse?: boolean; fail?: boolean; wait?: Promise<void> } = {}): Probe {
  const calls: string[] = [];
  return {
    calls,
    job: {
      alone: async () => {
        calls.push('alone');
        await opts.wait;
        if (opts.refuse) throw new Error(`${name} refused alone`);
        return `${name} alone`;
      },
      inGroup: async () => {
        calls.push('group');
        if (opts.fail) throw new Error(`${name}: statement failed`);
        if (opts.refuse) return { error: new Error(`${name} refused`), records: [`${name} denied`] };
        return { value: `${name} grouped`, records: [`${name} read`] };
      },
    },
  };
}

/** An append that notes the records and returns one statement for them. */
const appending = (appended: string[][]) => (records: string[]): Statement[] => {
  appended.push(records);
  return [{ text: 'append', values: records }];
};

const tick = () => new Promise((done) => setTimeout(done, 0));

describe('ReadGroups', () => {
  it('runs an access alone when nothing else is waiting, and groups the ones that arrive meanwhile', async () => {
    const { db, log } = fakeDatabase();
    const appended: string[][] = [];
    const groups = new ReadGroups<string>(db, appending(appended), { groups: 1, size: 64 });
    let releaseFirst!: () => void;
    const first = probe('a', { wait: new Promise<void>((done) => (releaseFirst = done)) });
    const a = groups.run(first.job);
    const rest = ['b', 'c', 'd'].map((n) => probe(n));
    const answers = rest.map((p) => groups.run(p.job));
    await tick();
    expect(first.calls).toEqual(['alone']);
    expect(rest.every((p) => p.calls.length === 0), 'the others wait while the only group slot is taken').toBe(true);
    releaseFirst();
    expect(await a).toBe('a alone');
    expect(await Promise.all(answers)).toEqual(['b grouped', 'c grouped', 'd grouped']);
    expect(log).toEqual(['begin', 'append', 'commit']);
    expect(appended).toEqual([['b read', 'c read', 'd read']]);
  });

  it('releases no answer before the group commits', async () => {
    const { db, hold } = fakeDatabase();
    const groups = new ReadGroups<string>(db, () => [], { groups: 1, size: 64 });
    let releaseFirst!: () => void;
    const a = groups.run(probe('a', { wait: new Promise<void>((done) => (releaseFirst = done)) }).job);
    let commit!: () => void;
    hold(new Promise<void>((done) => (commit = done)));
    let settled = false;
    const grouped = Promise.all([groups.run(probe('b').job), groups.run(probe('c').job)]).finally(() => (settled = true));
    releaseFirst();
    await a;
    for (let i = 0; i < 5; i++) await tick();
    expect(settled).toBe(false);
    commit();
    expect(await grouped).toEqual(['b grouped', 'c grouped']);
  });

  it('rejects a refused access with its error and records the refusal with the group', async () => {
    const { db } = fakeDatabase();
    const appended: string[][] = [];
    const groups = new ReadGroups<string>(db, appending(appended), { groups: 1, size: 64 });
    let releaseFirst!: () => void;
    const a = groups.run(probe('a', { wait: new Promise<void>((done) => (releaseFirst = done)) }).job);
    const b = groups.run(probe('b').job);
    const c = groups.run(probe('c', { refuse: true }).job);
    releaseFirst();
    await a;
    expect(await b).toBe('b grouped');
    await expect(c).rejects.toThrow('c refused');
    expect(appended).toEqual([['b read', 'c denied']]);
  });

  it('runs every access of a failed group again alone, and nothing of the group is appended', async () => {
    const { db, log } = fakeDatabase();
    const appended: string[][] = [];
    const groups = new ReadGroups<string>(db, appending(appended), { groups: 1, size: 64 });
    let releaseFirst!: () => void;
    const a = groups.run(probe('a', { wait: new Promise<void>((done) => (releaseFirst = done)) }).job);
    const probes = [probe('b'), probe('c', { fail: true }), probe('d')];
    const answers = probes.map((p) => groups.run(p.job));
    releaseFirst();
    await a;
    expect(await Promise.all(answers)).toEqual(['b alone', 'c alone', 'd alone']);
    // The group's accesses all start together (pipelined); when one fails, each of them runs again alone.
    expect(probes.map((p) => p.calls)).toEqual([['group', 'alone'], ['group', 'alone'], ['group', 'alone']]);
    expect(log).toEqual(['begin', 'rollback']);
    expect(appended).toEqual([]);
  });

  it('runs every access again alone when the append fails, and delivers nothing of the group', async () => {
    const { db, log } = fakeDatabase();
    const groups = new ReadGroups<string>(db, () => [{ text: 'fail', values: [] }], { groups: 1, size: 64 });
    let releaseFirst!: () => void;
    const a = groups.run(probe('a', { wait: new Promise<void>((done) => (releaseFirst = done)) }).job);
    const probes = [probe('b'), probe('c')];
    const answers = probes.map((p) => groups.run(p.job));
    releaseFirst();
    await a;
    expect(await Promise.all(answers)).toEqual(['b alone', 'c alone']);
    expect(log).toEqual(['begin', 'fail', 'rollback']);
  });

  it('keeps groups within the size limit and the number of groups in flight', async () => {
    const { db, log } = fakeDatabase();
    const appended: string[][] = [];
    const groups = new ReadGroups<string>(db, appending(appended), { groups: 2, size: 2 });
    const releases: Array<() => void> = [];
    const firsts = ['a', 'b'].map((n) => groups.run(probe(n, { wait: new Promise<void>((done) => releases.push(done)) }).job));
    const later = ['c', 'd', 'e', 'f', 'g'].map((n) => groups.run(probe(n).job));
    await tick();
    expect(log, 'both slots hold an access running alone').toEqual([]);
    releases.forEach((release) => release());
    await Promise.all([...firsts, ...later]);
    expect(appended.flat().sort()).toEqual(['c read', 'd read', 'e read', 'f read']);
    expect(appended.every((records) => records.length <= 2)).toBe(true);
    expect(log.filter((l) => l === 'commit')).toHaveLength(2);
  });
});
