/** One MPI review task: the records, why the matcher was unsure, and the decision (confirmed first). */
import { useState } from 'react';
import { decideMpiTask } from '../api/admin.ts';
import type { MpiTask } from '../api/types.ts';
import { ConfirmDialog } from '../components/dialog.tsx';
import { ErrorMessage } from '../components/status.tsx';
import { useAction } from '../components/use-action.ts';
import { dateText } from '../record/display.ts';
import { PatientCompare } from './patient-compare.tsx';
import { TableScroll } from '../components/table-scroll.tsx';

type Decision = 'link' | 'not-link';

export function MpiTaskCard({ task, onDecided }: { task: MpiTask; onDecided: (message: string) => void }) {
  const [pending, setPending] = useState<Decision | null>(null);
  const { busy, error, run } = useAction();
  const decide = async (): Promise<void> => {
    if (!pending) return;
    const ok = await run(async () => {
      const r = await decideMpiTask(task.id, pending);
      setPending(null);
      onDecided(`Task ${task.id}: ${pending === 'link' ? 'linked' : 'kept apart'} (${r.status}).`);
    });
    if (!ok) setPending(null);
  };
  return (
    <article className="card" aria-labelledby={`task-${task.id}`}>
      <h2 id={`task-${task.id}`}>Possible match {task.id}</h2>
      <p>Score {task.score.toFixed(2)} · found {dateText(task.createdAt)}</p>
      <PatientCompare a={task.a} b={task.b} />
      <h3>Why the matcher was unsure</h3>
      <TableScroll label="Match explanation">
        <table className="data">
          <thead><tr><th scope="col">Field</th><th scope="col">Agreement</th><th scope="col">Weight</th></tr></thead>
          <tbody>
            {task.explanation.map((e) => (
              <tr key={e.field}><td>{e.field}</td><td>{e.level}</td><td>{e.weight.toFixed(2)}</td></tr>
            ))}
          </tbody>
        </table>
      </TableScroll>
      <ErrorMessage error={error} />
      <div className="actions">
        <button type="button" className="primary" onClick={() => setPending('link')}>Link: same person</button>
        <button type="button" onClick={() => setPending('not-link')}>Not a match</button>
      </div>
      <ConfirmDialog open={pending !== null} title={pending === 'link' ? 'Link these records?' : 'Keep these records apart?'}
        confirmLabel={pending === 'link' ? 'Yes, link them' : 'Yes, not a match'} busy={busy} onConfirm={() => void decide()} onCancel={() => setPending(null)}>
        <p>{pending === 'link'
          ? 'Both records will belong to one person. Clinicians will see their data together.'
          : 'The records stay separate persons and this pair will not be suggested again.'}</p>
      </ConfirmDialog>
    </article>
  );
}
