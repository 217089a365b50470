/** One privacy form: explains what happens, asks for confirmation, then shows the new status. */
import { useId, useState, type FormEvent } from 'react';
import { recordConsent } from '../api/fhir.ts';
import type { ConsentChannel, ConsentStatus } from '../api/types.ts';
import { ConfirmDialog } from '../components/dialog.tsx';
import { ErrorMessage } from '../components/status.tsx';
import { useAction } from '../components/use-action.ts';
import type { ConsentFormText } from './consent-texts.ts';

interface Props {
  patientId: string;
  text: ConsentFormText;
  channel?: ConsentChannel;
  date?: string;
  onDone: (status: ConsentStatus) => void;
}

export function ConsentForm({ patientId, text, channel = 'online', date, onDone }: Props) {
  const [understood, setUnderstood] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const { busy, error, run } = useAction();
  const checkId = useId();
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    if (understood) setConfirming(true);
  };
  const confirm = async (): Promise<void> => {
    await run(async () => {
      onDone(await recordConsent(patientId, { action: text.action, category: text.category, channel, date }));
    });
    setConfirming(false);
  };
  return (
    <form className="card consent-form" onSubmit={submit} aria-labelledby={`${checkId}-title`}>
      <h2 id={`${checkId}-title`}>{text.title}</h2>
      <p>{text.intro}</p>
      <h3>What happens</h3>
      <ul>{text.whatHappens.map((w) => <li key={w}>{w}</li>)}</ul>
      <div className="check">
        <input id={checkId} type="checkbox" checked={understood} onChange={(e) => setUnderstood(e.target.checked)} />
        <label htmlFor={checkId}>I have read this and I understand what will happen.</label>
      </div>
      <ErrorMessage error={error} />
      <button type="submit" className="primary" disabled={!understood}>Continue</button>
      <ConfirmDialog open={confirming} title="Please confirm" confirmLabel={text.confirmLabel} busy={busy}
        onConfirm={confirm} onCancel={() => setConfirming(false)}>
        <p>{text.confirmQuestion}</p>
      </ConfirmDialog>
    </form>
  );
}
