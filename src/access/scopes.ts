/** SMART v2 scopes: `<context>/<type|*>.<cruds>`; v1 `read`/`write`/`*` are accepted as their v2 equivalents. */
export type Interaction = 'c' | 'r' | 'u' | 'd' | 's';

interface ParsedScope {
  context: 'patient' | 'user' | 'system';
  type: string;
  permissions: Set<Interaction>;
}

const V1: Record<string, string> = { read: 'rs', write: 'cud', '*': 'cruds' };

export function parseScope(scope: string): ParsedScope | undefined {
  const m = /^(patient|user|system)\/([A-Za-z]+|\*)\.([a-z*]+)$/.exec(scope);
  if (!m) return undefined;
  const perms = V1[m[3]] ?? m[3];
  if (!/^c?r?u?d?s?$/.test(perms) || perms === '') return undefined;
  return { context: m[1] as ParsedScope['context'], type: m[2], permissions: new Set(perms.split('') as Interaction[]) };
}

// Every request checks its scopes: parsed once per distinct scope text (a deployment has a few dozen), not per call.
const PARSED = new Map<string, ParsedScope | undefined>();
const MAX_PARSED = 1000;

function parsedScope(scope: string): ParsedScope | undefined {
  if (PARSED.has(scope)) return PARSED.get(scope);
  const p = parseScope(scope);
  if (PARSED.size < MAX_PARSED) PARSED.set(scope, p);
  return p;
}

/** True when some granted scope permits `interaction` on `resourceType`. */
export function scopeAllows(scopes: readonly string[], resourceType: string, interaction: Interaction): boolean {
  return scopes.some((s) => {
    const p = parsedScope(s);
    return !!p && (p.type === '*' || p.type === resourceType) && p.permissions.has(interaction);
  });
}

/**
 * The resource types the scopes let a token read or search, as `authorizeRead` decides for one type; undefined when a
 * wildcard scope covers every type. Paths that return several types (`$everything`, history, `_include`) hold to it.
 */
export function readableTypes(scopes: readonly string[]): string[] | undefined {
  const types = new Set<string>();
  for (const s of scopes) {
    const p = parsedScope(s);
    if (!p || !(p.permissions.has('r') || p.permissions.has('s'))) continue;
    if (p.type === '*') return undefined;
    types.add(p.type);
  }
  return [...types];
}

/**
 * The query role of a submitting system (privacy-rules §1): beyond the data its own organization wrote, it may read
 * what a clinician of that organization may — persons in the organization's care, sensitive categories only where
 * the patient shares them (no break-the-glass for systems). Granted by registering the client with this scope.
 */
export const QUERY_ROLE_SCOPE = 'katahdin/query';

export function hasQueryRole(ctx: { role: string; scopes: readonly string[] }): boolean {
  return ctx.role === 'system' && ctx.scopes.includes(QUERY_ROLE_SCOPE);
}

/**
 * Lets a system client start FHIR Bulk Data exports (privacy-rules §7: bulk export of identifiers is an
 * administrator's decision). Never in a client's ceiling unless an administrator registers the client with it.
 */
export const BULK_EXPORT_SCOPE = 'katahdin/bulk-export';
