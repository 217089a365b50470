import type { Resource } from '@medplum/fhirtypes';
import { addLabelsInPlace, saveLabelsInPlace } from '../access/stored-labels.ts';
import { applyLabels, declaredLabels } from '../privacy/labels/classifier.ts';
import { labelsForNamedBinaries, relabelRecord, versionLabels } from '../privacy/labels/propagate.ts';
import { loadValueSets, valueSetVersion } from '../privacy/labels/value-sets.ts';
import type { SensitivityLabel, ValueSets } from '../privacy/labels/value-set-types.ts';
import type { Database, Queryable } from '../store/database.ts';
import { run } from '../store/database.ts';
import { sql } from '../store/sql.ts';

export interface RelabelReport {
  valueSetVersion: string;
  persons: number;
  scanned: number;
  relabelled: number;
  /** Earlier versions (history) that gained a label. */
  versions: number;
  /** Resources that gained each label. */
  added: Record<string, number>;
}

type Row = { resource_type: string; id: string; version_id: number; security: string[]; content: Resource };

/**
 * The person's earlier versions (deleted resources' too), each relabelled from its own content and the relabelled
 * record (`versionLabels`): vread and history decide on a version's labels, so a code the value sets name only now
 * must withhold the versions that held it as well. In place, like the current version.
 */
async function relabelHistory(tx: Queryable, personId: string, record: Resource[], vs: ValueSets, report: RelabelReport, base?: string): Promise<void> {
  const recordLabels = new Map(record.map((r) => [`${r.resourceType}/${r.id}`, declaredLabels(r)]));
  const versions = await run<Row>(tx, sql`select h.resource_type, h.id, h.version_id, h.security, h.content from resource_history h
    join resources r on r.resource_type = h.resource_type and r.id = h.id
    where h.person_id = ${personId} and h.deleted = false and h.version_id < r.version_id order by h.resource_type, h.id, h.version_id`);
  for (const v of versions) {
    const labels = versionLabels(v.content, v.security as SensitivityLabel[], recordLabels, vs, base);
    const added = labels.filter((l) => !v.security.includes(l));
    if (added.length === 0) continue;
    await run(tx, sql`update resource_history set security = ${[...v.security, ...added]}, content = ${applyLabels(v.content, labels)}
      where resource_type = ${v.resource_type} and id = ${v.id} and version_id = ${v.version_id}`);
    report.versions++;
  }
}

/** One person's record, relabelled together so labels propagate along references (report → result). */
async function relabelPerson(db: Database, personId: string, vs: ValueSets, report: RelabelReport, base?: string): Promise<void> {
  await db.transaction(async (tx) => {
    const rows = await run<Row>(tx, sql`select resource_type, id, version_id, security, content from resources
      where person_id = ${personId} and deleted = false order by resource_type, id for update`);
    const { resources, changed } = relabelRecord(rows.map((r) => r.content), vs, base);
    report.scanned += rows.length;
    for (const i of changed) {
      const before = new Set(rows[i].security);
      for (const l of declaredLabels(resources[i])) if (!before.has(l)) report.added[l] = (report.added[l] ?? 0) + 1;
      await saveLabelsInPlace(tx, rows[i], declaredLabels(resources[i]), resources[i]);
      report.relabelled++;
    }
    // Binaries the person's labelled documents name but stored outside the record (no security context): propagation
    // labelled those inside it. Only those stored by the document's sender gain labels, never another person's.
    const inRecord = new Set(resources.map((r) => `${r.resourceType}/${r.id}`));
    const outside = [...labelsForNamedBinaries(resources.map((r) => ({ resource: r, labels: declaredLabels(r) })), base)].filter(([key]) => !inRecord.has(key));
    for (const { added } of await addLabelsInPlace(tx, new Map(outside), base)) {
      for (const l of added) report.added[l] = (report.added[l] ?? 0) + 1;
      report.relabelled++;
    }
    await relabelHistory(tx, personId, resources, vs, report, base);
  });
}

/**
 * `katahdin privacy relabel`: re-applies the current value sets to every stored person's record. Labels are only
 * added (relabelRecord never drops one), one transaction per person so a long run can be interrupted safely. `base`:
 * this server's FHIR base (an attachment URL under it names a local Binary; another server's never does).
 */
export async function relabelAll(db: Database, vs: ValueSets = loadValueSets(), base?: string): Promise<RelabelReport> {
  const report: RelabelReport = { valueSetVersion: valueSetVersion(), persons: 0, scanned: 0, relabelled: 0, versions: 0, added: {} };
  const persons = await run<{ person_id: string }>(db, sql`select distinct person_id from resources where person_id is not null order by person_id`);
  for (const { person_id } of persons) {
    await relabelPerson(db, person_id, vs, report, base);
    report.persons++;
  }
  return report;
}

export function formatRelabel(r: RelabelReport): string {
  const added = Object.entries(r.added).map(([l, n]) => `${l} +${n}`).join(', ') || 'none';
  return `value sets ${r.valueSetVersion}: ${r.persons} persons, ${r.scanned} resources scanned, ${r.relabelled} relabelled (labels added: ${added}), ${r.versions} earlier versions relabelled`;
}
