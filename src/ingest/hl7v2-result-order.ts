import type { Bundle, BundleEntry, DiagnosticReport, Identifier, Provenance } from '@medplum/fhirtypes';
import type { GateScope } from '../access/gate-scope.ts';
import { lockKeys } from '../record/conditional-locks.ts';
import { conditionalQuery } from '../record/record-service.ts';
import type { Selection } from './apply-bundle.ts';
import { entryFullUrl } from './hl7v2/map/context.ts';
import { hl7ToFhirDateTime } from './hl7v2/map/datetime.ts';
import { reportEntryKey } from './hl7v2/map/oru.ts';
import { Hl7ErrorCode, type Hl7Warning, type ParsedMessage } from './hl7v2/types.ts';

/** What of an ORU is still to be applied, and which of its reports a newer stored message of their order superseded. */
export interface ResultSelection extends Selection {
  /** OBR occurrences (1-based) whose report, results and document were left out. */
  superseded: number[];
}

/** A report of the message upserted on its key (order number + OBR-4): only those can be compared with a stored one. */
interface KeyedReport {
  entry: BundleEntry & { resource: DiagnosticReport };
  key: Identifier;
  /** Conditional query of its `PUT`. */
  query: string;
}

/**
 * An instant from a FHIR dateTime that has a time of day; undefined for a date alone, which cannot order two
 * messages of one day.
 */
function instant(value: string | undefined): number | undefined {
  const ms = value && value.length > 10 ? Date.parse(value) : Number.NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * The advisory lock of an order's report, taken by every result message of the order before it reads what is stored,
 * whether or not the report exists yet. The transaction's own key locks are not enough: a key known to exist is not
 * locked at all, and an unknown one only after this decision would have been made.
 */
const orderLockKey = (key: Identifier) => `hl7v2-result-order|${key.system}|${key.value}`;

const keyedReports = (entries: BundleEntry[]): KeyedReport[] => entries.flatMap((entry) => {
  const [type, query] = entry.request?.method === 'PUT' ? (entry.request.url ?? '').split('?') : [];
  const resource = entry.resource;
  if (type !== 'DiagnosticReport' || query === undefined || resource?.resourceType !== 'DiagnosticReport') return [];
  const key = resource.identifier?.find((x) => x.system?.endsWith(':report') && x.value);
  return key ? [{ entry: { ...entry, resource }, key, query }] : [];
});

/** The message's OBR occurrence (1-based) of each report entry, by full URL (the mapper's entry keys). */
function obrOccurrences(parsed: ParsedMessage): Map<string, number> {
  const count = parsed.message.segments.filter((seg) => seg.name === 'OBR').length;
  return new Map(Array.from({ length: count }, (_, i) => [entryFullUrl(parsed.header, reportEntryKey(i)), i + 1] as const));
}

/**
 * Result messages of one order applied out of order (a preliminary retried from the error queue after the final, a
 * sender's old message sent again after a newer one) must not take the record back. Run first in the message's
 * transaction: each report the message upserts is compared with the stored report of its order (the sender's own,
 * of the same patient) by OBR-22 (`issued`) when both have it, else by the message's MSH-7 against the latest
 * stored message of the order (its Provenance's `recorded`). A report older than what is stored is left out with its
 * results and document; equal or unknown times apply as before (resends of one message are already replays). The
 * order's key is locked before anything is read, so of two messages of one order in flight, the second decides on
 * what the first committed.
 */
export async function selectCurrentResults(scope: GateScope, bundle: Bundle, parsed: ParsedMessage): Promise<ResultSelection> {
  const entries = bundle.entry ?? [];
  const unchanged: ResultSelection = { bundle, superseded: [] };
  const reports = keyedReports(entries);
  if (!reports.length) return unchanged;
  await lockKeys(scope.tx, reports.map((r) => orderLockKey(r.key)));
  const patientQuery = entries.find((e) => e.resource?.resourceType === 'Patient' && e.request?.method === 'PUT')?.request?.url?.split('?')[1];
  if (patientQuery === undefined) return unchanged;
  // Looked up as the transaction will: among the sender's own records, the report within its patient's compartment.
  const [patients] = await scope.searchMany([{ type: 'Patient', query: conditionalQuery('Patient', patientQuery) }], { ownRecords: true });
  const patientId = patients.length === 1 ? patients[0].id : undefined;
  if (!patientId) return unchanged;
  const patient = `Patient/${patientId}`;
  const found = await scope.searchMany(reports.map((r) => ({ type: 'DiagnosticReport', query: conditionalQuery('DiagnosticReport', `${r.query}&subject=${encodeURIComponent(patient)}`) })), { ownRecords: true });
  // Two stored reports under one key fail the message's update (412) as before: nothing to compare with.
  const compared = reports.flatMap((r, i) => (found[i].length === 1 ? [{ ...r, stored: found[i][0] as DiagnosticReport & { id: string } }] : []));
  if (!compared.length) return unchanged;

  const messageTime = instant(hl7ToFhirDateTime(parsed.header.timestamp));
  const byIssued = (r: (typeof compared)[number]) => {
    const [incoming, stored] = [instant(r.entry.resource.issued), instant(r.stored.issued)];
    return incoming !== undefined && stored !== undefined ? { incoming, stored } : undefined;
  };
  const byMessage = messageTime === undefined ? [] : compared.filter((r) => !byIssued(r));
  const latest = await scope.searchMany(byMessage.map((r) => ({
    type: 'Provenance', query: [['target', `DiagnosticReport/${r.stored.id}`], ['_sort', '-recorded'], ['_count', '1'], ['_total', 'none']] as Array<[string, string]>,
  })), { ownRecords: true });
  const storedMessageTime = new Map(byMessage.map((r, i) => [r, instant((latest[i][0] as Provenance | undefined)?.recorded)]));
  const stale = compared.filter((r) => {
    const issued = byIssued(r);
    if (issued) return issued.incoming < issued.stored;
    const stored = storedMessageTime.get(r);
    return messageTime !== undefined && stored !== undefined && messageTime < stored;
  });
  if (!stale.length) return unchanged;

  const left = new Set(stale.flatMap((r) => [r.entry.fullUrl, ...(r.entry.resource.result ?? []).map((x) => x.reference)]).filter((u): u is string => !!u));
  const sameKey = (a: Identifier, b: Identifier) => a.system === b.system && a.value === b.value;
  // A narrative report's document is upserted on the report's key.
  for (const e of entries) {
    if (e.fullUrl && e.resource?.resourceType === 'DocumentReference' && e.resource.identifier?.some((x) => stale.some((r) => sameKey(x, r.key)))) left.add(e.fullUrl);
  }
  const kept = entries.flatMap((e): BundleEntry[] => {
    if (e.fullUrl && left.has(e.fullUrl)) return [];
    if (e.resource?.resourceType !== 'Provenance') return [e];
    const provenance: Provenance = { ...e.resource, target: e.resource.target.filter((t) => !t.reference || !left.has(t.reference)) };
    return [{ ...e, resource: provenance }];
  });
  const occurrences = obrOccurrences(parsed);
  const superseded = stale.map((r) => occurrences.get(r.entry.fullUrl ?? '')).filter((n): n is number => n !== undefined).sort((a, b) => a - b);
  const whole = !kept.some((e) => e.resource?.resourceType === 'DiagnosticReport');
  const obrs = superseded.length ? `OBR ${superseded.join(', ')}` : 'its reports';
  return {
    bundle: { ...bundle, entry: kept },
    superseded,
    reason: whole
      ? `superseded: a newer message of the order is already applied (${obrs}); nothing written`
      : `superseded in part: ${obrs} not applied, a newer message of the order is already applied`,
    ...(whole ? { settleAs: { status: 'superseded' as const, patientIds: [patientId] } } : {}),
  };
}

/** One ERR of severity W per superseded report, at its OBR: the sender learns the message was accepted but not applied. */
export function supersededWarnings(selection: ResultSelection | undefined): Hl7Warning[] {
  return (selection?.superseded ?? []).map((sequence) => ({
    code: Hl7ErrorCode.ApplicationInternalError,
    reason: 'results superseded: a newer message of this order is already applied; not stored',
    location: { segment: 'OBR', sequence },
  }));
}
