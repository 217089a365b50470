// Batch (re)linking of every stored source record: one in-memory pass with the link store's decision rule
// (`linkInOrder`), then set-based writes of links, block keys, review tasks and compartments, a chunk per
// transaction. For initial loads and `mpi relink --batch`; the write path links one record at a time.
import { randomUUID } from 'node:crypto';
import { systemContext } from '../access/context.ts';
import type { GateScope } from '../access/gate-scope.ts';
import { run } from '../store/database.ts';
import { sql } from '../store/sql.ts';
import type { Services } from '../services.ts';
import type { MpiRecord } from './normalize.ts';
import { linkInOrder, pairKey, type OrderedLinkResult } from './ordered-link.ts';

const READ_CHUNK = 5000;
const WRITE_CHUNK = 2000;
const PERSON_CHUNK = 1000;
/** Transactions in flight at once (the target machine has two cores). */
const WRITERS = 2;

export interface BulkRelinkReport {
  records: number;
  moved: number;
  personsWritten: number;
  tasks: number;
  seconds: { read: number; link: number; write: number; persons: number };
}

interface StoredState {
  ids: string[];
  records: MpiRecord[];
  previous: Map<string, { person: string; assurance: string }>;
  notLinks: Set<string>;
}

async function readState(s: Services): Promise<StoredState> {
  const ctx = systemContext('mpi relink');
  return s.gate.run(ctx, { action: 'read', query: 'mpi batch relink' }, async (scope) => {
    // Oldest first, so records are linked in (roughly) the order they arrived, as the write path did.
    const ids = (await run<{ id: string }>(scope.tx, sql`select id from resources where resource_type = 'Patient' and deleted = false order by last_updated, id`)).map((r) => r.id);
    const records: MpiRecord[] = [];
    for (let i = 0; i < ids.length; i += READ_CHUNK) {
      const chunk = ids.slice(i, i + READ_CHUNK);
      const byId = new Map((await s.links.records(scope, chunk)).map((r) => [r.id, r]));
      for (const id of chunk) records.push(byId.get(id) ?? { id, given: [], family: '' });
    }
    const links = await run<{ patient_id: string; person_id: string; assurance: string }>(scope.tx, sql`select patient_id, person_id, assurance from mpi_links`);
    const previous = new Map(links.map((l) => [l.patient_id, { person: l.person_id, assurance: l.assurance }]));
    const position = new Map(ids.map((id, i) => [id, i]));
    const notLinks = new Set<string>();
    for (const n of await run<{ patient_a: string; patient_b: string }>(scope.tx, sql`select patient_a, patient_b from mpi_not_links`)) {
      const a = position.get(n.patient_a);
      const b = position.get(n.patient_b);
      if (a !== undefined && b !== undefined) notLinks.add(pairKey(a, b));
    }
    return { ids, records, previous, notLinks };
  });
}

/** New clusters keep an existing person id where they can (the first member's), so unchanged persons stay put. */
function reusePersonIds(state: StoredState, linked: OrderedLinkResult): string[] {
  const chosen = new Map<string, string>();
  const claimed = new Set<string>();
  return linked.persons.map((cluster, i) => {
    let id = chosen.get(cluster);
    if (!id) {
      const old = state.previous.get(state.ids[i])?.person;
      id = old && !claimed.has(old) ? old : cluster;
      chosen.set(cluster, id);
      claimed.add(id);
    }
    return id;
  });
}

async function writeChunk(s: Services, scope: GateScope, state: StoredState, linked: OrderedLinkResult, persons: string[], from: number, to: number): Promise<void> {
  const idx = Array.from({ length: to - from }, (_, k) => from + k).filter((i) => state.previous.get(state.ids[i])?.assurance !== 'level4');
  const ids = idx.map((i) => state.ids[i]);
  const now = scope.settings.now.toISOString();
  await run(scope.tx, sql`insert into mpi_links (patient_id, person_id, assurance, score, explanation, updated_at)
    select p, per, 'level3', sc, ex::jsonb, ${now}
    from unnest(${ids}::text[], ${idx.map((i) => persons[i])}::text[], ${idx.map((i) => linked.linkedBy[i]?.weight ?? null)}::float8[],
      ${idx.map((i) => (linked.linkedBy[i] ? JSON.stringify(linked.linkedBy[i]!.explanation) : null))}::text[]) as t(p, per, sc, ex)
    on conflict (patient_id) do update set person_id = excluded.person_id, assurance = excluded.assurance,
      score = excluded.score, explanation = excluded.explanation, updated_at = excluded.updated_at`);
  // Keys sorted, so the inserts walk the key index in order rather than at random; no conflict check is needed
  // once the chunk's old keys are gone (a record's keys are distinct).
  const keys = idx.flatMap((i) => s.links.hashedBlockKeys(state.records[i]).map((k) => [k, state.ids[i]] as const)).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  await run(scope.tx, sql`delete from mpi_block_keys where patient_id = any(${ids}::text[])`);
  await run(scope.tx, sql`insert into mpi_block_keys (key, patient_id) select * from unnest(${keys.map((k) => k[0])}::text[], ${keys.map((k) => k[1])}::text[])`);
  // Compartments follow their source Patient's person; only records whose person changed are touched, and the
  // history rows of the moved resources are then updated by primary key.
  const movedIdx = idx.filter((i) => state.previous.get(state.ids[i])?.person !== persons[i]);
  if (movedIdx.length === 0) return;
  const moved = movedIdx.map((i) => state.ids[i]);
  const rows = await run<{ resource_type: string; id: string; person_id: string }>(scope.tx, sql`
    with m as (select * from unnest(${moved}::text[], ${movedIdx.map((i) => persons[i])}::text[]) as m(patient_id, person_id)),
    targets as (
      select r.resource_type, r.id, m.person_id from m join resources r on r.resource_type = 'Patient' and r.id = m.patient_id
      union
      select r.resource_type, r.id, m.person_id from m join resources r on r.patient_id = m.patient_id)
    update resources r set person_id = t.person_id from targets t
    where r.resource_type = t.resource_type and r.id = t.id and r.person_id is distinct from t.person_id
    returning r.resource_type, r.id, r.person_id`);
  if (rows.length) {
    await run(scope.tx, sql`update resource_history h set person_id = t.person_id
      from unnest(${rows.map((r) => r.resource_type)}::text[], ${rows.map((r) => r.id)}::text[], ${rows.map((r) => r.person_id)}::text[]) as t(resource_type, id, person_id)
      where h.resource_type = t.resource_type and h.id = t.id`);
  }
  scope.note('mpi-link', [], moved.map((id) => `Patient/${id}`), { detail: 'batch relink' });
}

async function writeTasks(scope: GateScope, state: StoredState, tasks: OrderedLinkResult['tasks']): Promise<void> {
  const now = scope.settings.now.toISOString();
  await run(scope.tx, sql`insert into mpi_tasks (id, patient_a, patient_b, score, explanation, status, created_at)
    select gen_random_uuid()::text, a, b, sc, ex::jsonb, 'open', ${now}
    from unnest(${tasks.map((t) => state.ids[t.a])}::text[], ${tasks.map((t) => state.ids[t.b])}::text[], ${tasks.map((t) => t.result.weight)}::float8[],
      ${tasks.map((t) => JSON.stringify([...t.result.explanation, { field: 'decision', level: t.reason, weight: 0 }]))}::text[]) as t(a, b, sc, ex)
    on conflict do nothing`);
}

/**
 * Runs the jobs with at most WRITERS transactions in flight: chunks touch disjoint rows, and while PostgreSQL
 * executes one chunk's statements this process prepares the next one's (block key hashes, JSON), so both cores work.
 */
async function inParallel(jobs: Array<() => Promise<void>>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]();
  };
  await Promise.all(Array.from({ length: Math.min(WRITERS, jobs.length) }, worker));
}

/** Persons whose membership changed get their FHIR Person rewritten (and the opt-out rule applied to newcomers), set-based per chunk. */
async function writePersons(s: Services, changed: string[], onProgress?: (phase: string, done: number) => void): Promise<void> {
  let done = 0;
  await inParallel(chunks(changed.length, PERSON_CHUNK).map(([from, to]) => async () => {
    const chunk = changed.slice(from, to);
    await s.gate.run(systemContext('mpi relink'), { action: 'mpi-link', query: 'batch relink persons' }, async (scope) => {
      await s.links.joinedOptedOut(scope, await s.links.writePersons(scope, chunk));
    });
    onProgress?.('persons', (done += chunk.length));
  }));
}

const chunks = (n: number, size: number): Array<[number, number]> =>
  Array.from({ length: Math.ceil(n / size) }, (_, k) => [k * size, Math.min(n, (k + 1) * size)]);

export async function bulkRelink(s: Services, onProgress?: (phase: string, done: number) => void): Promise<BulkRelinkReport> {
  const t0 = performance.now();
  const state = await readState(s);
  const t1 = performance.now();
  const fixed = new Map<number, string>();
  state.ids.forEach((id, i) => { const p = state.previous.get(id); if (p?.assurance === 'level4') fixed.set(i, p.person); });
  const linked = linkInOrder(state.records, s.model.current, { fixed, notLinks: state.notLinks, newPersonId: randomUUID });
  const persons = reusePersonIds(state, linked);
  const t2 = performance.now();
  let linksDone = 0;
  await inParallel([
    ...chunks(state.ids.length, WRITE_CHUNK).map(([from, to]) => async () => {
      await s.gate.run(systemContext('mpi relink'), { action: 'mpi-link', query: 'batch relink' }, (scope) => writeChunk(s, scope, state, linked, persons, from, to));
      onProgress?.('links', (linksDone += to - from));
    }),
    ...chunks(linked.tasks.length, WRITE_CHUNK).map(([from, to]) => () =>
      s.gate.run(systemContext('mpi relink'), { action: 'mpi-link', query: 'batch relink tasks' }, (scope) => writeTasks(scope, state, linked.tasks.slice(from, to)))),
  ]);
  const t3 = performance.now();
  const changed = new Set<string>();
  state.ids.forEach((id, i) => {
    const before = state.previous.get(id)?.person;
    if (before !== persons[i]) {
      changed.add(persons[i]);
      if (before) changed.add(before);
    }
  });
  await writePersons(s, [...changed], onProgress);
  // A batch load changes these tables by orders of magnitude; until autovacuum notices, incremental links would be
  // planned against the old (often empty) statistics. `resources` too: with no Person rows in its statistics, the
  // planner read a Person by id through the (type, last_updated) index, scanning every Person (32 ms per write
  // at 300,000 records).
  await s.db.query('analyze mpi_links, mpi_block_keys, mpi_tasks, resources, resource_history');
  const t4 = performance.now();
  const moved = state.ids.filter((id, i) => state.previous.get(id)?.person !== persons[i]).length;
  const sec = (a: number, b: number) => (b - a) / 1000;
  return { records: state.ids.length, moved, personsWritten: changed.size, tasks: linked.tasks.length, seconds: { read: sec(t0, t1), link: sec(t1, t2), write: sec(t2, t3), persons: sec(t3, t4) } };
}
