/**
 * Readers for the value-set corpora in ../shared/corpora/valuesets (see each folder's SOURCE.md).
 * Each returns raw rows tagged with the label we map them to; filtering happens in build-valuesets.ts.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SYSTEMS, type SensitivityLabel, type ValueSetCode } from '../../src/privacy/labels/value-set-types.ts';

export interface RawRow extends ValueSetCode {
  label: SensitivityLabel;
  /** Which source entry (see SOURCE_META keys or an eCQM OID) the row came from. */
  source: string;
}

const C2S_SYSTEMS: Record<string, string> = {
  SNOMEDCT: SYSTEMS.snomed,
  ICD10CM: SYSTEMS.icd10cm,
  LOINC: SYSTEMS.loinc,
  RXNORM: SYSTEMS.rxnorm,
  CPT: SYSTEMS.cpt,
  HCPCS: SYSTEMS.hcpcs,
};

/** Minimal RFC 4180 parser (quoted fields with commas). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line) continue;
    const cells: string[] = [];
    let cur = '';
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i];
      if (quoted && ch === '"' && line[i + 1] === '"') { cur += '"'; i++; }
      else if (ch === '"') quoted = !quoted;
      else if (ch === ',' && !quoted) { cells.push(cur); cur = ''; }
      else cur += ch;
    }
    cells.push(cur);
    rows.push(cells);
  }
  return rows;
}

/**
 * C2S VSAC OIDs 2.16.840.1.113762.1.4.1142.N → label, following the SHIFT SAMHSA.fsh mapping
 * quoted in samhsa-c2s-vss/SOURCE.md (HIV checked first: its range sits inside ETH's).
 * Tobacco (.51–.54) and sexual health (.49, .50) are not Katahdin categories.
 */
export function c2sLabel(oid: string): SensitivityLabel | undefined {
  const n = Number(oid.split('.').pop());
  if ([23, 24, 25, 26, 27, 60, 67].includes(n)) return 'HIV';
  if (n >= 32 && n <= 36) return 'PSY';
  if ((n >= 1 && n <= 30) || (n >= 38 && n <= 48) || [55, 56, 57, 59, 65].includes(n)) return 'ETH';
  return undefined;
}

export function readC2s(dir: string): RawRow[] {
  const rows = parseCsv(readFileSync(join(dir, 'c2s_vsac_2017_codes_flat.csv'), 'utf8')).slice(1);
  const out: RawRow[] = [];
  for (const [, , , oid, cs, , code, display] of rows) {
    const label = c2sLabel(oid);
    const system = C2S_SYSTEMS[cs];
    if (label && system) out.push({ label, system, code, display, source: 'c2s' });
  }
  return out;
}

const OBHITA_CATEGORY: Record<string, SensitivityLabel> = {
  'Drug Abuse': 'ETH',
  'Alcohol Abuse': 'ETH',
  'Psychiatric Information': 'PSY',
  HIV: 'HIV',
};
const OBHITA_SYSTEMS: Record<string, string> = {
  'ICD-10': SYSTEMS.icd10cm,
  LOINC: SYSTEMS.loinc,
  RxCUI: SYSTEMS.rxnorm,
  'SNOMED-CT': SYSTEMS.snomed,
};
const OBHITA_LINE =
  /^ConceptCode:(.*?),ConceptCodeName:(.*),CodeSystemName:(.*?),ValueSet:(.*?),ValueSetCategory:(.*?),CodeSystem:(.*)$/;

export function readObhita(dir: string): RawRow[] {
  const out: RawRow[] = [];
  for (const line of readFileSync(join(dir, 'MockValueSetData.csv'), 'utf8').split(/\r?\n/)) {
    const m = OBHITA_LINE.exec(line.trim());
    if (!m) continue;
    const label = OBHITA_CATEGORY[m[5]];
    const system = OBHITA_SYSTEMS[m[3]];
    if (label && system) out.push({ label, system, code: m[1], display: m[2], source: 'obhita' });
  }
  return out;
}

export interface EcqmSet {
  file: string;
  oid: string;
  title: string;
  version: string;
  label: string;
  commit: string;
}

interface FhirValueSetJson {
  expansion?: { contains?: Array<{ system: string; code: string; display?: string }> };
}

export function readEcqmIndex(dir: string): EcqmSet[] {
  return parseCsv(readFileSync(join(dir, 'INDEX.csv'), 'utf8'))
    .slice(1)
    .map(([file, oid, title, version, label, , , commit]) => ({ file, oid, title, version, label, commit }));
}

export function readEcqmSet(dir: string, set: EcqmSet, label: SensitivityLabel): RawRow[] {
  const vs = JSON.parse(readFileSync(join(dir, set.file), 'utf8')) as FhirValueSetJson;
  return (vs.expansion?.contains ?? []).map((c) => ({
    label,
    system: c.system,
    code: c.code,
    display: c.display,
    source: set.oid,
  }));
}

const FSH_LABELS: Record<string, SensitivityLabel> = {
  SUD: 'ETH', OPIOIDUD: 'ETH', '42CFRPart2': 'ETH', ETH: 'ETH', ETHUD: 'ETH',
  HIV: 'HIV', BH: 'PSY', PSY: 'PSY', PSYTHPN: 'PSY', MH: 'PSY',
};

/** Resolve the label of one FSH ValueSet instance; substance-use tags win over BH. */
function fshInstanceLabel(tags: string[]): SensitivityLabel | undefined {
  const labels = tags.map((t) => FSH_LABELS[t]).filter((l): l is SensitivityLabel => !!l);
  return labels.find((l) => l === 'ETH') ?? labels.find((l) => l === 'HIV') ?? labels[0];
}

/**
 * Reads `compose.include[..].concept[..]` lines of FSH ValueSet instances. The label is taken from
 * `useContext … v3-ActCode#X` or, when absent, from `fixedLabel`.
 */
export function readFsh(path: string, source: string, fixedLabel?: SensitivityLabel): RawRow[] {
  const out: RawRow[] = [];
  let block: { tags: string[]; codes: ValueSetCode[] } = { tags: [], codes: [] };
  let system = '';
  const flush = () => {
    const label = fixedLabel ?? fshInstanceLabel(block.tags);
    if (label) for (const c of block.codes) out.push({ ...c, label, source });
    block = { tags: [], codes: [] };
  };
  for (const raw of readFileSync(path, 'utf8').split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('Instance:')) flush();
    const tag = /valueCodeableConcept = .*v3-ActCode#(\S+)/.exec(line);
    if (tag) block.tags.push(tag[1]);
    const sys = /^\* compose\.include(?:\[[+=]\])?\.system = "([^"]+)"/.exec(line);
    if (sys) system = sys[1];
    const concept = /^\* compose\.include(?:\[[+=]\])?\.concept\[[+=0-9]+\]\.code = #(\S+)(?:\s*\/\/\s*"([^"]*)")?/.exec(line);
    if (concept) block.codes.push({ system, code: concept[1], display: concept[2] });
    const display = /^\* compose\.include(?:\[[+=]\])?\.concept\[=\]\.display = "([^"]*)"/.exec(line);
    const last = block.codes[block.codes.length - 1];
    if (display && last) last.display = display[1];
  }
  flush();
  return out;
}

export function listFiles(dir: string, suffix: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith(suffix)).sort();
}
