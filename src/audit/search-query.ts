import type { Coding } from '@medplum/fhirtypes';
import { badRequest } from '../fhir/outcome.ts';
import { unsupported, type ParseContext } from '../store/search/parse-context.ts';
import { parseValue, shown, splitEscaped, unescape } from '../store/search/parse-values.ts';
import { getSearchParam, supportedSearchParams, type SearchParamDef, type SupportedSearchParam } from '../store/search/search-parameters.ts';
import type { SearchValue } from '../store/search/types.ts';
import { ACT_REASON, actionCodings, AUDIT_ACTIONS, AUDIT_EVENT_OUTCOME, KATAHDIN_ACTION, OUTCOME_CODES } from './events.ts';
import type { AuditAction, AuditOutcome } from './types.ts';

export type DateValue = Extract<SearchValue, { kind: 'date' }>;
type TokenValue = Extract<SearchValue, { kind: 'token' }>;

/**
 * One occurrence of a parameter, resolved to the stored columns: its comma-separated values are OR-ed, occurrences
 * are AND-ed. Empty lists match nothing.
 */
export type AuditFilter =
  | { on: 'date'; values: DateValue[] }
  /** A user id, OAuth client id or organization id; `Organization/x` only the organization. */
  | { on: 'agent'; values: Array<{ id: string; organizationOnly: boolean }> }
  | { on: 'patient'; patientIds: string[] }
  /** `Type/id` references, persons (`Person/x`, kept in `person_ids`) and ids of any type. */
  | { on: 'entity'; refs: string[]; personIds: string[]; ids: string[] }
  /** Events of `actions`, and of `namingPersons` when they name people (BALP's Patient Record subtype). */
  | { on: 'action'; actions: AuditAction[]; namingPersons: AuditAction[] }
  | { on: 'outcome'; outcomes: AuditOutcome[] }
  | { on: 'purpose'; codes: string[]; anyPurpose: boolean };

export interface AuditQuery {
  filters: AuditFilter[];
  count: number;
  offset: number;
  /** Paging pin (`_before`): only events up to this seq, so later events (the searches themselves) do not shift pages. */
  before?: number;
  warnings: string[];
}

const PARAMS = ['action', 'agent', 'date', 'entity', 'outcome', 'patient', 'purpose', 'subtype'];

/** R4 has no `purpose` parameter for AuditEvent (R5 added it): Katahdin's, over `purposeOfEvent`. */
const PURPOSE: SearchParamDef = {
  code: 'purpose', type: 'token', expression: 'AuditEvent.purposeOfEvent', targets: [],
  url: 'https://katahdin.org/fhir/SearchParameter/AuditEvent-purpose', description: 'The PurposeOfUse of the event (v3-ActReason: TREAT, ETREAT, HOPERAT…)',
};

/** Where Katahdin's meaning is wider than R4's description. */
const DOCUMENTATION: Record<string, string> = {
  agent: 'User id, OAuth client id or organization id of the agent; Organization/id: the organization only',
  action: 'The CRUDE code (C, R, U, D, E) or a Katahdin action (read, search, break-glass…)',
  outcome: 'The outcome code (0, 4, 8) or success, denied, error',
  patient: 'A source Patient: events about its person (MPI), and about the persons its records belonged to before, while they did',
};

/** The search parameters `GET /fhir/AuditEvent` implements, for the CapabilityStatement. */
export function auditSearchParams(): SupportedSearchParam[] {
  const r4 = supportedSearchParams('AuditEvent').filter((p) => PARAMS.includes(p.name));
  const purpose: SupportedSearchParam = { name: PURPOSE.code, type: PURPOSE.type, definition: PURPOSE.url, documentation: PURPOSE.description };
  return [...r4.map((p) => (DOCUMENTATION[p.name] ? { ...p, documentation: DOCUMENTATION[p.name] } : p)), purpose];
}

const DEFAULT_AUDIT_PAGE = 50;
const MAX_AUDIT_PAGE = 1000;
const MAX_VALUE_LENGTH = 4096;
const IGNORED = new Set(['_format', '_pretty']);
const OUTCOMES = Object.keys(OUTCOME_CODES) as AuditOutcome[];

function integer(name: string, value: string, max: number): number {
  if (!/^\d{1,18}$/.test(value)) throw badRequest(`${name} must be a non-negative integer`, [name]);
  return Math.min(Number(value), max);
}

/** FHIR token matching against one coding: `code`, `system|code`, `system|`, `|code` (no system). */
function matches(t: TokenValue, c: Coding): boolean {
  const systemOk = t.system === undefined || (t.system === '' ? !c.system : t.system === c.system);
  return systemOk && (t.code === undefined || t.code === c.code);
}

const anyMatch = (tokens: TokenValue[], codings: Coding[]) => tokens.some((t) => codings.some((c) => matches(t, c)));

/** `action`: the CRUDE code of R4, or Katahdin's own verb (`read`, `break-glass`…). */
function actionFilter(tokens: TokenValue[]): AuditFilter {
  const actions = AUDIT_ACTIONS.filter((a) => anyMatch(tokens, [actionCodings(a).action, { system: KATAHDIN_ACTION, code: a }]));
  return { on: 'action', actions, namingPersons: [] };
}

function subtypeFilter(tokens: TokenValue[]): AuditFilter {
  const actions = AUDIT_ACTIONS.filter((a) => anyMatch(tokens, actionCodings(a).subtype));
  const namingPersons = AUDIT_ACTIONS.filter((a) => {
    const person = actionCodings(a).personSubtype;
    return person !== undefined && !actions.includes(a) && anyMatch(tokens, [person]);
  });
  return { on: 'action', actions, namingPersons };
}

/** `outcome`: R4's codes (0, 4, 8) or Katahdin's words (success, denied, error). */
function outcomeFilter(tokens: TokenValue[]): AuditFilter {
  const outcomes = OUTCOMES.filter((o) => anyMatch(tokens, [{ system: AUDIT_EVENT_OUTCOME, code: OUTCOME_CODES[o] }, { code: o }]));
  return { on: 'outcome', outcomes };
}

function purposeFilter(tokens: TokenValue[]): AuditFilter {
  const ours = tokens.filter((t) => t.system === undefined || t.system === ACT_REASON);
  return { on: 'purpose', codes: ours.flatMap((t) => (t.code === undefined ? [] : [t.code])), anyPurpose: ours.some((t) => t.code === undefined) };
}

type Reference = Extract<SearchValue, { kind: 'reference' }>;

function patientFilter(refs: Reference[]): AuditFilter {
  return { on: 'patient', patientIds: refs.flatMap((r) => (r.id && (r.type ?? 'Patient') === 'Patient' ? [r.id] : [])) };
}

function entityFilter(refs: Reference[]): AuditFilter {
  const typed = refs.filter((r) => r.type && r.id);
  return {
    on: 'entity',
    refs: typed.filter((r) => r.type !== 'Person').map((r) => `${r.type}/${r.id}`),
    personIds: typed.filter((r) => r.type === 'Person').map((r) => r.id!),
    ids: refs.flatMap((r) => (!r.type && r.id ? [r.id] : [])),
  };
}

/** Agents are users and OAuth clients (not FHIR resources: their ids are not FHIR ids) and organizations. */
function agentFilter(texts: string[], baseUrl: string | undefined): AuditFilter {
  const values = texts.map(unescape).map((t) => (baseUrl && t.startsWith(`${baseUrl}/`) ? t.slice(baseUrl.length + 1) : t)).flatMap((t) => {
    const slash = t.indexOf('/');
    if (slash < 0) return [{ id: t, organizationOnly: false }];
    return t.slice(0, slash) === 'Organization' ? [{ id: t.slice(slash + 1), organizationOnly: true }] : [];
  });
  return { on: 'agent', values };
}

function filterOf(ctx: ParseContext, code: string, value: string): AuditFilter {
  const texts = splitEscaped(value, ',').filter((t) => t !== '');
  if (code === 'agent') return agentFilter(texts, ctx.baseUrl);
  // The other parameters are parsed as the generic search parses them: date precision and prefixes, token forms, references.
  const def = code === 'purpose' ? PURPOSE : getSearchParam('AuditEvent', code)!;
  const values = texts.map((t) => parseValue(def, undefined, undefined, t, ctx.baseUrl));
  switch (code) {
    case 'date': return { on: 'date', values: values as DateValue[] };
    case 'patient': return patientFilter(values as Reference[]);
    case 'entity': return entityFilter(values as Reference[]);
    case 'action': return actionFilter(values as TokenValue[]);
    case 'subtype': return subtypeFilter(values as TokenValue[]);
    case 'outcome': return outcomeFilter(values as TokenValue[]);
    default: return purposeFilter(values as TokenValue[]);
  }
}

/**
 * Parses `GET /fhir/AuditEvent` parameters (pairs in URL order). Unknown or unsupported parameters are warnings, or
 * a 400 under `Prefer: handling=strict`, as in the generic search.
 */
export function parseAuditQuery(pairs: Array<[string, string]>, opts: { strict: boolean; baseUrl?: string }): AuditQuery {
  const ctx: ParseContext = { strict: opts.strict, baseUrl: opts.baseUrl?.replace(/\/$/, ''), resourceType: 'AuditEvent', warnings: [] };
  const query: AuditQuery = { filters: [], count: DEFAULT_AUDIT_PAGE, offset: 0, warnings: ctx.warnings };
  for (const [key, value] of pairs) {
    if (IGNORED.has(key)) continue;
    if (value.length > MAX_VALUE_LENGTH) throw badRequest(`Value of search parameter '${shown(key)}' is too long`);
    if (key === '_count') query.count = integer(key, value, MAX_AUDIT_PAGE);
    else if (key === '_offset') query.offset = integer(key, value, 10_000_000);
    else if (key === '_before') query.before = integer(key, value, Number.MAX_SAFE_INTEGER);
    else {
      const [code, modifier] = key.split(':');
      if (!PARAMS.includes(code)) {
        unsupported(ctx, `Unknown or unsupported search parameter '${shown(key)}'`);
        continue;
      }
      if (modifier !== undefined) throw badRequest(`Unsupported modifier ':${shown(modifier)}' on '${code}'`, [code]);
      // `name=` with an empty value has nothing to match: ignored, as in the generic search.
      if (splitEscaped(value, ',').every((t) => t === '')) continue;
      query.filters.push(filterOf(ctx, code, value));
    }
  }
  return query;
}
