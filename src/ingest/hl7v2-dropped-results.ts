import type { Bundle, BundleEntry, DiagnosticReport, Observation, Provenance, Reference } from '@medplum/fhirtypes';
import type { GateScope } from '../access/gate-scope.ts';
import type { WriteSlot } from '../record/write-queue.ts';
import type { Services } from '../services.ts';

/** `Type/id` and the version a transaction response's location names. */
function located(entry: BundleEntry | undefined): { key: string; id: string; version: number } | undefined {
  const m = /^([A-Z][A-Za-z]+)\/([^/]+)\/_history\/(\d+)$/.exec(entry?.response?.location ?? '');
  return m ? { key: `${m[1]}/${m[2]}`, id: m[2], version: Number(m[3]) } : undefined;
}

const observationId = (ref: Reference | undefined) => /^Observation\/([^/]+)$/.exec(ref?.reference ?? '')?.[1];

interface UpdatedReport {
  id: string;
  version: number;
  /** What the identifier of each of its Observations is under (`<system>:obx`, `<report key>|…`): `map/oru.ts`. */
  results: { system: string; prefix: string };
}

/** Reports the message updated (not created, not discarded by the privacy intake): their id, version written and key. */
function updatedReports(entries: BundleEntry[], responses: BundleEntry[]): UpdatedReport[] {
  return entries.flatMap((e, i) => {
    const at = located(responses[i]);
    const key = (e.resource as DiagnosticReport | undefined)?.identifier?.find((x) => x.system?.endsWith(':report') && x.value);
    // A write the intake discarded is answered as version 1 of the resource it would have updated; a real update never is.
    if (e.resource?.resourceType !== 'DiagnosticReport' || responses[i]?.response?.status !== '200 OK' || !at || at.version <= 1 || !key) return [];
    return [{ id: at.id, version: at.version, results: { system: `${key.system!.slice(0, -':report'.length)}:obx`, prefix: `${key.value}|` } }];
  });
}

/** Whether an Observation is keyed as one of the report's results (and so of its order, never another's). */
const keyedUnder = (o: Observation, r: UpdatedReport['results']) => !!o.identifier?.some((x) => x.system === r.system && x.value?.startsWith(r.prefix));

/**
 * Every Observation the report ever listed (all its stored versions), with the subject of the version the message
 * wrote; undefined when that version is not the current one (another write came between, or none was stored).
 */
async function resultsEverListed(scope: GateScope, report: UpdatedReport): Promise<{ subject?: string; ids: Set<string> } | undefined> {
  const ids = new Set<string>();
  let subject: string | undefined;
  let newest = 0;
  const count = 100;
  for (let offset = 0; ; offset += count) {
    const page = await scope.history({ type: 'DiagnosticReport', id: report.id, count, offset });
    for (const row of page.entries) {
      const content = row.content as DiagnosticReport;
      if (row.version_id === report.version) subject = content.subject?.reference;
      newest = Math.max(newest, row.version_id);
      for (const ref of content.result ?? []) {
        const id = observationId(ref);
        if (id) ids.add(id);
      }
    }
    if (offset + count >= page.total) break;
  }
  return newest === report.version ? { subject, ids } : undefined;
}

/**
 * ORU^R01 snapshot rule: a result message for an order the record already holds is the lab's whole current set of
 * results for that order (the LRI guides' snapshot processing). Observations an earlier version of one of the
 * message's reports listed, and which the message did not write again — a preliminary line the final drops, the
 * one-per-line Observations of a narrative now sent as one — are set `entered-in-error` (as an OBX-11 `D`/`W` line
 * would be), through the record layer in the message's transaction: a new version (history kept), audited, the
 * privacy intake applied, and named by a `NULLIFY` Provenance for the message. Only the sender's own Observations of
 * the report's patient are touched; results of other orders are never listed by this report.
 */
export async function withdrawDroppedResults(s: Services, scope: GateScope, bundle: Bundle, responses: BundleEntry[]): Promise<void> {
  const entries = bundle.entry ?? [];
  const reports = updatedReports(entries, responses);
  if (!reports.length) return;
  const written = new Set(entries.flatMap((e, i) => (e.resource?.resourceType === 'Observation' ? located(responses[i])?.id ?? [] : [])));
  const dropped = new Map<string, { subject?: string; report: UpdatedReport }>();
  for (const report of reports) {
    const listed = await resultsEverListed(scope, report);
    for (const id of listed?.ids ?? []) if (!written.has(id)) dropped.set(id, { subject: listed?.subject, report });
  }
  if (!dropped.size) return;
  const ids = [...dropped.keys()];
  const chunks = Array.from({ length: Math.ceil(ids.length / 100) }, (_, i) => ids.slice(i * 100, i * 100 + 100));
  const found = (await scope.searchMany(chunks.map((chunk) => ({
    type: 'Observation', query: [['_id', chunk.join(',')], ['_count', String(chunk.length)], ['_total', 'none']] as Array<[string, string]>,
  })), { ownRecords: true })).flat() as Observation[];
  const current = found.filter((o): o is Observation & { id: string } => {
    const of = o.id ? dropped.get(o.id) : undefined;
    return !!of && o.status !== 'entered-in-error' && o.subject?.reference === of.subject && keyedUnder(o, of.report.results);
  });
  if (!current.length) return;
  const queue = s.records.queue(scope);
  const slots: WriteSlot[] = [];
  for (const o of current) {
    // If-Match the version read here: a change committed since (or a deletion) fails the message rather than being overwritten.
    slots.push(await queue.add(s.records.checkUpdate('Observation', o.id, { ...o, status: 'entered-in-error' }, `W/"${o.meta?.versionId ?? ''}"`)));
  }
  await queue.flush();
  const withdrawn = slots.flatMap((slot) => (slot.outcome && !slot.outcome.discarded ? [slot.outcome.resource] : []));
  const provenance = nullifyProvenance(entries, responses, withdrawn.map((o) => `Observation/${o.id}/_history/${o.meta?.versionId}`));
  if (provenance) await s.records.create(scope, provenance, { derived: true });
}

/**
 * The message's own Provenance (same agent, source message and time) for what it withdrew, with activity `NULLIFY`
 * (v3 DataOperation: the act is now in error). Undefined when nothing was written or the message has none.
 */
function nullifyProvenance(entries: BundleEntry[], responses: BundleEntry[], targets: string[]): Provenance | undefined {
  const message = entries.find((e) => e.resource?.resourceType === 'Provenance')?.resource as Provenance | undefined;
  if (!targets.length || !message) return undefined;
  // The message's entries point at each other by urn:uuid; the stored Provenance names what they became.
  const byFullUrl = new Map(entries.flatMap((e, i) => (e.fullUrl && located(responses[i]) ? [[e.fullUrl, located(responses[i])!.key] as const] : [])));
  const resolve = <T extends Reference>(ref: T): T => ({ ...ref, reference: byFullUrl.get(ref.reference ?? '') ?? ref.reference });
  return {
    resourceType: 'Provenance',
    target: targets.map((reference) => ({ reference })),
    recorded: message.recorded,
    activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: 'NULLIFY' }] },
    agent: message.agent.map((a) => ({ ...a, who: resolve(a.who) })),
    ...(message.entity ? { entity: message.entity } : {}),
    ...(message.meta ? { meta: { source: message.meta.source, tag: message.meta.tag } } : {}),
  };
}
