/** Turning FHIR datatypes into short readable text. Pure functions. */
import type { Address, CodeableConcept, Coding, HumanName, Identifier, Patient, Quantity, Range } from '@medplum/fhirtypes';

export function codingText(c: Coding | undefined): string | undefined {
  return c?.display ?? c?.code;
}

export function conceptText(cc: CodeableConcept | undefined): string {
  return cc?.text ?? cc?.coding?.map(codingText).find(Boolean) ?? 'Unnamed';
}

/** "system|code" of the first coding, used to recognise the same thing across sources. */
export function conceptKey(cc: CodeableConcept | undefined): string {
  const c = cc?.coding?.find((x) => x.code);
  return c ? `${c.system ?? ''}|${c.code}` : `text|${(cc?.text ?? '').trim().toLowerCase()}`;
}

export function nameText(names: HumanName[] | undefined): string {
  const n = names?.find((x) => x.use === 'official') ?? names?.[0];
  if (!n) return 'Unnamed';
  if (n.text) return n.text;
  return [...(n.given ?? []), n.family].filter(Boolean).join(' ') || 'Unnamed';
}

export function addressText(a: Address | undefined): string {
  if (!a) return '';
  return [a.line?.join(' '), a.city, a.state, a.postalCode].filter(Boolean).join(', ');
}

/** Up to 4 significant digits: senders often send float noise such as 168.54335908428789. */
export function numberText(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
}

export function quantityText(q: Quantity | undefined): string {
  if (q?.value === undefined) return '';
  return `${q.comparator ?? ''}${numberText(q.value)}${q.unit ?? q.code ? ` ${q.unit ?? q.code}` : ''}`;
}

export function rangeText(r: Range | undefined): string {
  if (!r) return '';
  const low = r.low?.value;
  const high = r.high?.value;
  if (low !== undefined && high !== undefined) return `${numberText(low)}–${numberText(high)}`;
  if (low !== undefined) return `≥ ${numberText(low)}`;
  if (high !== undefined) return `≤ ${numberText(high)}`;
  return '';
}

/** Formats a FHIR date/dateTime for display; keeps partial dates (year, year-month) as they are. */
export function dateText(value: string | undefined): string {
  if (!value) return 'Date unknown';
  if (/^\d{4}(-\d{2})?$/.test(value)) return value;
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return value;
  // The day and the time both in the reader's time zone (a UTC day beside a local time is a day off every evening).
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function dayOf(value: string | undefined): string {
  return value ? value.slice(0, 10) : '';
}

const GENDER: Record<string, string> = { male: 'Male', female: 'Female', other: 'Other', unknown: 'Unknown' };

export function genderText(g: string | undefined): string {
  return g ? (GENDER[g] ?? g) : 'Unknown';
}

export function identifierText(id: Identifier): string {
  const type = id.type?.coding?.[0]?.code ?? id.type?.text;
  // Social security numbers are shown masked, last four only.
  if (type === 'SS' || id.system === 'http://hl7.org/fhir/sid/us-ssn') return `SSN ***-**-${(id.value ?? '').slice(-4)}`;
  return `${type ?? 'ID'} ${id.value ?? ''}${id.assigner?.display ? ` (${id.assigner.display})` : ''}`;
}

export function mrnOf(p: Patient): string | undefined {
  return p.identifier?.find((i) => i.type?.coding?.some((c) => c.code === 'MR'))?.value ?? p.identifier?.[0]?.value;
}
