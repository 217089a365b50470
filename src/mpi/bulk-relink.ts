// Batch (re)linking of every stored source record, streamed: records are read a chunk at a time and linked in
// order with the link store's decision rule (`OrderedLinker`); a record's person is final once it is linked, so
// each linked chunk's links, block keys, review tasks and compartments, with the privacy intake of the rows that join
// a person, are written (set-based, a transaction per chunk) while the next chunk is linked. The `Person` resources
// follow at the end, when their membership is complete. For initial loads and `mpi relink --batch`; the write path
// links one record at a time.
import { randomUUID } from 'node:crypto';
import { systemContext } from '../access/context.ts';
import type { GateScope } from '../access/gate-scope.ts';
import { joinIntakeMany } from '../record/join-intake.ts';
import { lockPersonPrivacy, personPrivacyMany, privacyLocks, refreshPersonPrivacy } from '../record/write-policy.ts';
import { run } from '../store/database.ts';
import { deleteIndex } from '../store/search/index-writer.ts';
import { sql } from '../store/sql.ts';
import type { Services } from '../services.ts';
import { linksLockedFirst } from './link-store.ts';
import type { ScoreResult } from './model.ts';
import type { MpiRecord } from './normalize.ts';
import { OrderedLinker, pairKey } from './ordered-link.ts';

const READ_CHUNK = 10000;
const WRITE_CHUNK = 2000;
const PERSON_CHUNK = 1000;
/** Transactions in flight at once (the target machine has two cores). */
const WRITERS = 2;
/** Records linked between yields to the event loop, so the writes in flight get their next statements. */
const LINK_SLICE = 200;

export interface BulkRelinkReport {
  records: number;
  moved: number;
  personsWritten: number;
  tasks: number;
  /**
   * Where the pass waited: reading, linking (this process's CPU), writing (the linker held back because WRITERS
   * chunks were in flight, and the last writes), then the Person resources. Reads and writes overlap linking.
   */
  seconds: { read: number; link: number; write: number; persons: number };
}

interface PreviousLink {
  person: string;
  assurance: string;
}

interface ReadChunk {
  records: MpiRecord[];
  previous: Array<PreviousLink | undefined>;
}

/** One linked record as its chunk's write needs it. */
interface LinkedRow {
  id: string;
  person: string;
  previous?: PreviousLink;
  linkedBy?: ScoreResult;
  keys: string[];
  /** Its person was minted by this pass for this record's chunk: no other transaction can know it before the chunk commits. */
  newPerson: boolean;
}

interface TaskRow {
  a: string;
  b: string;
  /** The candidate's person (final: b was linked before a), whose Person lists a at level2 while the task is open. */
  person: string;
  result: ScoreResult;
  reason: string;
}

const ctx = () => systemContext('mpi relink');

/** Stored Patients oldest first (so records are linked in roughly the order they arrived), and the not-link pairs by position. */
async function readOrder(s: Services): Promise<{ ids: string[]; notLinks: Set<string> }> {
  return s.gate.run(ctx(), { action: 'read', query: 'mpi batch relink' }, async (scope) => {
    const ids = (await run<{ id: string }>(scope.tx, sql`select id from resources where resource_type = 'Patient' and deleted = false order by last_updated, id`)).map((r) => r.id);
    const pairs = await run<{ patient_a: string; patient_b: string }>(scope.tx, sql`select patient_a, patient_b from mpi_not_links`);
    const notLinks = new Set<string>();
    if (pairs.length === 0) return { ids, notLinks };
    const involved = new Set(pairs.flatMap((n) => [n.patient_a, n.patient_b]));
    const position = new Map<string, number>();
    ids.forEach((id, i) => { if (involved.has(id)) position.set(id, i); });
    for (const n of pairs) {
      const a = position.get(n.patient_a);
      const b = position.get(n.patient_b);
      if (a !== undefined && b !== undefined) notLinks.add(pairKey(a, b));
    }
    return { ids, notLinks };
  });
}

/** Matcher records (SSNs decrypted for matching only) and current links of a chunk of ids. */
async function readChunk(s: Services, chunk: string[]): Promise<ReadChunk> {
  return s.gate.run(ctx(), { action: 'read', query: 'mpi batch relink' }, async (scope) => {
    const byId = new Map((await s.links.records(scope, chunk)).map((r) => [r.id, r]));
    const links = await run<{ patient_id: string; person_id: string; assurance: string }>(scope.tx,
      sql`select patient_id, person_id, assurance from mpi_links where patient_id = any(${chunk}::text[])`);
    const previous = new Map(links.map((l) => [l.patient_id, { person: l.person_id, assurance: l.assurance }]));
    return { records: chunk.map((id) => byId.get(id) ?? { id, given: [], family: '' }), previous: chunk.map((id) => previous.get(id)) };
  });
}

/**
 * Locks the privacy state of the persons the chunk's records move between, before anything moves (so a concurrent
 * link, `$consent` or chunk holding one of them never waits for rows this chunk already holds): exclusively both
 * persons of a record that holds Consents, whose state is worked out again; shared the person a record joins, whose
 * state its rows are decided against, unless the person is new in this chunk. See `privacyLocks`. Before those, in
 * the same statement, the link rows of every record the chunk writes (`linked`, see `linksLockedFirst`): a write
 * to one of them holds its row while it waits for its person's privacy lock. With nothing moving it locks nothing:
 * no privacy lock then comes before the link rows the chunk updates.
 */
async function lockMovedPersons(scope: GateScope, linked: readonly string[], moving: readonly LinkedRow[]): Promise<void> {
  if (moving.length === 0) return;
  await run(scope.tx, privacyLocks(sql`select v.p, v.x
    from unnest(${moving.map((r) => r.id)}::text[], ${moving.map((r) => r.person)}::text[], ${moving.map((r) => r.previous?.person ?? null)}::text[],
      ${moving.map((r) => r.newPerson)}::boolean[]) as m(patient_id, person_id, previous_id, new_person)
    cross join lateral (select exists (select 1 from resources c where c.patient_id = m.patient_id and c.resource_type = 'Consent') as consents) as h
    cross join lateral (values (case when h.consents or not m.new_person then m.person_id end, h.consents),
      (case when h.consents then m.previous_id end, true)) as v(p, x)
    where ${linksLockedFirst(linked)}`));
}

async function writeChunk(s: Services, scope: GateScope, all: readonly LinkedRow[]): Promise<void> {
  const rows = all.filter((r) => r.previous?.assurance !== 'level4');
  const movedRows = rows.filter((r) => r.previous?.person !== r.person);
  await lockMovedPersons(scope, rows.map((r) => r.id), movedRows);
  const ids = rows.map((r) => r.id);
  const now = scope.settings.now.toISOString();
  await run(scope.tx, sql`insert into mpi_links (patient_id, person_id, assurance, score, explanation, updated_at)
    select p, per, 'level3', sc, ex::jsonb, ${now}
    from unnest(${ids}::text[], ${rows.map((r) => r.person)}::text[], ${rows.map((r) => r.linkedBy?.weight ?? null)}::float8[],
      ${rows.map((r) => (r.linkedBy ? JSON.stringify(r.linkedBy.explanation) : null))}::text[]) as t(p, per, sc, ex)
    on conflict (patient_id) do update set person_id = excluded.person_id, assurance = excluded.assurance,
      score = excluded.score, explanation = excluded.explanation, updated_at = excluded.updated_at, record_hash = null`);
  // Keys sorted, so the inserts walk the key index in order rather than at random; no conflict check is needed
  // once the chunk's old keys are gone (a record's keys are distinct).
  const keys = rows.flatMap((r) => s.links.hashKeys(r.keys).map((k) => [k, r.id] as const)).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  await run(scope.tx, sql`delete from mpi_block_keys where patient_id = any(${ids}::text[])`);
  await run(scope.tx, sql`insert into mpi_block_keys (key, patient_id) select * from unnest(${keys.map((k) => k[0])}::text[], ${keys.map((k) => k[1])}::text[])`);
  // Compartments follow their source Patient's person; only records whose person changed are touched, and the
  // history rows of the moved resources are then updated by primary key.
  if (movedRows.length === 0) return;
  const moved = movedRows.map((r) => r.id);
  const updated = await run<{ resource_type: string; id: string; person_id: string; source_patient: string }>(scope.tx, sql`
    with m as (select * from unnest(${moved}::text[], ${movedRows.map((r) => r.person)}::text[]) as m(patient_id, person_id)),
    targets as (
      select r.resource_type, r.id, m.person_id, m.patient_id from m join resources r on r.resource_type = 'Patient' and r.id = m.patient_id
      union
      select r.resource_type, r.id, m.person_id, m.patient_id from m join resources r on r.patient_id = m.patient_id)
    update resources r set person_id = t.person_id from targets t
    where r.resource_type = t.resource_type and r.id = t.id and r.person_id is distinct from t.person_id
    returning r.resource_type, r.id, r.person_id, t.patient_id as source_patient`);
  if (updated.length) {
    await run(scope.tx, sql`update resource_history h set person_id = t.person_id
      from unnest(${updated.map((r) => r.resource_type)}::text[], ${updated.map((r) => r.id)}::text[], ${updated.map((r) => r.person_id)}::text[]) as t(resource_type, id, person_id)
      where h.resource_type = t.resource_type and h.id = t.id`);
  }
  scope.note('mpi-link', [], moved.map((id) => `Patient/${id}`), { detail: 'batch relink' });
  // A Consent that moved takes its patient's choices along: the persons it left and joined have their state worked
  // out again from the Consents they now hold, before the intake below reads it.
  const withConsents = new Set(updated.filter((r) => r.resource_type === 'Consent').map((r) => r.source_patient));
  const choicesMoved = new Set(movedRows.filter((r) => withConsents.has(r.id)).flatMap((r) => (r.previous?.person ? [r.person, r.previous.person] : [r.person])));
  // Held already unless a Consent committed after `lockMovedPersons` looked (also one whose write that statement
  // waited for at the record's link row): then all of them in one go, not one by one.
  await lockPersonPrivacy(scope.tx, choicesMoved);
  const before = await personPrivacyMany(scope, [...choicesMoved]);
  // A person an opt-in left (it was another person's) is opted out again: purged below like one an opt-out joined.
  const optedOutAgain: string[] = [];
  for (const personId of choicesMoved) {
    if ((await refreshPersonPrivacy(scope, personId)).optedOut && !before.get(personId)?.optedOut) optedOutAgain.push(personId);
  }
  // The moved rows join their person as data arriving now would (privacy-rules §2–3), in the transaction that links
  // them: those dated before an opt-in go, and an opted-out person's record is purged, newcomers included.
  const joined = new Map<string, Array<{ resourceType: string; id: string }>>();
  for (const r of updated) {
    const keys = joined.get(r.person_id);
    if (keys) keys.push({ resourceType: r.resource_type, id: r.id });
    else joined.set(r.person_id, [{ resourceType: r.resource_type, id: r.id }]);
  }
  await s.links.joinedOptedOut(scope, new Set([...(await joinIntakeMany(scope, joined, deleteIndex, s.fhirBase)), ...optedOutAgain]));
}

/** Inserts the chunk's review tasks; returns the candidates' persons of those newly opened (their Persons gain a level2 entry). */
async function writeTasks(scope: GateScope, tasks: readonly TaskRow[]): Promise<string[]> {
  if (tasks.length === 0) return [];
  const now = scope.settings.now.toISOString();
  const opened = await run<{ patient_a: string; patient_b: string }>(scope.tx, sql`insert into mpi_tasks (id, patient_a, patient_b, score, explanation, status, created_at)
    select gen_random_uuid()::text, a, b, sc, ex::jsonb, 'open', ${now}
    from unnest(${tasks.map((t) => t.a)}::text[], ${tasks.map((t) => t.b)}::text[], ${tasks.map((t) => t.result.weight)}::float8[],
      ${tasks.map((t) => JSON.stringify([...t.result.explanation, { field: 'decision', level: t.reason, weight: 0 }]))}::text[]) as t(a, b, sc, ex)
    on conflict do nothing returning patient_a, patient_b`);
  const personOf = new Map(tasks.map((t) => [`${t.a} ${t.b}`, t.person]));
  return opened.map((o) => personOf.get(`${o.patient_a} ${o.patient_b}`)!);
}

/**
 * Runs the jobs with at most WRITERS transactions in flight: the Person chunks touch disjoint rows, and while
 * PostgreSQL executes one chunk's statements this process prepares the next one's.
 */
async function inParallel(jobs: Array<() => Promise<void>>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]();
  };
  await Promise.all(Array.from({ length: Math.min(WRITERS, jobs.length) }, worker));
}

/**
 * Persons whose membership changed get their FHIR Person rewritten, set-based per chunk (the privacy rules were applied
 * to newcomers with their links, `writeChunk`).
 */
async function writePersons(s: Services, changed: string[], onProgress?: (phase: string, done: number) => void): Promise<void> {
  let done = 0;
  await inParallel(chunks(changed.length, PERSON_CHUNK).map(([from, to]) => async () => {
    const chunk = changed.slice(from, to);
    await s.gate.run(systemContext('mpi relink'), { action: 'mpi-link', query: 'batch relink persons' }, async (scope) => {
      await s.links.writePersons(scope, chunk);
    });
    onProgress?.('persons', (done += chunk.length));
  }));
}

const chunks = (n: number, size: number): Array<[number, number]> =>
  Array.from({ length: Math.ceil(n / size) }, (_, k) => [k * size, Math.min(n, (k + 1) * size)]);

/**
 * Chunk writes with at most WRITERS transactions in flight (chunks touch disjoint rows): while PostgreSQL runs them,
 * this process links the next records. `push` waits while the queue is full, so linked rows never pile up.
 */
class WriteQueue {
  private readonly inFlight = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;
  waited = 0;

  private check(): void {
    if (this.failure) throw this.failure.error;
  }

  async push(job: () => Promise<void>): Promise<void> {
    const t = performance.now();
    while (this.inFlight.size >= WRITERS) await Promise.race(this.inFlight);
    this.waited += performance.now() - t;
    this.check();
    const p: Promise<void> = job().then(() => undefined, (error: unknown) => { this.failure ??= { error }; }).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  async drain(): Promise<void> {
    const t = performance.now();
    await Promise.all(this.inFlight);
    this.waited += performance.now() - t;
    this.check();
  }
}

const yieldToWrites = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Chunk sizes; tests make them small to cross chunk boundaries with few records. */
export interface BulkRelinkChunks {
  read: number;
  write: number;
}

export async function bulkRelink(s: Services, onProgress?: (phase: string, done: number) => void, sizes: BulkRelinkChunks = { read: READ_CHUNK, write: WRITE_CHUNK }): Promise<BulkRelinkReport> {
  const t0 = performance.now();
  const { ids, notLinks } = await readOrder(s);
  let readMs = performance.now() - t0;
  let linkMs = 0;
  const linker = new OrderedLinker(s.model.current, { notLinks });
  // Person id per cluster: a new cluster keeps its first member's existing person id where it can, so an unchanged
  // partition rewrites nothing.
  const names: string[] = [];
  const claimed = new Set<string>();
  const changed = new Set<string>();
  /** By cluster, the chunk its person was minted for by this pass (-1: an existing person), and the chunk being filled. */
  const mintedIn: number[] = [];
  let chunkNo = 0;
  const queue = new WriteQueue();
  let moved = 0;
  let tasks = 0;
  let linksDone = 0;
  let rows: LinkedRow[] = [];
  let taskRows: TaskRow[] = [];
  const flush = async () => {
    const [linkedRows, chunkTasks] = [rows, taskRows];
    [rows, taskRows] = [[], []];
    chunkNo++;
    await queue.push(async () => {
      await s.gate.run(ctx(), { action: 'mpi-link', query: 'batch relink' }, async (scope) => {
        await writeChunk(s, scope, linkedRows);
        for (const person of await writeTasks(scope, chunkTasks)) changed.add(person);
      });
      onProgress?.('links', (linksDone += linkedRows.length));
    });
  };
  let next = ids.length > 0 ? readChunk(s, ids.slice(0, sizes.read)) : undefined;
  for (let from = 0; next; from += sizes.read) {
    let t = performance.now();
    const chunk = await next;
    readMs += performance.now() - t;
    next = from + sizes.read < ids.length ? readChunk(s, ids.slice(from + sizes.read, from + 2 * sizes.read)) : undefined;
    t = performance.now();
    for (let k = 0; k < chunk.records.length; k++) {
      const previous = chunk.previous[k];
      const fixed = previous?.assurance === 'level4' ? previous.person : undefined;
      const r = linker.add(chunk.records[k], fixed);
      if (r.fresh) {
        const old = previous?.person;
        const reused = old && !claimed.has(old) ? old : fixed;
        names[r.cluster] = reused ?? randomUUID();
        mintedIn[r.cluster] = reused ? -1 : chunkNo;
        claimed.add(names[r.cluster]);
      }
      const person = names[r.cluster];
      const id = ids[r.index];
      if (previous?.person !== person) {
        moved++;
        changed.add(person);
        if (previous) changed.add(previous.person);
      }
      rows.push({ id, person, previous, linkedBy: r.linkedBy, keys: r.keys, newPerson: mintedIn[r.cluster] === chunkNo });
      for (const task of r.tasks) taskRows.push({ a: id, b: ids[task.b], person: names[linker.cluster(task.b)], result: task.result, reason: task.reason });
      tasks += r.tasks.length;
      if (rows.length === sizes.write) {
        linkMs += performance.now() - t;
        await flush();
        t = performance.now();
      } else if (k % LINK_SLICE === LINK_SLICE - 1) {
        linkMs += performance.now() - t;
        await yieldToWrites();
        t = performance.now();
      }
    }
    linkMs += performance.now() - t;
  }
  if (rows.length) await flush();
  await queue.drain();
  const t3 = performance.now();
  await writePersons(s, [...changed], onProgress);
  // A batch load changes these tables by orders of magnitude; until autovacuum notices, incremental links would be
  // planned against the old (often empty) statistics. `resources` too: with no Person rows in its statistics, the
  // planner read a Person by id through the (type, last_updated) index, scanning every Person (32 ms per write
  // at 300,000 records).
  await s.db.query('analyze mpi_links, mpi_block_keys, mpi_tasks, resources, resource_history');
  const t4 = performance.now();
  return {
    records: ids.length, moved, personsWritten: changed.size, tasks,
    seconds: { read: readMs / 1000, link: linkMs / 1000, write: queue.waited / 1000, persons: (t4 - t3) / 1000 },
  };
}
