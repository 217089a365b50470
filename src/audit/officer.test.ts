import { beforeEach, describe, expect, it } from 'vitest';
import type { AccessContext } from '../access/context.ts';
import { FhirError } from '../fhir/outcome.ts';
import type { Database } from '../store/database.ts';
import { appendAudit, verifyChain } from './chain.ts';
import { createAuditRequest, fulfilAuditRequest, listAuditRequests } from './requests.ts';
import { listReviews, markReviewed } from './review.ts';
import { searchAudit } from './search.ts';
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
  it('filters by person, agent, entity, action, outcome, purpose and date, newest first with paging', async () => {
    await at('2026-02-01T10:00:00Z', readOf('p1', 'Observation/o1'));
    await at('2026-02-02T10:00:00Z', readOf('p2', 'Observation/o2', { ctx: eli }));
    await at('2026-02-03T10:00:00Z', readOf('p1', 'Condition/c1', { ctx: eli, outcome: 'denied' }));
    await at('2026-02-04T10:00:00Z', readOf('p1', 'Condition/c1', { ctx: clinician({ purposeOfUse: 'ETREAT' }) }));
    const ids = async (p: Partial<Parameters<typeof searchAudit>[1]>) =>
      (await searchAudit(db, { count: 10, offset: 0, ...p })).events.map((e) => e.id);
    expect(await ids({ personId: 'p1' })).toEqual(['4', '3', '1']);
    expect(await ids({ agent: 'u-eli' })).toEqual(['3', '2']);
    expect(await ids({ agent: 'org-er' })).toEqual(['3', '2']);
    expect(await ids({ entity: 'Condition/c1' })).toEqual(['4', '3']);
    expect(await ids({ outcome: 'denied' })).toEqual(['3']);
    expect(await ids({ outcome: '4' })).toEqual(['3']);
    expect(await ids({ purpose: 'ETREAT' })).toEqual(['4']);
    expect(await ids({ action: 'search' })).toEqual([]);
    expect(await ids({ date: ['2026-02-02', '2026-02-03T10:00:00Z'] })).toEqual(['3', '2']);
    const page = await searchAudit(db, { personId: 'p1', count: 2, offset: 2 });
    expect(page.total).toBe(3);
    expect(page.events.map((e) => [e.id, e.resourceType])).toEqual([['1', 'AuditEvent']]);
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
    const audit = await searchAudit(db, { action: 'audit-review', count: 5, offset: 0 });
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
    const events = await searchAudit(db, { personId: 'per-jane', count: 5, offset: 0 });
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
