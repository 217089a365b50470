/** The patient's own record, read-only. */
import { getEverything } from '../api/fhir.ts';
import { useAsync } from '../components/use-async.ts';
import { ErrorMessage, Loading } from '../components/status.tsx';
import { buildRecord } from '../record/record-model.ts';
import { RecordTabs } from '../record-view/record-tabs.tsx';
import { useMe } from './use-me.ts';

function Record({ patientId }: { patientId: string }) {
  const all = useAsync(() => getEverything(patientId), [patientId]);
  if (all.loading) return <Loading what="your record" />;
  if (!all.data) return <ErrorMessage error={all.error} />;
  return <RecordTabs record={buildRecord(all.data)} />;
}

export function MyRecordPage() {
  const me = useMe();
  return (
    <>
      <h1>My health record</h1>
      <p>This is the information doctors, hospitals and labs have shared about you. You can read it here. To fix a mistake, ask the place that sent it.</p>
      {me.loading && <Loading what="your account" />}
      <ErrorMessage error={me.error} />
      {me.data && <Record patientId={me.data.patientId} />}
    </>
  );
}
