/** "Who viewed my record and when": the table and CSV/PDF downloads. Used by patients and privacy officers. */
import { useState } from 'react';
import { accessReport, accessReportFile } from '../api/fhir.ts';
import { useAsync } from '../components/use-async.ts';
import { ErrorMessage, Loading, StatusMessage } from '../components/status.tsx';
import { dateText } from '../record/display.ts';
import { saveBlob } from './download.ts';
import { TableScroll } from '../components/table-scroll.tsx';

export function AccessReportView({ patientId }: { patientId: string }) {
  const report = useAsync(() => accessReport(patientId), [patientId]);
  const [message, setMessage] = useState<string>();
  const [error, setError] = useState<unknown>();
  const download = async (format: 'csv' | 'pdf'): Promise<void> => {
    setError(undefined);
    try {
      saveBlob(await accessReportFile(patientId, format), `access-report.${format}`);
      setMessage(`Your ${format.toUpperCase()} file is downloading.`);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section aria-labelledby="report-heading">
      <h2 id="report-heading">Who viewed the record and when</h2>
      <div className="actions">
        <button type="button" onClick={() => void download('csv')}>Download as CSV (spreadsheet)</button>
        <button type="button" onClick={() => void download('pdf')}>Download as PDF</button>
      </div>
      <StatusMessage message={message} />
      <ErrorMessage error={error ?? report.error} />
      {report.loading && <Loading what="the report" />}
      {report.data && (report.data.rows.length === 0 ? <p>No one has viewed this record yet.</p> : (
        <TableScroll label="Access report">
          <table className="data">
            <caption>Every time someone looked at or changed the record of {report.data.person.name}</caption>
            <thead>
              <tr><th scope="col">Date and time</th><th scope="col">Who</th><th scope="col">Role</th><th scope="col">Organization</th><th scope="col">What they did</th><th scope="col">Why</th></tr>
            </thead>
            <tbody>
              {report.data.rows.map((r, i) => (
                <tr key={i} className={r.emergency ? 'emergency' : undefined}>
                  <td>{dateText(r.time)}</td><td>{r.userName}</td><td>{r.role}</td><td>{r.organization}</td><td>{r.action}</td>
                  <td>{r.purpose}{r.emergency && <strong> (emergency)</strong>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      ))}
    </section>
  );
}
