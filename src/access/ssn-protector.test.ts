import { randomBytes } from 'node:crypto';
import type { Patient } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { createFieldCrypto } from '../auth/field-crypto.ts';
import { createSsnProtector, SSN_SYSTEM } from './ssn-protector.ts';

const key = (kid: string) => ({ kid, key: randomBytes(32) });
const patient = (ssn: string): Patient => ({ resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: 'M1' }, { system: SSN_SYSTEM, value: ssn }] });

describe('SSN protector', () => {
  it('seals the number out of the resource and finds it again by any spelling of it', () => {
    const k1 = key('k1');
    const protector = createSsnProtector(createFieldCrypto({ current: k1, all: [k1], source: 'file' }));
    const { resource, values } = protector.seal(patient('219-09-1234'));
    expect((resource as Patient).identifier).toEqual([{ system: 'urn:mrn', value: 'M1' }, { system: SSN_SYSTEM, value: '***-**-1234' }]);
    expect(values).toHaveLength(1);
    for (const spelling of ['219-09-1234', '219091234', '219 09 1234']) expect(protector.searchHashes(SSN_SYSTEM, spelling)).toContain(values[0].hmac);
    expect(protector.searchHashes(SSN_SYSTEM, '219-09-1235')).not.toContain(values[0].hmac);
    // A mask, a partial number or another identifier system is not a protected value: searched like any identifier.
    for (const [system, value] of [[SSN_SYSTEM, '***-**-1234'], [SSN_SYSTEM, '1234'], ['urn:mrn', '219091234']]) {
      expect(protector.searchHashes(system, value), `${system}|${value}`).toBeUndefined();
    }
  });

  it('finds values sealed under an older key while a rotation is under way', () => {
    const k1 = key('k1');
    const k2 = key('k2');
    const before = createSsnProtector(createFieldCrypto({ current: k1, all: [k1], source: 'file' }));
    const after = createSsnProtector(createFieldCrypto({ current: k2, all: [k2, k1], source: 'file' }));
    const old = before.seal(patient('219-09-1234')).values[0].hmac;
    const fresh = after.seal(patient('219-09-1234')).values[0].hmac;
    expect(fresh).not.toBe(old);
    expect(after.searchHashes(SSN_SYSTEM, '219-09-1234')).toEqual(expect.arrayContaining([old, fresh]));
  });
});
