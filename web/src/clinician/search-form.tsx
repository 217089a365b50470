/** Patient search by demographics: name, birth date, sex, MRN. */
import { useState, type FormEvent } from 'react';
import type { PatientQuery } from '../api/fhir.ts';
import { Field, SelectField } from '../components/field.tsx';

const GENDERS = [
  { value: '', label: 'Any' },
  { value: 'female', label: 'Female' },
  { value: 'male', label: 'Male' },
  { value: 'other', label: 'Other' },
  { value: 'unknown', label: 'Unknown' },
];

interface Props {
  initial: PatientQuery;
  onSearch: (q: PatientQuery) => void;
}

export function SearchForm({ initial, onSearch }: Props) {
  const [q, setQ] = useState<PatientQuery>(initial);
  const set = (k: keyof PatientQuery) => (v: string) => setQ((old) => ({ ...old, [k]: v }));
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    onSearch(q);
  };
  const empty = !Object.values(q).some((v) => v && v.trim());
  return (
    <form className="search-form" onSubmit={submit} aria-label="Find a patient">
      <div className="form-grid">
        <Field label="Family name" name="family" value={q.family ?? ''} onChange={(e) => set('family')(e.target.value)} autoComplete="off" />
        <Field label="Given name" name="given" value={q.given ?? ''} onChange={(e) => set('given')(e.target.value)} autoComplete="off" />
        <Field label="Birth date" name="birthdate" type="date" value={q.birthdate ?? ''} onChange={(e) => set('birthdate')(e.target.value)} />
        <SelectField label="Sex" value={q.gender ?? ''} onChange={set('gender')} options={GENDERS} />
        <Field label="MRN or other identifier" name="identifier" value={q.identifier ?? ''} onChange={(e) => set('identifier')(e.target.value)} autoComplete="off" />
      </div>
      <button type="submit" className="primary" disabled={empty}>Search</button>
    </form>
  );
}
