// Attachment.url pointing at a bundle entry (urn:uuid) is a link too; the transaction rules rewrite it.
const isLink = (key: string, v: string): boolean => key === 'reference' || (key === 'url' && v.startsWith('urn:uuid:'));

/** Visits every `reference` string (and `url` holding a bundle-local urn:uuid) in a resource tree and replaces it with what `map` returns (or keeps it). */
export function rewriteReferences(value: unknown, map: (ref: string) => string | undefined): void {
  if (Array.isArray(value)) {
    for (const v of value) rewriteReferences(v, map);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const obj = value as Record<string, unknown>;
  for (const [key, v] of Object.entries(obj)) {
    if (typeof v === 'string' && isLink(key, v)) {
      const next = map(v);
      if (next !== undefined) obj[key] = next;
    } else if (typeof v === 'object') {
      rewriteReferences(v, map);
    }
  }
}

/**
 * What `rewriteReferences` would make of a deep copy of `value`, without copying or changing anything else: objects
 * on the way to a replaced string are copied, every other object is shared with `value`.
 */
export function withReferences<T>(value: T, map: (ref: string) => string | undefined): T {
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((v, i) => {
      const next = withReferences(v, map);
      if (next !== v) (out ??= [...value])[i] = next;
    });
    return (out ?? value) as T;
  }
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  for (const [key, v] of Object.entries(obj)) {
    let next: unknown = v;
    if (typeof v === 'string' && isLink(key, v)) next = map(v) ?? v;
    else if (typeof v === 'object') next = withReferences(v, map);
    if (next !== v) (out ??= { ...obj })[key] = next;
  }
  return (out ?? value) as T;
}

/** Every `reference` string in a resource tree. */
export function collectReferences(value: unknown, out: string[] = []): string[] {
  rewriteReferences(value, (ref) => {
    out.push(ref);
    return undefined;
  });
  return out;
}
