/** Search results grouped by enterprise person, with enough demographics to pick the right one. */
import type { Patient } from '@medplum/fhirtypes';
import { addressText, genderText, mrnOf, nameText } from '../record/display.ts';
import { personIdOf, sourceName } from '../record/source.ts';
import { Link } from '../router.tsx';

interface PersonGroup {
  key: string;
  patients: Patient[];
}

export function groupByPerson(patients: Patient[]): PersonGroup[] {
  const map = new Map<string, PersonGroup>();
  for (const p of patients) {
    const key = personIdOf(p) ?? `patient:${p.id ?? ''}`;
    const g = map.get(key) ?? { key, patients: [] };
    g.patients.push(p);
    map.set(key, g);
  }
  return [...map.values()];
}

interface Props {
  patients: Patient[];
  /** Where "Open" goes, given the chosen source Patient id. */
  hrefFor: (patientId: string) => string;
  actionLabel?: string;
}

export function PersonResults({ patients, hrefFor, actionLabel = 'Open record' }: Props) {
  const groups = groupByPerson(patients);
  if (!groups.length) return <p>No patients match. Check the spelling or try fewer details.</p>;
  return (
    <ul className="person-list" aria-label="Matching people">
      {groups.map((g) => {
        const p = g.patients[0];
        const name = nameText(p.name);
        return (
          <li key={g.key} className="card person">
            <h3>{name}</h3>
            <p>Born {p.birthDate ?? 'unknown'} · {genderText(p.gender)} · {addressText(p.address?.[0]) || 'No address'}</p>
            <ul className="sources" aria-label={`Source records for ${name}`}>
              {g.patients.map((x) => <li key={x.id}>{sourceName(x)} · MRN {mrnOf(x) ?? 'none'}</li>)}
            </ul>
            <Link className="button primary" to={hrefFor(p.id ?? '')} aria-label={`${actionLabel}: ${name}, born ${p.birthDate ?? 'unknown'}`}>{actionLabel}</Link>
          </li>
        );
      })}
    </ul>
  );
}
