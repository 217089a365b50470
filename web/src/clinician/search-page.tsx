/** Clinician home: find a patient. */
import { PatientSearch } from './patient-search.tsx';

export function SearchPage() {
  return (
    <>
      <h1>Find a patient</h1>
      <p>Search by name, birth date, sex or medical record number (MRN). Results are grouped by person across all sources.</p>
      <PatientSearch hrefFor={(id) => `/clinician/patient/${encodeURIComponent(id)}`} />
    </>
  );
}
