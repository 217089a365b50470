/** Break-the-glass review for privacy officers: each emergency access, marked reviewed with notes. */
import { useState } from 'react';
import { breakGlassEvents } from '../api/admin.ts';
import { useAsync } from '../components/use-async.ts';
import { ErrorMessage, Loading, StatusMessage } from '../components/status.tsx';
import { dateText } from '../record/display.ts';
import { ReviewForm } from './review-form.tsx';

export function BreakGlassPage() {
  const events = useAsync(breakGlassEvents, []);
  const [message, setMessage] = useState<string>();
  return (
    <>
      <h1>Break-the-glass review</h1>
      <StatusMessage message={message} />
      {events.loading && <Loading what="events" />}
      <ErrorMessage error={events.error} />
      {events.data && !events.data.length && <p>No emergency access to review.</p>}
      <ul className="items" aria-label="Emergency access events">
        {events.data?.map((e) => (
          <li key={e.seq} className="item">
            <span className="item-title">{e.userName}{e.organization ? ` (${e.organization})` : ''} — {e.patientName ?? `person ${e.personId}`}</span>
            <span className="source">{dateText(e.time)} · {e.status}</span>
            <span className="item-detail">Reason: {e.reason}</span>
            {e.notes && <span className="item-detail">Notes: {e.notes}</span>}
            {e.status !== 'reviewed' && <ReviewForm seq={e.seq} onDone={(m) => { setMessage(m); events.reload(); }} />}
          </li>
        ))}
      </ul>
    </>
  );
}
