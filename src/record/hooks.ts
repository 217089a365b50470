import type { Patient, Resource } from '@medplum/fhirtypes';
import type { GateScope } from '../access/gate-scope.ts';

/** Decides which person a Patient is (the MPI); runs inside the write's transaction. */
export interface PatientLinker {
  link(scope: GateScope, patient: Patient & { id: string }): Promise<string>;
  personOf(scope: GateScope, patientId: string): Promise<string | undefined>;
}

/** What the privacy module contributes to every write. */
export interface WritePolicy {
  labels(scope: GateScope, resource: Resource): Promise<string[]>;
  clinicalDate(resource: Resource, receivedAt: string): string | undefined;
  /** 'store', or why the data must be discarded before storage (opt-out, before opt-in). */
  intake(scope: GateScope, personId: string, resource: Resource, clinicalDate: string | undefined): Promise<'store' | 'opted-out' | 'before-opt-in'>;
  /** Runs after a write: care relationships from encounters, person privacy state from consents. */
  afterWrite(scope: GateScope, resource: Resource, facts: { patientId?: string; personId?: string; sourceOrg?: string }): Promise<void>;
}

/** Finds the source Patient a resource belongs to (Patient compartment). */
export type CompartmentResolver = (resource: Resource) => string | undefined;
