import type { Bundle, BundleEntry } from '@medplum/fhirtypes';
import type { AccessContext } from '../access/context.ts';
import type { GateScope } from '../access/gate-scope.ts';
import { isClinicalType } from '../privacy/intake.ts';
import type { Services } from '../services.ts';
import { claimMessage, markOutcome, type InboxStatus, type SettledMessage } from './inbox.ts';

/** What of a message's bundle is still to be applied, decided in its transaction (`ApplyOptions.select`). */
export interface Selection {
  bundle: Bundle;
  /** The inbox row's reason: what was left out and why (no PHI). */
  reason?: string;
  /**
   * Nothing is left to apply: the message is settled with this status instead of `processed` (no write, no `after`),
   * filed under these source Patients, so an opt-out purge finds its body.
   */
  settleAs?: { status: InboxStatus; patientIds: string[] };
}

export interface ApplyOptions<S extends Selection = Selection> {
  /** Audit query text (message type and control id; never content). */
  query: string;
  /**
   * What the inbox row keeps as the answer to a resend (an ACK, or an outcome built from the write responses and what
   * `select` chose).
   */
  ack: string | ((responses: BundleEntry[], selection: S | undefined) => string);
  now: Date;
  /** Stored states this run may apply the message from (a first run, a resend of a failed one, a retry). */
  allowed: readonly InboxStatus[];
  /**
   * The first step, once the row is claimed: what of the bundle to apply, decided under this transaction's locks and
   * on what it reads (e.g. results a newer stored message of their order superseded). The whole bundle when absent.
   */
  select?: (scope: GateScope) => Promise<S>;
  /**
   * Extra steps in the same transaction after the bundle (e.g. MPI merges for ADT^A40), given the bundle applied and
   * its write responses.
   */
  after?: (scope: GateScope, responses: BundleEntry[], applied: Bundle) => Promise<void>;
}

/** `applied`: this run settled the message (`status`: processed, or how `select` settled it); else another run had. */
export type Applied = { applied: true; status: InboxStatus; ack: string; responses: BundleEntry[] } | { applied: false; settled: SettledMessage };

/**
 * Applies a mapped bundle for a stored inbox message in one gate transaction and marks the row processed in that
 * same transaction, so "resources written" and "message processed" commit together or not at all. The row is locked
 * first: a concurrent copy of the message (or a retry of a settled one) changes nothing and gets the settled outcome.
 */
export async function applyInboxBundle<S extends Selection>(s: Services, ctx: AccessContext, messageId: string, bundle: Bundle, o: ApplyOptions<S>): Promise<Applied> {
  return s.gate.run(ctx, { action: 'ingest', query: o.query }, async (scope): Promise<Applied> => {
    const settled = await claimMessage(scope.tx, messageId, o.allowed);
    if (settled) return { applied: false, settled };
    const selection = o.select ? await o.select(scope) : undefined;
    const answer = (responses: BundleEntry[]) => (typeof o.ack === 'string' ? o.ack : o.ack(responses, selection));
    if (selection?.settleAs) {
      const { status, patientIds } = selection.settleAs;
      const ack = answer([]);
      await markOutcome(scope.tx, messageId, { status, ack, reason: selection.reason, patientIds, now: o.now });
      return { applied: true, status, ack, responses: [] };
    }
    const applied = selection?.bundle ?? bundle;
    // Conditional keys come from sender ids, which senders copy across patients: matched within the entry's Patient.
    const responses = await s.transactions.transaction(scope, applied.entry ?? [], { samePatient: true, sameSource: true });
    if (o.after) await o.after(scope, responses, applied);
    const ack = answer(responses);
    await markOutcome(scope.tx, messageId, {
      status: 'processed', ack, reason: selection?.reason, patientIds: patientsOf(responses), resources: responses.length, clinical: clinicalContent(responses), now: o.now,
    });
    return { applied: true, status: 'processed', ack, responses };
  });
}

const locationKey = (r: BundleEntry) => /^([A-Z][A-Za-z]+\/[^/]+)/.exec(r.response?.location ?? '')?.[1];

/** The source Patients the message wrote: their persons file the message (for purge of raw bodies on opt-out). */
function patientsOf(responses: BundleEntry[]): string[] {
  return [...new Set(responses.flatMap((r) => /^Patient\/([^/]+)/.exec(r.response?.location ?? '')?.[1] ?? []))];
}

/**
 * The message's clinical content as written or discarded (the response names it either way). Provenance is left
 * out: it records that the message arrived, and a body whose clinical content was all discarded is not kept for it.
 */
function clinicalContent(responses: BundleEntry[]): string[] {
  return responses.flatMap((r) => {
    const key = locationKey(r);
    const type = key?.split('/')[0];
    return key && type && type !== 'Provenance' && isClinicalType(type) ? [key] : [];
  });
}
