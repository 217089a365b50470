import type { Resource } from '@medplum/fhirtypes';

export interface ProtectedValue {
  kind: string;
  ciphertext: string;
  hmac: string;
}

/** Takes protected values (SSNs) out of a resource before storage: the stored JSON holds only a mask. */
export interface FieldProtector {
  seal(resource: Resource): { resource: Resource; values: ProtectedValue[] };
  /** What a search for identifier `system|value` matches among the protected values (keyed hashes), if it is one. */
  searchHashes(system: string, value: string): string[] | undefined;
}
