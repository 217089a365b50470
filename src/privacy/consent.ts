import type { Consent, ConsentProvision } from '@medplum/fhirtypes';
import { CONSENT_CHANNEL_URL, CONSENT_SCOPE_SYSTEM, type ConsentChannel } from './consent-builders.ts';
import { ACT_CODE_SYSTEM, SENSITIVITY_LABELS, type SensitivityLabel } from './labels/value-set-types.ts';

export * from './consent-builders.ts';

export type ConsentEventKind = 'opt-out' | 'opt-in' | 'share' | 'withhold';

export interface ConsentEvent {
  kind: ConsentEventKind;
  label?: SensitivityLabel;
  /** When the choice takes effect. */
  effective: string;
  /** When it was recorded (Consent.dateTime). */
  recorded?: string;
  channel?: ConsentChannel;
  consentId?: string;
}

/** A person's current choices, derived from their Consent resources. */
export interface ConsentState {
  optedOut: boolean;
  /** Effective date of the opt-out in force. */
  optedOutAt?: string;
  /** Set when the person opted back in: data from visits before this date is refused. */
  optInDate?: string;
  /** Sensitive categories the person lets treating clinicians see. */
  shared: SensitivityLabel[];
  /** Every effective choice, oldest first (future-dated ones excluded). */
  history: ConsentEvent[];
}

/** The default when a person has made no choice: participating (an opt-out HIE), nothing shared. */
export const NO_CHOICES: ConsentState = { optedOut: false, shared: [], history: [] };

const LABEL_INPUT: Record<string, SensitivityLabel> = { PSY: 'PSY', MH: 'PSY', HIV: 'HIV', ETH: 'ETH' };

/** A patient's privacy choice (scope patient-privacy), whatever its status: only a patient, registrar or privacy officer records one. */
export function isPrivacyChoice(c: Consent): boolean {
  return !!c.scope?.coding?.some((x) => x.system === CONSENT_SCOPE_SYSTEM && x.code === 'patient-privacy');
}

function isPatientPrivacy(c: Consent): boolean {
  return c.status === 'active' && isPrivacyChoice(c);
}

function provisions(p: ConsentProvision | undefined): ConsentProvision[] {
  return p ? [p, ...(p.provision ?? []).flatMap(provisions)] : [];
}

function ruleOf(c: Consent): 'OPTOUT' | 'OPTIN' | undefined {
  const code = c.policyRule?.coding?.find((x) => x.system === ACT_CODE_SYSTEM)?.code;
  return code === 'OPTOUT' || code === 'OPTIN' ? code : undefined;
}

/** Turns one Consent into the choices it expresses. */
export function consentEvents(c: Consent): ConsentEvent[] {
  if (!isPatientPrivacy(c)) return [];
  const effective = c.provision?.period?.start ?? c.dateTime;
  if (!effective) return [];
  const channel = c.extension?.find((e) => e.url === CONSENT_CHANNEL_URL)?.valueCode as ConsentChannel | undefined;
  const common = { effective, recorded: c.dateTime, channel, consentId: c.id };
  const labelled = provisions(c.provision).filter((p) => p.securityLabel?.length);
  if (labelled.length > 0) {
    return labelled.flatMap((p) =>
      (p.securityLabel ?? [])
        .filter((s) => s.system === ACT_CODE_SYSTEM && s.code && LABEL_INPUT[s.code])
        .map((s) => ({ ...common, kind: p.type === 'permit' ? 'share' : 'withhold', label: LABEL_INPUT[s.code as string] }) as ConsentEvent),
    );
  }
  const rule = ruleOf(c);
  return rule ? [{ ...common, kind: rule === 'OPTOUT' ? 'opt-out' : 'opt-in' }] : [];
}

/** Effective time first, then recording time, so a correction recorded later wins a tie. */
function compareEvents(a: ConsentEvent, b: ConsentEvent): number {
  const ta = Date.parse(a.effective) - Date.parse(b.effective);
  if (ta !== 0) return ta;
  return Date.parse(a.recorded ?? a.effective) - Date.parse(b.recorded ?? b.effective);
}

/**
 * Current state from all of a person's consents (from every linked source record). Latest effective
 * choice wins per topic (participation; each category). An opt-out also ends earlier category
 * shares: after opting back in the person chooses again.
 */
export function consentState(consents: Consent[], now: Date): ConsentState {
  const history = consents
    .flatMap(consentEvents)
    .filter((e) => Date.parse(e.effective) <= now.getTime())
    .sort(compareEvents);
  let optedOut = false;
  let optedOutAt: string | undefined;
  let optInDate: string | undefined;
  const shared = new Set<SensitivityLabel>();
  for (const e of history) {
    if (e.kind === 'opt-out') {
      optedOut = true;
      optedOutAt = e.effective;
      optInDate = undefined;
      shared.clear();
    } else if (e.kind === 'opt-in') {
      if (optedOut) optInDate = e.effective;
      optedOut = false;
      optedOutAt = undefined;
    } else if (e.label && !optedOut) {
      if (e.kind === 'share') shared.add(e.label);
      else shared.delete(e.label);
    }
  }
  return {
    optedOut,
    ...(optedOutAt ? { optedOutAt } : {}),
    ...(optInDate ? { optInDate } : {}),
    shared: SENSITIVITY_LABELS.filter((l) => shared.has(l)),
    history,
  };
}

/** How far ahead of the server's clock a choice dated "now" by a client may be. */
const CONSENT_CLOCK_SKEW_MS = 5 * 60_000;

export type ConsentDateRefusal = 'invalid-date' | 'back-dated' | 'future';
/** `effective`: the date to record (a date within the clock-skew allowance ahead of now is taken as now). */
export type ConsentDateCheck = { ok: true; effective: string } | { ok: false; reason: ConsentDateRefusal };

/**
 * A consent may take effect at most `graceDays` before it is recorded (paper forms arrive late), and not after: the
 * person's privacy state is derived when a choice is recorded, so a choice dated ahead would never take effect.
 */
export function validateConsentDate(date: string, now: Date, graceDays: number): ConsentDateCheck {
  const t = Date.parse(date);
  if (Number.isNaN(t)) return { ok: false, reason: 'invalid-date' };
  if (now.getTime() - t > graceDays * 86_400_000) return { ok: false, reason: 'back-dated' };
  if (t - now.getTime() > CONSENT_CLOCK_SKEW_MS) return { ok: false, reason: 'future' };
  return { ok: true, effective: t > now.getTime() ? now.toISOString() : date };
}
