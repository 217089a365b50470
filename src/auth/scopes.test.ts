import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Role } from '../access/context.ts';
import { allowedScopes, intersectScopes, parseScope } from './scopes.ts';
import { createRateLimiter } from './rate-limiter.ts';
import { currentTotp, newTotpSecret, verifyTotp } from './totp.ts';

const ROLES: Role[] = ['clinician', 'clinical-staff', 'registrar', 'privacy-officer', 'admin', 'system', 'patient'];

/** Independent check: does some ceiling scope grant every permission of `scope`? */
function permitted(scope: string, ceiling: string[]): boolean {
  const s = parseScope(scope);
  if (!s) return ceiling.includes(scope);
  return [...s.perms].every((p) => ceiling.some((c) => {
    const a = parseScope(c);
    return a !== undefined && a.context === s.context && a.perms.includes(p)
      && (a.resource === '*' || a.resource === s.resource);
  }));
}

const scopeArb = fc.oneof(
  fc.tuple(
    fc.constantFrom('patient', 'user', 'system'),
    fc.constantFrom('*', 'Observation', 'Patient', 'Consent', 'AuditEvent', 'Organization'),
    fc.constantFrom('c', 'r', 'rs', 'cruds', 'cud', 'read', 'write', '*', 'ds'),
  ).map(([c, r, p]) => `${c}/${r}.${p}`),
  fc.constantFrom('openid', 'fhirUser', 'offline_access', 'launch/patient', 'admin', 'user/*.xyz'),
);

describe('scopes', () => {
  it('never grants more than the role allows, whatever is requested', () => {
    fc.assert(fc.property(fc.constantFrom(...ROLES), fc.array(scopeArb, { maxLength: 8 }), (role, requested) => {
      const granted = intersectScopes(requested, allowedScopes(role));
      for (const scope of granted) expect(permitted(scope, allowedScopes(role))).toBe(true);
    }), { numRuns: 500 });
  });

  it('never grants more than the client registration either', () => {
    fc.assert(fc.property(fc.array(scopeArb, { maxLength: 6 }), fc.array(scopeArb, { maxLength: 4 }), (requested, client) => {
      for (const scope of intersectScopes(requested, allowedScopes('clinician'), client)) expect(permitted(scope, client)).toBe(true);
    }), { numRuns: 300 });
  });

  it('narrows wildcards to what both sides allow', () => {
    expect(intersectScopes(['user/*.cruds'], allowedScopes('clinician')).sort()).toEqual(['user/*.rs', 'user/Consent.cru', 'user/DocumentReference.c']);
    expect(intersectScopes(['patient/*.rs'], allowedScopes('clinician'))).toEqual([]);
    expect(intersectScopes(['system/*.cruds'], allowedScopes('admin'))).toEqual([]);
    expect(intersectScopes(['user/Observation.read'], allowedScopes('clinician'))).toEqual(['user/Observation.rs']);
    expect(intersectScopes(['user/Observation.rs'], allowedScopes('admin'))).toEqual([]);
  });

  it('gives patients only patient-context scopes', () => {
    const granted = intersectScopes(['patient/*.cruds', 'user/*.cruds', 'system/*.cruds'], allowedScopes('patient'));
    expect(granted.every((s) => s.startsWith('patient/'))).toBe(true);
  });
});

describe('TOTP', () => {
  it('accepts the current code, one step of drift, and refuses replays and old codes', () => {
    const { secret, uri } = newTotpSecret('dr.demo');
    expect(uri).toMatch(/^otpauth:\/\/totp\/Katahdin:dr\.demo\?/);
    const now = Date.now();
    const step = verifyTotp(secret, currentTotp(secret, now), undefined, now);
    expect(step).toBeDefined();
    expect(verifyTotp(secret, currentTotp(secret, now), step, now)).toBeUndefined();
    expect(verifyTotp(secret, currentTotp(secret, now - 30_000), undefined, now)).toBeDefined();
    expect(verifyTotp(secret, currentTotp(secret, now - 120_000), undefined, now)).toBeUndefined();
    expect(verifyTotp(secret, 'abcdef', undefined, now)).toBeUndefined();
  });
});

describe('rate limiter', () => {
  it('allows max per window per key, then refuses until the window passes', () => {
    const limiter = createRateLimiter({ max: 3, windowMs: 1000 });
    expect([1, 2, 3, 4].map(() => limiter.take('1.2.3.4', 0))).toEqual([true, true, true, false]);
    expect(limiter.take('5.6.7.8', 10)).toBe(true);
    expect(limiter.take('1.2.3.4', 1000)).toBe(true);
  });
});
