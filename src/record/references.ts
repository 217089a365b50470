/** Visits every `reference` string (and `url` holding a bundle-local urn:uuid) in a resource tree and replaces it with what `map` returns (or keeps it). */
export function rewriteReferences(value: unknown, map: (ref: string) => string | undefined): void {
  if (Array.isArray(value)) {
    for (const v of value) rewriteReferences(v, map);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const obj = value as Record<string, unknown>;
  for (const [key, v] of Object.entries(obj)) {
    // Attachment.url pointing at a bundle entry (urn:uuid) is a link too; the transaction rules rewrite it.
    if (typeof v === 'string' && (key === 'reference' || (key === 'url' && v.startsWith('urn:uuid:')))) {
      const next = map(v);
      if (next !== undefined) obj[key] = next;
    } else if (typeof v === 'object') {
      rewriteReferences(v, map);
    }
  }
}

/** Every `reference` string in a resource tree. */
export function collectReferences(value: unknown, out: string[] = []): string[] {
  rewriteReferences(value, (ref) => {
    out.push(ref);
    return undefined;
  });
  return out;
}
