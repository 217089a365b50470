/** The two audited access dialogs: attest a treatment relationship, break the glass. */
import { attest, breakGlass, type BreakGlassState } from '../api/fhir.ts';
import { ReasonDialog } from './reason-dialog.tsx';

interface Props {
  patientId: string;
  open: 'attest' | 'break-glass' | null;
  onClose: () => void;
  onAttested: () => void;
  onBrokeGlass: (s: BreakGlassState) => void;
}

export function AccessDialogs({ patientId, open, onClose, onAttested, onBrokeGlass }: Props) {
  return (
    <>
      <ReasonDialog open={open === 'attest'} title="Attest to a treatment relationship" submitLabel="Attest"
        onClose={onClose} onSubmit={async (reason) => { await attest(patientId, reason); onAttested(); }}>
        <p>
          I am treating this patient or about to. My statement and reason are recorded, and I will have access for
          <strong> 30 days</strong>. The privacy officer reviews attestations.
        </p>
      </ReasonDialog>
      <ReasonDialog open={open === 'break-glass'} title="Break the glass (emergency access)" submitLabel="Break the glass" danger
        onClose={onClose} onSubmit={async (reason) => onBrokeGlass(await breakGlass(patientId, reason))}>
        <p>
          Use this only in a medical emergency. You will see this patient's whole record, including information the patient chose to keep
          private, for <strong>4 hours</strong>. Every view is recorded, reviewed by the privacy officer, and shown to the patient.
        </p>
      </ReasonDialog>
    </>
  );
}
