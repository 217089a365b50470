/** The audit request form, the patient's requests, and their access report. */
import { useId, useState, type FormEvent } from 'react';
import { myAuditRequests, requestAudit } from '../api/portal.ts';
import { useAction } from '../components/use-action.ts';
import { useAsync } from '../components/use-async.ts';
import { ErrorMessage, Loading, StatusMessage } from '../components/status.tsx';
import { dateText } from '../record/display.ts';
import { AccessReportView } from './access-report-view.tsx';
import { useMe } from './use-me.ts';

function RequestForm({ onDone }: { onDone: () => void }) {
  const [message, setMessage] = useState<string>();
  const { busy, error, run } = useAction();
  const id = useId();
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    await run(async () => {
      const r = await requestAudit();
      setMessage(`We got your request on ${dateText(r.requestedAt)}.`);
      onDone();
    });
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>Ask for a report</h2>
      <p>You can ask for a report of everyone who looked at your record. You can also see it below right away.</p>
      <button type="submit" className="primary" disabled={busy}>{busy ? 'Sending…' : 'Send my request'}</button>
      <StatusMessage message={message} />
      <ErrorMessage error={error} />
    </form>
  );
}

function MyRequests({ tick }: { tick: number }) {
  const list = useAsync(myAuditRequests, [tick]);
  if (list.loading) return <Loading what="your requests" />;
  if (!list.data?.length) return <ErrorMessage error={list.error} />;
  return (
    <section aria-labelledby="my-requests">
      <h2 id="my-requests">Your requests</h2>
      <ul>
        {list.data.map((r) => (
          <li key={r.id}>Request {r.id}: asked {dateText(r.requestedAt)} — {r.status}{r.fulfilledAt ? `, done ${dateText(r.fulfilledAt)}` : ''}</li>
        ))}
      </ul>
    </section>
  );
}

export function AuditPage() {
  const me = useMe();
  const [tick, setTick] = useState(0);
  return (
    <>
      <h1>Who looked at my record</h1>
      <RequestForm onDone={() => setTick((t) => t + 1)} />
      <MyRequests tick={tick} />
      {me.loading && <Loading what="your account" />}
      <ErrorMessage error={me.error} />
      {me.data && <AccessReportView patientId={me.data.patientId} />}
    </>
  );
}
