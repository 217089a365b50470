import type { Hl7Context, Hl7Field, Hl7Segment } from '@medplum/core';
import { unescapeHl7 } from './escape.ts';

/** Raw (still escaped) component string; safe for any index (Medplum's accessor throws past the last repetition). */
function rawComponent(field: Hl7Field | undefined, comp: number, rep: number): string {
  const reps = field?.components;
  if (!reps || rep >= reps.length) return '';
  return reps[rep][comp - 1] ?? '';
}

/** A field of a segment with MSH numbering handled (MSH-3 is fields[2]). */
export function fieldOf(seg: Hl7Segment, index: number): Hl7Field | undefined {
  if (index < 1) return undefined;
  return seg.name === 'MSH' ? (index <= 2 ? seg.getField(index) : seg.fields[index - 1]) : seg.fields[index];
}

/**
 * Decoded, trimmed value at SEG-field.component[.subcomponent] of one repetition.
 * The HL7 null `""` reads as empty.
 */
export function val(seg: Hl7Segment, field: number, comp = 1, sub?: number, rep = 0): string {
  let raw = rawComponent(fieldOf(seg, field), comp, rep);
  if (sub !== undefined) raw = raw.split(seg.context.subcomponentSeparator)[sub - 1] ?? '';
  else if (raw.includes(seg.context.subcomponentSeparator)) raw = raw.split(seg.context.subcomponentSeparator)[0];
  const text = unescapeHl7(raw, seg.context).trim();
  return text === '""' ? '' : text;
}

/** Number of repetitions present in a field (0 when empty). */
export function repCount(seg: Hl7Segment, field: number): number {
  const f = fieldOf(seg, field);
  if (!f) return 0;
  return f.components.filter((c) => c.some((x) => x !== '')).length === 0 ? 0 : f.components.length;
}

/** Accessor bound to one repetition, so datatype mappers read `c(1)`, `c(2, 1)` … */
export type Comp = (comp: number, sub?: number) => string;

export function repAt(seg: Hl7Segment, field: number, rep: number): Comp {
  return (comp, sub) => val(seg, field, comp, sub, rep);
}

/** Every non-empty repetition of a field as component accessors. */
export function reps(seg: Hl7Segment, field: number): Comp[] {
  const f = fieldOf(seg, field);
  if (!f) return [];
  const out: Comp[] = [];
  f.components.forEach((c, i) => {
    if (c.some((x) => x.trim() !== '' && x.trim() !== '""')) out.push(repAt(seg, field, i));
  });
  return out;
}

/** Whole field text with escapes decoded (for free text such as OBX-5 TX/FT), repetitions joined by newline. */
export function fieldText(seg: Hl7Segment, field: number, ctx: Hl7Context = seg.context): string {
  const f = fieldOf(seg, field);
  if (!f) return '';
  return f.components
    .map((c) => unescapeHl7(c.join(ctx.componentSeparator), ctx))
    .join('\n');
}
