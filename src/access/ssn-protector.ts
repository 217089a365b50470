import type { Identifier, Resource } from '@medplum/fhirtypes';
import type { FieldCrypto } from '../auth/field-crypto.ts';
import { maskSsn, normalizeSsn, ssnLookupHashes } from '../auth/field-crypto.ts';
import type { FieldProtector, ProtectedValue } from './field-protector.ts';

export const SSN_SYSTEM = 'http://hl7.org/fhir/sid/us-ssn';
const MASKED = /^\*{3}-\*{2}-\d{4}$/;

/**
 * SSNs leave the resource before it is stored: the JSON keeps only `***-**-1234`; the digits are kept
 * AES-256-GCM encrypted with a keyed hash for matching (privacy-rules §7). Nothing downstream of the
 * store — search index, API responses, logs, audit — can therefore ever see the full number.
 */
export function createSsnProtector(crypto: FieldCrypto): FieldProtector {
  return {
    seal(resource: Resource) {
      const identifiers = (resource as { identifier?: Identifier[] }).identifier;
      if (!Array.isArray(identifiers)) return { resource, values: [] };
      const values: ProtectedValue[] = [];
      const sealed = identifiers.map((id) => {
        if (id.system !== SSN_SYSTEM || !id.value || MASKED.test(id.value)) return id;
        const digits = normalizeSsn(id.value);
        if (digits.length !== 9) return { ...id, value: maskSsn(id.value) };
        values.push({ kind: 'ssn', ciphertext: crypto.encrypt(digits), hmac: crypto.keyedHash(digits) });
        return { ...id, value: maskSsn(digits) };
      });
      return { resource: { ...resource, identifier: sealed } as Resource, values };
    },
    // Under every key still in use, so values not yet re-encrypted by `katahdin keys rotate` are found too.
    searchHashes(system: string, value: string) {
      if (system !== SSN_SYSTEM) return undefined;
      return normalizeSsn(value).length === 9 ? ssnLookupHashes(crypto, value) : undefined;
    },
  };
}
