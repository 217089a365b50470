/** The clinician's view of one person's longitudinal record, with the care-relationship and break-the-glass states. */
import { useEffect, useState } from 'react';
import type { Resource } from '@medplum/fhirtypes';
import { breakGlassStatus, getEverything, type BreakGlassState } from '../api/fhir.ts';
import { ApiError } from '../api/errors.ts';
import { buildRecord } from '../record/record-model.ts';
import { useAsync } from '../components/use-async.ts';
import { ErrorMessage, Loading, StatusMessage } from '../components/status.tsx';
import { RecordTabs } from '../record-view/record-tabs.tsx';
import { PatientBanner } from '../record-view/patient-banner.tsx';
import { Link } from '../router.tsx';
import { RestrictedNotice } from './restricted-notice.tsx';
import { BreakGlassBanner } from './break-glass-banner.tsx';
import { NoRelationship } from './no-relationship.tsx';
import { AccessDialogs } from './access-dialogs.tsx';

function RecordBody({ resources }: { resources: Resource[] }) {
  const record = buildRecord(resources);
  return (
    <>
      <PatientBanner patients={record.patients} />
      <RecordTabs record={record} />
    </>
  );
}

export function RecordPage({ patientId }: { patientId: string }) {
  const everything = useAsync(() => getEverything(patientId), [patientId]);
  const glass = useAsync<BreakGlassState>(() => breakGlassStatus(patientId).catch(() => ({ active: false })), [patientId]);
  const [dialog, setDialog] = useState<'attest' | 'break-glass' | null>(null);
  const [status, setStatus] = useState<string>();
  const denied = everything.error instanceof ApiError && everything.error.needsRelationship ? everything.error : undefined;
  // The attestation dialog opens by itself the first time the server says there is no relationship.
  useEffect(() => {
    if (denied) setDialog('attest');
  }, [denied]);
  const afterAccess = (message: string): void => {
    setDialog(null);
    setStatus(message);
    everything.reload();
    glass.reload();
  };
  return (
    <>
      <p><Link to="/clinician">← Back to patient search</Link></p>
      <h1>Patient record</h1>
      {glass.data?.active && <BreakGlassBanner expires={glass.data.expires} />}
      <RestrictedNotice onBreakGlass={glass.data?.active ? undefined : () => setDialog('break-glass')} />
      <StatusMessage message={status} />
      {everything.loading && <Loading what="the record" />}
      {denied && (
        <NoRelationship expired={denied.accessCode === 'relationship-expired'} onAttest={() => setDialog('attest')} onBreakGlass={() => setDialog('break-glass')} />
      )}
      {!denied && <ErrorMessage error={everything.error} />}
      {everything.data && !denied && <RecordBody resources={everything.data} />}
      <AccessDialogs patientId={patientId} open={dialog} onClose={() => setDialog(null)}
        onAttested={() => afterAccess('Treatment relationship recorded. Loading the record.')}
        onBrokeGlass={(s) => afterAccess(`Emergency access granted${s.expires ? ` until ${new Date(s.expires).toLocaleTimeString()}` : ''}. Loading the full record.`)} />
    </>
  );
}
