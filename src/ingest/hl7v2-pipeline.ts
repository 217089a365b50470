import type { Bundle, BundleEntry, Identifier } from '@medplum/fhirtypes';
import type { AccessContext } from '../access/context.ts';
import type { GateScope } from '../access/gate-scope.ts';
import { FhirError } from '../fhir/outcome.ts';
import { mergePersons } from '../mpi/stewardship.ts';
import type { Services } from '../services.ts';
import { buildAck, echoFromHeader, echoFromRaw, type AckEcho } from './hl7v2/ack.ts';
import { mapMessage, type MergeInstruction } from './hl7v2/map/index.ts';
import { storedPatientsOf } from './hl7v2/message-patients.ts';
import type { ClientCertificate } from './hl7v2/mllp-server.ts';
import { facilityField, parseHl7 } from './hl7v2/parse.ts';
import { Hl7ErrorCode, type Hl7Error, type MessageHeader, type ParseResult } from './hl7v2/types.ts';
import { applyInboxBundle } from './apply-bundle.ts';
import { withdrawDroppedResults } from './hl7v2-dropped-results.ts';
import { selectCurrentResults, supersededWarnings, type ResultSelection } from './hl7v2-result-order.ts';
import { isRefusedSender, maySendFor, refusedSender } from './certificate-facilities.ts';
import { FIRST_RUN, RESEND_OF_ERROR, settleFailure, storeIncoming, type InboxMessage, type InboxStatus, type SettledMessage } from './inbox.ts';
import { feedSender, isReservedName, isSubmitterKey, senderContext, submitterContext, submitterKey } from './sender-context.ts';

export interface Hl7Outcome {
  ack: string;
  status: 'processed' | 'error' | 'rejected' | 'duplicate';
}

export interface ProcessOptions {
  now?: Date;
  /** The authenticated submitter (HTTP); otherwise the context comes from the stored sender. */
  sender?: AccessContext;
  /** The message already parsed, when the stored text is the one just received. */
  parsed?: ParseResult;
  /** Stored states this run may settle the message from (default: a first run). */
  allowed?: readonly InboxStatus[];
}

const location = (e: Hl7Error) => (e.location ? `${e.location.segment}${e.location.field ? `-${e.location.field}` : ''}` : undefined);

/**
 * One HL7 v2 message from any channel: commit the raw message, then parse, map and apply it in one gate
 * transaction, and answer the ACK. A replayed control id gets the stored ACK and changes nothing; a resend of a
 * message that failed (AE) is the sender's retry and is processed again. Over MLLP with client certificates
 * (`certificate`), a message whose facility the certificate may not send for is kept and refused.
 */
export async function receiveHl7(s: Services, raw: string, channel: 'mllp' | 'http' | 'import', sender?: AccessContext, certificate?: ClientCertificate): Promise<Hl7Outcome> {
  const now = new Date();
  const parsed = parseHl7(raw);
  const header = parsed.ok ? parsed.message.header : parsed.partialHeader;
  const facility = header?.facilityKey || 'unknown';
  // An authenticated submitter is identified by its organization, whatever MSH-3/MSH-4 claim (de-duplication key); a
  // certificate that may not send for the facility named is kept apart from it.
  const refused = certificate && header?.facilityKey && !maySendFor(certificate, facility, s.config.mllpCertFacilities);
  const { message, duplicate } = await storeIncoming(s.db, s.auth.fieldCrypto, {
    channel, sender: sender ? submitterKey(sender) : refused ? refusedSender(certificate, facility) : feedSender(facility),
    messageType: header?.messageType ? `${header.messageType}^${header.triggerEvent ?? ''}` : undefined, controlId: header?.controlId, raw,
  }, now);
  if (duplicate && message.status !== 'received' && message.status !== 'error') {
    return { ack: settledAck(message, parsed.ok ? echoFromHeader(parsed.message.header) : echoFromRaw(raw), now), status: 'duplicate' };
  }
  // A duplicate still `received` is a copy in flight (or left by a crash): its run waits on the row lock, then either
  // finds it settled and answers the same ACK, or processes it (the crash case).
  const allowed = duplicate && message.status === 'error' ? RESEND_OF_ERROR : FIRST_RUN;
  // Parsing is a pure function of the text: the stored message is parsed again only if it is not the one received.
  return processStored(s, message, { now, sender, parsed: message.raw === raw ? parsed : undefined, allowed });
}

/** Processes a stored message (first time, a resend of a failed one, after a crash, or an administrator's retry). */
export async function processStored(s: Services, message: InboxMessage, o: ProcessOptions = {}): Promise<Hl7Outcome> {
  const now = o.now ?? new Date();
  const allowed = o.allowed ?? FIRST_RUN;
  const parsed = o.parsed ?? parseHl7(message.raw ?? '');
  const ackId = `K${message.id.slice(0, 18)}`;
  if (!parsed.ok) {
    const ack = buildAck({ ackCode: parsed.error.ackCode, echo: echoFromRaw(message.raw ?? ''), error: parsed.error, now, ackControlId: ackId });
    return fail(s, message, allowed, parsed.error, ack, [], now);
  }
  const header = parsed.message.header;
  const echo = echoFromHeader(header);
  // Filed under the persons its PID-3 names: the body holds their health information (opt-out purge).
  const reject = async (error: Hl7Error) =>
    fail(s, message, allowed, error, buildAck({ ackCode: error.ackCode, echo, error, now, ackControlId: ackId }), await storedPatientsOf(s, parsed.message), now);
  // Refused on every run, crash recovery and retries included (see `refusedSender`).
  const refused = isRefusedSender(message.sender)
    ? facilityError(header, Hl7ErrorCode.ApplicationInternalError, 'client certificate not authorized for this sending facility')
    : isReservedName(message.sender)
      ? facilityError(header, Hl7ErrorCode.ApplicationInternalError, 'sending facility name is reserved for other kinds of sender (org:, client:): rename the facility')
      : processingIdError(s, header.processingId);
  const mapped = refused ? ({ kind: 'rejected', error: refused } as const) : mapMessage(parsed.message, { now: new Date(message.received_at) });
  if (mapped.kind === 'rejected') return reject(mapped.error);
  try {
    const register = message.channel !== 'mllp' || s.config.mllpRegisterUnknownFacilities;
    const ctx = o.sender ?? (isSubmitterKey(message.sender) ? submitterContext(message.sender, 'hl7v2') : await senderContext(s, header.facilityKey, 'hl7v2', register));
    if (!ctx) return await reject(facilityError(header, Hl7ErrorCode.UnknownKeyIdentifier, 'unknown sending facility: no Organization is registered for it'));
    const oru = mapped.kind === 'bundle' && header.messageType === 'ORU';
    // An ORU older than what is stored of its orders leaves those orders out (decided in the transaction); the ACK says so.
    const select = oru ? (scope: GateScope) => selectCurrentResults(scope, mapped.bundle, parsed.message) : undefined;
    const ack = (_: BundleEntry[], selection: ResultSelection | undefined) =>
      buildAck({ ackCode: 'AA', echo, now, ackControlId: ackId, warnings: [...mapped.summary.warnings, ...supersededWarnings(selection)] });
    const after = mapped.kind === 'merge' ? (scope: GateScope) => applyMerges(s, scope, mapped.merges)
      : oru ? (scope: GateScope, responses: BundleEntry[], applied: Bundle) => withdrawDroppedResults(s, scope, applied, responses)
      : undefined;
    const result = await applyInboxBundle(s, ctx, message.id, mapped.bundle, { query: `${echo.triggerEvent ?? ''} ${message.control_id ?? ''}`, ack, now, select, after, allowed });
    // A superseded message is answered like any accepted one: the sender has nothing to fix or resend.
    return result.applied ? { ack: result.ack, status: 'processed' } : { ack: settledAck(result.settled, echo, now), status: 'duplicate' };
  } catch (err) {
    const reason = err instanceof FhirError ? err.message.slice(0, 300) : 'internal error while applying the message';
    return reject({ code: Hl7ErrorCode.ApplicationInternalError, ackCode: 'AE', reason });
  }
}

/** A sender that may not send as the facility it names (MSH-4, else MSH-3): refused as sent (AR). */
function facilityError(header: MessageHeader, code: Hl7ErrorCode, reason: string): Hl7Error {
  return { code, ackCode: 'AR', reason, location: { segment: 'MSH', sequence: 1, field: facilityField(header) } };
}

/** Training (T) and debugging (D) messages never reach the live record unless the server is told to take them. */
function processingIdError(s: Services, processingId: string): Hl7Error | undefined {
  // An empty MSH-11 is common among senders and means production.
  if (!processingId || s.config.hl7ProcessingIds.includes(processingId)) return undefined;
  return { code: Hl7ErrorCode.UnsupportedProcessingId, ackCode: 'AR', reason: 'unsupported processing id', location: { segment: 'MSH', sequence: 1, field: 11 } };
}

async function fail(s: Services, message: InboxMessage, allowed: readonly InboxStatus[], error: Hl7Error, ack: string, patientIds: string[], now: Date): Promise<Hl7Outcome> {
  const status = error.ackCode === 'AR' ? 'rejected' : 'error';
  const settled = await settleFailure(s.db, message.id, allowed, { status, ack, reason: `${error.code} ${error.reason}`, location: location(error), patientIds, now });
  return settled ? { ack: settledAck(settled, echoFromRaw(message.raw ?? ''), now), status: 'duplicate' } : { ack, status };
}

/**
 * The answer to a copy of a message another run settled: its stored ACK. A purged message has none (the opt-out
 * took the body and the ACK with it): it is acknowledged AA with its control id, as any stored message would be,
 * and nothing of it is stored again (§2: the sender is not told).
 */
function settledAck(settled: SettledMessage, echo: AckEcho, now: Date): string {
  return settled.ack ?? buildAck({ ackCode: 'AA', echo, now, ackControlId: `K${now.getTime().toString(36)}` });
}

async function patientByIdentifier(scope: GateScope, identifier: Identifier): Promise<string | undefined> {
  const found = await scope.searchType('Patient', [['identifier', `${identifier.system ?? ''}|${identifier.value ?? ''}`]], false);
  return found.matches[0]?.id;
}

/** ADT^A40: the retired record's person joins the survivor's (an MPI merge; reversible by unlink). */
async function applyMerges(s: Services, scope: GateScope, merges: MergeInstruction[]): Promise<void> {
  for (const m of merges) {
    const survivor = await patientByIdentifier(scope, m.survivor);
    let retired: string | undefined;
    for (const id of m.retiredAll) retired ??= await patientByIdentifier(scope, id);
    if (!survivor || !retired) continue;
    const [to, from] = await Promise.all([s.links.personOf(scope, survivor), s.links.personOf(scope, retired)]);
    if (to && from && to !== from) await mergePersons(scope, s.links, from, to, true);
  }
}
