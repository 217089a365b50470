/** Laboratory results as a table (newest first), duplicates grouped, each row with source and date. */
import type { Observation } from '@medplum/fhirtypes';
import { groupDuplicates } from '../record/dedupe.ts';
import { conceptKey, conceptText, dateText, quantityText, rangeText } from '../record/display.ts';
import { clinicalDate } from '../record/source.ts';
import { TableScroll } from '../components/table-scroll.tsx';

function valueOf(o: Observation): string {
  if (o.valueQuantity) return quantityText(o.valueQuantity);
  return o.valueString ?? (o.valueCodeableConcept ? conceptText(o.valueCodeableConcept) : '') ?? '';
}

function flagOf(o: Observation): string {
  const c = o.interpretation?.[0]?.coding?.[0];
  return c?.display ?? c?.code ?? '';
}

export function ResultsTable({ items, limit }: { items: Observation[]; limit?: number }) {
  const groups = groupDuplicates(items, (o) => `${conceptKey(o.code)}§${valueOf(o)}`);
  const shown = limit ? groups.slice(0, limit) : groups;
  if (!shown.length) return <p className="muted">No results on record.</p>;
  return (
    <TableScroll label="Results">
      <table className="data">
        <caption className="visually-hidden">Laboratory results, newest first</caption>
        <thead>
          <tr><th scope="col">Date</th><th scope="col">Test</th><th scope="col">Result</th><th scope="col">Flag</th><th scope="col">Reference range</th><th scope="col">Source</th></tr>
        </thead>
        <tbody>
          {shown.map((g) => {
            const o = g.primary;
            return (
              <tr key={`${o.id ?? ''}-${g.sources.join()}`}>
                <td>{dateText(clinicalDate(o))}</td>
                <td>{conceptText(o.code)}</td>
                <td>{valueOf(o)}</td>
                <td>{flagOf(o)}</td>
                <td>{rangeText(o.referenceRange?.[0]) || o.referenceRange?.[0]?.text || ''}</td>
                <td>
                  {g.sources.join(', ')}
                  {g.sources.length > 1 && <span className="badge">reported by {g.sources.length} sources</span>}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </TableScroll>
  );
}
