import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OperationOutcome, Resource, Subscription } from '@medplum/fhirtypes';
import { QUERY_ROLE_SCOPE } from '../../src/access/scopes.ts';
import { Notifier } from '../../src/notify/notifier.ts';
import { verifyPurge } from '../../src/privacy-ops/verify-purge.ts';
import { registeredRoutes } from '../../src/http/routes/index.ts';
import { buildCareFixture, GLUCOSE, type CareFixture, type ScenarioPerson } from '../support/care-fixture.ts';
import { databaseKinds } from '../support/databases.ts';
import { RouteCaller } from '../support/route-calls.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';

const kinds = await databaseKinds();

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A subscriber's endpoint on 127.0.0.1 that records every notification; `failNext` answers 503 that many times. */
async function receiver(): Promise<{ url: string; got: Received[]; failNext: { n: number }; close(): Promise<void> }> {
  const got: Received[] = [];
  const failNext = { n: 0 };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (failNext.n > 0) {
        failNext.n--;
        res.writeHead(503).end();
        return;
      }
      got.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, got, failNext, close: () => new Promise((r) => server.close(() => r())) };
}

describe.each(kinds)('FHIR Subscriptions (rest-hook) on %s', (kind) => {
  let server: TestServer;
  let f: CareFixture;
  let http: RouteCaller;
  let hooks: Awaited<ReturnType<typeof receiver>>;
  let subscriber: string;
  let subscriptionId: string;

  beforeAll(async () => {
    server = await startTestServer(kind);
    http = new RouteCaller(server, () => registeredRoutes);
    f = await buildCareFixture(server);
    hooks = await receiver();
    // Organization A's EHR with the query role: notified about what A's clinicians may see.
    subscriber = await systemClientToken(server, 'ehr-a-hooks', f.orgA, ['system/*.cruds', QUERY_ROLE_SCOPE]);
  }, 600_000);
  afterAll(async () => {
    await server?.stop();
    await hooks?.close();
  });

  const subscription = (over: Partial<Subscription> = {}): Subscription => ({
    resourceType: 'Subscription', status: 'requested', reason: 'results for our patients', criteria: 'Observation?status=final',
    channel: { type: 'rest-hook', endpoint: hooks.url, payload: 'application/fhir+json', header: ['Authorization: Bearer hook-secret'] },
    ...over,
  });

  /** Organization B's system sends an Observation about a person; returns its id. */
  async function observe(p: ScenarioPerson, code = GLUCOSE): Promise<string> {
    const res = await http.post('/fhir/Observation', f.tokens['system-b'], {
      resourceType: 'Observation', status: 'final', subject: { reference: `Patient/${p.patients.B}` }, code: { coding: [code] },
      effectiveDateTime: new Date().toISOString(), valueQuantity: { value: 5.9, unit: 'mmol/L' },
    });
    expect(res.status, res.body).toBe(201);
    return res.json<Resource>().id!;
  }

  /** Waits until the queue is empty (every notification sent or decided against). */
  async function settled(): Promise<void> {
    for (let i = 0; i < 400; i++) {
      if ((await server.services.db.query<{ n: number }>('select count(*)::int as n from notification_outbox')).rows[0].n === 0) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('notifications never settled');
  }
  const notifiedIds = () => hooks.got.map((g) => g.url.split('/').pop());

  it('a system subscribes; the server accepts it as active and only its organization sees it', async () => {
    const res = await http.post('/fhir/Subscription', subscriber, subscription());
    expect(res.status, res.body).toBe(201);
    const sub = res.json<Subscription>();
    expect(sub.status).toBe('active');
    subscriptionId = sub.id!;
    expect(server.services.notifier.watchedTypes()).toContain('Observation');
    // Another server process on the same database learns of it from the index on its next re-read.
    const otherProcess = new Notifier({ allowHttp: true, checkSearch: () => undefined });
    await otherProcess.load(server.services.db);
    expect(otherProcess.watchedTypes()).toEqual(['Observation']);
    expect((await http.get(`/fhir/Subscription/${sub.id}`, f.tokens['system-a'])).status).toBe(200);
    for (const role of ['system-b', 'clinician', 'admin', 'patient'] as const) {
      expect((await http.get(`/fhir/Subscription/${sub.id}`, f.tokens[role])).status, role).toBe(403);
      const list = await http.get('/fhir/Subscription', f.tokens[role]);
      if (list.status === 200) expect(list.body, `${role} finds no secret`).not.toContain('hook-secret');
    }
  });

  it('refuses subscriptions from people and malformed ones, with the reason', async () => {
    const clinician = await http.post('/fhir/Subscription', f.tokens.clinician, subscription());
    expect(clinician.status).toBe(403);
    const bad: Array<[Partial<Subscription>, string]> = [
      [{ channel: { type: 'websocket' } }, 'channel.type'],
      [{ channel: { type: 'rest-hook', endpoint: 'ftp://127.0.0.1/x' } }, 'channel.endpoint'],
      [{ channel: { type: 'rest-hook', endpoint: 'http://user:pw@127.0.0.1/x' } }, 'channel.endpoint'],
      [{ channel: { type: 'rest-hook', endpoint: hooks.url, payload: 'text/plain' } }, 'channel.payload'],
      [{ channel: { type: 'rest-hook', endpoint: hooks.url, header: ['Content-Type: text/plain'] } }, 'channel.header'],
      [{ criteria: 'Observation?no-such-parameter=1' }, 'criteria'],
      [{ criteria: 'AuditEvent?action=R' }, 'criteria'],
      [{ criteria: 'Observation?_count=5' }, 'criteria'],
    ];
    for (const [over, where] of bad) {
      const res = await http.post('/fhir/Subscription', subscriber, subscription(over));
      expect(res.status, JSON.stringify(over)).toBe(422);
      expect(JSON.stringify(res.json<OperationOutcome>().issue)).toContain(`Subscription.${where.split('.')[0]}`);
    }
  });

  it('notifies about data of persons in the organization\'s care, never about others, and audits each release', async () => {
    const before = Number((await server.services.db.query<{ s: number }>('select coalesce(max(seq), 0) as s from audit_log')).rows[0].s);
    const inCare = await observe(f.persons.encounter);
    const outside = await observe(f.persons.none);
    await settled();
    expect(notifiedIds()).toContain(inCare);
    expect(notifiedIds()).not.toContain(outside);
    const hit = hooks.got.find((g) => g.url.endsWith(`/Observation/${inCare}`))!;
    expect(hit.method).toBe('PUT');
    expect(hit.url).toBe(`/hooks/Observation/${inCare}`);
    expect(hit.headers.authorization).toBe('Bearer hook-secret');
    expect(String(hit.headers['content-type'])).toContain('application/fhir+json');
    expect(JSON.parse(hit.body)).toMatchObject({ resourceType: 'Observation', id: inCare, status: 'final' });
    const audit = (await server.services.db.query<{ action: string; agent_client: string; person_ids: string[]; entity_refs: string[] }>(
      'select action, agent_client, person_ids, entity_refs from audit_log where seq > $1 and action = $2', [before, 'notify'])).rows;
    const released = audit.filter((a) => a.entity_refs.includes(`Observation/${inCare}`));
    expect(released).toHaveLength(1);
    expect(released[0]).toMatchObject({ agent_client: 'ehr-a-hooks', person_ids: [f.persons.encounter.personId] });
    expect(audit.some((a) => a.entity_refs.includes(`Observation/${outside}`))).toBe(false);
  });

  it('a sensitive result is notified only once the person shares its category', async () => {
    const hivTest = { system: 'http://loinc.org', code: '75622-1', display: 'HIV 1 and 2 tests' };
    const hidden = await observe(f.persons.encounter, hivTest);
    await settled();
    expect(notifiedIds()).not.toContain(hidden);
    const labels = await server.services.db.query<{ security: string[] }>('select security from resources where id = $1', [hidden]);
    expect(labels.rows[0].security).toContain('HIV');
    const registrar = await userWithToken(server, { username: 'hooks.registrar', role: 'registrar', organizationId: f.orgA });
    const share = await http.post(`/fhir/Patient/${f.persons.encounter.patients.B}/$consent`, registrar, {
      resourceType: 'Parameters', parameter: [{ name: 'action', valueCode: 'share' }, { name: 'category', valueCode: 'HIV' }, { name: 'channel', valueCode: 'paper' }],
    });
    expect(share.status, share.body).toBe(200);
    const shown = await observe(f.persons.encounter, hivTest);
    await settled();
    expect(notifiedIds()).toContain(shown);
  });

  it('a failed delivery is retried until the endpoint takes it; nothing queued is lost', async () => {
    hooks.failNext.n = 2;
    const id = await observe(f.persons.encounter);
    for (let i = 0; i < 400 && !notifiedIds().includes(id); i++) await new Promise((r) => setTimeout(r, 25));
    expect(notifiedIds()).toContain(id);
    expect(hooks.failNext.n).toBe(0);
  }, 30_000);

  it('a burst of results in one transaction is notified in full (ids are searched in groups that fit a search value)', async () => {
    // Ids of 64 characters (the longest allowed): a worker batch of them is far longer than one search value may be.
    const idOf = (i: number) => `burst-${String(i).padStart(4, '0')}-${'b'.repeat(53)}`;
    const entry = Array.from({ length: 150 }, (_, i) => ({
      resource: { resourceType: 'Observation', id: idOf(i), status: 'final', subject: { reference: `Patient/${f.persons.encounter.patients.B}` }, code: { coding: [GLUCOSE] }, effectiveDateTime: new Date(Date.now() - i * 60_000).toISOString() },
      request: { method: 'PUT', url: `Observation/${idOf(i)}` },
    }));
    const res = await http.post('/fhir', f.tokens['system-b'], { resourceType: 'Bundle', type: 'transaction', entry });
    expect(res.status, res.body.slice(0, 300)).toBe(200);
    const ids = res.json<{ entry: Array<{ response: { location: string } }> }>().entry.map((e) => e.response.location.split('/')[1]);
    await settled();
    expect(ids.filter((id) => !notifiedIds().includes(id))).toEqual([]);
  });

  it('an opt-out removes the notifications still waiting about the person, and the purge verifies', async () => {
    const p = f.persons.attestation;
    // Organization A's own data about the person, so A's subscriber is entitled to it until the opt-out.
    hooks.failNext.n = 1000;
    const res = await http.post('/fhir/Observation', f.tokens['system-a'], {
      resourceType: 'Observation', status: 'final', subject: { reference: `Patient/${p.patients.B}` }, code: { coding: [GLUCOSE] }, effectiveDateTime: new Date().toISOString(),
    });
    expect(res.status, res.body).toBe(201);
    const waiting = async () => Number((await server.services.db.query<{ n: number }>('select count(*)::int as n from notification_outbox where id = $1', [res.json<Resource>().id])).rows[0].n);
    for (let i = 0; i < 200 && hooks.failNext.n === 1000; i++) await new Promise((r) => setTimeout(r, 25));
    expect(hooks.failNext.n, 'a delivery was attempted and failed').toBeLessThan(1000);
    expect(await waiting()).toBe(1);
    const registrar = await userWithToken(server, { username: 'hooks.registrar2', role: 'registrar', organizationId: f.orgA });
    const optOut = await http.post(`/fhir/Patient/${p.patients.B}/$consent`, registrar, {
      resourceType: 'Parameters', parameter: [{ name: 'action', valueCode: 'opt-out' }, { name: 'channel', valueCode: 'paper' }],
    });
    expect(optOut.status, optOut.body).toBe(200);
    expect(await waiting()).toBe(0);
    expect((await verifyPurge(server.services.db, p.personId)).ok).toBe(true);
    hooks.failNext.n = 0;
  });

  it('an ended subscription (status off, or deleted) sends nothing more; a payload-less one only pings', async () => {
    const current = (await http.get(`/fhir/Subscription/${subscriptionId}`, subscriber)).json<Subscription>();
    expect((await http.call('PUT', `/fhir/Subscription/${subscriptionId}`, subscriber, { ...current, status: 'off' })).status).toBe(200);
    const quiet = await observe(f.persons.encounter);
    await settled();
    expect(notifiedIds()).not.toContain(quiet);
    const otherProcess = new Notifier({ allowHttp: true, checkSearch: () => undefined });
    await otherProcess.load(server.services.db);
    expect(otherProcess.watchedTypes()).toEqual([]);

    const ping = await http.post('/fhir/Subscription', subscriber, subscription({ channel: { type: 'rest-hook', endpoint: hooks.url } }));
    expect(ping.status, ping.body).toBe(201);
    const count = hooks.got.length;
    await observe(f.persons.encounter);
    await settled();
    expect(hooks.got.length).toBe(count + 1);
    expect(hooks.got.at(-1)).toMatchObject({ method: 'POST', url: '/hooks', body: '' });
    expect((await http.call('DELETE', `/fhir/Subscription/${ping.json<Resource>().id}`, subscriber)).status).toBe(200);
    await observe(f.persons.encounter);
    await settled();
    expect(hooks.got.length).toBe(count + 1);
  });
});
