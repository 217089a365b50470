import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Subscription } from '@medplum/fhirtypes';
import { FhirError } from '../fhir/outcome.ts';
import { idChunks } from './notification-worker.ts';
import { acceptSubscription, isLive, notificationRequest, parseCriteria, type SubscriptionChecks } from './subscription-rules.ts';

const checks: SubscriptionChecks = { allowHttp: false, checkSearch: () => undefined };
const base: Subscription = {
  resourceType: 'Subscription', status: 'requested', reason: 'r', criteria: 'Observation?code=http://loinc.org|2345-7',
  channel: { type: 'rest-hook', endpoint: 'https://ehr.example.org/fhir', payload: 'application/fhir+json', header: ['Authorization: Bearer x'] },
};
const failure = (f: () => unknown): FhirError | undefined => {
  try {
    f();
    return undefined;
  } catch (err) {
    if (err instanceof FhirError) return err;
    throw err;
  }
};

describe('subscription rules', () => {
  it('accepts a rest-hook to https and makes a requested subscription active', () => {
    expect(acceptSubscription(base, checks).status).toBe('active');
    expect(acceptSubscription({ ...base, status: 'off' }, checks).status).toBe('off');
  });

  it('refuses plain http unless allowed, other channels, odd payloads, reserved headers and credentials in URLs', () => {
    const http = { ...base, channel: { ...base.channel, endpoint: 'http://ehr.example.org/fhir' } };
    expect(failure(() => acceptSubscription(http, checks))?.status).toBe(422);
    expect(acceptSubscription(http, { ...checks, allowHttp: true }).status).toBe('active');
    for (const channel of [
      { type: 'email' as const, endpoint: 'mailto:a@b.c' },
      { type: 'rest-hook' as const, endpoint: 'not a url' },
      { type: 'rest-hook' as const, endpoint: 'https://u:p@ehr.example.org/' },
      { type: 'rest-hook' as const, endpoint: 'https://ehr.example.org/', payload: 'application/xml' },
      { type: 'rest-hook' as const, endpoint: 'https://ehr.example.org/', header: ['Host: evil'] },
      { type: 'rest-hook' as const, endpoint: 'https://ehr.example.org/', header: ['no colon'] },
    ]) {
      expect(failure(() => acceptSubscription({ ...base, channel }, checks))?.status, JSON.stringify(channel)).toBe(422);
    }
  });

  it('reads criteria as a type and parameters, and refuses result-shaping parameters and unwatchable types', () => {
    expect(parseCriteria('Observation?code=a|b&status=final')).toEqual({ type: 'Observation', query: [['code', 'a|b'], ['status', 'final']] });
    expect(parseCriteria('Encounter')).toEqual({ type: 'Encounter', query: [] });
    for (const c of ['', '?code=1', 'observation?x=1', 'AuditEvent', 'Subscription', 'NotAType', 'Observation?_sort=date', 'Observation?_include=Observation:subject']) {
      expect(failure(() => parseCriteria(c))?.status, c).toBe(422);
    }
    const rejecting: SubscriptionChecks = { ...checks, checkSearch: () => { throw new FhirError(422, { resourceType: 'OperationOutcome', issue: [] }); } };
    expect(failure(() => acceptSubscription(base, rejecting))?.status).toBe(422);
  });

  it('parseCriteria never throws anything but a FhirError (property)', () => {
    fc.assert(fc.property(fc.string(), (s) => {
      try {
        parseCriteria(s);
      } catch (err) {
        expect(err).toBeInstanceOf(FhirError);
      }
    }));
  });

  it('is live while active and before its end', () => {
    const now = new Date('2026-12-07T12:00:00Z');
    expect(isLive({ ...base, status: 'active' }, now)).toBe(true);
    expect(isLive({ ...base, status: 'active', end: '2026-12-07T11:59:59Z' }, now)).toBe(false);
    expect(isLive({ ...base, status: 'active', end: '2026-12-08T00:00:00Z' }, now)).toBe(true);
    for (const status of ['requested', 'off', 'error'] as const) expect(isLive({ ...base, status }, now)).toBe(false);
  });

  it('builds R4 rest-hook requests: PUT of the resource with a payload, an empty POST without', () => {
    const obs = { resourceType: 'Observation' as const, id: 'o1', status: 'final' as const, code: { text: 'x' } };
    expect(notificationRequest({ ...base, channel: { ...base.channel, endpoint: 'https://ehr.example.org/fhir/' } }, obs)).toEqual({
      method: 'PUT', url: 'https://ehr.example.org/fhir/Observation/o1',
      headers: { Authorization: 'Bearer x', 'content-type': 'application/fhir+json; charset=utf-8' }, body: JSON.stringify(obs),
    });
    expect(notificationRequest({ ...base, channel: { type: 'rest-hook', endpoint: 'https://ehr.example.org/hook' } }, obs)).toEqual({ method: 'POST', url: 'https://ehr.example.org/hook', headers: {} });
  });
});

describe('idChunks', () => {
  it('groups ids so each comma-joined group stays under a search value\'s limit, keeping every id once', () => {
    const ids = Array.from({ length: 300 }, (_, i) => `${'x'.repeat(30)}-${String(i).padStart(5, '0')}`);
    const chunks = idChunks(ids);
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(c.join(',').length).toBeLessThanOrEqual(4000);
    expect(chunks.flat()).toEqual(ids);
    expect(idChunks([])).toEqual([]);
  });
});
