/** The privacy officer's "mark reviewed, with notes" form for one review-queue item (break-the-glass or attestation). */
import { useId, useState, type FormEvent } from 'react';
import { reviewItem } from '../api/admin.ts';
import { ErrorMessage } from '../components/status.tsx';

export function ReviewForm({ seq, onDone }: { seq: number; onDone: (message: string) => void }) {
  const [notes, setNotes] = useState('');
  const [error, setError] = useState<unknown>();
  const id = useId();
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    try {
      await reviewItem(seq, notes.trim());
      onDone(`Event ${seq} marked reviewed.`);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form onSubmit={submit}>
      <div className="field">
        <label htmlFor={id}>Review notes for event {seq}</label>
        <textarea id={id} rows={2} required value={notes} onChange={(e) => setNotes(e.target.value)} />
      </div>
      <ErrorMessage error={error} />
      <button type="submit" className="primary" disabled={!notes.trim()}>Mark reviewed</button>
    </form>
  );
}
