import { beforeEach, describe, expect, it } from 'vitest';
import type { AccessContext } from '../access/context.ts';
import { FhirError } from '../fhir/outcome.ts';
import type { Database } from '../store/database.ts';
import { appendAudit, verifyChain } from './chain.ts';
import { createAuditRequest, fulfilAuditRequest, listAuditRequests } from './requests.ts';
import { listReviews, markReviewed } from './review.ts';
import { readAuditEvent, searchAudit } from './search.ts';
import { parseAuditQuery } from './search-query.ts';
import { clinician, migratedPglite, readOf } from './test-support.ts';
import { familiarPeople, manyPeopleWithoutRelationship, outsideWorkingHours } from './unusual.ts';

const officer: AccessContext = { userId: 'u-po', displayName: 'Pat Officer', role: 'privacy-officer', scopes: [], purposeOfUse: 'HOPERAT' };
const eli = clinician({ userId: 'u-eli', displayName: 'Dr. Eli Smith', organizationId: 'org-er' });
const window = { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-12-31T00:00:00Z') };

let db: Database;
beforeEach(async () => {
  db = await migratedPglite();
});

const at = (iso: string, inputs: Parameters<typeof appendAudit>[1]) => db.transaction((tx) => appendAudit(tx, inputs, { now: new Date(iso) }));

describe('searchAudit', () => {
  const search = async (q: string, opts: { strict?: boolean; persons?: Record<string, string>; now?: string } = {}) =>
    searchAudit(db, parseAuditQuery([...new URLSearchParams(q)], { strict: opts.strict ?? false }), {
      personOf: async (patientId) => opts.persons?.[patientId],
      now: opts.now ? Date.parse(opts.now) : undefined,
    });
  const ids = async (q: string, opts?: Parameters<typeof search>[1]) => (await search(q, opts)).events.map((e) => e.id);

  it('filters by patient, person, agent, entity, action, outcome, purpose and date, newest first with paging', async () => {
    await at('2026-02-01T10:00:00Z', readOf('p1', 'Observation/o1'));
    await at('2026-02-02T10:00:00Z', readOf('p2', 'Observation/o2', { ctx: eli }));
    await at('2026-02-03T10:00:00Z', readOf('p1', 'Condition/c1', { ctx: eli, outcome: 'denied' }));
    await at('2026-02-04T10:00:00Z', readOf('p1', 'Condition/c1', { ctx: clinician({ purposeOfUse: 'ETREAT' }) }));
    const persons = { pat1: 'p1', pat2: 'p2' };
    expect(await ids('patient=Patient/pat1', { persons })).toEqual(['4', '3', '1']);
    expect(await ids('patient=pat2,Patient/pat1', { persons })).toEqual(['4', '3', '2', '1']);
    expect(await ids('patient=Patient/unknown', { persons })).toEqual([]);
    expect(await ids('entity=Person/p1')).toEqual(['4', '3', '1']);
    expect(await ids('agent=u-eli')).toEqual(['3', '2']);
    expect(await ids('agent=org-er')).toEqual(['3', '2']);
    expect(await ids('agent=Organization/org-er')).toEqual(['3', '2']);
    expect(await ids('agent=Organization/u-eli')).toEqual([]);
    expect(await ids('entity=Condition/c1')).toEqual(['4', '3']);
    expect(await ids('entity=Observation/o2,Condition/c1')).toEqual(['4', '3', '2']);
    expect(await ids('entity=o1')).toEqual(['1']);
    expect(await ids('outcome=denied')).toEqual(['3']);
    expect(await ids('outcome=4')).toEqual(['3']);
    expect(await ids('purpose=ETREAT')).toEqual(['4']);
    expect(await ids('action=search')).toEqual([]);
    expect(await ids('date=ge2026-02-02&date=le2026-02-03T10:00:00Z')).toEqual(['3', '2']);
    expect(await ids('entity=Person/p1&agent=u-eli')).toEqual(['3']);
    const page = await search('entity=Person/p1&_count=2&_offset=2');
    expect(page.total).toBe(3);
    expect(page.events.map((e) => [e.id, e.resourceType])).toEqual([['1', 'AuditEvent']]);
  });

  it('searches dates as FHIR ranges: every prefix, the precision of the value, repeats AND, commas OR', async () => {
    for (const t of ['2026-12-06T23:59:59.999Z', '2026-12-07T00:00:00.000Z', '2026-12-07T12:00:00.000Z', '2026-12-07T23:59:59.999Z', '2026-12-08T00:00:00.000Z']) {
      await at(t, readOf('p1', 'Observation/o1'));
    }
    const day: Array<[string, string[]]> = [
      ['2026-12-07', ['4', '3', '2']], ['eq2026-12-07', ['4', '3', '2']], ['ne2026-12-07', ['5', '1']],
      ['le2026-12-07', ['4', '3', '2', '1']], ['lt2026-12-07', ['1']], ['ge2026-12-07', ['5', '4', '3', '2']], ['gt2026-12-07', ['5']],
      ['sa2026-12-07', ['5']], ['eb2026-12-07', ['1']],
    ];
    for (const [value, expected] of day) expect(await ids(`date=${value}`), value).toEqual(expected);
    expect(await ids('date=2026-12')).toEqual(['5', '4', '3', '2', '1']);
    expect(await ids('date=lt2026-12')).toEqual([]);
    expect(await ids('date=2026')).toHaveLength(5);
    expect(await ids('date=2026-12-07T12:00:00Z')).toEqual(['3']);
    expect(await ids('date=gt2026-12-07T12:00:00Z')).toEqual(['5', '4']);
    expect(await ids('date=le2026-12-07T12:00:00.000Z')).toEqual(['3', '2', '1']);
    expect(await ids('date=lt2026-12-07T12:00:00.000Z')).toEqual(['2', '1']);
    expect(await ids(`date=ge${encodeURIComponent('2026-12-07T19:00:00-05:00')}`)).toEqual(['5']);
    expect(await ids('date=ge2026-12-06&date=ge2026-12-08')).toEqual(['5']);
    expect(await ids('date=ge2026-12-07&date=lt2026-12-07T12:00:00Z')).toEqual(['2']);
    expect(await ids('date=2026-12-06,2026-12-08')).toEqual(['5', '1']);
    // ap widens each end of the day by 10% of its distance from now (a day away: 2.4 h; now itself: nothing).
    expect(await ids('date=ap2026-12-07', { now: '2026-12-08T00:00:00Z' })).toEqual(['4', '3', '2', '1']);
    expect(await ids('date=ap2026-12-07', { now: '2026-12-07T00:00:00Z' })).toEqual(['5', '4', '3', '2']);
    await expect(search('date=2026-13-01')).rejects.toMatchObject({ status: 400 });
    await expect(search('date=xx2026-12-07')).rejects.toMatchObject({ status: 400 });
  });

  it('matches action, subtype, outcome and purpose as FHIR tokens (code, system|code, commas OR), Katahdin words too', async () => {
    const officerCtx = { ...officer, purposeOfUse: 'TREAT' as const };
    await at('2026-03-01T10:00:00Z', readOf('p1', 'Observation/o1'));
    await at('2026-03-01T10:01:00Z', { ctx: clinician(), action: 'search', outcome: 'denied', personIds: [], resources: [] });
    await at('2026-03-01T10:02:00Z', { ctx: clinician({ purposeOfUse: 'ETREAT' }), action: 'create', outcome: 'error', personIds: [], resources: [] });
    await at('2026-03-01T10:03:00Z', { ctx: clinician({ purposeOfUse: 'ETREAT' }), action: 'break-glass', outcome: 'success', personIds: ['p2'], resources: [] });
    await at('2026-03-01T10:04:00Z', { ctx: officerCtx, action: 'login-failed', outcome: 'success', personIds: [], resources: [] });
    const all = (await search('')).events;
    for (const code of ['C', 'R', 'U', 'D', 'E']) {
      expect(await ids(`action=${code}`), code).toEqual(all.filter((e) => e.action === code).map((e) => e.id));
    }
    expect(await ids('action=R')).toEqual(['1']);
    expect(await ids('action=E')).toEqual(['5', '4', '2']);
    expect(await ids('action=R,C')).toEqual(['3', '1']);
    expect(await ids('action=http://hl7.org/fhir/audit-event-action|E')).toEqual(['5', '4', '2']);
    expect(await ids('action=http://hl7.org/fhir/audit-event-action|')).toHaveLength(5);
    expect(await ids('action=https://katahdin.org/fhir/CodeSystem/audit-action|search')).toEqual(['2']);
    expect(await ids('action=read,break-glass')).toEqual(['4', '1']);
    expect(await ids('action=http://example.org/other|R')).toEqual([]);
    expect(await ids('action=|R')).toEqual([]);
    expect(await ids('subtype=search-type')).toEqual(['2']);
    expect(await ids('subtype=http://hl7.org/fhir/restful-interaction|read')).toEqual(['1']);
    expect(await ids('subtype=http://dicom.nema.org/resources/ontology/DCM|110110')).toEqual(['1']);
    expect(await ids('subtype=http://dicom.nema.org/resources/ontology/DCM|110122')).toEqual(['5']);
    expect(await ids('subtype=break-glass')).toEqual(['4']);
    expect(await ids('outcome=4,8')).toEqual(['5', '3', '2']);
    expect(await ids('outcome=http://hl7.org/fhir/audit-event-outcome|4')).toEqual(['5', '2']);
    expect(await ids('outcome=0')).toEqual(['4', '1']);
    expect(await ids('outcome=error')).toEqual(['3']);
    expect(await ids('outcome=http://example.org/other|4')).toEqual([]);
    expect(await ids('purpose=http://terminology.hl7.org/CodeSystem/v3-ActReason|ETREAT')).toEqual(['4', '3']);
    expect(await ids('purpose=ETREAT,TREAT')).toHaveLength(5);
    expect(await ids('purpose=http://example.org/other|TREAT')).toEqual([]);
    expect(await ids('action=E&outcome=4')).toEqual(['5', '2']);
  });

  it('warns about unknown parameters, or refuses them under strict handling; refuses modifiers and bad paging values', async () => {
    await at('2026-04-01T10:00:00Z', readOf('p1', 'Observation/o1'));
    const lenient = await search('foo=bar&_sort=-date&action=R');
    expect(lenient.events.map((e) => e.id)).toEqual(['1']);
    expect(parseAuditQuery([['foo', 'bar'], ['_sort', '-date'], ['_format', 'json']], { strict: false }).warnings).toEqual([
      "Unknown or unsupported search parameter 'foo'", "Unknown or unsupported search parameter '_sort'",
    ]);
    await expect(search('foo=bar', { strict: true })).rejects.toMatchObject({ status: 400 });
    expect(await ids('action=R', { strict: true })).toEqual(['1']);
    await expect(search('action:not=R')).rejects.toMatchObject({ status: 400 });
    for (const q of ['_count=x', '_offset=-1', '_before=abc']) await expect(search(q), q).rejects.toMatchObject({ status: 400 });
  });

  it('pins pages to the newest event of the first page, so events appended later shift nothing', async () => {
    for (let i = 0; i < 5; i++) await at(`2026-05-01T10:0${i}:00Z`, readOf('p1', 'Observation/o1'));
    const first = await search('_count=2');
    expect([first.before, first.total, first.events.map((e) => e.id)]).toEqual([5, 5, ['5', '4']]);
    await at('2026-05-01T11:00:00Z', readOf('p1', 'Observation/o1'));
    const second = await search(`_count=2&_offset=2&_before=${first.before}`);
    expect([second.before, second.total, second.events.map((e) => e.id)]).toEqual([5, 5, ['3', '2']]);
    expect((await search('_count=2')).events.map((e) => e.id)).toEqual(['6', '5']);
    expect(await readAuditEvent(db, '3')).toMatchObject({ resourceType: 'AuditEvent', id: '3', action: 'R' });
    for (const id of ['7', '0', 'x', '03']) expect(await readAuditEvent(db, id), id).toBeUndefined();
  });
});

describe('review queues', () => {
  it('queues break-the-glass declarations, counts flagged accesses, and audits the review', async () => {
    const er = clinician({ userId: 'u-eli', displayName: 'Dr. Eli Smith', purposeOfUse: 'ETREAT' });
    await at('2026-03-01T02:00:00Z', { ctx: er, action: 'break-glass', outcome: 'success', personIds: ['p1'], resources: [], detail: 'reason: unconscious', relationship: 'break-glass' });
    await at('2026-03-01T02:05:00Z', [readOf('p1', 'Condition/c1', { ctx: er }), readOf('p1', 'Observation/o1', { ctx: er })]);
    await at('2026-03-01T02:06:00Z', { ctx: er, action: 'break-glass', outcome: 'denied', personIds: ['p2'], resources: [] });
    const pending = await listReviews(db, 'break-glass');
    expect(pending).toMatchObject([{ seq: 1, agentName: 'Dr. Eli Smith', personIds: ['p1'], detail: 'reason: unconscious', flaggedAccesses: 2, status: 'pending' }]);
    const done = await markReviewed(db, officer, 1, 'confirmed with ER chart', new Date('2026-03-02T09:00:00Z'));
    expect(done).toMatchObject({ status: 'reviewed', reviewer: 'u-po', notes: 'confirmed with ER chart', reviewedAt: '2026-03-02T09:00:00.000Z' });
    expect(await listReviews(db, 'break-glass')).toEqual([]);
    expect(await listReviews(db, 'break-glass', { status: 'reviewed' })).toHaveLength(1);
    const audit = await searchAudit(db, parseAuditQuery([['action', 'audit-review']], { strict: true }), { personOf: async () => undefined });
    expect(audit.events[0].entity?.map((e) => e.what?.reference)).toEqual(['Person/p1', 'AuditEvent/1']);
    await expect(markReviewed(db, officer, 1, 'again')).rejects.toMatchObject({ status: 409 });
    await expect(markReviewed(db, officer, 99, 'x')).rejects.toBeInstanceOf(FhirError);
    expect(await verifyChain(db)).toMatchObject({ ok: true, count: 5 }); // refused reviews roll back with their audit
  });

  it('lists attestations for review', async () => {
    await at('2026-03-01T10:00:00Z', { ctx: eli, action: 'attest', outcome: 'success', personIds: ['p3'], resources: [], relationship: 'attestation' });
    expect(await listReviews(db, 'attestation')).toMatchObject([{ seq: 1, kind: 'attestation', personIds: ['p3'] }]);
    expect(await listReviews(db, 'break-glass')).toEqual([]);
  });
});

describe('audit requests', () => {
  it('tracks a paper request from requested to fulfilled, auditing both', async () => {
    const req = await createAuditRequest(db, officer, { personId: 'per-jane', channel: 'paper' }, new Date('2026-04-01T10:00:00Z'));
    expect(req).toMatchObject({ personId: 'per-jane', channel: 'paper', requestedBy: 'u-po', status: 'requested' });
    expect(await listAuditRequests(db, { status: 'requested' })).toEqual([req]);
    const done = await fulfilAuditRequest(db, officer, req.id, new Date('2026-04-02T10:00:00Z'));
    expect(done).toMatchObject({ status: 'fulfilled', fulfilledBy: 'u-po', fulfilledAt: '2026-04-02T10:00:00.000Z' });
    expect(await listAuditRequests(db, { status: 'requested' })).toEqual([]);
    expect(await listAuditRequests(db, { personId: 'per-jane' })).toEqual([done]);
    await expect(fulfilAuditRequest(db, officer, req.id)).rejects.toMatchObject({ status: 409 });
    await expect(fulfilAuditRequest(db, officer, 'nope')).rejects.toMatchObject({ status: 404 });
    const events = await searchAudit(db, parseAuditQuery([['entity', 'Person/per-jane']], { strict: true }), { personOf: async () => undefined });
    expect(events.events.map((e) => e.subtype?.[1].code)).toEqual(['audit-report', 'audit-request']);
  });
});

describe('unusual access', () => {
  it('finds a user viewing many people without a relationship (searches excluded)', async () => {
    for (let i = 0; i < 6; i++) await at('2026-05-01T10:00:00Z', readOf(`p${i}`, `Patient/${i}`, { ctx: eli, relationship: 'none' }));
    await at('2026-05-01T10:00:00Z', readOf('p1', 'Patient/1', { ctx: eli, relationship: 'none' }));
    await at('2026-05-01T10:00:00Z', readOf('p9', 'Patient/9', { ctx: eli, relationship: 'encounter' }));
    await at('2026-05-01T10:00:00Z', { ...readOf('x', 'Patient/x'), action: 'search', personIds: ['a', 'b', 'c', 'd', 'e', 'f'], relationship: 'none' });
    expect(await manyPeopleWithoutRelationship(db, window, 5)).toEqual([
      { agentUserId: 'u-eli', agentName: 'Dr. Eli Smith', agentOrg: 'org-er', persons: 6, events: 7 },
    ]);
    expect(await manyPeopleWithoutRelationship(db, window, 7)).toEqual([]);
  });

  it('finds users viewing people with their family name or address', async () => {
    await at('2026-05-02T10:00:00Z', [readOf('p-sis', 'Patient/1', { ctx: eli }), readOf('p-neigh', 'Patient/2', { ctx: eli }), readOf('p-x', 'Patient/3', { ctx: eli })]);
    const rows = await familiarPeople(db, window, {
      user: (id) => (id === 'u-eli' ? { familyNames: ['Smith'], addresses: ['12 Elm St., Bangor ME'] } : undefined),
      person: (id) => ({
        'p-sis': { familyNames: ['SMITH'], addresses: ['1 Oak Rd'] },
        'p-neigh': { familyNames: ['Jones'], addresses: ['12 ELM ST BANGOR ME'] },
        'p-x': { familyNames: ['Smithe'], addresses: [] },
      })[id],
    });
    expect(rows.map((r) => [r.personId, r.sharedFamilyName, r.sharedAddress])).toEqual([['p-neigh', false, true], ['p-sis', true, false]]);
  });

  it('finds access outside working hours in the configured time zone', async () => {
    await at('2026-06-03T13:00:00Z', readOf('p1', 'Patient/1')); // Wed 09:00 in New York
    await at('2026-06-03T02:30:00Z', readOf('p2', 'Patient/2')); // Tue 22:30 in New York
    await at('2026-06-06T15:00:00Z', readOf('p3', 'Patient/3')); // Saturday 11:00
    const hours = { start: 7, end: 19, timeZone: 'America/New_York', weekendsOutside: true };
    expect((await outsideWorkingHours(db, window, hours)).map((r) => r.personIds[0])).toEqual(['p2', 'p3']);
    expect((await outsideWorkingHours(db, window, { ...hours, weekendsOutside: false })).map((r) => r.personIds[0])).toEqual(['p2']);
  });
});
