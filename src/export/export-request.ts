import { badRequest } from '../fhir/outcome.ts';
import { isStorableType } from '../fhir/definitions.ts';

export type ExportLevel = 'system' | 'patient' | 'group';

/** What a kick-off asked for, checked. */
export interface ExportRequest {
  level: ExportLevel;
  groupId?: string;
  /** Resource types asked for; undefined = every type the caller may read. */
  types?: string[];
  /** Only resources changed at or after this instant (ISO 8601). */
  since?: string;
  /**
   * `_typeFilter` criteria per resource type, as search parameter pairs: a resource of such a type is exported when it
   * matches any of its type's criteria; types without criteria are exported whole (Bulk Data IG).
   */
  typeFilters?: Record<string, Array<Array<[string, string]>>>;
  /** `patient`: only the records of these Patients (ids), at Patient or Group level. */
  patients?: string[];
  /**
   * `_elements`: the root elements to keep, per resource type (`Type.element`) or for every type (key `*`); the rest is
   * left out and the resource marked SUBSETTED.
   */
  elements?: Record<string, string[]>;
  /** Parameters ignored under lenient handling, reported in the manifest's `error` list. */
  warnings: string[];
}

export const NDJSON = 'application/fhir+ndjson';
const OUTPUT_FORMATS = [NDJSON, 'application/ndjson', 'ndjson'];

/**
 * Parameters that narrow an export. Ignoring one would hand over more than was asked for, so each is refused
 * whatever the handling preference (the Bulk Data IG lets a server refuse what it does not support).
 */
const NARROWING: Record<string, string> = {
  _until: '_until is not supported: every export ends at its transactionTime.',
  includeAssociatedData: 'includeAssociatedData is not supported.',
};

/** The audit log is searched by privacy officers, never exported with the record. */
const NOT_EXPORTED = ['AuditEvent'];

/** Search parameters that shape a result rather than select resources: a `_typeFilter` takes criteria only. */
const RESULT_CONTROLS = new Set(['_sort', '_count', '_offset', '_total', '_summary', '_elements', '_include', '_revinclude', '_contained', '_containedType', '_format', '_pretty']);

/**
 * One `_typeFilter` value, `Type?criteria` (the criteria URL-encoded as in a search URL), as its type and search
 * parameter pairs. Whether each parameter exists and its value is well formed is checked by the search engine.
 */
export function parseTypeFilter(value: string): { type: string; query: Array<[string, string]> } {
  const at = value.indexOf('?');
  const type = at < 0 ? '' : value.slice(0, at);
  if (!/^[A-Z][A-Za-z]+$/.test(type) || at === value.length - 1) {
    throw badRequest(`_typeFilter ${JSON.stringify(value.slice(0, 60))} is not of the form Type?criteria, e.g. Observation?category=laboratory.`);
  }
  if (!isStorableType(type)) throw badRequest(`_typeFilter names ${JSON.stringify(type.slice(0, 60))}, which is not a FHIR R4 resource type.`);
  const query = [...new URLSearchParams(value.slice(at + 1))];
  for (const [name] of query) {
    if (RESULT_CONTROLS.has(name)) throw badRequest(`_typeFilter takes search criteria only; ${JSON.stringify(name.slice(0, 60))} shapes a result.`);
  }
  return { type, query };
}

/** `_elements` items as (type, root element) pairs; `*` for an element named without a type (every type). */
function parseElements(value: string): Array<[string, string]> {
  return value.split(',').map((e) => e.trim()).filter(Boolean).map((item) => {
    const m = /^(?:([A-Z][A-Za-z]+)\.)?([a-z][A-Za-z0-9]*)$/.exec(item);
    if (!m || (m[1] && !isStorableType(m[1]))) throw badRequest(`_elements lists root elements as name or Type.name; got ${JSON.stringify(item.slice(0, 60))}.`);
    return [m[1] ?? '*', m[2]];
  });
}

/** The id of a `patient` value: a Reference (as a POSTed `valueReference` arrives) or its `Patient/{id}` text. */
function patientId(value: string): string {
  let reference = value;
  if (value.startsWith('{')) {
    try {
      reference = String((JSON.parse(value) as { reference?: unknown }).reference ?? '');
    } catch {
      reference = '';
    }
  }
  const id = /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(reference)?.[1];
  if (!id) throw badRequest(`patient must reference a Patient as Patient/{id}; got ${JSON.stringify(reference.slice(0, 60))}.`);
  return id;
}

/** FHIR `instant` (a date with time and zone); `_since` must be one. */
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Checks a kick-off request's parameters (query pairs, or a POSTed Parameters resource turned into pairs).
 * `strict` is `Prefer: handling=strict`: unknown parameters are then refused instead of reported.
 */
export function parseExportRequest(level: ExportLevel, groupId: string | undefined, params: Array<[string, string]>, strict: boolean): ExportRequest {
  const request: ExportRequest = { level, ...(groupId ? { groupId } : {}), warnings: [] };
  for (const [name, value] of params) {
    if (NARROWING[name]) throw badRequest(NARROWING[name]);
    switch (name) {
      case '_outputFormat':
        if (!OUTPUT_FORMATS.includes(value)) throw badRequest(`_outputFormat ${JSON.stringify(value.slice(0, 60))} is not supported; use ${NDJSON}.`);
        break;
      case '_since':
        if (!INSTANT.test(value) || Number.isNaN(Date.parse(value))) throw badRequest('_since must be a FHIR instant with a time zone, e.g. 2026-01-31T00:00:00Z.');
        if (request.since) throw badRequest('_since may be given once.');
        request.since = new Date(value).toISOString();
        break;
      case '_type':
        request.types = [...new Set([...(request.types ?? []), ...value.split(',').map((t) => t.trim()).filter(Boolean)])];
        break;
      case '_elements':
        for (const [type, element] of parseElements(value)) (request.elements ??= {})[type] = [...(request.elements?.[type] ?? []), element];
        break;
      case 'patient': {
        if (level === 'system') throw badRequest('The patient parameter applies to Patient and Group level exports.');
        request.patients = [...new Set([...(request.patients ?? []), patientId(value)])];
        break;
      }
      case '_typeFilter': {
        // Repeated, or a comma-separated list: split only before `Type?`, so a comma within criteria (values OR-ed) stays.
        for (const one of value.split(/,(?=[A-Z][A-Za-z]+\?)/)) {
          const { type, query } = parseTypeFilter(one);
          request.typeFilters ??= {};
          (request.typeFilters[type] ??= []).push(query);
        }
        break;
      }
      default:
        if (strict) throw badRequest(`Unknown export parameter ${JSON.stringify(name.slice(0, 60))} (Prefer: handling=strict).`);
        request.warnings.push(`The parameter ${JSON.stringify(name.slice(0, 60))} is not known and was ignored.`);
    }
  }
  for (const type of request.types ?? []) {
    if (NOT_EXPORTED.includes(type)) throw badRequest(`${type} is not exported; privacy officers search it through the API.`);
    if (!isStorableType(type)) throw badRequest(`_type names ${JSON.stringify(type.slice(0, 60))}, which is not a FHIR R4 resource type.`);
  }
  if (request.types?.length === 0) throw badRequest('_type is empty.');
  for (const type of Object.keys(request.typeFilters ?? {})) {
    if (NOT_EXPORTED.includes(type)) throw badRequest(`${type} is not exported; privacy officers search it through the API.`);
    // The IG leaves this to the server; refusing says plainly that the filter would select nothing.
    if (request.types && !request.types.includes(type)) throw badRequest(`_typeFilter names ${type}, which _type does not ask for.`);
  }
  return request;
}

/** A POSTed kick-off's `Parameters` as query pairs (valueString, valueInstant, valueCode…; a `valueReference` as its JSON). */
export function parametersToPairs(body: unknown): Array<[string, string]> {
  if (body === undefined || body === null || body === '') return [];
  const p = body as { resourceType?: string; parameter?: Array<Record<string, unknown>> };
  if (p.resourceType !== 'Parameters') throw badRequest('A POSTed export kick-off takes a Parameters resource.');
  const pairs: Array<[string, string]> = [];
  for (const param of p.parameter ?? []) {
    const name = typeof param.name === 'string' ? param.name : '';
    const valueKey = Object.keys(param).find((k) => k.startsWith('value'));
    const value = valueKey ? param[valueKey] : undefined;
    if (!name) throw badRequest('Every export parameter needs a name.');
    pairs.push([name, typeof value === 'string' ? value : JSON.stringify(value ?? null)]);
  }
  return pairs;
}
