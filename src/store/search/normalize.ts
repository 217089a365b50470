/** The form strings are indexed and searched in: lower-case, diacritics stripped, whitespace collapsed. */
export function normalizeText(text: string): string {
  return text
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();
}

/** Index values longer than this are cut (B-tree entries have a size limit; prefix search needs only the start). */
export const MAX_INDEXED_TEXT = 200;
