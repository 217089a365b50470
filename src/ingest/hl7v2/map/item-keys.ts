import type { Identifier } from '@medplum/fhirtypes';

/**
 * Makes the keys of one message's items unique while leaving unrepeated keys as they are: a key that repeats gets
 * the item's set ID (`tag`), and, when that still repeats (set IDs missing or reused), its occurrence number. Both are
 * stable for a resend of the same message, so a correction finds the item it corrects.
 */
export function uniqueKeys(keys: string[], tag: (i: number) => string): string[] {
  const tagged = appendWhereRepeated(keys, (i) => tag(i));
  const occurrence = new Map<string, number>();
  return appendWhereRepeated(tagged, (i) => {
    const n = (occurrence.get(tagged[i]) ?? 0) + 1;
    occurrence.set(tagged[i], n);
    return `#${n}`;
  });
}

function appendWhereRepeated(keys: string[], suffix: (i: number) => string): string[] {
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  return keys.map((k, i) => (counts.get(k)! > 1 ? `${k}|${suffix(i)}` : k));
}

/** `uniqueKeys` for items under order numbers (`anchors`): an item repeats only under the same number. */
export function uniqueItems(anchors: (Identifier | undefined)[], items: string[], tag: (i: number) => string): string[] {
  const scoped = items.map((item, i) => `${anchors[i]?.system}|${anchors[i]?.value}|${item}`);
  return uniqueKeys(scoped, tag).map((k, i) => items[i] + k.slice(scoped[i].length));
}

/** A derived item key under an order number: `<system>:<kind>` | `<value>|<item>`. */
export function itemIdentifier(anchor: Identifier | undefined, kind: string, item: string): Identifier | undefined {
  return anchor?.system && anchor.value ? { system: `${anchor.system}:${kind}`, value: `${anchor.value}|${item}` } : undefined;
}
