/** A list of clinical items, duplicates grouped, each with its source organization and date. */
import type { ReactNode } from 'react';
import type { Resource } from '@medplum/fhirtypes';
import { groupDuplicates } from '../record/dedupe.ts';
import { SourceLine } from '../components/source-line.tsx';

interface ItemListProps<T extends Resource> {
  items: T[];
  keyOf: (r: T) => string;
  title: (r: T) => ReactNode;
  detail?: (r: T) => ReactNode;
  empty: string;
  limit?: number;
  label: string;
}

export function ItemList<T extends Resource>({ items, keyOf, title, detail, empty, limit, label }: ItemListProps<T>) {
  const groups = groupDuplicates(items, keyOf);
  const shown = limit ? groups.slice(0, limit) : groups;
  if (!shown.length) return <p className="muted">{empty}</p>;
  return (
    <ul className="items" aria-label={label}>
      {shown.map((g) => (
        <li key={`${g.primary.resourceType}/${g.primary.id ?? ''}/${g.sources.join()}`} className="item">
          <span className="item-title">{title(g.primary)}</span>
          {detail && <span className="item-detail">{detail(g.primary)}</span>}
          <SourceLine group={g} />
        </li>
      ))}
    </ul>
  );
}
