import { describe, expect, it } from 'vitest';
import { addMonths, attestationExpiry, relationshipFor, type RelationshipFacts } from './relationships.ts';

const now = new Date('2026-06-15T12:00:00Z');
const who = { role: 'clinician' as const, organizationId: 'org-a', userId: 'u1' };
const facts = (f: Partial<RelationshipFacts>): RelationshipFacts => ({ encounters: [], attestations: [], ...f });

describe('relationshipFor (privacy rules §1, treatment relationship)', () => {
  it.each<[string, Partial<RelationshipFacts>, string, string | undefined]>([
    ['no facts', {}, 'none', undefined],
    ['encounter 17 months ago', { encounters: [{ orgId: 'org-a', status: 'finished', start: '2025-01-20' }] }, 'encounter', '2026-07-20T00:00:00.000Z'],
    ['encounter 19 months ago', { encounters: [{ orgId: 'org-a', status: 'finished', start: '2024-11-01' }] }, 'expired', '2026-05-01T00:00:00.000Z'],
    ['long stay ended 10 months ago', { encounters: [{ orgId: 'org-a', status: 'finished', start: '2023-01-01', end: '2025-08-15' }] }, 'encounter', '2027-02-15T00:00:00.000Z'],
    ['another organization’s encounter', { encounters: [{ orgId: 'org-b', status: 'finished', start: '2026-06-01' }] }, 'none', undefined],
    ['scheduled encounter', { encounters: [{ orgId: 'org-a', status: 'planned', start: '2026-09-01' }] }, 'active-encounter', undefined],
    ['admission in progress', { encounters: [{ orgId: 'org-a', status: 'in-progress', start: '2020-01-01' }] }, 'active-encounter', undefined],
    ['cancelled encounter', { encounters: [{ orgId: 'org-a', status: 'cancelled', start: '2026-06-01' }] }, 'none', undefined],
    ['active referral', { referrals: [{ orgId: 'org-a', status: 'active' }] }, 'active-encounter', undefined],
    ['completed referral', { referrals: [{ orgId: 'org-a', status: 'completed' }] }, 'none', undefined],
    ['valid attestation', { attestations: [{ userId: 'u1', expiresAt: '2026-07-01T00:00:00Z' }] }, 'attestation', '2026-07-01T00:00:00.000Z'],
    ['colleague’s attestation', { attestations: [{ userId: 'u2', expiresAt: '2026-07-01T00:00:00Z' }] }, 'none', undefined],
    ['lapsed attestation', { attestations: [{ userId: 'u1', expiresAt: '2026-06-01T00:00:00Z' }] }, 'expired', '2026-06-01T00:00:00.000Z'],
  ])('%s → %s', (_name, f, kind, until) => {
    const r = relationshipFor(who, facts(f), now, { encounterMonths: 18 });
    expect(r.kind).toBe(kind);
    expect(r.until).toBe(until);
  });

  it('the window is configurable', () => {
    const f = facts({ encounters: [{ orgId: 'org-a', status: 'finished', start: '2025-01-20' }] });
    expect(relationshipFor(who, f, now, { encounterMonths: 12 }).kind).toBe('expired');
  });

  it('an active encounter outranks an attestation', () => {
    const f = facts({ encounters: [{ orgId: 'org-a', status: 'arrived' }], attestations: [{ userId: 'u1', expiresAt: '2026-07-01T00:00:00Z' }] });
    expect(relationshipFor(who, f, now).kind).toBe('active-encounter');
  });

  it('addMonths clamps to the end of shorter months; attestations last 30 days by default', () => {
    expect(addMonths('2025-08-31T00:00:00Z', 18).toISOString()).toBe('2027-02-28T00:00:00.000Z');
    expect(attestationExpiry(new Date('2026-06-01T00:00:00Z'))).toBe('2026-07-01T00:00:00.000Z');
  });
});
