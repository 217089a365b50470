/** The patient's own record, read-only, and a copy of it to download. */
import { useState } from 'react';
import { exportMyRecord, getEverything } from '../api/fhir.ts';
import { useAction } from '../components/use-action.ts';
import { useAsync } from '../components/use-async.ts';
import { ErrorMessage, Loading, StatusMessage } from '../components/status.tsx';
import { saveBlob } from './download.ts';
import { buildRecord } from '../record/record-model.ts';
import { RecordTabs } from '../record-view/record-tabs.tsx';
import { useMe } from './use-me.ts';

function Record({ patientId }: { patientId: string }) {
  const all = useAsync(() => getEverything(patientId), [patientId]);
  if (all.loading) return <Loading what="your record" />;
  if (!all.data) return <ErrorMessage error={all.error} />;
  return <RecordTabs record={buildRecord(all.data)} />;
}

/** Downloads the whole record as a FHIR file another app or doctor's system can read. */
function DownloadRecord() {
  const [message, setMessage] = useState<string>();
  const { busy, error, run } = useAction();
  const download = async (): Promise<void> => {
    const ok = await run(async () => {
      setMessage('Preparing your file…');
      saveBlob(await exportMyRecord(), 'my-health-record.ndjson');
      setMessage('Your file is downloading. It is in the FHIR format other health apps and doctors\' systems can read.');
    });
    if (!ok) setMessage(undefined);
  };
  return (
    <div className="actions">
      <button type="button" onClick={() => void download()} disabled={busy}>Download a copy of my record</button>
      <StatusMessage message={message} />
      <ErrorMessage error={error} />
    </div>
  );
}

export function MyRecordPage() {
  const me = useMe();
  return (
    <>
      <h1>My health record</h1>
      <p>This is the information doctors, hospitals and labs have shared about you. You can read it here. To fix a mistake, ask the place that sent it.</p>
      {me.data && <DownloadRecord />}
      {me.loading && <Loading what="your account" />}
      <ErrorMessage error={me.error} />
      {me.data && <Record patientId={me.data.patientId} />}
    </>
  );
}
