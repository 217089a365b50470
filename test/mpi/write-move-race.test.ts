/**
 * A clinical write stores its rows under the person its Patient is linked to when it reads the link. A link move
 * (a steward's move, a batch-relink chunk) re-homes the Patient's rows into another person; if it commits between
 * the write's read of the link and the write's commit, the new rows land in the person the Patient has left: the
 * wrong compartment for the privacy filter, `$everything` and the access report, and a Consent among them decides
 * the old person's privacy state instead of the new one's. Whichever commits first, the write's rows must end in
 * the Patient's current person, and an opt-out recorded with `$consent` must leave that person opted out and purged.
 *
 * On PostgreSQL the interleavings are forced with advisory locks a test connection owns:
 * - `insert`: a trigger holds the write at its insert of the row (after it has read the link and the privacy
 *   state); the move then runs until it commits or waits for the write, and only then is the write let go;
 * - `link`: the test holds the privacy lock of the Patient's person; the move starts and waits on it, then the write
 *   starts, reads the link and waits too (behind the test or the move); the test lets go and the move goes first.
 *   A steward's move takes that lock, so only this order lets it commit inside the write; a batch-relink chunk
 *   moving a record without Consents does not, so it commits inside a write held at its insert. An update (PUT)
 *   also locks the row it replaces, which the move re-homes: the two must not deadlock.
 * On PGlite (one connection, transactions one after the other) the same operations run concurrently and must finish
 * (no self-deadlock) with the same result.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { Patient, Resource } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
import { bulkRelink } from '../../src/mpi/bulk-relink.ts';
import { moveToPerson } from '../../src/mpi/stewardship.ts';
import { verifyPurge } from '../../src/privacy-ops/verify-purge.ts';
import { databaseKinds, PG_URL } from '../support/databases.ts';
import { tracked, TriggerBarrier, until } from '../support/race-barrier.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';
import { consent, count, facilityOrganization, fhir, type FhirResponse } from '../privacy/support.ts';

const kinds = await databaseKinds();
const DAY = 86_400_000;

const ADDRESS = [{ line: ['12 Ledge Rd'], city: 'Millinocket', state: 'ME', postalCode: '04462' }];
const patient = (id: string, given: string, family: string, birthDate: string, ssn: string): Patient & { id: string } => ({
  resourceType: 'Patient', id, identifier: [{ system: 'urn:katahdin:id:MOVE', value: id }, { system: 'http://hl7.org/fhir/sid/us-ssn', value: ssn }],
  name: [{ family, given: [given] }], gender: 'female', birthDate, address: ADDRESS,
});

/** The record that is written to and moved. */
const P = 'move-p';

type Mover = 'steward' | 'relink';
type Write = 'observation' | 'update' | 'opt-out';

/**
 * One store per scenario: `move-t` (confirmed, level4) is person X; `move-p` is the same woman, filed as a person of
 * her own (E) by an earlier model, so a batch relink moves her into X; `move-q` is someone else (person Y,
 * confirmed), to whom a steward moves `move-p`. Each record has an Observation.
 */
class Store {
  server!: TestServer;
  feed = '';
  registrar = '';
  x = '';
  y = '';
  /** The Observation `move-p` had before the race (an update rewrites it). */
  pObservation = '';
  readonly e = `earlier-${P}`;

  async start(kind: 'pglite' | 'postgres'): Promise<void> {
    this.server = await startTestServer(kind);
    const org = await facilityOrganization(this.server, 'MOVE');
    this.feed = await systemClientToken(this.server, 'move-ehr', org);
    this.registrar = await userWithToken(this.server, { username: 'move-reg', role: 'registrar' });
    await this.put(patient('move-t', 'Philomena', 'Tardif', '1958-07-30', '567-89-1234'));
    await this.put(patient(P, 'Philomena', 'Tardif', '1958-07-30', '567-89-1234'));
    await this.put(patient('move-q', 'Griselda', 'Ouellette', '1990-02-11', '578-91-2345'));
    this.x = (await this.personOf('move-t'))!;
    this.y = (await this.personOf('move-q'))!;
    expect(await this.personOf(P)).toBe(this.x);
    expect(this.y).not.toBe(this.x);
    for (const id of ['move-t', P, 'move-q']) {
      const res = await this.observation(id);
      expect(res.status).toBe(201);
      if (id === P) this.pObservation = (res.body as Resource).id!;
    }
    const db = this.server.services.db;
    await db.query(`update mpi_links set person_id = $2, record_hash = null where patient_id = $1`, [P, this.e]);
    await db.query(`update resources set person_id = $2 where patient_id = $1 or (resource_type = 'Patient' and id = $1)`, [P, this.e]);
    await db.query(`update resource_history h set person_id = $1 from resources r where r.person_id = $1 and h.resource_type = r.resource_type and h.id = r.id`, [this.e]);
    await db.query(`update mpi_links set assurance = 'level4' where patient_id = any($1::text[])`, [['move-t', 'move-q']]);
  }

  private async put(p: Patient & { id: string }): Promise<void> {
    expect((await fhir(this.server, this.feed, 'PUT', `/fhir/Patient/${p.id}`, p)).status).toBe(201);
  }

  async personOf(patientId: string): Promise<string | undefined> {
    return (await this.server.services.db.query<{ person_id: string }>('select person_id from mpi_links where patient_id = $1', [patientId])).rows[0]?.person_id;
  }

  observation(patientId: string, id?: string): Promise<FhirResponse> {
    return fhir(this.server, this.feed, id ? 'PUT' : 'POST', `/fhir/Observation${id ? `/${id}` : ''}`, {
      resourceType: 'Observation', ...(id ? { id } : {}), status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }] },
      subject: { reference: `Patient/${patientId}` }, effectiveDateTime: new Date(Date.now() - DAY).toISOString(), valueQuantity: { value: id ? 103 : 97, unit: 'mg/dL' },
    });
  }

  /** The write under test, for `move-p`; resolves to the id of the Observation it stored (none for the opt-out). */
  async write(what: Write): Promise<string | undefined> {
    if (what === 'opt-out') {
      expect((await consent(this.server, this.registrar, P, 'opt-out')).status).toBe(200);
      return undefined;
    }
    const res = await this.observation(P, what === 'update' ? this.pObservation : undefined);
    expect(res.status).toBe(what === 'update' ? 200 : 201);
    return (res.body as Resource).id;
  }

  /** The move under test; resolves when it has committed. */
  async move(mover: Mover): Promise<void> {
    const s = this.server.services;
    if (mover === 'steward') {
      await s.gate.run(systemContext('test steward'), { action: 'mpi-link' }, (scope) => moveToPerson(scope, s.links, P, this.y));
      return;
    }
    await bulkRelink(s, undefined, { read: 100, write: 1 });
  }

  destination(mover: Mover): string {
    return mover === 'steward' ? this.y : this.x;
  }

  /** Every current and past row of `move-p` (its Patient included) is in its person's compartment. */
  async expectRowsInPerson(personId: string): Promise<void> {
    expect(await this.personOf(P)).toBe(personId);
    const db = this.server.services.db;
    const astray = await db.query<{ t: string; resource_type: string; id: string; person_id: string | null }>(`
      select 'resources' as t, resource_type, id, person_id from resources where (patient_id = $1 or (resource_type = 'Patient' and id = $1)) and person_id is distinct from $2
      union all
      select 'resource_history', h.resource_type, h.id, h.person_id from resource_history h join resources r on r.resource_type = h.resource_type and r.id = h.id
        where (r.patient_id = $1 or (r.resource_type = 'Patient' and r.id = $1)) and h.person_id is distinct from $2`, [P, personId]);
    expect(astray.rows, 'rows of the moved record outside its person').toEqual([]);
  }
}

/**
 * Holds a person's privacy state lock (the key `privacyLocks` takes) from a connection of the test's own: the move
 * out of that person and the write for one of its records queue behind it.
 */
class PrivacyLockHolder {
  private readonly client = new pg.Client({ connectionString: PG_URL });
  private pid = 0;

  constructor(private readonly personId: string) {}

  async hold(): Promise<void> {
    await this.client.connect();
    this.pid = (await this.client.query<{ pid: number }>(`select pg_backend_pid() as pid`)).rows[0].pid;
    await this.client.query(`select pg_advisory_lock(hashtextextended('person-privacy:' || $1::text, 0))`, [this.personId]);
  }

  /** A backend (other than `except`) waiting for this connection or for one of `behind`; its pid. */
  waiter(what: string, behind: number[], except: number[], done: () => boolean): Promise<number> {
    return until(what, async () => {
      if (done()) throw new Error(`${what}: it finished instead`);
      const rows = await this.client.query<{ pid: number }>(`select pid from pg_stat_activity
        where not (pid = any($2::int[])) and pg_blocking_pids(pid) && $1::int[] order by pid limit 1`, [[this.pid, ...behind], [this.pid, ...except]]);
      return rows.rows[0]?.pid;
    });
  }

  async release(): Promise<void> {
    await this.client.query(`select pg_advisory_unlock_all()`);
  }

  async end(): Promise<void> {
    await this.client.end();
  }
}

interface Scenario {
  name: string;
  mover: Mover;
  write: Write;
  barrier: 'insert' | 'link';
}

const scenarios: Scenario[] = [
  { name: 'an Observation POST and a steward moving its Patient, the move reaching the link first', mover: 'steward', write: 'observation', barrier: 'link' },
  { name: 'an Observation POST held at its insert and a steward moving its Patient', mover: 'steward', write: 'observation', barrier: 'insert' },
  { name: 'an Observation PUT and a steward moving its Patient, the move reaching the link first', mover: 'steward', write: 'update', barrier: 'link' },
  { name: 'an Observation POST held at its insert and a batch-relink chunk moving its Patient', mover: 'relink', write: 'observation', barrier: 'insert' },
  { name: 'a $consent opt-out and a steward moving its Patient, the move reaching the link first', mover: 'steward', write: 'opt-out', barrier: 'link' },
  { name: 'a $consent opt-out held at its insert and a steward moving its Patient', mover: 'steward', write: 'opt-out', barrier: 'insert' },
  { name: 'a $consent opt-out held at its insert and a batch-relink chunk moving its Patient', mover: 'relink', write: 'opt-out', barrier: 'insert' },
];

/** Runs the write and the move with the scenario's interleaving; resolves to what the write resolved to. */
async function race(store: Store, kind: 'pglite' | 'postgres', scenario: Scenario): Promise<string | undefined> {
  if (kind === 'pglite') return (await Promise.all([store.write(scenario.write), store.move(scenario.mover)]))[0];
  if (scenario.barrier === 'insert') {
    // Holds the first insert of the write's row of the moved record (after the write has read its person).
    const type = scenario.write === 'opt-out' ? 'Consent' : 'Observation';
    const barrier = new TriggerBarrier(store.server, { table: 'resources', events: 'insert', when: `new.resource_type = '${type}' and new.patient_id = '${P}'`, tag: 3 });
    await barrier.arm();
    try {
      const write = tracked(store.write(scenario.write));
      const pid = await barrier.held();
      const move = tracked(store.move(scenario.mover));
      await barrier.settledOrBlockedBehind(pid, move.settled);
      await barrier.release();
      const [written] = await Promise.all([write.promise, move.promise]);
      return written;
    } finally {
      await barrier.release().catch(() => undefined);
      await barrier.disarm();
    }
  }
  const holder = new PrivacyLockHolder(store.e);
  await holder.hold();
  try {
    const move = tracked(store.move(scenario.mover));
    const mover = await holder.waiter('the move to wait for the held privacy lock', [], [], move.settled);
    const write = tracked(store.write(scenario.write));
    await holder.waiter('the write to wait behind the move', [mover], [mover], write.settled);
    await holder.release();
    const [written] = await Promise.all([write.promise, move.promise]);
    return written;
  } finally {
    await holder.release().catch(() => undefined);
    await holder.end();
  }
}

describe.each(kinds)('a clinical write concurrent with a move of its Patient to another person, on %s', (kind) => {
  describe.each(scenarios)('$name', (scenario) => {
    const store = new Store();
    beforeAll(async () => {
      await store.start(kind);
    }, 300_000);
    afterAll(async () => store.server?.stop());

    it('leaves the write\'s rows in the person the Patient now belongs to', async () => {
      const written = await race(store, kind, scenario);
      const person = store.destination(scenario.mover);
      await store.expectRowsInPerson(person);
      const db = store.server.services.db;
      if (scenario.write !== 'opt-out') {
        expect(await count(store.server, `select count(*)::int as n from resources where resource_type = 'Observation' and id = $1 and person_id = $2`, [written, person]),
          'the Observation written').toBe(1);
        return;
      }
      // The person is one woman: the opt-out recorded for one of her records opts the whole person out and purges it.
      const state = (await db.query<{ opted_out: boolean }>('select opted_out from person_privacy where person_id = $1', [person])).rows[0];
      expect(state?.opted_out, 'the person the Patient now belongs to is opted out').toBe(true);
      expect(await count(store.server, `select count(*)::int as n from resources where resource_type = 'Consent' and patient_id = $1 and person_id = $2`, [P, person]),
        'the opt-out, in that person').toBe(1);
      expect(await count(store.server, `select count(*)::int as n from resources where resource_type = 'Observation' and person_id = $1`, [person]), 'clinical data left').toBe(0);
      expect((await verifyPurge(db, person)).ok).toBe(true);
    }, 120_000);
  });
});
