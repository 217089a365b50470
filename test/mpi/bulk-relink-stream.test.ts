// The streamed bulkRelink (chunks read, linked and written while the next are linked) against the unstreamed
// in-memory pass (test/mpi/reference-link.ts) on a stored generated population, with chunks small enough that
// reads and writes cross many chunk boundaries: the same persons, link scores and review tasks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiSource } from '../../bench/mpi/api-load.ts';
import { generatePopulation } from '../../bench/mpi/population.ts';
import { seedPatients } from '../../bench/mpi/seed-store.ts';
import { systemContext } from '../../src/access/context.ts';
import { bulkRelink } from '../../src/mpi/bulk-relink.ts';
import { run } from '../../src/store/database.ts';
import { sql } from '../../src/store/sql.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { referenceLinkInOrder } from './reference-link.ts';

/** Each record labelled by the first record of its person, so partitions compare whatever the person ids. */
const partition = (persons: readonly string[]) => {
  const first = new Map<string, number>();
  return persons.map((p, i) => (first.has(p) ? first.get(p)! : (first.set(p, i), i)));
};

describe('streamed bulkRelink on pglite', () => {
  let server: TestServer;
  let ids: string[];

  beforeAll(async () => {
    server = await startTestServer('pglite');
    const source = await apiSource(server, 'bulk-stream');
    ids = await seedPatients(server, source.organizationId, generatePopulation({ size: 2500, seed: 3 }).map((r) => r.record));
  }, 600_000);
  afterAll(async () => server?.stop());

  it('links, scores and queues exactly as the unstreamed pass', async () => {
    const report = await bulkRelink(server.services, undefined, { read: 700, write: 300 });
    const stored = await server.services.gate.run(systemContext('test'), { action: 'read' }, (scope) => server.services.links.records(scope, ids));
    const byId = new Map(stored.map((r) => [r.id, r]));
    const records = ids.map((id) => byId.get(id)!);
    let n = 0;
    const reference = referenceLinkInOrder(records, server.services.model.current, { newPersonId: () => `R${n++}` });

    const links = new Map((await run<{ patient_id: string; person_id: string; score: number | null }>(server.services.db, sql`select patient_id, person_id, score from mpi_links`)).map((l) => [l.patient_id, l]));
    expect(partition(ids.map((id) => links.get(id)!.person_id))).toEqual(partition(reference.persons));
    expect(ids.map((id) => links.get(id)!.score)).toEqual(reference.linkedBy.map((r) => r?.weight ?? null));

    const tasks = await run<{ patient_a: string; patient_b: string; score: number; reason: string }>(server.services.db,
      sql`select patient_a, patient_b, score, explanation -> -1 ->> 'level' as reason from mpi_tasks where status = 'open'`);
    const asText = (a: string, b: string, score: number, reason: string) => `${a} ${b} ${score} ${reason}`;
    expect(tasks.map((t) => asText(t.patient_a, t.patient_b, t.score, t.reason)).sort())
      .toEqual(reference.tasks.map((t) => asText(ids[t.a], ids[t.b], t.result.weight, t.reason)).sort());
    expect(report.tasks).toBe(reference.tasks.length);
    expect(reference.tasks.length).toBeGreaterThan(500);
    expect(new Set(reference.persons).size).toBeLessThan(ids.length * 0.7);
    expect(report.personsWritten).toBe(new Set(reference.persons).size);
    const persons = await run<{ n: number }>(server.services.db, sql`select count(*)::int as n from resources where resource_type = 'Person'`);
    expect(persons[0].n).toBe(report.personsWritten);
  }, 600_000);

  it('relinking an unchanged store keeps every person id and rewrites no Person', async () => {
    const before = await run<{ patient_id: string; person_id: string }>(server.services.db, sql`select patient_id, person_id from mpi_links order by patient_id`);
    const report = await bulkRelink(server.services, undefined, { read: 900, write: 400 });
    expect(report.moved).toBe(0);
    expect(report.personsWritten).toBe(0);
    expect(await run(server.services.db, sql`select patient_id, person_id from mpi_links order by patient_id`)).toEqual(before);
  }, 600_000);
});
