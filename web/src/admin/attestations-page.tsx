/** Attested treatment relationships, for privacy-officer review: who attested for whom and why, marked reviewed with notes. */
import { useState } from 'react';
import { attestations } from '../api/admin.ts';
import { useAsync } from '../components/use-async.ts';
import { ErrorMessage, Loading, StatusMessage } from '../components/status.tsx';
import { dateText } from '../record/display.ts';
import { ReviewForm } from './review-form.tsx';

export function AttestationsPage() {
  const list = useAsync(attestations, []);
  const [message, setMessage] = useState<string>();
  return (
    <>
      <h1>Attestations</h1>
      <StatusMessage message={message} />
      {list.loading && <Loading what="attestations" />}
      <ErrorMessage error={list.error} />
      {list.data && !list.data.length && <p>No attestations to review.</p>}
      <ul className="items" aria-label="Attestations">
        {list.data?.map((a) => (
          <li key={a.seq} className="item">
            <span className="item-title">{a.userName}{a.organization ? ` (${a.organization})` : ''} — {a.patientName ?? `person ${a.personId}`}</span>
            <span className="source">{dateText(a.time)}{a.expires ? ` · until ${dateText(a.expires)}` : ''} · {a.status}</span>
            <span className="item-detail">Reason: {a.reason ?? 'not recorded'}</span>
            {a.notes && <span className="item-detail">Notes: {a.notes}</span>}
            {a.status !== 'reviewed' && <ReviewForm seq={a.seq} onDone={(m) => { setMessage(m); list.reload(); }} />}
          </li>
        ))}
      </ul>
    </>
  );
}
