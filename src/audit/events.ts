import type { AuditEvent, AuditEventAgent, AuditEventEntity, Coding, Extension } from '@medplum/fhirtypes';
import type { AccessContext } from '../access/context.ts';
import type { AuditAction, AuditFacts, AuditInput, AuditOutcome } from './types.ts';

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const EVENT_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
const REST = 'http://hl7.org/fhir/restful-interaction';
export const ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
/** The code systems of R4's required bindings of `AuditEvent.action` and `AuditEvent.outcome`. */
export const AUDIT_EVENT_ACTION = 'http://hl7.org/fhir/audit-event-action';
export const AUDIT_EVENT_OUTCOME = 'http://hl7.org/fhir/audit-event-outcome';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
export const KATAHDIN_ACTION = 'https://katahdin.org/fhir/CodeSystem/audit-action';
export const KATAHDIN_ROLE = 'https://katahdin.org/fhir/CodeSystem/role';
export const BREAK_GLASS_URL = 'https://katahdin.org/fhir/StructureDefinition/katahdin-break-the-glass';
export const RELATIONSHIP_URL = 'https://katahdin.org/fhir/StructureDefinition/katahdin-relationship';
export const USER_SYSTEM = 'https://katahdin.org/fhir/sid/user';
export const CLIENT_SYSTEM = 'https://katahdin.org/fhir/sid/client';

type ActionCode = NonNullable<AuditEvent['action']>;

interface ActionShape {
  type: Coding;
  subtype: Coding;
  code: ActionCode;
}

const rest = (code: string): Coding => ({ system: REST, code });
const dcm = (code: string, display: string): Coding => ({ system: DCM, code, display });
const TYPE_REST: Coding = { system: EVENT_TYPE, code: 'rest', display: 'Restful Operation' };
const TYPE_AUTH = dcm('110114', 'User Authentication');
const TYPE_ALERT = dcm('110113', 'Security Alert');
const TYPE_AUDIT = dcm('110101', 'Audit Log Used');
const SECURITY_ATTRIBUTES_CHANGED = dcm('110137', 'User Security Attributes Changed');
const PATIENT_RECORD = dcm('110110', 'Patient Record');

/** IHE BALP shape of each Katahdin action: event type, standard subtype, CRUDE action code. */
const SHAPES: Record<AuditAction, ActionShape> = {
  read: { type: TYPE_REST, subtype: rest('read'), code: 'R' },
  vread: { type: TYPE_REST, subtype: rest('vread'), code: 'R' },
  search: { type: TYPE_REST, subtype: rest('search-type'), code: 'E' },
  create: { type: TYPE_REST, subtype: rest('create'), code: 'C' },
  update: { type: TYPE_REST, subtype: rest('update'), code: 'U' },
  delete: { type: TYPE_REST, subtype: rest('delete'), code: 'D' },
  history: { type: TYPE_REST, subtype: rest('history-instance'), code: 'R' },
  everything: { type: TYPE_REST, subtype: rest('operation'), code: 'E' },
  match: { type: TYPE_REST, subtype: rest('operation'), code: 'E' },
  validate: { type: TYPE_REST, subtype: rest('operation'), code: 'E' },
  operation: { type: TYPE_REST, subtype: rest('operation'), code: 'E' },
  capabilities: { type: TYPE_REST, subtype: rest('capabilities'), code: 'R' },
  document: { type: TYPE_REST, subtype: rest('read'), code: 'R' },
  binary: { type: TYPE_REST, subtype: rest('read'), code: 'R' },
  consent: { type: TYPE_REST, subtype: rest('update'), code: 'U' },
  purge: { type: TYPE_REST, subtype: rest('delete'), code: 'D' },
  'mpi-link': { type: TYPE_REST, subtype: rest('operation'), code: 'U' },
  'mpi-unlink': { type: TYPE_REST, subtype: rest('operation'), code: 'U' },
  'mpi-merge': { type: TYPE_REST, subtype: rest('operation'), code: 'U' },
  attest: { type: TYPE_REST, subtype: rest('operation'), code: 'C' },
  admin: { type: TYPE_REST, subtype: rest('operation'), code: 'E' },
  denied: { type: TYPE_ALERT, subtype: rest('operation'), code: 'E' },
  export: { type: dcm('110106', 'Export'), subtype: rest('operation'), code: 'R' },
  notify: { type: dcm('110106', 'Export'), subtype: rest('operation'), code: 'R' },
  ingest: { type: dcm('110107', 'Import'), subtype: rest('create'), code: 'C' },
  login: { type: TYPE_AUTH, subtype: dcm('110122', 'Login'), code: 'E' },
  'login-failed': { type: TYPE_AUTH, subtype: dcm('110122', 'Login'), code: 'E' },
  logout: { type: TYPE_AUTH, subtype: dcm('110123', 'Logout'), code: 'E' },
  token: { type: TYPE_AUTH, subtype: rest('operation'), code: 'E' },
  'break-glass': { type: TYPE_ALERT, subtype: rest('operation'), code: 'E' },
  'audit-review': { type: TYPE_AUDIT, subtype: rest('update'), code: 'U' },
  'audit-request': { type: TYPE_AUDIT, subtype: rest('create'), code: 'C' },
  'audit-report': { type: TYPE_AUDIT, subtype: rest('read'), code: 'R' },
  revoke: { type: TYPE_AUTH, subtype: rest('operation'), code: 'E' },
  disable: { type: TYPE_ALERT, subtype: SECURITY_ATTRIBUTES_CHANGED, code: 'U' },
  enable: { type: TYPE_ALERT, subtype: SECURITY_ATTRIBUTES_CHANGED, code: 'U' },
};

export const AUDIT_ACTIONS = Object.keys(SHAPES) as AuditAction[];

/**
 * The codings an action's AuditEvent carries in `action` (CRUDE) and `subtype`, which searches match; REST events
 * also carry `personSubtype` (BALP's Patient Record) when they name people.
 */
export function actionCodings(action: AuditAction): { action: Coding; subtype: Coding[]; personSubtype?: Coding } {
  const shape = SHAPES[action];
  return {
    action: { system: AUDIT_EVENT_ACTION, code: shape.code },
    subtype: [shape.subtype, { system: KATAHDIN_ACTION, code: action }],
    ...(shape.type === TYPE_REST ? { personSubtype: PATIENT_RECORD } : {}),
  };
}

export const OUTCOME_CODES: Record<AuditOutcome, NonNullable<AuditEvent['outcome']>> = { success: '0', denied: '4', error: '8' };

// Nine digits shaped like an SSN (with or without separators) are masked wherever free text reaches the log.
const SSN_LIKE = /(?<!\d)\d{3}([- ]|%2D)?\d{2}([- ]|%2D)?\d{4}(?!\d)/gi;

export function maskIdentifiers(text: string): string {
  return text.replace(SSN_LIKE, '#########');
}

export function isBreakGlass(input: AuditInput): boolean {
  return input.action === 'break-glass' || input.ctx.purposeOfUse === 'ETREAT' || input.relationship === 'break-glass';
}

function purposeOf(ctx: AccessContext) {
  return [{ coding: [{ system: ACT_REASON, code: ctx.purposeOfUse }] }];
}

function agents(ctx: AccessContext): AuditEventAgent[] {
  const network = ctx.sourceIp ? { address: ctx.sourceIp, type: '2' as const } : undefined;
  const role = [{ coding: [{ system: KATAHDIN_ROLE, code: ctx.role }] }];
  const out: AuditEventAgent[] = [];
  if (ctx.userId || !ctx.clientId) {
    out.push({
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] },
      who: { display: ctx.displayName, ...(ctx.userId ? { identifier: { system: USER_SYSTEM, value: ctx.userId } } : {}) },
      role, requestor: true, network, purposeOfUse: purposeOf(ctx),
    });
  }
  if (ctx.clientId) {
    const alone = !ctx.userId;
    out.push({
      type: { coding: [dcm('110150', 'Application')] },
      who: { identifier: { system: CLIENT_SYSTEM, value: ctx.clientId }, ...(alone ? { display: ctx.displayName } : {}) },
      requestor: alone,
      ...(alone ? { role, network, purposeOfUse: purposeOf(ctx) } : {}),
    });
  }
  if (ctx.organizationId) {
    out.push({
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleClass', code: 'PROV' }] },
      who: { reference: `Organization/${ctx.organizationId}` },
      requestor: false,
    });
  }
  return out;
}

const ACCOUNT_SYSTEMS = { user: USER_SYSTEM, client: CLIENT_SYSTEM };

/**
 * How an entry names a user or OAuth client it acted on (disabled, revoked…) among its resource references: as an
 * identifier, `system|id`, since accounts are not FHIR resources. Never confused with a `Type/id` reference: FHIR ids
 * have no `|`.
 */
export function accountRef(kind: 'user' | 'client', id: string): string {
  return `${ACCOUNT_SYSTEMS[kind]}|${id}`;
}

/** The patient as BALP names it (a Person or a Patient): type 1 (Person), role 1 (Patient). */
const patientRole = (reference: string): AuditEventEntity => ({
  what: { reference },
  type: { system: ENTITY_TYPE, code: '1' },
  role: { system: OBJECT_ROLE, code: '1' },
});

function resourceEntity(ref: string): AuditEventEntity {
  const system = Object.values(ACCOUNT_SYSTEMS).find((s) => ref.startsWith(`${s}|`));
  if (system) {
    // An account: a system object, in the role of a security user entity.
    return { what: { identifier: { system, value: ref.slice(system.length + 1) } }, type: { system: ENTITY_TYPE, code: '2' }, role: { system: OBJECT_ROLE, code: '11' } };
  }
  return { what: { reference: ref }, type: { system: ENTITY_TYPE, code: '2' }, role: { system: OBJECT_ROLE, code: '4' } };
}

function entities(input: AuditInput): AuditEventEntity[] {
  const people = input.personIds.map((id) => patientRole(`Person/${id}`));
  const resources = input.resources.map(resourceEntity);
  const query: AuditEventEntity[] = input.query
    ? [{
        type: { system: ENTITY_TYPE, code: '2' },
        role: { system: OBJECT_ROLE, code: '24' },
        query: Buffer.from(maskIdentifiers(input.query), 'utf8').toString('base64'),
      }]
    : [];
  return [...people, ...resources, ...query];
}

function extensions(input: AuditInput, breakGlass: boolean): Extension[] {
  const out: Extension[] = [];
  if (breakGlass) out.push({ url: BREAK_GLASS_URL, valueBoolean: true });
  if (input.relationship) out.push({ url: RELATIONSHIP_URL, valueCode: input.relationship });
  return out;
}

/** Builds the FHIR R4 AuditEvent (IHE BALP) for one audited act. Pure; `id` is assigned from the log sequence when read back. */
export function buildAuditEvent(input: AuditInput, recorded: Date): AuditEvent {
  const shape = SHAPES[input.action];
  const codings = actionCodings(input.action);
  const breakGlass = isBreakGlass(input);
  const ext = extensions(input, breakGlass);
  const outcome = input.action === 'login-failed' && input.outcome === 'success' ? 'denied' : input.outcome;
  return {
    resourceType: 'AuditEvent',
    ...(breakGlass ? { meta: { security: [{ system: ACT_REASON, code: 'BTG', display: 'break the glass' }] } } : {}),
    ...(ext.length ? { extension: ext } : {}),
    type: shape.type,
    subtype: [...codings.subtype, ...(input.personIds.length && codings.personSubtype ? [codings.personSubtype] : [])],
    action: shape.code,
    recorded: recorded.toISOString(),
    outcome: OUTCOME_CODES[outcome],
    ...(input.detail ? { outcomeDesc: maskIdentifiers(input.detail).slice(0, 200) } : {}),
    purposeOfEvent: purposeOf(input.ctx),
    agent: agents(input.ctx),
    source: {
      observer: { display: 'Katahdin', identifier: { system: 'https://katahdin.org/fhir/sid/system', value: 'katahdin' } },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4' }],
    },
    entity: entities(input),
  };
}

/**
 * IHE BALP names the patient with a `Patient` entity; the log names the person (MPI), whose source Patients change as
 * records are linked, merged and split. When an event is read, each of its Person entities is followed by the source
 * Patients `patientsOf` gives for it (those linked when the event was recorded). Only the rendering: what is stored
 * and hashed stays the person.
 */
export function withSourcePatients(event: AuditEvent, patientsOf: (personId: string) => readonly string[]): AuditEvent {
  if (!event.entity?.length) return event;
  const entity = event.entity.flatMap((e) => {
    const ref = e.what?.reference;
    const person = e.role?.code === '1' && ref?.startsWith('Person/') ? ref.slice('Person/'.length) : undefined;
    return person ? [e, ...patientsOf(person).map((id) => patientRole(`Patient/${id}`))] : [e];
  });
  return { ...event, entity };
}

/** The facts stored for one audited act: the searchable columns, from which its AuditEvent is rebuilt when read. */
export function auditFacts(input: AuditInput, recorded: Date): AuditFacts {
  const { ctx } = input;
  const outcome = input.action === 'login-failed' && input.outcome === 'success' ? 'denied' : input.outcome;
  return {
    recorded: recorded.toISOString(),
    action: input.action,
    subtype: SHAPES[input.action].subtype.code ?? input.action,
    outcome,
    purpose: ctx.purposeOfUse ?? null,
    agentUserId: ctx.userId ?? null,
    agentName: ctx.displayName,
    agentRole: ctx.role,
    agentOrg: ctx.organizationId ?? null,
    agentClient: ctx.clientId ?? null,
    sourceIp: ctx.sourceIp ?? null,
    personIds: [...new Set(input.personIds)],
    entityRefs: [...new Set(input.resources)],
    relationship: input.relationship ?? null,
    breakGlass: isBreakGlass(input),
    query: input.query ? maskIdentifiers(input.query) : null,
    detail: input.detail ? maskIdentifiers(input.detail).slice(0, 200) : null,
  };
}

/** The audited act as its stored facts describe it, for rebuilding the AuditEvent of a compact entry. */
export function inputOfFacts(f: AuditFacts): AuditInput {
  return {
    ctx: {
      userId: f.agentUserId ?? undefined,
      clientId: f.agentClient ?? undefined,
      displayName: f.agentName,
      role: f.agentRole as AccessContext['role'],
      organizationId: f.agentOrg ?? undefined,
      scopes: [],
      purposeOfUse: (f.purpose ?? 'TREAT') as AccessContext['purposeOfUse'],
      sourceIp: f.sourceIp ?? undefined,
    },
    action: f.action,
    outcome: f.outcome,
    personIds: f.personIds,
    resources: f.entityRefs,
    query: f.query ?? undefined,
    detail: f.detail ?? undefined,
    relationship: f.relationship ?? undefined,
  };
}
