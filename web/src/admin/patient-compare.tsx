/** Two source records side by side, row by row, so a reviewer can compare them. */
import type { Patient } from '@medplum/fhirtypes';
import { addressText, genderText, identifierText, nameText } from '../record/display.ts';
import { sourceName } from '../record/source.ts';
import { TableScroll } from '../components/table-scroll.tsx';

const ROWS: [string, (p: Patient) => string][] = [
  ['Name', (p) => nameText(p.name)],
  ['Birth date', (p) => p.birthDate ?? ''],
  ['Sex', (p) => genderText(p.gender)],
  ['Address', (p) => addressText(p.address?.[0])],
  ['Phone', (p) => p.telecom?.find((t) => t.system === 'phone')?.value ?? ''],
  ['Identifiers', (p) => (p.identifier ?? []).map(identifierText).join('; ')],
  ['Source', (p) => sourceName(p)],
];

export function PatientCompare({ a, b }: { a: Patient; b: Patient }) {
  return (
    <TableScroll label="Records side by side">
      <table className="data compare">
        <caption className="visually-hidden">Record A and record B side by side</caption>
        <thead>
          <tr><th scope="col">Field</th><th scope="col">Record A</th><th scope="col">Record B</th></tr>
        </thead>
        <tbody>
          {ROWS.map(([label, get]) => {
            const va = get(a);
            const vb = get(b);
            return (
              <tr key={label} className={va && vb && va !== vb ? 'differs' : undefined}>
                <th scope="row">{label}</th><td>{va}</td><td>{vb}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </TableScroll>
  );
}
