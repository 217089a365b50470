/** Attested treatment relationships, for privacy-officer review. */
import { attestations } from '../api/admin.ts';
import { useAsync } from '../components/use-async.ts';
import { ErrorMessage, Loading } from '../components/status.tsx';
import { dateText } from '../record/display.ts';
import { TableScroll } from '../components/table-scroll.tsx';

export function AttestationsPage() {
  const list = useAsync(attestations, []);
  return (
    <>
      <h1>Attestations</h1>
      {list.loading && <Loading what="attestations" />}
      <ErrorMessage error={list.error} />
      {list.data && !list.data.length && <p>No attestations.</p>}
      {list.data && list.data.length > 0 && (
        <TableScroll label="Attestations">
          <table className="data">
            <thead><tr><th scope="col">When</th><th scope="col">User</th><th scope="col">Person</th><th scope="col">Reason</th><th scope="col">Expires</th><th scope="col">Status</th></tr></thead>
            <tbody>
              {list.data.map((a) => (
                <tr key={a.id}><td>{dateText(a.time)}</td><td>{a.userName}</td><td>{a.personId}</td><td>{a.reason}</td><td>{dateText(a.expires)}</td><td>{a.status}</td></tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
    </>
  );
}
