/** MPI review queue: possible matches the matcher could not decide, one card each. */
import { useState } from 'react';
import { mpiTasks } from '../api/admin.ts';
import { useAsync } from '../components/use-async.ts';
import { ErrorMessage, Loading, StatusMessage } from '../components/status.tsx';
import { MpiTaskCard } from './mpi-task-card.tsx';
import { MpiTools } from './mpi-tools.tsx';

export function MpiPage() {
  const tasks = useAsync(mpiTasks, []);
  const [message, setMessage] = useState<string>();
  return (
    <>
      <h1>Patient matching review</h1>
      <StatusMessage message={message} />
      {tasks.loading && <Loading what="review tasks" />}
      <ErrorMessage error={tasks.error} />
      {tasks.data && !tasks.data.length && <p>No open review tasks.</p>}
      {tasks.data?.map((t) => (
        <MpiTaskCard key={t.id} task={t} onDecided={(m) => { setMessage(m); tasks.reload(); }} />
      ))}
      <MpiTools />
    </>
  );
}
