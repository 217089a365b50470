import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { parseHl7 } from '../parse.ts';
import { mapMessage, type MapResult } from './index.ts';

export const NOW = new Date('2026-02-01T10:00:00Z');

/** Parses and maps ER7 written with `\n` between segments (test fixtures). */
export function mapEr7(lines: string[]): MapResult {
  const parsed = parseHl7(lines.join('\n'));
  if (!parsed.ok) throw new Error(`fixture does not parse: ${parsed.error.reason}`);
  return mapMessage(parsed.message, { now: NOW });
}

export function bundleOf(r: MapResult): Bundle {
  if (r.kind === 'rejected') throw new Error(`rejected: ${r.error.code} ${r.error.reason}`);
  return r.bundle;
}

export function entriesOf<T extends Resource>(b: Bundle, type: T['resourceType']): (BundleEntry & { resource: T })[] {
  return (b.entry ?? []).filter((e): e is BundleEntry & { resource: T } => e.resource?.resourceType === type);
}

export function one<T extends Resource>(b: Bundle, type: T['resourceType']): T {
  const found = entriesOf<T>(b, type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0].resource;
}

/** Builds a segment from field number → value, so fixtures don't depend on counting pipes. */
export function seg(name: string, fields: Record<number, string>): string {
  const last = Math.max(0, ...Object.keys(fields).map(Number));
  return [name, ...Array.from({ length: last }, (_, i) => fields[i + 1] ?? '')].join('|');
}
