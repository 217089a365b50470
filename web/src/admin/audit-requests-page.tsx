/** Audit requests: the queue (fulfil), and entry of a paper/phone request with the patient's report. */
import { useState } from 'react';
import { auditRequests, enterAuditRequest, fulfilAuditRequest } from '../api/admin.ts';
import { useAsync } from '../components/use-async.ts';
import { ErrorMessage, Loading, StatusMessage } from '../components/status.tsx';
import { SelectField } from '../components/field.tsx';
import { dateText } from '../record/display.ts';
import { PatientSearch } from '../clinician/patient-search.tsx';
import { AccessReportView } from '../portal/access-report-view.tsx';
import { useAuth } from '../auth/auth-context.tsx';
import { Link } from '../router.tsx';
import { RequestPerson } from './request-person.tsx';

export function AuditRequestsPage() {
  const { session } = useAuth();
  const list = useAsync(auditRequests, []);
  const [message, setMessage] = useState<string>();
  const [error, setError] = useState<unknown>();
  const fulfil = async (id: string): Promise<void> => {
    try {
      const r = await fulfilAuditRequest(id);
      setMessage(`Request ${id}: ${r.status}.`);
      list.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <>
      <h1>Audit requests</h1>
      <StatusMessage message={message} />
      <ErrorMessage error={error ?? list.error} />
      {list.loading && <Loading what="requests" />}
      {list.data && !list.data.length && <p>No requests.</p>}
      <ul className="items" aria-label="Audit requests">
        {list.data?.map((r) => (
          <li key={r.id} className="item">
            <span className="item-title">Request {r.id} · {r.status} · {r.channel}</span>
            <span className="source">Asked {dateText(r.requestedAt)}{r.fulfilledAt ? ` · done ${dateText(r.fulfilledAt)}` : ''}</span>
            <div className="actions">
              <RequestPerson personId={r.personId} />
              {/* Only privacy officers may fulfil (the server refuses registrars). */}
              {r.status !== 'fulfilled' && session?.role === 'privacy-officer' && <button type="button" onClick={() => void fulfil(r.id)}>Mark fulfilled</button>}
            </div>
          </li>
        ))}
      </ul>
      <h2>Enter a paper or phone request</h2>
      <PatientSearch hrefFor={(id) => `/console/audit-requests/patient/${encodeURIComponent(id)}`} actionLabel="Choose" />
    </>
  );
}

export function AuditRequestEntryPage({ patientId }: { patientId: string }) {
  const { session } = useAuth();
  const [channel, setChannel] = useState<'paper' | 'phone'>('paper');
  const [message, setMessage] = useState<string>();
  const [error, setError] = useState<unknown>();
  const submit = async (): Promise<void> => {
    try {
      const r = await enterAuditRequest(patientId, channel);
      setMessage(`Request ${r.id} recorded (${channel}).`);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <>
      <p><Link to="/console/audit-requests">← All audit requests</Link></p>
      <h1>Audit request for this patient</h1>
      <SelectField label="Received by" value={channel} onChange={(v) => setChannel(v as 'paper' | 'phone')}
        options={[{ value: 'paper', label: 'Paper form' }, { value: 'phone', label: 'Phone call' }]} />
      <button type="button" className="primary" onClick={() => void submit()}>Record the request</button>
      <StatusMessage message={message} />
      <ErrorMessage error={error} />
      {session?.role === 'privacy-officer' && <AccessReportView patientId={patientId} />}
    </>
  );
}
