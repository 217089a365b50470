import type { Consent } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import {
  buildOptIn, buildOptOut, buildShareCategory, buildWithholdCategory, CONSENT_CHANNEL_URL,
  consentState, validateConsentDate, type ConsentInput,
} from './consent.ts';

const now = new Date('2026-06-01T12:00:00Z');
const input = (date: string, extra: Partial<ConsentInput> = {}): ConsentInput => ({
  patientRef: 'Patient/p1', channel: 'online', date, performer: 'Patient/p1', ...extra,
});

describe('consent builders (privacy rules §2, §3, §4)', () => {
  it('opt-out is a patient-privacy Consent with policyRule OPTOUT, channel and date', () => {
    const c = buildOptOut(input('2026-01-10', { channel: 'paper', performer: 'Practitioner/registrar-1', recordedAt: '2026-01-12T09:00:00Z' }));
    expect(c.scope.coding?.[0].code).toBe('patient-privacy');
    expect(c.policyRule?.coding?.[0]).toEqual({ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTOUT' });
    expect(c.provision?.type).toBe('deny');
    expect(c.provision?.period?.start).toBe('2026-01-10');
    expect(c.dateTime).toBe('2026-01-12T09:00:00Z');
    expect(c.performer?.[0].reference).toBe('Practitioner/registrar-1');
    expect(c.extension).toEqual([{ url: CONSENT_CHANNEL_URL, valueCode: 'paper' }]);
  });

  it('sharing names the security label in a permit provision; withholding in a deny provision', () => {
    const share = buildShareCategory({ ...input('2026-02-01'), labels: ['PSY', 'HIV'] });
    expect(share.provision?.type).toBe('permit');
    expect(share.provision?.securityLabel?.map((s) => s.code)).toEqual(['PSY', 'HIV']);
    expect(buildWithholdCategory({ ...input('2026-02-01'), labels: ['HIV'] }).provision?.type).toBe('deny');
    expect(() => buildShareCategory({ ...input('2026-02-01'), labels: [] })).toThrow(RangeError);
  });
});

describe('consentState', () => {
  it('nobody has chosen anything: participating, nothing shared', () => {
    expect(consentState([], now)).toEqual({ optedOut: false, shared: [], history: [] });
  });

  it('opt-out then opt back in: not opted out, opt-in date set', () => {
    const s = consentState([buildOptIn(input('2026-03-01')), buildOptOut(input('2026-01-10'))], now);
    expect(s.optedOut).toBe(false);
    expect(s.optInDate).toBe('2026-03-01');
    expect(s.history.map((h) => h.kind)).toEqual(['opt-out', 'opt-in']);
  });

  it('the latest effective choice wins; future-dated and inactive consents do not count yet', () => {
    const future = buildOptOut(input('2026-07-01'));
    const inactive: Consent = { ...buildOptOut(input('2026-05-01')), status: 'inactive' };
    expect(consentState([future, inactive], now).optedOut).toBe(false);
    const s = consentState([buildOptOut(input('2026-04-01'))], now);
    expect(s).toMatchObject({ optedOut: true, optedOutAt: '2026-04-01' });
  });

  it('sharing a category, then withholding it again', () => {
    const share = buildShareCategory({ ...input('2026-02-01'), labels: ['PSY', 'ETH'] });
    const withhold = buildWithholdCategory({ ...input('2026-03-01'), labels: ['ETH'] });
    expect(consentState([share], now).shared).toEqual(['PSY', 'ETH']);
    expect(consentState([withhold, share], now).shared).toEqual(['PSY']);
  });

  it('on the same effective date, the one recorded later wins', () => {
    const a = buildShareCategory({ ...input('2026-02-01', { recordedAt: '2026-02-01T10:00:00Z' }), labels: ['HIV'] });
    const b = buildWithholdCategory({ ...input('2026-02-01', { recordedAt: '2026-02-01T11:00:00Z' }), labels: ['HIV'] });
    expect(consentState([b, a], now).shared).toEqual([]);
  });

  it('accepts MH as the mental-health label on input', () => {
    const c = buildShareCategory({ ...input('2026-02-01'), labels: ['PSY'] });
    c.provision!.securityLabel![0].code = 'MH';
    expect(consentState([c], now).shared).toEqual(['PSY']);
  });

  it('an opt-out ends earlier shares: after opting back in the person chooses again', () => {
    const consents = [
      buildShareCategory({ ...input('2026-01-01'), labels: ['HIV'] }),
      buildOptOut(input('2026-02-01')),
      buildOptIn(input('2026-03-01')),
    ];
    expect(consentState(consents, now).shared).toEqual([]);
  });
});

describe('validateConsentDate: no back-dating beyond the grace period, no dating ahead', () => {
  it.each([
    ['2026-06-01T12:00:00Z', 7, true],
    ['2026-05-26T12:00:00Z', 7, true],
    ['2026-05-24T12:00:00Z', 7, false],
    ['2026-05-31T12:00:00Z', 0, false],
    ['2026-06-01', 7, true],
  ])('%s with %i days grace → ok %s', (date, grace, ok) => {
    expect(validateConsentDate(date, now, grace).ok).toBe(ok);
  });
  it('keeps a date in the past as given', () => {
    expect(validateConsentDate('2026-05-30', now, 7)).toEqual({ ok: true, effective: '2026-05-30' });
    expect(validateConsentDate('2026-06-01T11:59:59Z', now, 7)).toEqual({ ok: true, effective: '2026-06-01T11:59:59Z' });
  });
  it('takes a date at most 5 minutes ahead (clock skew) as now', () => {
    expect(validateConsentDate('2026-06-01T12:00:01Z', now, 7)).toEqual({ ok: true, effective: now.toISOString() });
    expect(validateConsentDate('2026-06-01T12:05:00Z', now, 7)).toEqual({ ok: true, effective: now.toISOString() });
    expect(validateConsentDate('2026-06-01T08:04:00-04:00', now, 7)).toEqual({ ok: true, effective: now.toISOString() });
  });
  it.each(['2026-06-01T12:05:00.001Z', '2026-06-01T09:10:00-03:00', '2026-06-02', '2026-07-01', '2027'])(
    'refuses %s: a choice cannot take effect after it is recorded', (date) => {
      expect(validateConsentDate(date, now, 7)).toEqual({ ok: false, reason: 'future' });
    });
  it('rejects garbage', () => {
    expect(validateConsentDate('yesterday', now, 7)).toEqual({ ok: false, reason: 'invalid-date' });
  });
});
