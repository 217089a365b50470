/** "My privacy choices": the current status and the online forms that change it. */
import { useState } from 'react';
import { consentStatus } from '../api/fhir.ts';
import type { ConsentStatus, SensitiveCategory } from '../api/types.ts';
import { useAsync } from '../components/use-async.ts';
import { ErrorMessage, Loading, StatusMessage } from '../components/status.tsx';
import { dateText } from '../record/display.ts';
import { ConsentStatusView } from './consent-status-view.tsx';
import { ConsentForm } from './consent-form.tsx';
import { CATEGORY_NAMES, OPT_IN, OPT_OUT, shareText, withholdText, type ConsentFormText } from './consent-texts.ts';
import { useMe } from './use-me.ts';

const CATEGORIES: SensitiveCategory[] = ['PSY', 'HIV', 'ETH'];

function formsFor(s: ConsentStatus): ConsentFormText[] {
  if (s.optedOut) return [OPT_IN];
  return [OPT_OUT, ...CATEGORIES.map((c) => (s.shared.includes(c) ? withholdText(c) : shareText(c)))];
}

function Forms({ patientId }: { patientId: string }) {
  const initial = useAsync(() => consentStatus(patientId), [patientId]);
  const [status, setStatus] = useState<ConsentStatus>();
  const [chosen, setChosen] = useState<string>();
  const [message, setMessage] = useState<string>();
  const current = status ?? initial.data;
  if (initial.loading && !current) return <Loading what="your choices" />;
  if (!current) return <ErrorMessage error={initial.error} />;
  const forms = formsFor(current);
  const form = forms.find((f) => f.id === chosen);
  const done = (s: ConsentStatus): void => {
    setStatus(s);
    setChosen(undefined);
    // The server's answer has no date of change for a shared or withheld category: the choice counts from now.
    setMessage(`Saved on ${dateText(new Date().toISOString())}. ${s.optedOut ? 'You are opted out.' : 'Your choices are updated.'}`);
  };
  return (
    <>
      <StatusMessage message={message} />
      <ConsentStatusView status={current} />
      <h2>Change a choice</h2>
      <ul className="choice-list">
        {forms.map((f) => (
          <li key={f.id}>
            <button type="button" aria-pressed={chosen === f.id} onClick={() => { setMessage(undefined); setChosen(f.id); }}>{f.title}</button>
          </li>
        ))}
      </ul>
      {form && <ConsentForm key={form.id} patientId={patientId} text={form} onDone={done} />}
    </>
  );
}

export function ChoicesPage() {
  const me = useMe();
  return (
    <>
      <h1>My privacy choices</h1>
      <p>
        You decide if your health information is shared through Katahdin. Some kinds of information — {CATEGORY_NAMES.PSY},{' '}
        {CATEGORY_NAMES.HIV} and {CATEGORY_NAMES.ETH} — stay private unless you say it is okay or you are in a medical emergency.
      </p>
      {me.loading && <Loading what="your account" />}
      <ErrorMessage error={me.error} />
      {me.data && <Forms patientId={me.data.patientId} />}
    </>
  );
}
