/** Who this record belongs to: name, birth date, sex, identifiers per source record. */
import type { Patient } from '@medplum/fhirtypes';
import { addressText, genderText, identifierText, nameText } from '../record/display.ts';
import { sourceName } from '../record/source.ts';

export function PatientBanner({ patients }: { patients: Patient[] }) {
  const p = patients[0];
  if (!p) return null;
  return (
    <section className="patient-banner" aria-label="Patient">
      <h2>{nameText(p.name)}</h2>
      <p>
        Born {p.birthDate ?? 'unknown'} · {genderText(p.gender)} · {addressText(p.address?.[0])}
      </p>
      <details>
        <summary>Source records ({patients.length})</summary>
        <ul>
          {patients.map((x) => (
            <li key={x.id}>{sourceName(x)}: {(x.identifier ?? []).map(identifierText).join('; ') || x.id}</li>
          ))}
        </ul>
      </details>
    </section>
  );
}
