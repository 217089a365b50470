import type { Bundle, BundleEntry, BundleLink, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';

export interface PageInfo {
  url: string;
  offset: number;
  count: number;
  total?: number;
  returned: number;
}

/** Paging links that stay stable: the same query with `_offset` moved by `_count`. */
export function pageLinks(base: string, params: Array<[string, string]>, page: PageInfo): BundleLink[] {
  const make = (offset: number) => {
    const q = new URLSearchParams(params.filter(([k]) => k !== '_offset' && k !== '_count'));
    q.set('_count', String(page.count));
    q.set('_offset', String(offset));
    return `${base}?${q.toString()}`;
  };
  const links: BundleLink[] = [{ relation: 'self', url: make(page.offset) }];
  // `_count=0` asks for the total alone: there is no next page of nothing.
  const more = page.count > 0 && (page.total !== undefined ? page.offset + page.count < page.total : page.returned >= page.count);
  if (more) links.push({ relation: 'next', url: make(page.offset + page.count) });
  if (page.offset > 0) links.push({ relation: 'previous', url: make(Math.max(0, page.offset - page.count)) });
  return links;
}

/** `warnings`: issues for the outcome entry; a string is an unsupported parameter's. */
export function searchBundle(fhirBase: string, matches: Resource[], included: Resource[], links: BundleLink[], total?: number, warnings: Array<string | OperationOutcomeIssue> = []): Bundle {
  const entry: BundleEntry[] = [
    ...matches.map((r) => ({ fullUrl: `${fhirBase}/${r.resourceType}/${r.id}`, resource: r, search: { mode: 'match' as const } })),
    ...included.map((r) => ({ fullUrl: `${fhirBase}/${r.resourceType}/${r.id}`, resource: r, search: { mode: 'include' as const } })),
  ];
  if (warnings.length > 0) {
    entry.push({
      resource: { resourceType: 'OperationOutcome', issue: warnings.map((w) => (typeof w === 'string' ? { severity: 'warning', code: 'not-supported', diagnostics: w } : w)) },
      search: { mode: 'outcome' },
    });
  }
  return { resourceType: 'Bundle', type: 'searchset', ...(total !== undefined ? { total } : {}), link: links, entry };
}
