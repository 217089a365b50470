import type { Identifier } from '@medplum/fhirtypes';
import type { AccessContext } from '../access/context.ts';
import type { GateScope } from '../access/gate-scope.ts';
import { FhirError } from '../fhir/outcome.ts';
import { mergePersons } from '../mpi/stewardship.ts';
import type { Services } from '../services.ts';
import { buildAck, echoFromHeader, echoFromRaw } from './hl7v2/ack.ts';
import { mapMessage, type MergeInstruction } from './hl7v2/map/index.ts';
import { parseHl7 } from './hl7v2/parse.ts';
import { Hl7ErrorCode, type Hl7Error, type ParseResult } from './hl7v2/types.ts';
import { applyInboxBundle } from './apply-bundle.ts';
import { markOutcome, storeIncoming, type InboxMessage } from './inbox.ts';
import { senderContext } from './sender-context.ts';

export interface Hl7Outcome {
  ack: string;
  status: 'processed' | 'error' | 'rejected' | 'duplicate';
}

const location = (e: Hl7Error) => (e.location ? `${e.location.segment}${e.location.field ? `-${e.location.field}` : ''}` : undefined);

/**
 * One HL7 v2 message from any channel: commit the raw message, then parse, map and apply it in one gate
 * transaction, and answer the ACK. A replayed control id gets the stored ACK and changes nothing.
 */
export async function receiveHl7(s: Services, raw: string, channel: 'mllp' | 'http' | 'import', sender?: AccessContext): Promise<Hl7Outcome> {
  const now = new Date();
  const parsed = parseHl7(raw);
  const header = parsed.ok ? parsed.message.header : parsed.partialHeader;
  const { message, duplicate } = await storeIncoming(s.db, s.auth.fieldCrypto, {
    channel, sender: header?.facilityKey || 'unknown', messageType: header?.messageType ? `${header.messageType}^${header.triggerEvent ?? ''}` : undefined,
    controlId: header?.controlId, raw,
  }, now);
  if (duplicate && message.ack) return { ack: message.ack, status: 'duplicate' };
  // Parsing is a pure function of the text: the stored message is parsed again only if it is not the one received.
  return processStored(s, message, now, sender, message.raw === raw ? parsed : undefined);
}

/** Processes a stored message (first time, after a crash, or an administrator's retry). */
export async function processStored(s: Services, message: InboxMessage, now = new Date(), sender?: AccessContext, parsedRaw?: ParseResult): Promise<Hl7Outcome> {
  const parsed = parsedRaw ?? parseHl7(message.raw ?? '');
  const ackId = `K${message.id.slice(0, 18)}`;
  if (!parsed.ok) return fail(s, message, parsed.error, buildAck({ ackCode: parsed.error.ackCode, echo: echoFromRaw(message.raw ?? ''), error: parsed.error, now, ackControlId: ackId }), now);
  const echo = echoFromHeader(parsed.message.header);
  const mapped = mapMessage(parsed.message, { now: new Date(message.received_at) });
  if (mapped.kind === 'rejected') return fail(s, message, mapped.error, buildAck({ ackCode: mapped.error.ackCode, echo, error: mapped.error, now, ackControlId: ackId }), now);
  try {
    const ctx = sender ?? (await senderContext(s, parsed.message.header.facilityKey, 'hl7v2'));
    const ack = buildAck({ ackCode: 'AA', echo, now, ackControlId: ackId });
    const after = mapped.kind === 'merge' ? (scope: GateScope) => applyMerges(s, scope, mapped.merges) : undefined;
    await applyInboxBundle(s, ctx, message.id, mapped.bundle, { query: `${echo.triggerEvent ?? ''} ${message.control_id ?? ''}`, ack, now, after });
    return { ack, status: 'processed' };
  } catch (err) {
    const reason = err instanceof FhirError ? err.message.slice(0, 300) : 'internal error while applying the message';
    const error: Hl7Error = { code: Hl7ErrorCode.ApplicationInternalError, ackCode: 'AE', reason };
    return fail(s, message, error, buildAck({ ackCode: 'AE', echo, error, now, ackControlId: ackId }), now);
  }
}

async function fail(s: Services, message: InboxMessage, error: Hl7Error, ack: string, now: Date): Promise<Hl7Outcome> {
  const status = error.ackCode === 'AR' ? 'rejected' : 'error';
  await s.db.transaction((tx) => markOutcome(tx, message.id, { status, ack, reason: `${error.code} ${error.reason}`, location: location(error), now }));
  return { ack, status };
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
