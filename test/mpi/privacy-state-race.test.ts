/**
 * A person's privacy state (`person_privacy`) is worked out from the Consents they hold. Two transactions that each
 * bring a Consent to the same person — two batch-relink chunks, a chunk and a steward's link, a chunk and a
 * `$consent`, two steward links — must not leave a state that ignores one of them: the last to commit must see
 * what the other committed. On PostgreSQL the interleaving is forced: a trigger holds the first transaction that
 * writes the person's state on an advisory lock the test owns, after it has read the Consents; the other operation
 * then runs until it commits or waits for the held one, and only then is the held one let go. Without locking, the
 * held one overwrites the state with the one it read before the other committed: an opt-out is shown as opted in and
 * the data the held one brought stays, or an opt-in after an opt-out is shown as opted out. On PGlite (one
 * connection, transactions one after the other) the same operations run concurrently and must finish (no
 * self-deadlock) with the same result.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consent, Patient, Resource } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
import { bulkRelink } from '../../src/mpi/bulk-relink.ts';
import { moveToPerson } from '../../src/mpi/stewardship.ts';
import { consentState } from '../../src/privacy/consent.ts';
import { verifyPurge } from '../../src/privacy-ops/verify-purge.ts';
import { databaseKinds } from '../support/databases.ts';
import { tracked, TriggerBarrier } from '../support/race-barrier.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';
import { consent, count, facilityOrganization, fhir } from '../privacy/support.ts';

const kinds = await databaseKinds();
const DAY = 86_400_000;

const patient = (id: string, given: string, family: string, birthDate: string, ssn: string): Patient & { id: string } => ({
  resourceType: 'Patient', id, identifier: [{ system: 'urn:katahdin:id:RACE', value: id }, { system: 'http://hl7.org/fhir/sid/us-ssn', value: ssn }],
  name: [{ family, given: [given] }], gender: 'female', birthDate, address: [{ line: ['3 Birch Ln'], city: 'Orono', state: 'ME', postalCode: '04469' }],
});

interface Setup {
  /** `b` exists and opted out two days ago. */
  b: boolean;
  /** `d` exists and opted out. */
  d: boolean;
  /** What `c` chose a day ago: to share mental health information, or to opt (back) in. */
  c: 'share' | 'opt-in';
}

/**
 * One store per scenario: `a` (confirmed, level4) is person X; `b` and `c` are the same woman as `a`, filed as
 * persons of their own by an earlier model (so a relink moves them into X); `d` is someone else, confirmed in a
 * person of her own (a relink leaves her alone; a steward moves her). `c` has an Observation, which must go when X
 * ends up opted out.
 */
class Store {
  server!: TestServer;
  feed = '';
  registrar = '';
  x = '';
  cObservation = '';

  async start(kind: 'pglite' | 'postgres', opts: Setup): Promise<void> {
    this.server = await startTestServer(kind);
    const org = await facilityOrganization(this.server, 'RACE');
    this.feed = await systemClientToken(this.server, 'race-ehr', org);
    this.registrar = await userWithToken(this.server, { username: 'race-reg', role: 'registrar' });
    const twins = ['a', 'c', ...(opts.b ? ['b'] : [])];
    for (const id of twins) await this.put(patient(`race-${id}`, 'Wilhelmina', 'Racine', '1971-03-09', '545-67-8912'));
    if (opts.d) await this.put(patient('race-d', 'Dorothea', 'Quimby', '1949-11-21', '556-78-9123'));
    this.x = (await this.personOf('race-a'))!;
    expect(await this.personOf('race-c')).toBe(this.x);
    await this.observation('race-a');
    this.cObservation = await this.observation('race-c');
    await this.splitOff('race-c');
    if (opts.b) await this.splitOff('race-b');
    const db = this.server.services.db;
    await db.query(`update mpi_links set assurance = 'level4' where patient_id = any($1::text[])`, [['race-a', ...(opts.d ? ['race-d'] : [])]]);
    const day = (n: number) => new Date(Date.now() - n * DAY).toISOString();
    expect((await consent(this.server, this.registrar, 'race-c', opts.c, { ...(opts.c === 'share' ? { category: 'PSY' } : {}), date: day(1) })).status).toBe(200);
    if (opts.b) expect((await consent(this.server, this.registrar, 'race-b', 'opt-out', { date: day(2) })).status).toBe(200);
    if (opts.d) expect((await consent(this.server, this.registrar, 'race-d', 'opt-out')).status).toBe(200);
    // The batch pass links records oldest first: a, then c, then b (and d, which it leaves where it is).
    for (const [i, id] of ['race-a', 'race-c', 'race-b', 'race-d'].entries()) {
      await db.query(`update resources set last_updated = now() - make_interval(mins => $2) where resource_type = 'Patient' and id = $1`, [id, 10 - i]);
    }
  }

  private async put(p: Patient & { id: string }): Promise<void> {
    expect((await fhir(this.server, this.feed, 'PUT', `/fhir/Patient/${p.id}`, p)).status).toBe(201);
  }

  async personOf(patientId: string): Promise<string | undefined> {
    return (await this.server.services.db.query<{ person_id: string }>('select person_id from mpi_links where patient_id = $1', [patientId])).rows[0]?.person_id;
  }

  private async observation(patientId: string): Promise<string> {
    const res = await fhir(this.server, this.feed, 'POST', '/fhir/Observation', {
      resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }] },
      subject: { reference: `Patient/${patientId}` }, effectiveDateTime: new Date(Date.now() - 2 * DAY).toISOString(), valueQuantity: { value: 97, unit: 'mg/dL' },
    });
    expect(res.status).toBe(201);
    return (res.body as Resource).id!;
  }

  /** Files a record and its rows under a person of its own, as an earlier model had (its twin stays in X). */
  private async splitOff(patientId: string): Promise<void> {
    const db = this.server.services.db;
    const q = `earlier-${patientId}`;
    await db.query(`update mpi_links set person_id = $2, record_hash = null where patient_id = $1`, [patientId, q]);
    await db.query(`update resources set person_id = $2 where patient_id = $1 or (resource_type = 'Patient' and id = $1)`, [patientId, q]);
    await db.query(`update resource_history h set person_id = $1 from resources r where r.person_id = $1 and h.resource_type = r.resource_type and h.id = r.id`, [q]);
  }

  /** Batch relink, one record per chunk, so that each moved record is a transaction of its own. */
  relink(onLinks?: (done: number) => void): Promise<unknown> {
    return bulkRelink(this.server.services, (phase, done) => { if (phase === 'links') onLinks?.(done); }, { read: 100, write: 1 });
  }

  steward(patientId: string, personId: string): Promise<void> {
    const s = this.server.services;
    return s.gate.run(systemContext('test steward'), { action: 'mpi-link' }, (scope) => moveToPerson(scope, s.links, patientId, personId));
  }

  async optOut(patientId: string): Promise<void> {
    expect((await consent(this.server, this.registrar, patientId, 'opt-out')).status).toBe(200);
  }

  /** X's stored state is the one its Consents (both brought in) give; returns whether that is opted out. */
  async expectStateOfAllConsents(): Promise<boolean> {
    const db = this.server.services.db;
    const consents = (await db.query<{ content: Consent }>(`select content from resources where resource_type = 'Consent' and person_id = $1 and deleted = false`, [this.x])).rows.map((r) => r.content);
    expect(consents.length).toBeGreaterThanOrEqual(2);
    const derived = consentState(consents, new Date());
    const stored = (await db.query<{ opted_out: boolean; opt_in_date: Date | null; shared_labels: string[] }>(
      'select opted_out, opt_in_date, shared_labels from person_privacy where person_id = $1', [this.x])).rows[0];
    expect({ ...stored, opt_in_date: stored?.opt_in_date?.toISOString() ?? null }, 'the state X was left with')
      .toEqual({ opted_out: derived.optedOut, opt_in_date: derived.optInDate ? new Date(derived.optInDate).toISOString() : null, shared_labels: derived.shared });
    return derived.optedOut;
  }

  /** X is opted out and its record purged, c's Observation included. */
  async expectPurged(): Promise<void> {
    expect(await count(this.server, `select count(*)::int as n from resources where resource_type = 'Observation' and id = $1`, [this.cObservation]), 'the Observation c brought').toBe(0);
    expect((await verifyPurge(this.server.services.db, this.x)).ok).toBe(true);
  }
}

/**
 * Runs `first` until it waits at the barrier (PostgreSQL), then `second` until it commits or waits for `first`; then
 * lets `first` go. On PGlite both simply run concurrently.
 */
async function interleave(store: Store, barrier: TriggerBarrier | undefined, first: () => Promise<unknown>, second: () => Promise<unknown>): Promise<void> {
  if (!barrier) {
    await Promise.all([first(), second()]);
    return;
  }
  const a = tracked(first());
  const pid = await barrier.held();
  const b = tracked(second());
  await barrier.settledOrBlockedBehind(pid, b.settled);
  await barrier.release();
  await Promise.all([a.promise, b.promise]);
  expect(await store.personOf('race-c')).toBe(store.x);
}

/** `optedOut`: the state X must end with (then its record must be purged too). */
const scenarios: Array<{ name: string; setup: Setup; optedOut: boolean; run: (store: Store, barrier: TriggerBarrier | undefined) => Promise<void> }> = [
  {
    // Either chunk may reach X's state first (both run at once); each alone gives a state both Consents do not, so
    // whichever is held writes a wrong one without the lock.
    name: 'two batch-relink chunks (b brings an opt-out, c a later opt-in)',
    setup: { b: true, d: false, c: 'opt-in' },
    optedOut: false,
    async run(store, barrier) {
      if (!barrier) {
        await store.relink();
        return;
      }
      let linked = 0;
      const relink = tracked(store.relink((done) => { linked = done; }));
      const pid = await barrier.held();
      // One record per chunk: 2 linked is a's chunk and b's, everything but the held one (c's). Else b's waits for it.
      await barrier.settledOrBlockedBehind(pid, () => linked >= 2 || relink.settled());
      await barrier.release();
      await relink.promise;
      expect(await store.personOf('race-b')).toBe(store.x);
      expect(await store.personOf('race-c')).toBe(store.x);
    },
  },
  {
    name: 'a batch-relink chunk (c brings a share) and a steward\'s link (d brings an opt-out)',
    setup: { b: false, d: true, c: 'share' },
    optedOut: true,
    run: (store, barrier) => interleave(store, barrier, () => store.relink(), () => store.steward('race-d', store.x)),
  },
  {
    name: 'a batch-relink chunk (c brings a share) and an opt-out recorded with $consent for a',
    setup: { b: false, d: false, c: 'share' },
    optedOut: true,
    run: (store, barrier) => interleave(store, barrier, () => store.relink(), () => store.optOut('race-a')),
  },
  {
    name: 'two steward links (c brings a share, d an opt-out)',
    setup: { b: false, d: true, c: 'share' },
    optedOut: true,
    run: (store, barrier) => interleave(store, barrier, () => store.steward('race-c', store.x), () => store.steward('race-d', store.x)),
  },
];

describe.each(kinds)('a person\'s privacy state under concurrent Consent moves, on %s', (kind) => {
  describe.each(scenarios)('$name', (scenario) => {
    const store = new Store();
    beforeAll(async () => {
      await store.start(kind, scenario.setup);
    }, 300_000);
    afterAll(async () => store.server?.stop());

    it('leaves the person with the state of all her Consents (opted out: with the newcomers\' data purged)', async () => {
      // Holds the first transaction that writes X's privacy state, after it has read the Consents.
      const barrier = kind === 'postgres'
        ? new TriggerBarrier(store.server, { table: 'person_privacy', events: 'insert or update', when: `new.person_id = '${store.x.replace(/'/g, "''")}'`, tag: 1 })
        : undefined;
      await barrier?.arm();
      try {
        await scenario.run(store, barrier);
      } finally {
        await barrier?.release().catch(() => undefined);
        await barrier?.disarm();
      }
      expect(await store.expectStateOfAllConsents()).toBe(scenario.optedOut);
      if (scenario.optedOut) await store.expectPurged();
    });
  });
});
