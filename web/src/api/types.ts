/** Shapes of Katahdin's non-FHIR JSON APIs (see the API contract) and shared names. */
import type { Patient } from '@medplum/fhirtypes';

export type Role = 'clinician' | 'clinical-staff' | 'registrar' | 'privacy-officer' | 'admin' | 'system' | 'patient';

export type SensitiveCategory = 'PSY' | 'HIV' | 'ETH';
export type ConsentAction = 'opt-out' | 'opt-in' | 'share' | 'withhold';
export type ConsentChannel = 'online' | 'paper' | 'phone';

export interface ConsentStatus {
  optedOut: boolean;
  optedOutAt?: string;
  optInDate?: string;
  shared: SensitiveCategory[];
}

export interface AccessReportRow {
  time: string;
  userName: string;
  role: string;
  organization: string;
  action: string;
  purpose: string;
  emergency: boolean;
}

export interface AccessReport {
  person: { name: string };
  rows: AccessReportRow[];
}

export interface PortalMe {
  username: string;
  displayName: string;
  patientId: string;
  personId: string;
}

/** An audit request as the server keeps it: about a person (MPI enterprise id), not one of their source Patients. */
export interface AuditRequest {
  id: string;
  personId: string;
  channel: 'online' | 'paper' | 'phone';
  requestedAt: string;
  status: 'requested' | 'fulfilled';
  fulfilledAt: string | null;
}

export interface MatchExplanation {
  field: string;
  level: string;
  weight: number;
}

export interface MpiTask {
  id: string;
  status: string;
  score: number;
  createdAt: string;
  a: Patient;
  b: Patient;
  explanation: MatchExplanation[];
}

export interface IngestMinute {
  minute: string;
  source: string;
  type: string;
  count: number;
}

export interface IngestStats {
  perMinute: IngestMinute[];
  totals: { accepted: number; errors: number; discarded: number; superseded: number };
}

export interface IngestError {
  id: string;
  receivedAt: string;
  source: string;
  type: string;
  controlId: string;
  reason: string;
  raw?: string;
}

export interface UserSummary {
  username: string;
  role: Role;
  organizationId?: string;
  displayName: string;
  mfaRequired: boolean;
  disabled: boolean;
}

export interface NewUser {
  username: string;
  password: string;
  role: Role;
  organizationId: string;
  displayName: string;
}

export interface ClientSummary {
  clientId: string;
  name: string;
  organizationId?: string;
  scopes: string[];
  disabled: boolean;
}

export interface NewClient {
  clientId: string;
  name: string;
  organizationId: string;
  scopes: string;
  jwks: unknown;
}

export interface BreakGlassEvent {
  seq: number;
  time: string;
  userName: string;
  organization: string;
  patientName?: string;
  personId: string;
  reason: string;
  status: string;
  notes?: string;
}

/** An attestation as the privacy officer reviews it (`GET /admin/attestations`, its `reviews`). */
export interface Attestation {
  seq: number;
  time: string;
  userName: string;
  organization: string;
  personId: string;
  patientName?: string;
  reason?: string;
  expires?: string;
  status: string;
  notes?: string;
}

/** `GET /admin/unusual-access`: the privacy officer's unusual-access report for a window. */
export interface UnusualAccessReport {
  window: { from: string; to: string };
  threshold: number;
  workingHours: { start: number; end: number; timeZone: string; weekendsOutside: boolean };
  manyPeople: Array<{ agentUserId: string; agentName: string; agentOrg: string | null; persons: number; events: number }>;
  familiarPeople: Array<{ agentUserId: string; agentName: string; personId: string; sharedFamilyName: boolean; sharedAddress: boolean; events: number; lastSeen: string }>;
  outsideWorkingHours: Array<{ seq: number; time: string; agentUserId: string; agentName: string; action: string; personIds: string[] }>;
}
