import { createHash } from 'node:crypto';
import type { Bundle, BundleEntry, DocumentReference, Identifier, OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { AccessContext } from '../access/context.ts';
import type { GateScope } from '../access/gate-scope.ts';
import { FhirError } from '../fhir/outcome.ts';
import type { Services } from '../services.ts';
import { applyInboxBundle } from './apply-bundle.ts';
import { identifierQuery, ingestCcda, sameIdentifier, type CcdaError } from './ccda/index.ts';
import { FIRST_RUN, markOutcome, RESEND_OF_ERROR, settleFailure, storeIncoming, type InboxMessage, type InboxStatus, type SettledMessage } from './inbox.ts';
import { submitterContext, submitterKey } from './sender-context.ts';
import { inOwnCompartment } from '../record/compartment.ts';
import { conditionalQuery } from '../record/record-service.ts';

/** What a C-CDA submission answers: an HTTP status and an OperationOutcome (the same answer again for a resend). */
export interface CcdaOutcome {
  status: 'processed' | 'duplicate' | 'rejected' | 'error';
  httpStatus: number;
  outcome: OperationOutcome;
  /** DocumentReference/<id> of the stored original, when processed. */
  documentReference?: string;
  /** Resources written or matched, when processed. */
  resources?: number;
}

/** The stored answer (inbox `ack` column) that a resend of the same document gets back. */
interface StoredAnswer {
  httpStatus: number;
  outcome: OperationOutcome;
  documentReference?: string;
  resources?: number;
}

const issue = (severity: OperationOutcomeIssue['severity'], code: OperationOutcomeIssue['code'], diagnostics: string, expression?: string): OperationOutcomeIssue => ({
  severity, code, diagnostics, ...(expression ? { expression: [expression] } : {}),
});

/** The document's ClinicalDocument/id (what makes a resend recognisable); a content hash when it has none. */
function controlIdOf(bundle: Bundle, xml: string): string {
  const doc = bundle.entry?.find((e) => e.resource?.resourceType === 'DocumentReference')?.resource as DocumentReference | undefined;
  const id = doc?.masterIdentifier;
  return id?.value ? `${id.system ?? ''}|${id.value}` : `sha256:${createHash('sha256').update(xml).digest('hex')}`;
}

/**
 * One C-CDA document from an authenticated sender (`POST /ccda`, `katahdin import`): validate and convert (pure),
 * commit the raw document to the inbox keyed by sender + ClinicalDocument/id, then apply it in one gate transaction.
 * A resend of an already processed document gets the stored answer and changes nothing; a resend of one that failed
 * (stored 500) is the sender's retry and is processed again.
 */
export async function receiveCcda(s: Services, xml: string, sender: AccessContext, channel: 'ccda' | 'import' = 'ccda'): Promise<CcdaOutcome> {
  const now = new Date();
  const converted = ingestCcda(xml, { now: now.toISOString(), sourceOrgIdentifier: sender.organizationId });
  const controlId = converted.ok ? controlIdOf(converted.bundle, xml) : undefined;
  const { message, duplicate } = await storeIncoming(s.db, s.auth.fieldCrypto, { channel, sender: submitterKey(sender), messageType: 'ClinicalDocument', controlId, raw: xml }, now);
  if (duplicate && message.raw !== null && message.raw !== xml) return conflict(s, sender, xml, now);
  if (duplicate && message.status !== 'received' && message.status !== 'error') return { ...settledAnswer(message), status: 'duplicate' };
  // A duplicate still `received` is a copy in flight (or left by a crash): its run waits on the row lock.
  return processStoredCcda(s, message, now, sender, duplicate && message.status === 'error' ? RESEND_OF_ERROR : FIRST_RUN);
}

/**
 * A different document under an id this sender already used: CDA ids are unique per document (a correction gets a
 * new id and relatedDocument RPLC), so this is refused rather than guessed at; kept in the error queue for review.
 */
async function conflict(s: Services, sender: AccessContext, xml: string, now: Date): Promise<CcdaOutcome> {
  const reason = 'ClinicalDocument/id was already used by a different document from this sender';
  const answer: StoredAnswer = { httpStatus: 409, outcome: { resourceType: 'OperationOutcome', issue: [issue('error', 'duplicate', `duplicate-id: ${reason}.`, 'ClinicalDocument.id')] } };
  const { message } = await storeIncoming(s.db, s.auth.fieldCrypto, { channel: 'ccda', sender: submitterKey(sender), messageType: 'ClinicalDocument', raw: xml }, now);
  await s.db.transaction((tx) => markOutcome(tx, message.id, { status: 'rejected', ack: JSON.stringify(answer), reason: `duplicate-id ${reason}`, location: '/ClinicalDocument/id', now }));
  return { ...answer, status: 'rejected' };
}

/**
 * Processes a stored document (first time, a resend of a failed one, after a crash, or an administrator's retry) if
 * its stored state is one of `allowed`; otherwise answers the outcome another run settled. Never throws for bad input.
 */
export async function processStoredCcda(s: Services, message: InboxMessage, now = new Date(), sender?: AccessContext, allowed: readonly InboxStatus[] = FIRST_RUN): Promise<CcdaOutcome> {
  const ctx = sender ?? submitterContext(message.sender, 'ccda');
  const converted = ingestCcda(message.raw ?? '', { now: new Date(message.received_at).toISOString(), sourceOrgIdentifier: ctx.organizationId });
  if (!converted.ok) return reject(s, message, allowed, converted.error, now);
  try {
    const answer = await apply(s, ctx, message, converted.bundle, converted.summary, now, allowed);
    return 'settled' in answer ? { ...settledAnswer(answer.settled), status: 'duplicate' } : { ...answer, status: 'processed' };
  } catch (err) {
    const known = err instanceof FhirError;
    const reason = known ? err.message.slice(0, 300) : 'internal error while applying the document';
    const answer: StoredAnswer = { httpStatus: known ? err.status : 500, outcome: { resourceType: 'OperationOutcome', issue: [issue('error', known ? 'processing' : 'exception', reason)] } };
    const settled = await settleFailure(s.db, message.id, allowed, { status: 'error', ack: JSON.stringify(answer), reason, now });
    return settled ? { ...settledAnswer(settled), status: 'duplicate' } : { ...answer, status: 'error' };
  }
}

type Applied = StoredAnswer | { settled: SettledMessage };

async function apply(s: Services, ctx: AccessContext, message: InboxMessage, bundle: Bundle, summary: Record<string, number>, now: Date, allowed: readonly InboxStatus[]): Promise<Applied> {
  try {
    return await applyOnce(s, ctx, message, bundle, summary, now, allowed);
  } catch (err) {
    if (!(err instanceof FhirError && err.status === 412 && MULTIPLE_MATCHES.test(err.message))) throw err;
    // The failed transaction wrote nothing; the document is applied again with its ambiguous keys resolved.
    return applyOnce(s, ctx, message, await resolveAmbiguousKeys(s, ctx, bundle), summary, now, allowed);
  }
}

/** The record layer's answer when a conditional create's search finds more than one resource. */
const MULTIPLE_MATCHES = /^Conditional create matched \d+ resources/;

/**
 * FHIR answers 412 when a conditional create matches several resources, and the FHIR API keeps that answer: a client
 * must not have the server guess. Here the conditional create is not the sender's request but the converter's
 * de-duplication device, and refusing it would refuse every other item of the document, which an HIE must not lose.
 * Several matches come from earlier writes (before the converter stopped putting an id the sender reused for different
 * items on each of them, or two uploads of one item racing), so for each entry keyed on its own first identifier:
 * the resource stored *under* that key (its first identifier) is the item — the oldest one if there are several —
 * and the entry resolves to it (`_id`); resources that only mention the key are other items, so when none holds it
 * the item is created (a possible duplicate, never a loss), and from then on exactly one resource holds the key.
 */
async function resolveAmbiguousKeys(s: Services, ctx: AccessContext, bundle: Bundle): Promise<Bundle> {
  const entries = bundle.entry ?? [];
  const found = await s.gate.run(ctx, { action: 'search', query: 'C-CDA conditional keys with several matches' }, async (scope) => {
    // As in the transaction, a key matches only in the document's patient's compartment (another patient's resource
    // under a copied id is not this item); a Patient the document creates has nothing stored yet.
    const patientEntry = entries.find((e) => e.resource?.resourceType === 'Patient');
    const patientQuery = patientEntry?.request?.method === 'PUT' ? patientEntry.request.url.split('?')[1] : undefined;
    const [patient] = patientQuery ? (await scope.searchType('Patient', conditionalQuery('Patient', patientQuery), false)).matches : [];
    const resolve = (ref: string) => (patient && ref === patientEntry?.fullUrl ? `Patient/${patient.id}` : undefined);
    const keyed = entries.flatMap((entry, index) => {
      const key = (entry.resource as { identifier?: Identifier[] } | undefined)?.identifier?.[0];
      const query = entry.request?.method === 'POST' ? entry.request.ifNoneExist : undefined;
      const scoped = key && query && entry.resource && identifierQuery(key) === query ? inOwnCompartment(entry.resource, query, resolve, s.fhirBase) : undefined;
      return key && scoped && entry.resource ? [{ index, type: entry.resource.resourceType, key, query: scoped }] : [];
    });
    const matches = await scope.searchMany(keyed.map(({ type, query }) => ({ type, query: [...new URLSearchParams(query), ['_count', '100'], ['_total', 'none']] })));
    return keyed.map((k, n) => ({ ...k, matches: matches[n] }));
  });
  const resolved = [...entries];
  found.forEach(({ index, key, matches }) => {
    if (matches.length < 2) return;
    const holder = matches
      .filter((r) => {
        const first = (r as { identifier?: Identifier[] }).identifier?.[0];
        return !!first && sameIdentifier(first, key);
      })
      .sort((a, b) => (a.meta?.lastUpdated ?? '').localeCompare(b.meta?.lastUpdated ?? '') || (a.id ?? '').localeCompare(b.id ?? ''))[0];
    const request = resolved[index].request!;
    resolved[index] = { ...resolved[index], request: holder ? { ...request, ifNoneExist: `_id=${holder.id}` } : { method: 'POST', url: request.url } };
  });
  return { ...bundle, entry: resolved };
}

async function applyOnce(s: Services, ctx: AccessContext, message: InboxMessage, bundle: Bundle, summary: Record<string, number>, now: Date, allowed: readonly InboxStatus[]): Promise<Applied> {
  let answer: StoredAnswer | undefined;
  // The stored answer names the DocumentReference, known only once written; it commits with the resources.
  const ack = (responses: BundleEntry[]) => JSON.stringify((answer = acceptedAnswer(bundle, responses, summary)));
  const after = (scope: GateScope, responses: BundleEntry[]) => supersedeReplaced(s, scope, bundle, responses);
  const result = await applyInboxBundle(s, ctx, message.id, bundle, { query: `ClinicalDocument ${message.control_id ?? ''}`, ack, now, allowed, after });
  return result.applied ? answer! : { settled: result.settled };
}

/**
 * A replacement (relatedDocument RPLC) makes the sender's stored parent `superseded`, in the same transaction: a
 * reader of the patient's documents sees one current version. Matched among the sender's own DocumentReferences of
 * the same patient only (document ids, like item ids, are trusted per sender and patient).
 */
async function supersedeReplaced(s: Services, scope: GateScope, bundle: Bundle, responses: BundleEntry[]): Promise<void> {
  const entries = bundle.entry ?? [];
  const doc = entries.find((e) => e.resource?.resourceType === 'DocumentReference')?.resource as DocumentReference | undefined;
  const parents = (doc?.relatesTo ?? []).flatMap((r) => (r.code === 'replaces' && r.target.identifier ? [r.target.identifier] : []));
  const patientIndex = entries.findIndex((e) => e.resource?.resourceType === 'Patient');
  const patient = /^Patient\/[^/]+/.exec(responses[patientIndex]?.response?.location ?? '')?.[0];
  if (!parents.length || !patient) return;
  const queries = parents.map((id) => ({ type: 'DocumentReference', query: [...new URLSearchParams(identifierQuery(id)), ['subject', patient], ['_count', '100'], ['_total', 'none']] as Array<[string, string]> }));
  const found = (await scope.searchMany(queries, { ownRecords: true })).flat() as DocumentReference[];
  for (const parent of found) {
    if (parent.status === 'current' && parent.id) await s.records.update(scope, 'DocumentReference', parent.id, { ...parent, status: 'superseded' });
  }
}

function acceptedAnswer(bundle: Bundle, responses: BundleEntry[], summary: Record<string, number>): StoredAnswer {
  const created = responses.filter((r) => r.response?.status?.startsWith('201')).length;
  const docIndex = bundle.entry?.findIndex((e) => e.resource?.resourceType === 'DocumentReference') ?? -1;
  const documentReference = docIndex >= 0 ? /^DocumentReference\/[^/]+/.exec(responses[docIndex]?.response?.location ?? '')?.[0] : undefined;
  const counts = Object.entries(summary).filter(([type]) => /^[A-Z]/.test(type)).sort(([a], [b]) => a.localeCompare(b));
  const issues = [
    issue('information', 'informational', `C-CDA document accepted: ${responses.length} resources (${created} new, ${responses.length - created} already present).`),
    ...counts.map(([type, n]) => issue('information', 'informational', `${type}: ${n}`, type)),
  ];
  return { httpStatus: 201, outcome: { resourceType: 'OperationOutcome', issue: issues }, resources: responses.length, ...(documentReference ? { documentReference } : {}) };
}

async function reject(s: Services, message: InboxMessage, allowed: readonly InboxStatus[], error: CcdaError, now: Date): Promise<CcdaOutcome> {
  const answer: StoredAnswer = {
    httpStatus: error.status,
    outcome: { resourceType: 'OperationOutcome', issue: [issue('error', error.status === 400 ? 'structure' : 'processing', `${error.code}: ${error.message}`, error.location)] },
  };
  const settled = await settleFailure(s.db, message.id, allowed, { status: 'rejected', ack: JSON.stringify(answer), reason: `${error.code} ${error.message}`, location: error.location, now });
  return settled ? { ...settledAnswer(settled), status: 'duplicate' } : { ...answer, status: 'rejected' };
}

/**
 * The answer to a copy of a document another run settled: its stored answer. A purged document has none (the
 * opt-out took it): it is accepted as a resend of a stored document would be, and nothing is stored again (§2).
 */
function settledAnswer(settled: SettledMessage): StoredAnswer {
  if (!settled.ack) return { httpStatus: 200, outcome: { resourceType: 'OperationOutcome', issue: [issue('information', 'informational', 'C-CDA document accepted.')] } };
  const answer = JSON.parse(settled.ack) as StoredAnswer;
  // A resend of an accepted document is acknowledged with 200: nothing new was written.
  return answer.httpStatus === 201 ? { ...answer, httpStatus: 200 } : answer;
}
