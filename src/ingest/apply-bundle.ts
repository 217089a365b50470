import type { Bundle, BundleEntry } from '@medplum/fhirtypes';
import type { AccessContext } from '../access/context.ts';
import type { GateScope } from '../access/gate-scope.ts';
import type { Services } from '../services.ts';
import { markOutcome } from './inbox.ts';

export interface ApplyOptions {
  /** Audit query text (message type and control id; never content). */
  query: string;
  /** What the inbox row keeps as the answer to a resend (an ACK, or an outcome built from the write responses). */
  ack: string | ((responses: BundleEntry[]) => string);
  now: Date;
  /** Extra steps in the same transaction after the bundle (e.g. MPI merges for ADT^A40). */
  after?: (scope: GateScope) => Promise<void>;
}

/**
 * Applies a mapped bundle for a stored inbox message in one gate transaction and marks the row processed in that
 * same transaction, so "resources written" and "message processed" commit together or not at all.
 */
export async function applyInboxBundle(s: Services, ctx: AccessContext, messageId: string, bundle: Bundle, o: ApplyOptions): Promise<BundleEntry[]> {
  return s.gate.run(ctx, { action: 'ingest', query: o.query }, async (scope) => {
    // Conditional keys come from sender ids, which senders copy across patients: matched within the entry's Patient.
    const responses = await s.transactions.transaction(scope, bundle.entry ?? [], { samePatient: true, sameSource: true });
    if (o.after) await o.after(scope);
    const ack = typeof o.ack === 'string' ? o.ack : o.ack(responses);
    await markOutcome(scope.tx, messageId, { status: 'processed', ack, patientIds: patientsOf(responses), resources: responses.length, now: o.now });
    return responses;
  });
}

/** The source Patients the message wrote: their persons file the message (for purge of raw bodies on opt-out). */
function patientsOf(responses: BundleEntry[]): string[] {
  return [...new Set(responses.flatMap((r) => /^Patient\/([^/]+)/.exec(r.response?.location ?? '')?.[1] ?? []))];
}
