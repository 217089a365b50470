/** Manual MPI corrections: split a source record off (unlink) or merge two persons. Both are confirmed first. */
import { useState, type FormEvent } from 'react';
import { mergePersons, unlinkPatient } from '../api/admin.ts';
import { ConfirmDialog } from '../components/dialog.tsx';
import { Field } from '../components/field.tsx';
import { ErrorMessage, StatusMessage } from '../components/status.tsx';
import { useAction } from '../components/use-action.ts';

type Pending = { kind: 'unlink' } | { kind: 'merge' } | null;

export function MpiTools() {
  const [patientId, setPatientId] = useState('');
  const [source, setSource] = useState('');
  const [target, setTarget] = useState('');
  const [pending, setPending] = useState<Pending>(null);
  const [message, setMessage] = useState<string>();
  const { busy, error, run } = useAction();
  const ask = (kind: 'unlink' | 'merge') => (e: FormEvent) => { e.preventDefault(); setPending({ kind }); };
  const apply = async (): Promise<void> => {
    await run(async () => {
      if (pending?.kind === 'unlink') {
        await unlinkPatient(patientId.trim());
        setMessage(`Source record ${patientId} is now its own person.`);
      } else {
        const r = await mergePersons(source.trim(), target.trim());
        setMessage(`Merged into person ${r.personId}.`);
      }
    });
    setPending(null);
  };
  return (
    <section aria-labelledby="mpi-tools-h">
      <h2 id="mpi-tools-h">Correct links by hand</h2>
      <div className="two-col">
        <form className="card" onSubmit={ask('unlink')}>
          <h3>Unlink a source record</h3>
          <Field label="Source patient id" required value={patientId} onChange={(e) => setPatientId(e.target.value)} />
          <button type="submit">Unlink…</button>
        </form>
        <form className="card" onSubmit={ask('merge')}>
          <h3>Merge two persons</h3>
          <Field label="Person to merge (goes away)" required value={source} onChange={(e) => setSource(e.target.value)} />
          <Field label="Person to keep" required value={target} onChange={(e) => setTarget(e.target.value)} />
          <button type="submit">Merge…</button>
        </form>
      </div>
      <StatusMessage message={message} />
      <ErrorMessage error={error} />
      <ConfirmDialog open={pending !== null} title={pending?.kind === 'unlink' ? 'Unlink this record?' : 'Merge these persons?'}
        confirmLabel="Yes, do it" busy={busy} onConfirm={() => void apply()} onCancel={() => setPending(null)}>
        <p>{pending?.kind === 'unlink'
          ? 'The source record will become a separate person. Its data will no longer show with the others.'
          : 'All source records of the first person move to the second person.'}</p>
      </ConfirmDialog>
    </section>
  );
}
