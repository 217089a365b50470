import {
  evalFhirPathTyped,
  fhirTypeToJsType,
  isEmpty,
  parseFhirPath,
  toTypedValue,
  tryGetDataType,
  UCUM,
  type InternalSchemaElement,
  type InternalTypeSchema,
  type TypedValue,
} from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';

/*
 * A validator that visits only the elements present in a resource and answers one question: would @medplum/core's
 * `validateResource` (4.5.2, typeschema/validation.ts) report no error for it? `validateResource` crawls every element
 * definition of every object's type, present or not, and that walk is most of a write's CPU. When the answer here is
 * not a certain yes (anything unusual: primitive extensions, empty or null values, unknown keys, two choice
 * alternatives, a failed invariant…), the caller runs `validateResource` itself, so the issues a client sees always
 * come from it. The checks below mirror what it checks for a present value; `validate-fast.test.ts` compares both on
 * the corpora and on broken variants of them.
 */

/** The format checks of @medplum/core's `validationRegexes` (not exported), per primitive type. */
const FORMATS: Record<string, RegExp> = {
  base64Binary: /^([A-Za-z\d+/]{4})*([A-Za-z\d+/]{2}==|[A-Za-z\d+/]{3}=)?$/,
  canonical: /^\S*$/,
  code: /^[^\s]+( [^\s]+)*$/,
  date: /^(\d(\d(\d[1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2]\d|3[0-1]))?)?$/,
  dateTime:
    /^(\d(\d(\d[1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2]\d|3[0-1])(T([01]\d|2[0-3])(:[0-5]\d:([0-5]\d|60)(\.\d{1,9})?)?)?)?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00)?)?)?$/,
  id: /^[A-Za-z0-9\-.]{1,64}$/,
  instant:
    /^(\d(\d(\d[1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2]\d|3[0-1])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,9})?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00))$/,
  markdown: /^[\r\n\t\u0020-\uFFFF]+$/,
  oid: /^urn:oid:[0-2](\.(0|[1-9]\d*))+$/,
  string: /^[\r\n\t\u0020-\uFFFF]+$/,
  time: /^([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,9})?$/,
  uri: /^\S*$/,
  url: /^\S*$/,
  uuid: /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
  xhtml: /.*/,
};

/** Invariants @medplum/core does not evaluate. */
const SKIPPED_CONSTRAINTS = new Set(['ele-1', 'dom-3', 'org-1', 'sdf-19']);

/**
 * Every DomainResource's invariants about contained resources (dom-2, dom-4, dom-5): over a resource without
 * `contained` each navigation is empty, so each evaluates to exactly `true` (tested against the evaluator). They were
 * half of this walk's time.
 */
export const ABOUT_CONTAINED: ReadonlySet<string> = new Set([
  'contained.contained.empty()',
  'contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()',
  'contained.meta.security.empty()',
]);

const JS_TYPES: Record<string, string> = fhirTypeToJsType;
const UCUM_VALUE = toTypedValue(UCUM);

type Atom = ReturnType<typeof parseFhirPath>;

/** One JSON property name an element can appear under, and the type its value has there. */
interface KeyPlan {
  element: InternalSchemaElement;
  /** The element's key in the schema (`value[x]` for `valueQuantity`). */
  elementKey: string;
  /** The value's FHIR type as @medplum/core types it (`Resource` is resolved per value). */
  type: string;
  primitive: boolean;
  /** Expressions of its error-severity invariants. */
  invariants: string[];
}

interface SchemaPlan {
  keys: Map<string, KeyPlan>;
  /** The JSON names of each element with min > 0 (any one of them present satisfies it). */
  required: string[][];
  /** JSON names of choice elements, to catch two alternatives of one element. */
  choices: Set<string>;
  /** The type's own invariants (checked on a resource at the root only, as @medplum/core does). */
  invariants: string[];
}

const atoms = new Map<string, Atom>();
const plans = new WeakMap<InternalTypeSchema, SchemaPlan | null>();

function atomOf(expression: string): Atom {
  let atom = atoms.get(expression);
  if (!atom) atoms.set(expression, (atom = parseFhirPath(expression)));
  return atom;
}

function invariantsOf(constraints: InternalSchemaElement['constraints']): string[] {
  return (constraints ?? []).filter((c) => c.severity === 'error' && !SKIPPED_CONSTRAINTS.has(c.key)).map((c) => c.expression);
}

const capitalize = (word: string) => word.charAt(0).toUpperCase() + word.substring(1);

/**
 * The property name @medplum/core's additional-property check resolves `key` to when `key` is not an element name:
 * the first camel-case prefix that names a choice element.
 */
function choicePrefix(key: string, elements: Record<string, InternalSchemaElement>): string | undefined {
  let test = '';
  for (const part of key.split(/(?=[A-Z])/g)) {
    test += part;
    if (elements[`${test}[x]`]) return test;
  }
  return undefined;
}

/**
 * Which JSON names each element of a type is read from and typed as (`getTypedPropertyValueWithSchema`). A type
 * whose definitions use anything this validator does not mirror (slicing, fixed or pattern values, nested keys) has
 * no plan: its values always go to the full validator.
 */
function planOf(schema: InternalTypeSchema): SchemaPlan | null {
  const known = plans.get(schema);
  if (known !== undefined) return known;
  const plan: SchemaPlan = { keys: new Map(), required: [], choices: new Set(), invariants: invariantsOf(schema.constraints) };
  for (const [elementKey, element] of Object.entries(schema.elements)) {
    if (element.slicing || element.fixed || element.pattern || elementKey.includes('.')) {
      plans.set(schema, null);
      return null;
    }
    const last = element.path.substring(element.path.lastIndexOf('.') + 1);
    const choice = elementKey.endsWith('[x]');
    const names: string[] = [];
    for (const t of element.type ?? []) {
      const name = last.replace('[x]', capitalize(t.code));
      // The crawl reads `name`; the additional-property check must accept it as this element and nothing else.
      const accepted = choice ? !(name in schema.elements) && choicePrefix(name, schema.elements) === elementKey.slice(0, -3) && !schema.elements[elementKey.slice(0, -3)] : name === elementKey;
      const taken = plan.keys.get(name);
      if (taken && taken.element !== element) {
        plans.set(schema, null);
        return null;
      }
      // A type listed twice (with different profiles) reads the same name; the first one types it.
      if (!accepted || taken) continue;
      const type = t.code === 'Element' || t.code === 'BackboneElement' ? element.type[0].code : t.code;
      plan.keys.set(name, { element, elementKey, type, primitive: type in JS_TYPES, invariants: invariantsOf(element.constraints) });
      names.push(name);
    }
    if (choice) names.forEach((n) => plan.choices.add(n));
    if (element.min > 0) plan.required.push(names);
  }
  plans.set(schema, plan);
  return plan;
}

class Unsure extends Error {}

/** Walks one resource; throws `Unsure` as soon as the full validator might report something. */
class Walker {
  private readonly resources: Resource[] = [];
  private readonly root: TypedValue;

  constructor(resource: Resource) {
    this.root = toTypedValue(resource);
  }

  run(): void {
    const resource = this.root.value as Resource;
    // `toTypedValue` types an object with a numeric `value` as a Quantity, whatever its resourceType.
    if (this.root.type !== resource.resourceType) throw new Unsure();
    const schema = tryGetDataType(resource.resourceType);
    const plan = schema && planOf(schema);
    if (!plan) throw new Unsure();
    const contained = 'contained' in resource;
    for (const expression of plan.invariants) if (contained || !ABOUT_CONTAINED.has(expression)) this.invariant(expression, this.root);
    this.object(resource as unknown as Record<string, unknown>, schema, true);
  }

  private invariant(expression: string, value: TypedValue): void {
    const variables: Record<string, TypedValue> = { '%context': value, '%ucum': UCUM_VALUE, '%resource': toTypedValue(this.resources.at(-1) ?? this.root.value), '%rootResource': this.root };
    let result: TypedValue[];
    try {
      result = evalFhirPathTyped(atomOf(expression), [value], variables);
    } catch {
      throw new Unsure();
    }
    if (result.length !== 1 || result[0].value !== true) throw new Unsure();
  }

  private object(obj: Record<string, unknown>, schema: InternalTypeSchema, isResource: boolean): void {
    const plan = planOf(schema);
    if (!plan) throw new Unsure();
    if (isResource) this.resources.push(obj as unknown as Resource);
    let choicesSeen: Set<string> | undefined;
    for (const key of Object.keys(obj)) {
      const value = obj[key];
      if (key === 'resourceType') {
        if (!isResource) throw new Unsure();
        continue;
      }
      const at = plan.keys.get(key);
      if (!at) throw new Unsure();
      if (value === undefined) {
        // Read as absent by the crawl and accepted by the additional-property check only under the element's own name.
        if (key !== at.elementKey) throw new Unsure();
        continue;
      }
      if (plan.choices.has(key)) {
        choicesSeen ??= new Set();
        if (choicesSeen.has(at.elementKey)) throw new Unsure();
        choicesSeen.add(at.elementKey);
      }
      this.property(value, at);
    }
    for (const names of plan.required) if (!names.some((n) => obj[n] !== undefined)) throw new Unsure();
    if (isResource) this.resources.pop();
  }

  private property(value: unknown, at: KeyPlan): void {
    const { element } = at;
    if (value === null || isEmpty(value)) throw new Unsure();
    if (Array.isArray(value) !== !!element.isArray) throw new Unsure();
    if (Array.isArray(value)) {
      if (value.length < element.min || value.length > element.max) throw new Unsure();
      for (const item of value) this.value(item, at);
    } else {
      if (element.min > 1 || element.max < 1) throw new Unsure();
      this.value(value, at);
    }
  }

  private value(value: unknown, at: KeyPlan): void {
    if (value === null || value === undefined) throw new Unsure();
    if (at.primitive) {
      this.primitive(value, at.type);
      for (const expression of at.invariants) this.invariant(expression, { type: at.type, value });
      return;
    }
    if (typeof value !== 'object' || Array.isArray(value) || isEmpty(value)) throw new Unsure();
    const obj = value as Record<string, unknown>;
    let type = at.type;
    const isResource = 'resourceType' in obj;
    if (isResource) {
      if (type !== 'Resource' || typeof obj.resourceType !== 'string') throw new Unsure();
      type = obj.resourceType;
    }
    const schema = tryGetDataType(type);
    if (!schema) throw new Unsure();
    for (const expression of at.invariants) this.invariant(expression, { type, value });
    this.object(obj, schema, isResource);
  }

  private primitive(value: unknown, type: string): void {
    const expected = JS_TYPES[type];
    if (typeof value !== expected) throw new Unsure();
    if (expected === 'string') {
      const str = value as string;
      if (!str.trim() || str.length > 1024 * 1024) throw new Unsure();
      const format = FORMATS[type];
      if (format && !format.test(str)) throw new Unsure();
    } else if (expected === 'number') {
      const n = value as number;
      if (!Number.isFinite(n)) throw new Unsure();
      if ((type === 'integer' || type === 'positiveInt' || type === 'unsignedInt') && !Number.isInteger(n)) throw new Unsure();
      if ((type === 'positiveInt' && n <= 0) || (type === 'unsignedInt' && n < 0)) throw new Unsure();
    }
  }
}

/**
 * True only when `validateResource` from @medplum/core would report no error-severity issue for the resource (and
 * not throw); false means "run it to find out". Definitions must be loaded.
 */
export function surelyValid(resource: Resource): boolean {
  try {
    new Walker(resource).run();
    return true;
  } catch (err) {
    if (err instanceof Unsure) return false;
    throw err;
  }
}
