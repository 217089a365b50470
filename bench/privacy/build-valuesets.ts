/**
 * Regenerates src/privacy/labels/valuesets/*.json from ../shared/corpora/valuesets.
 * Deterministic: same corpus → byte-identical files (fixed date, sorted codes, content-hash version).
 *   node bin/run-ts.mjs bench/privacy/build-valuesets.ts   (or: npx tsx bench/privacy/build-valuesets.ts)
 */
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeKey, normalizeSystem } from '../../src/privacy/labels/codes.ts';
import {
  SYSTEMS,
  type CodeRangeRule,
  type NameRule,
  type SensitivityLabel,
  type ValueSetCode,
  type ValueSetFile,
  type ValueSetSource,
} from '../../src/privacy/labels/value-set-types.ts';
import { listFiles, readC2s, readEcqmIndex, readEcqmSet, readFsh, readObhita, type RawRow } from './corpus-readers.ts';
import {
  ARV_NAMES, ETH_EXCLUDE, ETH_RXNORM_ALLOW, ETH_RXNORM_DENY, EXCLUDED_ECQM, HIV_EXCLUDE, HIV_LOINC, HIV_LOINC_SOURCE_ID, PSY_EXCLUDE, RANGES, RELEASE, RELEASE_DATE,
} from './valueset-policy.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = resolve(here, '../..');
const corpus = resolve(repoRoot, '../shared/corpora/valuesets');
const outDir = join(repoRoot, 'src/privacy/labels/valuesets');

const FILES: Record<SensitivityLabel, { name: string; title: string }> = {
  PSY: { name: 'mental-health', title: 'Mental health information (v3 ActCode PSY)' },
  HIV: { name: 'hiv', title: 'HIV/AIDS information (v3 ActCode HIV)' },
  ETH: { name: 'substance-use', title: 'Substance use disorder information, 42 CFR Part 2 (v3 ActCode ETH)' },
};

const KEPT_SYSTEMS = new Set<string>(Object.values(SYSTEMS));

function fixedSources(): Record<string, Omit<ValueSetSource, 'codes'>> {
  return {
    c2s: {
      repository: 'https://github.com/bhits/vss', commit: 'ae873ddb53ccc32289672642ae981418a95ae44e',
      path: 'vss-db-sample/vss_db_sample.sql (C2S VSAC OIDs 2.16.840.1.113762.1.4.1142.*)',
      version: 'C2S VSAC 2017-10 (SNOMED CT 2017-03, ICD-10-CM 2018, LOINC 2.61, RxNorm 2017-09, CPT/HCPCS 2017)',
      license: 'Apache-2.0 (codes under their own terminology licences)',
    },
    obhita: {
      repository: 'https://github.com/obhita/consent2share', commit: '1137e341e3a28a2c253306f5d52ef9fa3aac5cc9',
      path: 'DS4P/access-control-service/document-segmentation-service/src/test/resources/MockValueSetData.csv',
      version: '2015-09-18', license: 'BSD-3-Clause (OBHITA)',
      note: 'test fixture of the original SAMHSA DS4P code base; ICD-10 rows read as ICD-10-CM',
    },
    arv: {
      repository: 'https://github.com/HL7/case-reporting', commit: '5d6ca69a097ae88918f9629752fddaa85d83bfb9',
      path: 'input/fsh/instances/2.16.840.1.113762.1.4.1146.1600-1603.fsh', version: 'RxNorm 2022-01',
      license: 'none stated in repository (HL7 IG content, usually CC0)',
    },
    [HIV_LOINC_SOURCE_ID]: {
      repository: 'Katahdin', commit: '-', path: 'bench/privacy/valueset-policy.ts (HIV_LOINC)', version: RELEASE,
      license: 'Apache-2.0 (LOINC codes under the LOINC licence)',
      note: 'common HIV laboratory tests not in the published sets (viral loads, Ag/Ab screens, confirmations)',
    },
    shift: {
      repository: 'https://github.com/SHIFT-Task-Force/SLS-ValueSets', commit: 'ede520879f1ca516f53f85705dbeb626eb582842',
      path: 'input/fsh/valuesets/SensitiveKindCodes.fsh, LeapSensitiveKindCodes.fsh', version: '0.1.0 (2026-04-21)',
      license: 'CC-BY-4.0',
    },
  };
}

function collectRows(): { rows: RawRow[]; ecqm: Map<string, Omit<ValueSetSource, 'codes'>> } {
  const rows: RawRow[] = [
    ...readC2s(join(corpus, 'samhsa-c2s-vss')),
    ...readObhita(join(corpus, 'obhita-consent2share')),
  ];
  const arvDir = join(corpus, 'hl7-case-reporting-hiv-arv');
  for (const f of listFiles(arvDir, '.fsh')) rows.push(...readFsh(join(arvDir, f), 'arv', 'HIV'));
  const shiftDir = join(corpus, 'shift-sls-valuesets');
  for (const f of ['SensitiveKindCodes.fsh', 'LeapSensitiveKindCodes.fsh']) rows.push(...readFsh(join(shiftDir, f), 'shift'));
  const ecqm = new Map<string, Omit<ValueSetSource, 'codes'>>();
  const ecqmDir = join(corpus, 'cqframework-ecqm-vsac');
  for (const set of readEcqmIndex(ecqmDir)) {
    if (!['PSY', 'HIV', 'ETH'].includes(set.label) || EXCLUDED_ECQM.has(set.oid)) continue;
    rows.push(...readEcqmSet(ecqmDir, set, set.label as SensitivityLabel));
    ecqm.set(set.oid, {
      repository: 'https://github.com/cqframework/ecqm-content-qicore-2025', commit: set.commit,
      path: `input/vocabulary/valueset/external/${set.file}`, version: `VSAC ${set.version}`,
      license: 'CC0-1.0 (codes under their own terminology licences)', note: `${set.title} (${set.oid})`,
    });
  }
  return { rows, ecqm };
}

function inRange(r: CodeRangeRule, system: string, code: string): boolean {
  if (r.system !== system) return false;
  const head = code.replace(/\./g, '').toUpperCase().slice(0, r.from.length);
  return head >= r.from && head <= r.to;
}

/** Applies Katahdin's policy choices (see valueset-policy.ts) to decide a row's final label. */
function finalLabel(row: RawRow, system: string): SensitivityLabel | undefined {
  const text = row.display ?? '';
  if (system === SYSTEMS.icd10cm) {
    const hit = RANGES.find((r) => inRange(r, system, row.code));
    if (/^F17/i.test(row.code) || /^Z72\.?0|^Z87\.?891|^O99\.?33/i.test(row.code)) return undefined;
    if (hit && (hit.label === 'ETH' || row.label === 'PSY')) return hit.label;
  }
  if (row.label === 'ETH' && ETH_EXCLUDE.test(text)) return undefined;
  if (row.label === 'ETH' && system === SYSTEMS.rxnorm && (!ETH_RXNORM_ALLOW.test(text) || ETH_RXNORM_DENY.test(text))) return undefined;
  if (row.label === 'PSY' && system === SYSTEMS.rxnorm && PSY_EXCLUDE.test(text)) return undefined;
  if (row.label === 'HIV' && system === SYSTEMS.rxnorm && HIV_EXCLUDE.test(text)) return undefined;
  return row.label;
}

type Entry = ValueSetCode & { sources: Set<string> };
type SourceMeta = Omit<ValueSetSource, 'codes'>;

/** Final label per row, deduplicated per label by normalized code, remembering every source. */
function groupRows(rows: RawRow[]): Map<SensitivityLabel, Map<string, Entry>> {
  const byLabel = new Map<SensitivityLabel, Map<string, Entry>>();
  for (const row of rows) {
    const system = normalizeSystem(row.system);
    const label = KEPT_SYSTEMS.has(system) ? finalLabel(row, system) : undefined;
    if (!label) continue;
    const m = byLabel.get(label) ?? new Map<string, Entry>();
    byLabel.set(label, m);
    const key = codeKey(system, row.code);
    const entry = m.get(key) ?? { system, code: row.code.trim(), display: row.display?.trim() || undefined, sources: new Set() };
    entry.sources.add(row.source);
    m.set(key, entry);
  }
  // SUD codes are ETH, not PSY (42 CFR Part 2 is the stricter rule); drop them from PSY.
  for (const key of byLabel.get('ETH')?.keys() ?? []) byLabel.get('PSY')?.delete(key);
  return byLabel;
}

function toFile(label: SensitivityLabel, entries: Entry[], meta: (id: string) => SourceMeta): ValueSetFile {
  entries.sort((a, b) => (a.system === b.system ? (a.code < b.code ? -1 : 1) : a.system < b.system ? -1 : 1));
  const counts = new Map<string, number>();
  for (const e of entries) for (const s of e.sources) counts.set(s, (counts.get(s) ?? 0) + 1);
  const sources: ValueSetSource[] = [...counts.entries()]
    .map(([id, n]) => ({ ...meta(id), codes: n }))
    .sort((a, b) => (a.path < b.path ? -1 : 1));
  const ranges = RANGES.filter((r) => r.label === label).map(({ label: _l, ...r }) => r);
  const names: NameRule | undefined = label === 'HIV' ? ARV_NAMES : undefined;
  const codes = entries.map(({ system, code, display }) => (display ? { system, code, display } : { system, code }));
  const hash = createHash('sha256').update(JSON.stringify({ ranges, names, codes })).digest('hex').slice(0, 12);
  return { label, ...FILES[label], version: `${RELEASE}+${hash}`, date: RELEASE_DATE, sources, ranges, ...(names ? { names } : {}), codes };
}

function buildFiles(): ValueSetFile[] {
  const { rows, ecqm } = collectRows();
  const fixed = fixedSources();
  const meta = (id: string): SourceMeta => {
    const m = fixed[id] ?? ecqm.get(id);
    if (!m) throw new Error(`unknown source ${id}`);
    return m;
  };
  const curated = HIV_LOINC.map(([code, display]): RawRow => ({ label: 'HIV', system: SYSTEMS.loinc, code, display, source: HIV_LOINC_SOURCE_ID }));
  const byLabel = groupRows([...rows, ...curated]);
  return (['PSY', 'HIV', 'ETH'] as const).map((label) => toFile(label, [...(byLabel.get(label)?.values() ?? [])], meta));
}

/** Compact JSON with one code per line, so diffs of a value-set update stay readable. */
export function serialize(file: ValueSetFile): string {
  const { codes, ...head } = file;
  const headJson = JSON.stringify(head, null, 1);
  const body = codes.map((c) => ' ' + JSON.stringify(c)).join(',\n');
  return `${headJson.slice(0, -2)},\n"codes":[\n${body}\n]}\n`;
}

function main(): void {
  if (!existsSync(corpus)) {
    console.error(`value-set corpus absent at ${corpus}`);
    process.exit(1);
  }
  for (const file of buildFiles()) {
    const path = join(outDir, `${file.name}.json`);
    writeFileSync(path, serialize(file));
    console.log(`${file.label} ${file.name}.json: ${file.codes.length} codes, ${file.ranges.length} ranges, version ${file.version}`);
  }
}

main();
