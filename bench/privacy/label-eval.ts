/**
 * Labelling measurement: counts labelled resources per category across the Synthea R4 bundles and the
 * C-CDA samples, and prints every labelled resource's triggering code so the sample can be checked by
 * hand. Results are copied into docs/PRIVACY.md ("Labelling figures").
 *   npx tsx bench/privacy/label-eval.ts
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { ingestCcda } from '../../src/ingest/ccda/index.ts';
import { declaredLabels, labelsForResource } from '../../src/privacy/labels/classifier.ts';
import { ownLabels, propagateBundleLabels } from '../../src/privacy/labels/propagate.ts';
import type { SensitivityLabel, ValueSets } from '../../src/privacy/labels/value-set-types.ts';
import { loadValueSets } from '../../src/privacy/labels/value-sets.ts';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const corpora = resolve(repoRoot, '../shared/corpora');

export interface LabelCounts {
  resources: number;
  direct: Record<SensitivityLabel, number>;
  propagated: Record<SensitivityLabel, number>;
  examples: string[];
}

const zero = (): Record<SensitivityLabel, number> => ({ PSY: 0, HIV: 0, ETH: 0 });

function codesOf(r: Resource): string {
  const c = (r as { code?: { coding?: Array<{ code?: string; display?: string }> }; medicationCodeableConcept?: { coding?: Array<{ code?: string; display?: string }> } });
  const coding = (c.code ?? c.medicationCodeableConcept)?.coding?.[0];
  return coding ? `${coding.code} ${coding.display ?? ''}`.trim() : '(via reference)';
}

export function evalSynthea(dir: string, vs: ValueSets): LabelCounts {
  const counts: LabelCounts = { resources: 0, direct: zero(), propagated: zero(), examples: [] };
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    const bundle = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Bundle;
    const labelled = propagateBundleLabels(bundle, vs);
    for (const e of labelled.entry ?? []) {
      const r = e.resource as Resource;
      counts.resources++;
      const direct = labelsForResource(r, vs);
      for (const l of direct) counts.direct[l]++;
      for (const l of declaredLabels(r)) {
        if (!direct.includes(l)) counts.propagated[l]++;
        counts.examples.push(`${f.split('_')[0]} ${r.resourceType} ${l}${direct.includes(l) ? '' : ' (propagated)'}: ${codesOf(r)}`);
      }
    }
  }
  return counts;
}

/**
 * C-CDA samples as the upload pipeline stores them: converted (`ingestCcda`) and labelled with propagation, so a
 * document counts by the labels of its DocumentReference (its own, and its original's in the Binary it points at).
 * Documents the pipeline refuses are counted apart; `resources` counts every labelled resource stored from them.
 */
export function evalCcda(dir: string, vs: ValueSets): { documents: number; refused: number; byLabel: Record<SensitivityLabel, number>; resources: Record<string, number>; examples: string[] } {
  const out = { documents: 0, refused: 0, byLabel: zero(), resources: {} as Record<string, number>, examples: [] as string[] };
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.toLowerCase().endsWith('.xml') ? [join(d, e.name)] : []));
  for (const file of walk(dir).sort()) {
    out.documents++;
    const converted = ingestCcda(readFileSync(file), { now: '2026-01-15T12:00:00Z' });
    if (!converted.ok) {
      out.refused++;
      continue;
    }
    const stored = (propagateBundleLabels(converted.bundle, vs).entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
    const labelled = stored.filter((r) => declaredLabels(r).length > 0);
    for (const r of labelled) out.resources[r.resourceType] = (out.resources[r.resourceType] ?? 0) + 1;
    const doc = stored.find((r) => r.resourceType === 'DocumentReference');
    const labels = doc ? declaredLabels(doc) : [];
    for (const l of labels) out.byLabel[l]++;
    if (labelled.length) out.examples.push(`${file.slice(dir.length + 1)}: document ${labels.join(', ') || 'unlabelled'}; labelled ${labelled.map((r) => `${r.resourceType} ${declaredLabels(r).join('+')}: ${codesOf(r)}`).join('; ')}`);
  }
  return out;
}

/** FHIR spec examples: each file's labels (bundles labelled entry by entry, with propagation). */
export function evalFhirExamples(dir: string, vs: ValueSets): { files: number; byLabel: Record<SensitivityLabel, number>; examples: string[] } {
  const out = { files: 0, byLabel: zero(), examples: [] as string[] };
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.json') ? [join(d, e.name)] : []));
  for (const file of walk(dir).sort()) {
    out.files++;
    const r = JSON.parse(readFileSync(file, 'utf8').replace(/^\uFEFF/, '')) as Resource;
    const resources = r.resourceType === 'Bundle' ? (propagateBundleLabels(r, vs).entry ?? []).flatMap((e) => (e.resource ? [e.resource] : [])) : [r];
    const labels = [...new Set(resources.flatMap((x) => [...ownLabels(x, vs), ...declaredLabels(x)]))];
    for (const l of labels) out.byLabel[l]++;
    if (labels.length) out.examples.push(`${file.slice(dir.length + 1)}: ${labels.join(', ')}`);
  }
  return out;
}

function main(): void {
  const vs = loadValueSets();
  console.log(`value sets ${vs.version}`);
  const synthea = join(corpora, 'synthea-r4/bundles');
  if (existsSync(synthea)) {
    const s = evalSynthea(synthea, vs);
    console.log(`Synthea: ${s.resources} resources; direct ${JSON.stringify(s.direct)}; propagated only ${JSON.stringify(s.propagated)}`);
    for (const e of s.examples) console.log('  ' + e);
  } else console.warn(`corpus ${synthea} absent: skipping`);
  const examples = join(corpora, 'fhir-r4-examples');
  if (existsSync(examples)) {
    const x = evalFhirExamples(examples, vs);
    console.log(`FHIR R4 examples: ${x.files} files; with label ${JSON.stringify(x.byLabel)}`);
    for (const e of x.examples) console.log('  ' + e);
  } else console.warn(`corpus ${examples} absent: skipping`);
  const ccda = join(corpora, 'ccda');
  if (existsSync(ccda)) {
    const c = evalCcda(ccda, vs);
    console.log(`C-CDA: ${c.documents} documents (${c.refused} refused by the pipeline); documents with label ${JSON.stringify(c.byLabel)}; labelled resources ${JSON.stringify(c.resources)}`);
    for (const e of c.examples) console.log('  ' + e);
  } else console.warn(`corpus ${ccda} absent: skipping`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) main();
