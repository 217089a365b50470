/** The sensitivity categories Katahdin withholds (HL7 v3 ActCode codes). */
export type SensitivityLabel = 'PSY' | 'HIV' | 'ETH';

export const SENSITIVITY_LABELS: readonly SensitivityLabel[] = ['PSY', 'HIV', 'ETH'];

export const ACT_CODE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

export const SYSTEMS = {
  icd10cm: 'http://hl7.org/fhir/sid/icd-10-cm',
  snomed: 'http://snomed.info/sct',
  loinc: 'http://loinc.org',
  rxnorm: 'http://www.nlm.nih.gov/research/umls/rxnorm',
  cpt: 'http://www.ama-assn.org/go/cpt',
  hcpcs: 'http://www.nlm.nih.gov/research/umls/hcpcs',
} as const;

export interface ValueSetCode {
  system: string;
  code: string;
  display?: string;
}

/**
 * A rule over code prefixes: a code matches when its first `from.length` characters
 * (after removing dots, upper-cased) sort between `from` and `to` inclusive.
 * Used for ICD-10-CM chapters and categories (F20–F99, B20, Z21).
 */
export interface CodeRangeRule {
  system: string;
  from: string;
  to: string;
  note: string;
}

/** Medication ingredient names, matched as words in drug displays/text (antiretrovirals). */
export interface NameRule {
  systems: string[];
  include: string[];
  exclude: string[];
  note: string;
}

export interface ValueSetSource {
  repository: string;
  commit: string;
  path: string;
  version: string;
  license: string;
  codes: number;
  note?: string;
}

/** One versioned file under labels/valuesets/. */
export interface ValueSetFile {
  label: SensitivityLabel;
  name: string;
  title: string;
  version: string;
  date: string;
  sources: ValueSetSource[];
  ranges: CodeRangeRule[];
  names?: NameRule;
  codes: ValueSetCode[];
}

/** The compiled, query-ready form of all files. */
export interface ValueSets {
  /** Combined version string; changes whenever any file's content changes. */
  version: string;
  files: ValueSetFile[];
  /** key `system|CODE` (normalized) → labels. */
  index: Map<string, SensitivityLabel[]>;
  ranges: Array<CodeRangeRule & { label: SensitivityLabel }>;
  names: Array<{ label: SensitivityLabel; systems: Set<string>; include: RegExp; exclude?: RegExp }>;
}
