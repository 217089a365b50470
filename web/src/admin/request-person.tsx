/**
 * Whom an audit request is about. Requests name an MPI person; the access report is opened through one of the
 * person's source Patients, so the Person is read for its name and link.
 */
import { getPerson } from '../api/fhir.ts';
import { useAsync } from '../components/use-async.ts';
import { ErrorMessage } from '../components/status.tsx';
import { nameText } from '../record/display.ts';
import { patientIdOfPerson } from '../record/source.ts';
import { Link } from '../router.tsx';

export function RequestPerson({ personId }: { personId: string }) {
  const person = useAsync(() => getPerson(personId), [personId]);
  if (person.error) return <ErrorMessage error={person.error} />;
  if (!person.data) return null;
  const name = nameText(person.data.name);
  const patientId = patientIdOfPerson(person.data);
  return (
    <>
      <span className="item-detail">For {name}{person.data.birthDate ? `, born ${person.data.birthDate}` : ''}</span>
      {patientId && (
        <Link className="button" to={`/console/audit-requests/patient/${encodeURIComponent(patientId)}`} aria-label={`Open report for ${name}`}>Open report</Link>
      )}
    </>
  );
}
