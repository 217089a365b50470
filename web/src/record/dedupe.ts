/** Groups the same clinical fact reported by several sources (same code, same day) so it is shown once. */
import type { Resource } from '@medplum/fhirtypes';
import { clinicalDate, sourceKey, sourceName } from './source.ts';
import { dayOf } from './display.ts';

export interface Grouped<T extends Resource> {
  /** The item shown (the first one seen, i.e. newest when the input is sorted). */
  primary: T;
  /** Every resource in the group, primary included. */
  items: T[];
  /** Distinct source organization names, in order of appearance. */
  sources: string[];
}

/** `keyOf` names the clinical fact (e.g. code); the day of the clinical date is added to it. */
export function groupDuplicates<T extends Resource>(resources: T[], keyOf: (r: T) => string): Grouped<T>[] {
  const groups = new Map<string, Grouped<T>>();
  const out: Grouped<T>[] = [];
  resources.forEach((r, i) => {
    const day = dayOf(clinicalDate(r));
    // Undated items are never merged: without a date we cannot tell two reports are the same event.
    const key = day ? `${r.resourceType}§${keyOf(r)}§${day}` : `${r.resourceType}§${r.id ?? i}§undated§${i}`;
    const existing = groups.get(key);
    if (!existing) {
      const g: Grouped<T> = { primary: r, items: [r], sources: [sourceName(r)] };
      groups.set(key, g);
      out.push(g);
      return;
    }
    existing.items.push(r);
    const name = sourceName(r);
    const seenKey = existing.items.slice(0, -1).some((x) => sourceKey(x) === sourceKey(r));
    if (!seenKey && !existing.sources.includes(name)) existing.sources.push(name);
  });
  return out;
}
