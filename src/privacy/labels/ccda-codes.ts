import { labelsForCode } from './classifier.ts';
import { SENSITIVITY_LABELS, type SensitivityLabel, type ValueSets } from './value-set-types.ts';

/** Any element carrying `code` and `codeSystem` attributes (code, value xsi:type CD, translation, …). */
const CODED_ELEMENT = /<(?:[A-Za-z_][\w.-]*:)?[A-Za-z_][\w.-]*\s[^<>]*?\bcode\s*=\s*"([^"]+)"[^<>]*>/g;
const ATTR = (name: string) => new RegExp(`\\b${name}\\s*=\\s*"([^"]*)"`);
const CODE_SYSTEM = ATTR('codeSystem');
const DISPLAY = ATTR('displayName');

function decodeEntities(s: string): string {
  return s.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/**
 * Labels implied by every coded element in a fragment of C-CDA (or any HL7 v3) XML. C-CDA names code
 * systems by OID, which codes.ts maps to the FHIR URIs of the value sets.
 */
export function labelsForCdaXml(xml: string, vs: ValueSets): SensitivityLabel[] {
  const found = new Set<SensitivityLabel>();
  for (const m of xml.matchAll(CODED_ELEMENT)) {
    const tag = m[0];
    const system = CODE_SYSTEM.exec(tag)?.[1];
    if (!system) continue;
    const display = DISPLAY.exec(tag)?.[1];
    const labels = labelsForCode(vs, system, decodeEntities(m[1]), display ? decodeEntities(display) : undefined);
    for (const l of labels) found.add(l);
  }
  return SENSITIVITY_LABELS.filter((l) => found.has(l));
}
