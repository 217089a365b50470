// Small record builders shared by the MPI tests.
import type { MpiRecord } from './normalize.ts';

export function rec(over: Partial<MpiRecord> = {}): MpiRecord {
  return {
    id: over.id ?? 'r',
    given: ['Margaret'],
    family: 'Thibodeau',
    birthDate: '1961-04-12',
    sex: 'female',
    ssn: '123456789',
    street: '12 Main Street',
    city: 'Portland',
    postalCode: '04101',
    phone: '2075550134',
    email: 'mthib@example.org',
    ...over,
  };
}

const GIVEN = ['Margaret', 'William', 'Susan', 'Robert', 'Ashley', 'Kevin', 'Laura', 'Peter', 'Diane', 'Oscar'];
const FAMILY = ['Thibodeau', 'Smith', 'Nguyen', 'Levesque', 'Pelletier', 'Brown', 'Ouellette', 'Garcia', 'Cyr', 'Daigle'];

/** A deterministic toy population: `people` persons, each registered twice, the copy slightly altered. */
export function toyPopulation(people: number): { records: MpiRecord[]; truth: string[] } {
  const records: MpiRecord[] = [];
  const truth: string[] = [];
  for (let i = 0; i < people; i++) {
    const base = rec({
      id: `a${i}`,
      given: [GIVEN[i % 10]],
      family: `${FAMILY[(i * 7) % 10]}${i % 13 === 0 ? '' : String.fromCharCode(97 + (i % 26))}`,
      birthDate: `${1930 + (i % 70)}-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + ((i * 3) % 28)).padStart(2, '0')}`,
      sex: i % 2 === 0 ? 'female' : 'male',
      ssn: String(100000000 + i * 7919),
      street: `${i + 1} Main Street`,
      phone: String(2075550000 + i),
      email: `p${i}@example.org`,
    });
    const copy = { ...base, id: `b${i}`, phone: undefined, email: i % 3 === 0 ? undefined : base.email };
    if (i % 4 === 0) copy.family = base.family.toUpperCase();
    if (i % 5 === 0) copy.ssn = undefined;
    records.push(base, copy);
    truth.push(String(i), String(i));
  }
  return { records, truth };
}
