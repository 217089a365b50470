/** A compact list of the latest results for the summary (the Results tab has the full table). */
import type { Observation } from '@medplum/fhirtypes';
import { conceptKey, conceptText, quantityText, rangeText } from '../record/display.ts';
import { ItemList } from './item-list.tsx';

function valueLine(o: Observation): string {
  const value = o.valueQuantity ? quantityText(o.valueQuantity) : o.valueString ?? (o.valueCodeableConcept ? conceptText(o.valueCodeableConcept) : '');
  const flag = o.interpretation?.[0]?.coding?.[0]?.code;
  const range = rangeText(o.referenceRange?.[0]);
  return [value, flag && `(${flag})`, range && `range ${range}`].filter(Boolean).join(' ');
}

export function RecentResults({ items, limit }: { items: Observation[]; limit?: number }) {
  return (
    <ItemList label="Recent results" items={items} limit={limit} empty="No results on record."
      keyOf={(o) => `${conceptKey(o.code)}§${valueLine(o)}`} title={(o) => conceptText(o.code)} detail={valueLine} />
  );
}
