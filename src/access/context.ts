/** Who is asking, carried explicitly through every call that touches the record. */
export type Role =
  | 'clinician'
  | 'clinical-staff'
  | 'registrar'
  | 'privacy-officer'
  | 'admin'
  | 'system'
  | 'patient';

/** HL7 v3 PurposeOfUse codes we issue (TREAT normal care, ETREAT break-the-glass, HOPERAT operations, PATRQT patient request). */
export type PurposeOfUse = 'TREAT' | 'ETREAT' | 'HOPERAT' | 'PATRQT' | 'HSYSADMIN';

export interface AccessContext {
  /** User id (people) — absent for system clients. */
  userId?: string;
  /** OAuth client id (system clients and apps). */
  clientId?: string;
  /** Display name for audit ("Dr. Dana Demo"). */
  displayName: string;
  role: Role;
  /** Organization resource id the caller acts for. */
  organizationId?: string;
  /** Granted SMART v2 scopes, e.g. `user/*.rs`, `system/*.cruds`, `patient/*.rs`. */
  scopes: string[];
  purposeOfUse: PurposeOfUse;
  /** For role `patient`: the enterprise person id (MPI Person) the patient is. */
  personId?: string;
  sourceIp?: string;
  requestId?: string;
  /** Set only by `systemContext()` for the server's own jobs; never by a token. */
  internal?: boolean;
}

/** The context used by trusted internal jobs (migrations, demo loading, re-linking) — still audited. */
export function systemContext(displayName: string): AccessContext {
  return {
    clientId: 'katahdin-internal',
    displayName,
    role: 'system',
    scopes: ['system/*.cruds'],
    purposeOfUse: 'HSYSADMIN',
    internal: true,
  };
}
