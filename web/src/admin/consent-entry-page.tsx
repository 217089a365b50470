/** Paper or phone consent entry for registrars and privacy officers: find the patient, then record their choice. */
import { useState } from 'react';
import { consentStatus } from '../api/fhir.ts';
import type { ConsentChannel, ConsentStatus, SensitiveCategory } from '../api/types.ts';
import { useAsync } from '../components/use-async.ts';
import { Field, SelectField } from '../components/field.tsx';
import { ErrorMessage, Loading, StatusMessage } from '../components/status.tsx';
import { PatientSearch } from '../clinician/patient-search.tsx';
import { ConsentStatusView } from '../portal/consent-status-view.tsx';
import { ConsentForm } from '../portal/consent-form.tsx';
import { OPT_IN, OPT_OUT, shareText, withholdText } from '../portal/consent-texts.ts';
import { Link } from '../router.tsx';

const FORMS = [OPT_OUT, OPT_IN, ...(['PSY', 'HIV', 'ETH'] as SensitiveCategory[]).flatMap((c) => [shareText(c), withholdText(c)])];

export function ConsentSearchPage() {
  return (
    <>
      <h1>Enter a paper or phone privacy choice</h1>
      <p>Find the patient first.</p>
      <PatientSearch hrefFor={(id) => `/console/consent/${encodeURIComponent(id)}`} actionLabel="Enter a choice" />
    </>
  );
}

export function ConsentEntryPage({ patientId }: { patientId: string }) {
  const initial = useAsync(() => consentStatus(patientId), [patientId]);
  const [status, setStatus] = useState<ConsentStatus>();
  const [formId, setFormId] = useState(FORMS[0].id);
  const [channel, setChannel] = useState<ConsentChannel>('paper');
  const [date, setDate] = useState(new Date().toISOString().slice(0, 10));
  const [message, setMessage] = useState<string>();
  const current = status ?? initial.data;
  const form = FORMS.find((f) => f.id === formId) ?? FORMS[0];
  return (
    <>
      <p><Link to="/console/consent">← Find another patient</Link></p>
      <h1>Enter a privacy choice</h1>
      {initial.loading && <Loading what="current choices" />}
      <ErrorMessage error={initial.error} />
      {current && <ConsentStatusView status={current} />}
      <StatusMessage message={message} />
      <div className="form-grid">
        <SelectField label="Form" value={formId} onChange={setFormId} options={FORMS.map((f) => ({ value: f.id, label: f.title }))} />
        <SelectField label="Received by" value={channel} onChange={(v) => setChannel(v as ConsentChannel)}
          options={[{ value: 'paper', label: 'Paper form' }, { value: 'phone', label: 'Phone call' }]} />
        <Field label="Date signed or called" type="date" required value={date} onChange={(e) => setDate(e.target.value)} />
      </div>
      <ConsentForm key={form.id} patientId={patientId} text={form} channel={channel} date={date}
        onDone={(s) => { setStatus(s); setMessage(`Recorded (${channel}). ${s.optedOut ? 'The patient is opted out.' : 'The patient shares their information.'}`); }} />
    </>
  );
}
