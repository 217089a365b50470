/** Break-the-glass review for privacy officers: each emergency access, marked reviewed with notes. */
import { useId, useState, type FormEvent } from 'react';
import { breakGlassEvents, reviewBreakGlass } from '../api/admin.ts';
import type { BreakGlassEvent } from '../api/types.ts';
import { useAsync } from '../components/use-async.ts';
import { ErrorMessage, Loading, StatusMessage } from '../components/status.tsx';
import { dateText } from '../record/display.ts';

function ReviewForm({ event, onDone }: { event: BreakGlassEvent; onDone: (m: string) => void }) {
  const [notes, setNotes] = useState('');
  const [error, setError] = useState<unknown>();
  const id = useId();
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    try {
      await reviewBreakGlass(event.seq, notes.trim());
      onDone(`Event ${event.seq} marked reviewed.`);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form onSubmit={submit}>
      <div className="field">
        <label htmlFor={id}>Review notes for event {event.seq}</label>
        <textarea id={id} rows={2} required value={notes} onChange={(e) => setNotes(e.target.value)} />
      </div>
      <ErrorMessage error={error} />
      <button type="submit" className="primary" disabled={!notes.trim()}>Mark reviewed</button>
    </form>
  );
}

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
            <span className="item-title">{e.userName} ({e.organization}) — {e.patientName ?? `person ${e.personId}`}</span>
            <span className="source">{dateText(e.time)} · {e.status}</span>
            <span className="item-detail">Reason: {e.reason}</span>
            {e.notes && <span className="item-detail">Notes: {e.notes}</span>}
            {e.status !== 'reviewed' && <ReviewForm event={e} onDone={(m) => { setMessage(m); events.reload(); }} />}
          </li>
        ))}
      </ul>
    </>
  );
}
