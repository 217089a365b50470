/** A dialog that asks for a required reason before an audited access action (attestation, break-the-glass). */
import { useId, useState, type FormEvent, type ReactNode } from 'react';
import { Dialog } from '../components/dialog.tsx';
import { ErrorMessage } from '../components/status.tsx';
import { useAction } from '../components/use-action.ts';

interface Props {
  open: boolean;
  title: string;
  submitLabel: string;
  danger?: boolean;
  onSubmit: (reason: string) => Promise<void>;
  onClose: () => void;
  children: ReactNode;
}

export function ReasonDialog({ open, title, submitLabel, danger, onSubmit, onClose, children }: Props) {
  const [reason, setReason] = useState('');
  const { busy, error, run } = useAction();
  const id = useId();
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!reason.trim()) return;
    await run(async () => {
      await onSubmit(reason.trim());
      setReason('');
    });
  };
  return (
    <Dialog open={open} title={title} onClose={onClose}>
      <form onSubmit={submit}>
        <div className="dialog-body">{children}</div>
        <div className="field">
          <label htmlFor={id}>Reason (required)</label>
          <textarea id={id} value={reason} onChange={(e) => setReason(e.target.value)} required rows={3} />
        </div>
        <ErrorMessage error={error} />
        <div className="actions">
          <button type="submit" className={danger ? 'danger' : 'primary'} disabled={busy || !reason.trim()}>
            {busy ? 'Working…' : submitLabel}
          </button>
          <button type="button" onClick={onClose} disabled={busy}>Cancel</button>
        </div>
      </form>
    </Dialog>
  );
}
