/** One failed message: why it failed, its raw text on request (authorized roles only), and reprocess. */
import { useState } from 'react';
import { ingestError, retryIngestError } from '../api/admin.ts';
import type { IngestError } from '../api/types.ts';
import { ErrorMessage } from '../components/status.tsx';
import { useAction } from '../components/use-action.ts';
import { dateText } from '../record/display.ts';

export function IngestErrorRow({ item, onRetried }: { item: IngestError; onRetried: (message: string) => void }) {
  const [raw, setRaw] = useState<string | null>(null);
  const load = useAction();
  const reprocess = useAction();
  const showRaw = async (): Promise<void> => {
    if (raw !== null) return setRaw(null);
    await load.run(async () => {
      setRaw((await ingestError(item.id)).raw ?? 'The raw message is not available to your role.');
    });
  };
  const retry = (): Promise<boolean> => reprocess.run(async () => {
    const r = await retryIngestError(item.id);
    onRetried(`Message ${item.controlId}: ${r.status}.`);
  });
  return (
    <li className="item">
      <span className="item-title">{item.type} from {item.source} · control id {item.controlId}</span>
      <span className="source">{dateText(item.receivedAt)}</span>
      <span className="item-detail">{item.reason}</span>
      <div className="actions">
        <button type="button" aria-expanded={raw !== null} onClick={() => void showRaw()}>{raw === null ? 'Show raw message' : 'Hide raw message'}</button>
        <button type="button" onClick={() => void retry()} disabled={reprocess.busy}>{reprocess.busy ? 'Reprocessing…' : 'Reprocess'}</button>
      </div>
      <ErrorMessage error={reprocess.error ?? load.error} />
      {raw !== null && <pre className="document-text" aria-label={`Raw message ${item.controlId}`}>{raw.replace(/\r/g, '\n')}</pre>}
    </li>
  );
}
