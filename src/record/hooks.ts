import type { Patient, Resource, Subscription } from '@medplum/fhirtypes';
import type { GateScope } from '../access/gate-scope.ts';
import type { ConsentState } from '../privacy/consent.ts';

/** Decides which person a Patient is (the MPI); runs inside the write's transaction. */
export interface PatientLinker {
  link(scope: GateScope, patient: Patient & { id: string }): Promise<string>;
  personOf(scope: GateScope, patientId: string): Promise<string | undefined>;
  /** The persons a write files these records' rows under, each link held until commit so no move re-homes them meanwhile. */
  personsForWrite(scope: GateScope, patientIds: readonly string[]): Promise<Map<string, string>>;
}

export type IntakeOutcome = 'store' | 'opted-out' | 'before-opt-in';

/** The record facts a write was made with (for the policy's follow-up facts). */
export interface WriteFacts {
  patientId?: string;
  personId?: string;
  sourceOrg?: string;
}

/**
 * What the privacy module contributes to every write. Facts are read for whole batches (a bundle writes many
 * resources of few persons), so each is read once per batch rather than once per resource.
 */
export interface WritePolicy {
  /** A resource's own sensitivity labels (value sets), before inheritance. */
  ownLabels(resource: Resource): string[];
  /** The stored labels that flow from a referenced resource to the resource referencing it. */
  inheritedLabels(referencedLabels: string[]): string[];
  clinicalDate(resource: Resource, receivedAt: string): string | undefined;
  /** The privacy choices of each person (persons without choices get the default). */
  /**
   * The privacy state of persons a write decides rows against, locked until commit: shared, or exclusive for the
   * persons in `choosing` (the write holds a Consent of theirs and will recompute their state).
   */
  privacy(scope: GateScope, personIds: string[], choosing?: ReadonlySet<string>): Promise<Map<string, ConsentState>>;
  /** 'store', or why the resource must be discarded before storage (opt-out, before opt-in). */
  intake(scope: GateScope, resource: Resource, state: ConsentState): IntakeOutcome;
  /** Counts what was discarded (the data itself is never kept). */
  countDiscarded(scope: GateScope, discarded: Array<{ reason: IntakeOutcome; resourceType: string }>): Promise<void>;
  /** Runs after the writes, in their order: care relationships from encounters and referrals, person privacy state from consents. */
  afterWrite(scope: GateScope, written: Array<{ resource: Resource; facts: WriteFacts }>): Promise<void>;
}

/** Finds the source Patient a resource belongs to (Patient compartment). */
export type CompartmentResolver = (resource: Resource) => string | undefined;

/** What the notification service contributes to writes (FHIR Subscriptions). */
export interface SubscriptionHooks {
  /** Checks a Subscription before it is stored and accepts it (`requested` becomes `active`); throws 422 otherwise. */
  accept(subscription: Subscription): Subscription;
  /** Runs after the writes, in their transaction: queues the notifications they trigger, records who subscribed. */
  written(scope: GateScope, resources: Resource[]): Promise<void>;
}
