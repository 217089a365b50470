import type { Composition, CompositionSection } from '@medplum/fhirtypes';
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { labelsForCdaXml } from './labels/ccda-codes.ts';
import { applyLabels, declaredLabels, labelsForResource, labelsInJson } from './labels/classifier.ts';
import type { SensitivityLabel, ValueSets } from './labels/value-set-types.ts';

export type RedactionResult<T> =
  | { ok: true; document: T; removedSections: number }
  | { ok: false; reason: 'sensitive-header' | 'not-structured' | 'unparsable' | 'still-sensitive' };

export const REDACTED_TEXT = 'This section has been removed to protect sensitive information.';
const OBLIGATION_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ObligationCode';

const hits = (labels: SensitivityLabel[], hidden: SensitivityLabel[]) => labels.some((l) => hidden.includes(l));

interface SectionContext {
  vs: ValueSets;
  hidden: SensitivityLabel[];
  entryLabels: (reference: string) => SensitivityLabel[];
}

/** The section's own codes and entries, not its subsections. */
function ownSensitive(s: CompositionSection, c: SectionContext): boolean {
  const own = labelsInJson({ ...s, section: undefined }, c.vs);
  const fromEntries = (s.entry ?? []).flatMap((e) => (e.reference ? c.entryLabels(e.reference) : []));
  return hits(own, c.hidden) || hits(fromEntries, c.hidden);
}

/** Returns the section list with sensitive sections replaced, counting replacements in `removed`. */
function redactSections(list: CompositionSection[] | undefined, c: SectionContext, removed: { n: number }): CompositionSection[] | undefined {
  return list?.map((s) => {
    if (ownSensitive(s, c)) {
      removed.n++;
      return redactedSection(s);
    }
    return s.section ? { ...s, section: redactSections(s.section, c, removed) } : s;
  });
}

function redactedSection(s: CompositionSection): CompositionSection {
  return {
    title: 'Section removed',
    text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${REDACTED_TEXT}</div>` },
    emptyReason: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/list-empty-reason', code: 'withheld' }] },
    ...(s.id ? { id: s.id } : {}),
  };
}

/**
 * Removes every section (at any depth) whose codes or entries carry a hidden label, replacing it
 * with a section marked withheld, and marks the document REDACT. Fails when the document's own
 * codes (type, category, event) are sensitive: then the caller withholds the document whole.
 * `entryLabels` gives the labels of a referenced entry resource (the gate has them).
 */
export function redactComposition(
  comp: Composition,
  hidden: SensitivityLabel[],
  vs: ValueSets,
  entryLabels: (reference: string) => SensitivityLabel[],
): RedactionResult<Composition> {
  const { section, ...header } = comp;
  if (hits(labelsForResource(header as Composition, vs), hidden)) return { ok: false, reason: 'sensitive-header' };
  const removed = { n: 0 };
  const redacted = redactSections(section, { vs, hidden, entryLabels }, removed);
  const labels = declaredLabels(comp).filter((l) => !hidden.includes(l));
  const marked = applyLabels({ ...comp, ...(redacted ? { section: redacted } : {}) }, labels);
  const security = [...(marked.meta?.security ?? []), { system: OBLIGATION_SYSTEM, code: 'REDACT' }];
  const document = { ...marked, meta: { ...marked.meta, security } };
  if (hits(labelsForResource(document, vs), hidden)) return { ok: false, reason: 'still-sensitive' };
  return { ok: true, document, removedSections: removed.n };
}

const XML_OPTIONS = {
  ignoreAttributes: false, preserveOrder: true, attributeNamePrefix: '@_', commentPropName: '#comment',
  cdataPropName: '#cdata', processEntities: false, trimValues: false, parseTagValue: false,
  parseAttributeValue: false, suppressEmptyNode: true,
} as const;

type XmlNode = Record<string, unknown> & { ':@'?: Record<string, string> };

const nameOf = (n: XmlNode): string => Object.keys(n).find((k) => k !== ':@') ?? '';
const childrenOf = (n: XmlNode): XmlNode[] => (Array.isArray(n[nameOf(n)]) ? (n[nameOf(n)] as XmlNode[]) : []);
const localName = (n: XmlNode): string => nameOf(n).replace(/^.*:/, '');

function maskedCdaSection(section: XmlNode, prefix: string): XmlNode {
  const keep = childrenOf(section).filter((c) => ['templateId', 'id', 'code'].includes(localName(c)));
  const text = (tag: string, value: string): XmlNode => ({ [`${prefix}${tag}`]: [{ '#text': value }] });
  return {
    [nameOf(section)]: [...keep, text('title', 'Section removed'), text('text', REDACTED_TEXT)],
    ':@': { ...(section[':@'] ?? {}), '@_nullFlavor': 'MSK' },
  };
}

/** Visits structuredBody/component/section elements, replacing sensitive ones (top-level sections). */
function redactCdaBody(nodes: XmlNode[], c: { build: (n: XmlNode[]) => string; vs: ValueSets; hidden: SensitivityLabel[] }): number {
  let removed = 0;
  for (const node of nodes) {
    if (localName(node) === 'component') {
      const kids = childrenOf(node);
      kids.forEach((kid, i) => {
        if (localName(kid) !== 'section') return;
        if (!hits(labelsForCdaXml(c.build([kid]), c.vs), c.hidden)) return;
        kids[i] = maskedCdaSection(kid, nameOf(kid).includes(':') ? nameOf(kid).replace(/[^:]+$/, '') : '');
        removed++;
      });
    } else {
      removed += redactCdaBody(childrenOf(node), c);
    }
  }
  return removed;
}

/** Same for a C-CDA XML document: sections masked with nullFlavor="MSK"; header codes must be clean. */
export function redactCdaXml(xml: string, hidden: SensitivityLabel[], vs: ValueSets): RedactionResult<string> {
  let tree: XmlNode[];
  try {
    tree = new XMLParser(XML_OPTIONS).parse(xml) as XmlNode[];
  } catch {
    return { ok: false, reason: 'unparsable' };
  }
  const builder = new XMLBuilder(XML_OPTIONS);
  const build = (n: XmlNode[]) => builder.build(n) as string;
  const doc = tree.find((n) => localName(n) === 'ClinicalDocument');
  const body = doc && childrenOf(doc).find((n) => localName(n) === 'component');
  const structured = body && childrenOf(body).find((n) => localName(n) === 'structuredBody');
  if (!doc || !structured) return { ok: false, reason: 'not-structured' };
  const headerOnly = childrenOf(doc).filter((n) => n !== body);
  if (hits(labelsForCdaXml(build(headerOnly), vs), hidden)) return { ok: false, reason: 'sensitive-header' };
  const removed = redactCdaBody(childrenOf(structured), { build, vs, hidden });
  const out = build(tree);
  if (hits(labelsForCdaXml(out, vs), hidden)) return { ok: false, reason: 'still-sensitive' };
  return { ok: true, document: out, removedSections: removed };
}

/** Redacts a FHIR Composition or a C-CDA string; `ok: false` means withhold the document whole. */
export function redactDocumentSections(
  doc: Composition | string,
  hidden: SensitivityLabel[],
  vs: ValueSets,
  entryLabels: (reference: string) => SensitivityLabel[] = () => [],
): RedactionResult<Composition> | RedactionResult<string> {
  return typeof doc === 'string' ? redactCdaXml(doc, hidden, vs) : redactComposition(doc, hidden, vs, entryLabels);
}
