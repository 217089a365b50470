import type { Resource } from '@medplum/fhirtypes';

export interface ProtectedValue {
  kind: string;
  ciphertext: string;
  hmac: string;
}

/** Takes protected values (SSNs) out of a resource before storage: the stored JSON holds only a mask. */
export interface FieldProtector {
  seal(resource: Resource): { resource: Resource; values: ProtectedValue[] };
}
