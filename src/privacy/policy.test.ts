import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { systemContext, type AccessContext, type Role } from '../access/context.ts';
import type { ConsentState } from './consent.ts';
import type { SensitivityLabel } from './labels/value-set-types.ts';
import { decideAccess, sqlPrivacyFilter, type AccessDecision, type ResourceFacts } from './policy.ts';
import type { Relationship } from './relationships.ts';

const now = new Date('2026-06-15T12:00:00Z');
const ROLES: Role[] = ['clinician', 'clinical-staff', 'registrar', 'privacy-officer', 'admin', 'system', 'patient'];
const LABELS: SensitivityLabel[] = ['PSY', 'HIV', 'ETH'];
const RELATIONSHIPS: Relationship[] = [
  { kind: 'none' }, { kind: 'expired', until: '2026-01-01T00:00:00Z' },
  { kind: 'encounter', until: '2027-01-01T00:00:00Z' }, { kind: 'active-encounter' },
  { kind: 'attestation', until: '2026-07-01T00:00:00Z' },
];
const BREAK_GLASS = [undefined, '2026-06-15T15:00:00Z', '2026-06-15T11:00:00Z'];
const subsets = <T>(xs: T[]): T[][] => xs.reduce<T[][]>((acc, x) => [...acc, ...acc.map((s) => [...s, x])], [[]]);

const ctxFor = (role: Role, extra: Partial<AccessContext> = {}): AccessContext => ({
  role, displayName: role, scopes: [], purposeOfUse: role === 'patient' ? 'PATRQT' : 'TREAT',
  userId: role === 'system' ? undefined : 'u1', organizationId: role === 'patient' ? undefined : 'org-a',
  personId: role === 'patient' ? 'person-1' : undefined, ...extra,
});
const consent = (shared: SensitivityLabel[] = [], optedOut = false): ConsentState => ({ optedOut, shared, history: [] });
const facts = (f: Partial<ResourceFacts> = {}): ResourceFacts => ({
  relationship: { kind: 'none' }, consent: consent(), resourceType: 'Observation', labels: [], personId: 'person-1', sourceOrgId: 'org-b', ...f,
});
const decide = (role: Role, f: Partial<ResourceFacts> = {}, extra: Partial<AccessContext> = {}): AccessDecision =>
  decideAccess(ctxFor(role, extra), facts(f), now);
const active: Relationship = { kind: 'encounter', until: '2027-01-01T00:00:00Z' };

describe('§1 who may see a record', () => {
  it('clinicians and clinical staff see clinical data only with a care relationship', () => {
    for (const role of ['clinician', 'clinical-staff'] as Role[]) {
      for (const relationship of RELATIONSHIPS) {
        const d = decide(role, { relationship });
        const ok = ['encounter', 'active-encounter', 'attestation'].includes(relationship.kind);
        expect(d.effect).toBe(ok ? 'permit' : 'deny');
      }
    }
  });
  it('without a relationship, clinical reads are denied naming what is missing; expiry is told apart', () => {
    expect(decide('clinician')).toMatchObject({ effect: 'deny', reason: 'no-relationship', missing: 'relationship-or-attestation' });
    expect(decide('clinician', { relationship: RELATIONSHIPS[1] })).toMatchObject({ effect: 'deny', reason: 'relationship-expired' });
  });
  it('without a relationship, patient search shows only name, birth date, sex and city', () => {
    for (const role of ['clinician', 'clinical-staff'] as Role[]) {
      expect(decide(role, { resourceType: 'Patient' })).toMatchObject({ effect: 'permit', view: 'demographics' });
      expect(decide(role, { resourceType: 'Patient', relationship: active })).toMatchObject({ effect: 'permit', view: 'full' });
    }
  });
  it('submitting systems write for their own organization and read back what they wrote, nothing else', () => {
    expect(decide('system', { action: 'write', sourceOrgId: 'org-a' }).effect).toBe('permit');
    expect(decide('system', { action: 'write', sourceOrgId: 'org-b' }).effect).toBe('deny');
    expect(decide('system', { sourceOrgId: 'org-a', labels: ['HIV'] }).effect).toBe('permit');
    expect(decide('system', { sourceOrgId: 'org-b', relationship: active })).toMatchObject({ effect: 'deny', missing: 'query-grant' });
  });
  it('systems with a query grant read other sources like a treating organization', () => {
    expect(decide('system', { systemQueryGrant: true, relationship: active }).effect).toBe('permit');
    expect(decide('system', { systemQueryGrant: true, relationship: active, labels: ['PSY'] }).effect).toBe('withhold');
    expect(decide('system', { systemQueryGrant: true }).effect).toBe('deny');
  });
  it('patients see their own record and their own audit report, nothing else', () => {
    expect(decide('patient', { labels: ['HIV'] })).toMatchObject({ effect: 'permit', purposeOfUse: 'PATRQT' });
    expect(decide('patient', { resourceType: 'AuditEvent' }).effect).toBe('permit');
    expect(decide('patient', { personId: 'person-2' }).effect).toBe('deny');
    expect(decide('patient', { personId: 'person-2', resourceType: 'AuditEvent' }).effect).toBe('deny');
    expect(decide('patient', { personId: 'person-2', resourceType: 'Patient' }).effect).toBe('deny');
  });
  it('administrators manage organizations and identities but read no clinical data', () => {
    expect(decide('admin', { relationship: active }).effect).toBe('deny');
    expect(decide('admin', { action: 'write', resourceType: 'Organization' }).effect).toBe('permit');
    expect(decide('admin', { resourceType: 'Patient' })).toMatchObject({ effect: 'permit', view: 'full' });
    expect(decide('admin', { resourceType: 'AuditEvent' }).effect).toBe('deny');
  });
  it('privacy officers read audit logs and consent records, not clinical data', () => {
    expect(decide('privacy-officer', { resourceType: 'AuditEvent' }).effect).toBe('permit');
    expect(decide('privacy-officer', { resourceType: 'Consent' }).effect).toBe('permit');
    expect(decide('privacy-officer', { action: 'write', resourceType: 'Consent' }).effect).toBe('permit');
    expect(decide('privacy-officer', { relationship: active }).effect).toBe('deny');
  });
  it('registrars handle demographics and consents only', () => {
    expect(decide('registrar', { relationship: active }).effect).toBe('deny');
    expect(decide('registrar', { action: 'write', resourceType: 'Patient' }).effect).toBe('permit');
    expect(decide('registrar', { action: 'write', resourceType: 'Consent' }).effect).toBe('permit');
    expect(decide('registrar', { action: 'write', resourceType: 'Observation' }).effect).toBe('deny');
  });
  it('clinicians may not read consent records or the audit log', () => {
    expect(decide('clinician', { resourceType: 'Consent', relationship: active }).effect).toBe('deny');
    expect(decide('clinician', { resourceType: 'AuditEvent', relationship: active }).effect).toBe('deny');
  });
  it('the directory is visible to every role', () => {
    for (const role of ROLES) expect(decide(role, { resourceType: 'Organization' }).effect).toBe('permit');
  });
});

describe('§2 opt-out', () => {
  it('nothing clinical is shown to anyone, break-the-glass included', () => {
    for (const role of ROLES) {
      const d = decide(role, { consent: consent(LABELS, true), relationship: active, breakGlassUntil: '2026-06-15T15:00:00Z', sourceOrgId: 'org-a', systemQueryGrant: true });
      expect(d).toMatchObject({ effect: 'withhold', reason: 'opted-out' });
    }
  });
  it('the retained demographics and consent record remain reachable', () => {
    expect(decide('registrar', { resourceType: 'Patient', consent: consent([], true) }).effect).toBe('permit');
    expect(decide('privacy-officer', { resourceType: 'Consent', consent: consent([], true) }).effect).toBe('permit');
  });
});

describe('§4 sensitive information', () => {
  it.each(LABELS)('%s is withheld from a treating clinician unless the person shared it', (label) => {
    expect(decide('clinician', { relationship: active, labels: [label] })).toMatchObject({ effect: 'withhold', reason: 'sensitive-not-shared' });
    expect(decide('clinician', { relationship: active, labels: [label], consent: consent([label]) }).effect).toBe('permit');
    const other = LABELS.filter((l) => l !== label);
    expect(decide('clinician', { relationship: active, labels: [label], consent: consent(other) }).effect).toBe('withhold');
  });
  it('a resource with two labels needs both shared', () => {
    expect(decide('clinician', { relationship: active, labels: ['PSY', 'ETH'], consent: consent(['PSY']) }).effect).toBe('withhold');
    expect(decide('clinician', { relationship: active, labels: ['PSY', 'ETH'], consent: consent(['PSY', 'ETH']) }).effect).toBe('permit');
  });
});

describe('§5 break-the-glass', () => {
  const btg = '2026-06-15T15:00:00Z';
  it('grants a clinician the whole record, sensitive included, without a relationship, audited as ETREAT', () => {
    expect(decide('clinician', { breakGlassUntil: btg, labels: ['HIV', 'PSY', 'ETH'] })).toMatchObject({ effect: 'permit', purposeOfUse: 'ETREAT', breakGlass: true });
    expect(decide('clinician', { breakGlassUntil: btg, resourceType: 'Patient' })).toMatchObject({ view: 'full', purposeOfUse: 'ETREAT' });
  });
  it('ends when its time is up', () => {
    expect(decide('clinician', { breakGlassUntil: '2026-06-15T11:59:59Z' }).effect).toBe('deny');
  });
  it('is a clinician’s act: it does nothing for other roles', () => {
    for (const role of ROLES.filter((r) => r !== 'clinician')) {
      expect(decide(role, { breakGlassUntil: btg, personId: 'person-9' }).breakGlass).toBeUndefined();
    }
  });
});

describe('exhaustive table: role × relationship × labels × shared × opt-out × break-the-glass', () => {
  /** The rules, restated independently of the implementation, for a clinical resource from org-b. */
  function oracle(role: Role, rel: Relationship, labels: SensitivityLabel[], shared: SensitivityLabel[], optedOut: boolean, btg?: string): AccessDecision['effect'] {
    if (optedOut) return 'withhold';
    const hasRel = ['encounter', 'active-encounter', 'attestation'].includes(rel.kind);
    const sensitiveOk = labels.every((l) => shared.includes(l));
    if (role === 'patient') return 'permit';
    if (role === 'clinician' && btg && Date.parse(btg) > now.getTime()) return 'permit';
    if (role === 'clinician' || role === 'clinical-staff') return hasRel ? (sensitiveOk ? 'permit' : 'withhold') : 'deny';
    return 'deny';
  }
  const cases = ROLES.flatMap((role) => RELATIONSHIPS.flatMap((rel) => subsets(LABELS).flatMap((labels) =>
    subsets(LABELS).flatMap((shared) => [false, true].flatMap((optedOut) => BREAK_GLASS.map((btg) => ({ role, rel, labels, shared, optedOut, btg })))))));

  it(`matches the restated rules in all ${cases.length} cases, and the SQL filter agrees`, () => {
    for (const c of cases) {
      const f = facts({ relationship: c.rel, labels: c.labels, consent: consent(c.shared, c.optedOut), breakGlassUntil: c.btg });
      const d = decideAccess(ctxFor(c.role), f, now);
      expect({ c, effect: d.effect }).toEqual({ c, effect: oracle(c.role, c.rel, c.labels, c.shared, c.optedOut, c.btg) });
      const sql = sqlPrivacyFilter(ctxFor(c.role), f, now);
      const rowVisible = (sql.clinical === 'all' && !c.labels.some((l) => sql.hiddenLabels.includes(l))) ||
        (!!sql.ownOrganizationId && sql.ownOrganizationId === f.sourceOrgId && sql.clinical !== 'none');
      expect({ c, rowVisible }).toEqual({ c, rowVisible: d.effect === 'permit' });
    }
  });
});

const arbCase = fc.record({
  role: fc.constantFrom(...ROLES),
  rel: fc.constantFrom(...RELATIONSHIPS),
  labels: fc.subarray(LABELS),
  shared: fc.subarray(LABELS),
  optedOut: fc.boolean(),
  btg: fc.constantFrom(...BREAK_GLASS),
  own: fc.boolean(),
  grant: fc.boolean(),
  resourceType: fc.constantFrom('Observation', 'Condition', 'DocumentReference', 'Binary', 'MedicationRequest'),
});
type Case = typeof arbCase extends fc.Arbitrary<infer T> ? T : never;
const run = (c: Case, labels = c.labels) =>
  decideAccess(ctxFor(c.role), facts({
    relationship: c.rel, labels, consent: consent(c.shared, c.optedOut), breakGlassUntil: c.btg,
    sourceOrgId: c.own ? 'org-a' : 'org-b', systemQueryGrant: c.grant, resourceType: c.resourceType,
  }), now);

describe('properties', () => {
  it('adding a label never grants more access', () => {
    fc.assert(fc.property(arbCase, fc.constantFrom(...LABELS), (c, extra) => {
      const after = run(c, [...new Set([...c.labels, extra])]);
      if (after.effect === 'permit') expect(run(c).effect).toBe('permit');
    }), { numRuns: 2000 });
  });
  it('opt-out denies everything clinical, whoever asks', () => {
    fc.assert(fc.property(arbCase, (c) => {
      expect(run({ ...c, optedOut: true }).effect).not.toBe('permit');
    }), { numRuns: 2000 });
  });
  it('sharing fewer categories never grants more access', () => {
    fc.assert(fc.property(arbCase, fc.constantFrom(...LABELS), (c, drop) => {
      if (run({ ...c, shared: c.shared.filter((l) => l !== drop) }).effect === 'permit') expect(run(c).effect).toBe('permit');
    }), { numRuns: 2000 });
  });
  it('internal jobs are permitted and audited as HSYSADMIN', () => {
    expect(decideAccess(systemContext('relabel'), facts({ labels: ['HIV'] }), now)).toMatchObject({ effect: 'permit', purposeOfUse: 'HSYSADMIN' });
  });
});
