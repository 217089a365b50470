import type { Provenance, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { clinicalDate, isOnOrAfter } from './clinical-date.ts';
import { NO_CHOICES, type ConsentState } from './consent.ts';
import { intakeDecision, withinMessage, type IntakeDecision } from './intake.ts';

const R = (r: Record<string, unknown>) => r as unknown as Resource;
const received = '2026-05-01T08:00:00Z';

describe('clinicalDate: the date of the care a resource describes', () => {
  it.each([
    [{ resourceType: 'Encounter', period: { start: '2024-01-02T10:00:00Z', end: '2024-01-03' } }, '2024-01-02T10:00:00Z'],
    [{ resourceType: 'Observation', effectiveDateTime: '2024-02-01', issued: '2024-02-03T00:00:00Z' }, '2024-02-01'],
    [{ resourceType: 'Observation', effectivePeriod: { start: '2024-02-05' } }, '2024-02-05'],
    [{ resourceType: 'Observation', issued: '2024-02-03T00:00:00Z' }, '2024-02-03T00:00:00Z'],
    [{ resourceType: 'DiagnosticReport', effectiveDateTime: '2024-03-01', issued: '2024-03-02' }, '2024-03-01'],
    [{ resourceType: 'Condition', onsetDateTime: '1990-01-01', recordedDate: '2024-04-01' }, '2024-04-01'],
    [{ resourceType: 'Condition', onsetDateTime: '1990-01-01' }, '1990-01-01'],
    [{ resourceType: 'Procedure', performedPeriod: { start: '2024-05-01T09:00:00Z' } }, '2024-05-01T09:00:00Z'],
    [{ resourceType: 'Immunization', occurrenceDateTime: '2024-06-01' }, '2024-06-01'],
    [{ resourceType: 'MedicationRequest', authoredOn: '2024-07-01' }, '2024-07-01'],
    [{ resourceType: 'MedicationStatement', effectiveDateTime: '2024-07-02', dateAsserted: '2024-07-09' }, '2024-07-02'],
    [{ resourceType: 'MedicationAdministration', effectivePeriod: { start: '2024-07-03' } }, '2024-07-03'],
    [{ resourceType: 'MedicationDispense', whenHandedOver: '2024-07-04', whenPrepared: '2024-07-01' }, '2024-07-04'],
    [{ resourceType: 'AllergyIntolerance', onsetDateTime: '2001-01-01', recordedDate: '2024-08-01' }, '2024-08-01'],
    [{ resourceType: 'DocumentReference', date: '2024-09-10T00:00:00Z', context: { period: { start: '2024-09-01' } } }, '2024-09-01'],
    [{ resourceType: 'DocumentReference', date: '2024-09-10T00:00:00Z' }, '2024-09-10T00:00:00Z'],
    [{ resourceType: 'Composition', date: '2024-10-01' }, '2024-10-01'],
    [{ resourceType: 'Claim', billablePeriod: { start: '2024-11-01' }, created: '2024-11-05' }, '2024-11-01'],
    [{ resourceType: 'Observation', effectiveDateTime: 'not a date' }, received],
    [{ resourceType: 'Binary', contentType: 'text/plain' }, received],
    [{ resourceType: 'Provenance', occurredDateTime: '2024-12-01', recorded: '2024-12-02T00:00:00Z' }, '2024-12-01'],
  ])('%o → %s', (r, expected) => {
    expect(clinicalDate(R(r), received)).toBe(expected);
  });

  it('a date-only value on the opt-in day counts as on or after it', () => {
    expect(isOnOrAfter('2026-03-01', '2026-03-01T15:00:00Z')).toBe(true);
    expect(isOnOrAfter('2026-02-28', '2026-03-01T00:00:00Z')).toBe(false);
    expect(isOnOrAfter('2026-03-01T14:59:00Z', '2026-03-01T15:00:00Z')).toBe(false);
  });

  const optIn = '2026-12-07T16:00:00.000Z';
  it.each([
    // A year or month alone is taken at its first day: it began before an opt-in later in that year or month.
    ['2026', optIn, false],
    ['2026-12', optIn, false],
    ['2027', optIn, true],
    ['2027-01', optIn, true],
    ['2026', '2026-01-01T00:00:00.000Z', true],
    ['2026', '2026-01-01T00:00:00.001Z', true],
    ['2025', '2026-01-01T00:00:00.000Z', false],
    ['2026-12', '2026-12-01T23:59:59.999Z', true],
    ['2026-11', '2026-12-01T00:00:00.000Z', false],
    // A day is compared with the opt-in's day as written (UTC for stored opt-in dates).
    ['2026-12-07', optIn, true],
    ['2026-12-06', optIn, false],
    ['2026-12-07', '2026-12-07T23:59:59.999Z', true],
    ['2026-12-08', optIn, true],
    ['2026-12-07', '2026-12-07', true],
    ['2026-12', '2026-12-01', true],
    // Instants compare as instants, whatever their offsets.
    ['2026-12-07T16:00:00Z', optIn, true],
    ['2026-12-07T15:59:59.999Z', optIn, false],
    ['2026-12-07T11:00:00-05:00', optIn, true],
    ['2026-12-07T10:59:59-05:00', optIn, false],
    ['2026-12-08T01:00:00+09:00', optIn, true],
    ['2026-12-08T00:59:59+09:00', optIn, false],
    ['2026-12-07T12:00:00Z', '2026-12-07T07:00:00-05:00', true],
    ['2026-12-07T11:59:00Z', '2026-12-07T07:00:00-05:00', false],
  ])('isOnOrAfter(%s, %s) is %s', (date, instant, expected) => {
    expect(isOnOrAfter(date, instant)).toBe(expected);
  });
});

const optedOut: ConsentState = { optedOut: true, optedOutAt: '2026-01-01', shared: [], history: [] };
const optedIn: ConsentState = { optedOut: false, optInDate: '2026-03-01', shared: [], history: [] };
const obs = (date?: string) => R({ resourceType: 'Observation', status: 'final', code: {}, ...(date ? { effectiveDateTime: date } : {}) });

describe('intakeDecision (privacy rules §2 and §3)', () => {
  it.each(['Patient', 'Person', 'Consent', 'Organization', 'Practitioner', 'Location'])('%s is always stored, even when opted out', (t) => {
    expect(intakeDecision(R({ resourceType: t }), optedOut, received)).toEqual({ store: true });
  });

  it('while opted out, clinical data of every kind is not stored', () => {
    for (const t of ['Observation', 'Encounter', 'DocumentReference', 'Binary', 'Provenance', 'SomeFutureType']) {
      expect(intakeDecision(R({ resourceType: t, target: [{ reference: 'Observation/1' }] }), optedOut, received)).toEqual({ store: false, reason: 'opted-out' });
    }
  });

  it('after opt-in: only data whose clinical date is on or after the opt-in date, even when it arrives late', () => {
    expect(intakeDecision(obs('2026-03-05'), optedIn, received)).toEqual({ store: true });
    expect(intakeDecision(obs('2026-03-01'), optedIn, received)).toEqual({ store: true });
    expect(intakeDecision(obs('2026-02-20'), optedIn, '2026-04-01T00:00:00Z')).toEqual({ store: false, reason: 'before-opt-in' });
    // A year alone may be any day of it, January included: not shown to be on or after a March opt-in.
    expect(intakeDecision(obs('2026'), optedIn, received)).toEqual({ store: false, reason: 'before-opt-in' });
    expect(intakeDecision(obs('2026-03'), optedIn, received)).toEqual({ store: true });
  });

  it('data with no clinical date takes the date it was received', () => {
    expect(intakeDecision(obs(), optedIn, '2026-03-02T00:00:00Z')).toEqual({ store: true });
    expect(intakeDecision(obs(), optedIn, '2026-02-27T00:00:00Z')).toEqual({ store: false, reason: 'before-opt-in' });
  });

  it('a person who never opted out has everything stored', () => {
    expect(intakeDecision(obs('1999-01-01'), NO_CHOICES, received)).toEqual({ store: true });
  });

  it('Provenance of a demographic update is kept (not after opt-out); Provenance of discarded clinical data goes with it', () => {
    const prov = (target: string, recorded = '2026-04-01T00:00:00Z'): Provenance =>
      ({ resourceType: 'Provenance', recorded, target: [{ reference: target }], agent: [] }) as unknown as Provenance;
    expect(intakeDecision(prov('Patient/p1'), optedIn, received)).toEqual({ store: true });
    expect(intakeDecision(prov('Patient/p1'), optedOut, received)).toEqual({ store: false, reason: 'opted-out' });
  });
});

describe('withinMessage: what has no clinical date follows what it belongs to', () => {
  const withId = (r: Resource, id: string) => ({ ...r, id }) as Resource;
  const prov = (targets: string[], entity?: string) => R({ resourceType: 'Provenance', recorded: received, target: targets.map((reference) => ({ reference })),
    agent: [], ...(entity ? { entity: [{ role: 'source', what: { reference: entity } }] } : {}) });
  /** Each resource's own decision, then the message's. */
  const decide = (resources: Resource[], state: ConsentState) =>
    withinMessage(resources, resources.map((r) => intakeDecision(r, state, received)), (d: IntakeDecision) => d.store);

  it('a Binary referenced by a discarded DocumentReference is discarded with it (a C-CDA dated before the opt-in)', () => {
    const binary = withId(R({ resourceType: 'Binary', contentType: 'application/xml' }), 'b1');
    const doc = (date: string) => withId(R({ resourceType: 'DocumentReference', status: 'current', date, content: [{ attachment: { url: 'Binary/b1' } }] }), 'd1');
    // The Binary alone would take the received time (after the opt-in) and be stored.
    expect(intakeDecision(binary, optedIn, received)).toEqual({ store: true });
    expect(decide([binary, doc('1967-05-01T00:00:00Z')], optedIn).map((d) => d.decision)).toEqual([
      { store: false, reason: 'before-opt-in' }, { store: false, reason: 'before-opt-in' },
    ]);
    expect(decide([binary, doc('2026-04-01T00:00:00Z')], optedIn).map((d) => d.decision)).toEqual([{ store: true }, { store: true }]);
    const absolute = withId(R({ resourceType: 'DocumentReference', status: 'current', date: '1967-05-01', content: [{ attachment: { url: 'https://hie.example/fhir/Binary/b1' } }] }), 'd2');
    expect(decide([binary, absolute], optedIn)[0].decision).toEqual({ store: false, reason: 'before-opt-in' });
  });

  describe('a Binary follows every resource whose attachment names it, as label propagation reads attachments', () => {
    const base = 'https://hie.example/fhir';
    const binary = withId(R({ resourceType: 'Binary', contentType: 'application/pdf' }), 'b1');
    const refused: IntakeDecision = { store: false, reason: 'before-opt-in' };
    const kept: IntakeDecision = { store: true };
    /** The Binary's final decision in a message where `holder` (with decision `holderDecision`) names it. */
    const binaryAfter = (holder: Resource, holderDecision: IntakeDecision = refused) =>
      withinMessage([binary, holder], [kept, holderDecision], (d: IntakeDecision) => d.store, base)[0].decision;
    const documentReference = (url: string) => withId(R({ resourceType: 'DocumentReference', status: 'current', content: [{ attachment: { url } }] }), 'd1');

    it.each([
      ['a versioned URL', 'Binary/b1/_history/2'],
      ['an absolute URL under this server\'s FHIR base', `${base}/Binary/b1`],
      ['a versioned absolute URL under this server\'s FHIR base', `${base}/Binary/b1/_history/1`],
    ])('a DocumentReference naming it by %s', (_, url) => {
      expect(binaryAfter(documentReference(url))).toEqual(refused);
    });

    it.each([
      ['DiagnosticReport.presentedForm', R({ resourceType: 'DiagnosticReport', status: 'final', code: {}, presentedForm: [{ contentType: 'application/pdf', url: 'Binary/b1/_history/1' }] })],
      ['Media.content', R({ resourceType: 'Media', status: 'completed', content: { contentType: 'image/jpeg', url: `${base}/Binary/b1` } })],
      ['Communication.payload.contentAttachment', R({ resourceType: 'Communication', status: 'completed', payload: [{ contentAttachment: { url: 'Binary/b1' } }] })],
    ])('%s naming it', (_, holder) => {
      expect(binaryAfter(withId(holder, 'h1'))).toEqual(refused);
    });

    it('another server\'s URL, a urn: outside the message and a non-Binary URL name no Binary of the message', () => {
      for (const url of ['http://other.example.org/fhir/Binary/b1', 'http://other.example.org/fhir/Binary/b1/_history/1', 'urn:uuid:6f1c0c1e-2a51-4d4b-9d1e-3f5b3c2a1b00', 'Binary/b1/extra', 'Media/b1']) {
        expect([url, binaryAfter(documentReference(url))]).toEqual([url, kept]);
      }
    });

    it('a Binary sent without a person (own decision: store) still goes with the opted-out person\'s report naming it', () => {
      const report = withId(R({ resourceType: 'DiagnosticReport', status: 'final', code: {}, presentedForm: [{ url: 'Binary/b1/_history/1' }] }), 'r1');
      expect(binaryAfter(report, { store: false, reason: 'opted-out' })).toEqual({ store: false, reason: 'opted-out' });
    });

    it('a Binary named by a refused and by a kept document stays, whatever their order: it is the kept document\'s content', () => {
      const old = withId(R({ resourceType: 'DocumentReference', status: 'current', date: '2026-01-10', content: [{ attachment: { url: 'Binary/b1' } }] }), 'old');
      const pairs = [
        [old, withId(R({ resourceType: 'DocumentReference', status: 'current', date: '2026-04-01', content: [{ attachment: { url: 'Binary/b1' } }] }), 'new')],
        [withId({ ...old, content: [{ attachment: { url: 'Binary/b1/_history/1' } }] } as Resource, 'old'),
          withId(R({ resourceType: 'DiagnosticReport', status: 'final', code: {}, effectiveDateTime: '2026-04-01', presentedForm: [{ url: `${base}/Binary/b1` }] }), 'new')],
      ];
      for (const [refusedDoc, keptDoc] of pairs) {
        for (const resources of [[binary, refusedDoc, keptDoc], [keptDoc, binary, refusedDoc], [binary, keptDoc, refusedDoc]]) {
          const decided = withinMessage(resources, resources.map((r) => intakeDecision(r, optedIn, received)), (d: IntakeDecision) => d.store, base);
          expect(Object.fromEntries(resources.map((r, i) => [r.id, decided[i].decision.store]))).toEqual({ b1: true, old: false, new: true });
        }
      }
    });

    it('while opted out the Binary goes even when it is named by a kept (non-clinical) resource: its own decision stands', () => {
      const decided = decide([binary, withId(R({ resourceType: 'Organization', name: 'x' }), 'o')], optedOut);
      expect(decided[0].decision).toEqual({ store: false, reason: 'opted-out' });
    });
  });

  it('a Provenance whose clinical targets were all discarded is discarded; one with some kept names only those', () => {
    const old = withId(obs('2026-02-01'), 'o1');
    const recent = withId(obs('2026-04-01'), 'o2');
    const patient = withId(R({ resourceType: 'Patient' }), 'p');
    const [, , allGone] = decide([patient, old, prov(['Patient/p', 'Observation/o1'], 'Observation/o1')], optedIn);
    expect(allGone.decision).toEqual({ store: false, reason: 'before-opt-in' });
    const [, , , partial] = decide([patient, old, recent, prov(['Patient/p', 'Observation/o1', 'Observation/o2'], 'Observation/o1')], optedIn);
    expect(partial.decision).toEqual({ store: true });
    expect((partial.resource as Provenance).target.map((t) => t.reference)).toEqual(['Patient/p', 'Observation/o2']);
    expect((partial.resource as Provenance).entity).toEqual([]);
    // A demographic update's Provenance stays after an opt-in and goes while opted out.
    expect(decide([patient, prov(['Patient/p'])], optedIn).map((d) => d.decision.store)).toEqual([true, true]);
    expect(decide([patient, prov(['Patient/p'])], optedOut).map((d) => d.decision.store)).toEqual([true, false]);
    // Targets outside the message are not second-guessed.
    expect(decide([prov(['Observation/elsewhere'])], optedIn)[0]).toEqual({ decision: { store: true }, resource: prov(['Observation/elsewhere']) });
  });

  it('a Provenance naming discarded data by a versioned or absolute local reference loses it as by `Type/id`', () => {
    const base = 'https://hie.example/fhir';
    const old = withId(obs('2026-02-01'), 'o1');
    const recent = withId(obs('2026-04-01'), 'o2');
    const patient = withId(R({ resourceType: 'Patient' }), 'p');
    const resources = (p: Resource) => [patient, old, recent, p];
    const decideWithBase = (rs: Resource[]) => withinMessage(rs, rs.map((r) => intakeDecision(r, optedIn, received)), (d: IntakeDecision) => d.store, base);
    const allGone = decideWithBase(resources(prov([`${base}/Patient/p`, 'Observation/o1/_history/1'], `${base}/Observation/o1/_history/1`)))[3];
    expect(allGone.decision).toEqual({ store: false, reason: 'before-opt-in' });
    const partial = decideWithBase(resources(prov(['Patient/p/_history/2', `${base}/Observation/o1`, 'Observation/o2/_history/1'], 'Observation/o1/_history/1')))[3];
    expect(partial.decision).toEqual({ store: true });
    expect((partial.resource as Provenance).target.map((t) => t.reference)).toEqual(['Patient/p/_history/2', 'Observation/o2/_history/1']);
    expect((partial.resource as Provenance).entity).toEqual([]);
    // Another server's Observation/o1 is not this message's: not second-guessed.
    const foreign = decideWithBase(resources(prov(['Patient/p', 'http://other.example.org/fhir/Observation/o1'])))[3];
    expect(foreign.decision).toEqual({ store: true });
    expect((foreign.resource as Provenance).target).toHaveLength(2);
  });
});
