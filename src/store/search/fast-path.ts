import type { TypedValue } from '@medplum/core';

/**
 * A fast evaluator for the FHIRPath shapes that make up nearly all R4 search expressions — `Type.a.b`, `(Type.a as T)`,
 * `Type.a.as(T)`, `Type.a.where(resolve() is T)` — walking the JSON directly. Ingest evaluates ~40 expressions per
 * resource, and the general evaluator is the bottleneck; anything outside these shapes falls back to it
 * (fast-path.test.ts checks both agree on the Synthea corpus).
 */
export type FastPath = (resource: unknown) => TypedValue[];

// Data type names a choice element `name[x]` may carry as its JSON suffix (`valueQuantity`).
const CHOICE_TYPES = new Set(
  ('Boolean Integer String Decimal Uri Url Canonical Base64Binary Instant Date DateTime Time Code Oid Id Markdown ' +
    'UnsignedInt PositiveInt Uuid Address Age Annotation Attachment CodeableConcept Coding ContactPoint Count Distance ' +
    'Duration HumanName Identifier Money Period Quantity Range Ratio Reference SampledData Signature Timing ' +
    'ContactDetail Contributor DataRequirement Expression ParameterDefinition RelatedArtifact TriggerDefinition ' +
    'UsageContext Dosage Meta').split(' '),
);

type Step = (values: TypedValue[]) => TypedValue[];

const STEP = /^(?:\.([a-z][A-Za-z0-9]*)(?![A-Za-z0-9(])|\.as\(([A-Za-z]+)\)|\.where\(resolve\(\) is ([A-Z][A-Za-z]+)\)|\.where\(([a-z][A-Za-z0-9]*) ?= ?'([^'\\]*)'\))/;
const HEAD = /^[A-Z][A-Za-z]+(?=\.)/;
const AS_OP = /^\((.+) as ([A-Za-z]+)\)(.*)$/;

type Obj = Record<string, unknown>;

function push(out: TypedValue[], v: unknown, type: string): void {
  if (Array.isArray(v)) for (const x of v) out.push({ type, value: x });
  else if (v !== undefined && v !== null) out.push({ type, value: v });
}

function children(value: unknown, name: string, out: TypedValue[]): void {
  if (typeof value !== 'object' || value === null) return;
  const obj = value as Obj;
  if (name in obj) return push(out, obj[name], 'unknown');
  for (const key of Object.keys(obj)) {
    if (key.length > name.length && key.startsWith(name)) {
      const suffix = key.slice(name.length);
      if (CHOICE_TYPES.has(suffix)) push(out, obj[key], suffix[0].toLowerCase() + suffix.slice(1));
    }
  }
}

function child(name: string): Step {
  return (values) => {
    const out: TypedValue[] = [];
    for (const tv of values) children(tv.value, name, out);
    return out;
  };
}

const sameType = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

function refIs(tv: TypedValue, type: string): boolean {
  const ref = (tv.value as { reference?: unknown } | null)?.reference;
  return typeof ref === 'string' && (ref.startsWith(`${type}/`) || ref.includes(`/${type}/`));
}

function compileStep(m: RegExpExecArray): Step {
  if (m[1]) return child(m[1]);
  if (m[2]) return asType(m[2]);
  if (m[3]) {
    const type = m[3];
    return (values) => values.filter((tv) => refIs(tv, type));
  }
  const [field, literal] = [m[4], m[5]];
  return (values) => values.filter((tv) => (tv.value as Obj | null)?.[field] === literal);
}

function asType(type: string): Step {
  return (values) => values.filter((tv) => sameType(tv.type, type));
}

/** Compiles `.a.as(T).where(…)…` into steps; undefined when some step is outside the supported shapes. */
function compileChain(chain: string, steps: Step[]): boolean {
  let rest = chain;
  while (rest) {
    const m = STEP.exec(rest);
    if (!m) return false;
    steps.push(compileStep(m));
    rest = rest.slice(m[0].length);
  }
  return true;
}

function compilePart(part: string): FastPath | undefined {
  const steps: Step[] = [];
  const asOp = AS_OP.exec(part);
  const head = asOp ? asOp[1] : part;
  const type = HEAD.exec(head);
  if (!type || !compileChain(head.slice(type[0].length), steps)) return undefined;
  if (asOp) {
    steps.push(asType(asOp[2]));
    if (!compileChain(asOp[3], steps)) return undefined;
  }
  return (resource) => steps.reduce<TypedValue[]>((values, step) => step(values), [{ type: 'Resource', value: resource }]);
}

/** A fast evaluator for the whole union, or undefined when any part needs the general FHIRPath engine. */
export function compileFastPath(parts: string[]): FastPath | undefined {
  const compiled = parts.map(compilePart);
  if (compiled.some((c) => !c)) return undefined;
  const fns = compiled as FastPath[];
  return (r) => fns.flatMap((f) => f(r));
}
