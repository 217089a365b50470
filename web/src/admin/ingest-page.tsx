/** Ingestion monitor: throughput and the error queue. */
import { useState } from 'react';
import { ingestErrors, ingestStats } from '../api/admin.ts';
import { useAsync } from '../components/use-async.ts';
import { ErrorMessage, Loading, StatusMessage } from '../components/status.tsx';
import { IngestStatsView } from './ingest-stats.tsx';
import { IngestErrorRow } from './ingest-error-row.tsx';

export function IngestPage() {
  const stats = useAsync(ingestStats, []);
  const errors = useAsync(ingestErrors, []);
  const [message, setMessage] = useState<string>();
  const refresh = (): void => { stats.reload(); errors.reload(); };
  return (
    <>
      <h1>Ingestion monitor</h1>
      <button type="button" onClick={refresh}>Refresh</button>
      <StatusMessage message={message} />
      {stats.loading && <Loading what="statistics" />}
      <ErrorMessage error={stats.error} />
      {stats.data && <IngestStatsView stats={stats.data} />}
      <h2>Error queue</h2>
      {errors.loading && <Loading what="errors" />}
      <ErrorMessage error={errors.error} />
      {errors.data && !errors.data.length && <p>No messages waiting.</p>}
      {errors.data && errors.data.length > 0 && (
        <ul className="items" aria-label="Failed messages">
          {errors.data.map((e) => <IngestErrorRow key={e.id} item={e} onRetried={(m) => { setMessage(m); refresh(); }} />)}
        </ul>
      )}
    </>
  );
}
