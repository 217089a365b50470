/** "Downeast Medical Center · 2024-03-02" under every clinical item; names every source when several sent it. */
import type { Resource } from '@medplum/fhirtypes';
import type { Grouped } from '../record/dedupe.ts';
import { clinicalDate } from '../record/source.ts';
import { dateText } from '../record/display.ts';

export function SourceLine<T extends Resource>({ group }: { group: Grouped<T> }) {
  const many = group.sources.length > 1;
  return (
    <span className="source">
      <span>{dateText(clinicalDate(group.primary))}</span>
      {' · '}
      <span>{group.sources.join(', ')}</span>
      {many && <span className="badge">reported by {group.sources.length} sources</span>}
    </span>
  );
}
