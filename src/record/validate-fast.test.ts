import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { evalFhirPathTyped, getDataType, OperationOutcomeError, toTypedValue, validateResource } from '@medplum/core';
import type { Bundle, Observation, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { loadFhirDefinitions } from '../fhir/definitions.ts';
import { FhirError } from '../fhir/outcome.ts';
import { processMessage } from '../ingest/hl7v2/corpus-report.ts';
import { decodeHl7Bytes } from '../ingest/hl7v2/decode.ts';
import { splitMessages } from '../ingest/hl7v2/split-batch.ts';
import { validateOrThrow } from './validate.ts';
import { ABOUT_CONTAINED, surelyValid } from './validate-fast.ts';

loadFhirDefinitions();

const CORPORA = path.resolve(process.cwd(), '../shared/corpora');

/** The errors @medplum/core's validator reports (what `surelyValid` must never contradict). */
function medplumErrors(resource: Resource): OperationOutcomeIssue[] {
  let issues: OperationOutcomeIssue[];
  try {
    issues = validateResource(resource);
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) return [{ severity: 'fatal', code: 'exception', diagnostics: String(err) }];
    issues = err.outcome.issue ?? [];
  }
  return issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
}

function corpus(): Array<{ source: string; resource: Resource }> {
  const out: Array<{ source: string; resource: Resource }> = [];
  const synthea = path.join(CORPORA, 'synthea-r4/bundles');
  if (existsSync(synthea)) {
    for (const file of readdirSync(synthea).filter((f) => f.endsWith('.json')).sort().slice(0, 12)) {
      for (const e of (JSON.parse(readFileSync(path.join(synthea, file), 'utf8')) as Bundle).entry ?? []) if (e.resource) out.push({ source: 'synthea', resource: e.resource });
    }
  }
  const spec = path.join(CORPORA, 'fhir-r4-examples/spec-examples');
  if (existsSync(spec)) {
    for (const file of readdirSync(spec).filter((f) => f.endsWith('.json')).sort()) {
      const resource = JSON.parse(readFileSync(path.join(spec, file), 'utf8').replace(/^\uFEFF/, '')) as Resource;
      out.push({ source: 'spec', resource });
      if (resource.resourceType === 'Bundle') for (const e of resource.entry ?? []) if (e.resource) out.push({ source: 'spec', resource: e.resource });
    }
  }
  const hl7 = path.join(CORPORA, 'hl7v2');
  if (existsSync(path.join(hl7, 'INDEX.csv'))) {
    const files = readFileSync(path.join(hl7, 'INDEX.csv'), 'utf8').trim().split('\n').slice(1).map((row) => row.split(',')[0]);
    for (const file of files) {
      for (const message of splitMessages(decodeHl7Bytes(readFileSync(path.join(hl7, file))))) {
        const { result } = processMessage(file, message);
        if (result.kind === 'bundle' || result.kind === 'merge') for (const e of result.bundle.entry ?? []) if (e.resource) out.push({ source: 'hl7', resource: e.resource });
      }
    }
  }
  return out;
}

/** Deterministic damage to one place of a resource: bad values, removed or unknown keys, arity and choice changes. */
function mutants(resources: Resource[], count: number): Resource[] {
  let seed = 7;
  const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const BAD: unknown[] = ['', ' ', 'a  b', ' x', null, undefined, 0, -1, 1.5, true, {}, [], 'not-a-date', '2020-13-01', '2020-01-01T10:00',
    { foo: 1 }, ['x'], NaN, Infinity, 'x\u0001', 'urn:uuid:XYZ', { reference: 'Patient/1' }, { coding: [{ code: 'x' }] }, [{}], [null],
    { resourceType: 'Patient' }, { value: 5 }];
  const KEYS = ['foo', 'resourceType', 'contained', 'valueString', 'valueQuantity', 'effectiveDateTime', 'effectivePeriod', 'id', 'extension'];
  const TYPES = ['String', 'Boolean', 'Quantity', 'DateTime', 'Period', 'CodeableConcept', 'Reference', 'Integer'];
  type Slot = { parent: Record<string, unknown> | unknown[]; key: string | number };
  const slots = (node: unknown, out: Slot[]): Slot[] => {
    if (Array.isArray(node)) node.forEach((v, i) => { out.push({ parent: node, key: i }); slots(v, out); });
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) if (k !== 'resourceType') { out.push({ parent: node as Record<string, unknown>, key: k }); slots(v, out); }
    }
    return out;
  };
  const out: Resource[] = [];
  for (let i = 0; i < count; i++) {
    const copy = structuredClone(resources[i % resources.length]);
    const all = slots(copy, []);
    if (all.length === 0) continue;
    const { parent, key } = all[random(all.length)];
    const p = parent as Record<string | number, unknown>;
    const value = p[key];
    switch (random(7)) {
      case 0: case 1: p[key] = structuredClone(BAD[random(BAD.length)]); break;
      case 2: if (Array.isArray(parent)) parent.splice(key as number, 1); else delete p[key]; break;
      case 3: if (!Array.isArray(parent)) p[[...KEYS, `_${key}`, `${key}X`][random(KEYS.length + 2)]] = structuredClone(BAD[random(BAD.length)] ?? 'v'); break;
      case 4: p[key] = Array.isArray(value) ? value[0] : [value]; break;
      case 5: if (typeof value === 'string') p[key] = [`${value} `, value.toUpperCase(), value.slice(1), `${value}\n`, value.replace(/-/g, '/'), `#${value}`][random(6)]; break;
      default: if (!Array.isArray(parent)) { delete p[key]; p[String(key).replace(/[A-Z].*$/, '') + TYPES[random(TYPES.length)]] = value; }
    }
    if (random(20) === 0) (copy as unknown as Record<string, unknown>).value = 5;
    out.push(copy);
  }
  return out;
}

describe('surelyValid (the present-elements walk in front of @medplum/core validateResource)', () => {
  const resources = corpus();

  it.skipIf(resources.length === 0)('vouches only for resources @medplum/core finds no error in, and for every valid corpus resource it can', () => {
    const vouched = resources.filter(({ resource }) => surelyValid(resource));
    expect(vouched.filter(({ resource }) => medplumErrors(resource).length > 0).map(({ resource }) => `${resource.resourceType}/${resource.id}`)).toEqual([]);
    // Synthea and mapped HL7 v2 resources (what ingestion writes) all take the fast path.
    expect(resources.filter(({ source, resource }) => source !== 'spec' && !surelyValid(resource))).toEqual([]);
  });

  it.skipIf(resources.length === 0)('never vouches for a damaged resource @medplum/core reports an error for', () => {
    const damaged = mutants(resources.map((r) => r.resource), 6000);
    const vouched = damaged.filter((r) => surelyValid(r));
    expect(vouched.filter((r) => medplumErrors(r).length > 0).map((r) => JSON.stringify(r).slice(0, 200))).toEqual([]);
    // Not vacuous: many damaged resources are still valid (a removed optional element) and taken by the fast path.
    expect(vouched.length).toBeGreaterThan(damaged.length / 20);
  });

  it.skipIf(resources.length === 0)('skips only invariants about contained resources that are true for a resource without them', () => {
    const domainResource = new Set(getDataType('Observation').constraints?.map((c) => c.expression));
    for (const expression of ABOUT_CONTAINED) expect(domainResource.has(expression), expression).toBe(true);
    for (const { resource } of resources.filter((r) => !('contained' in r.resource))) {
      const root = toTypedValue(resource);
      for (const expression of ABOUT_CONTAINED) {
        const result = evalFhirPathTyped(expression, [root], { '%context': root, '%resource': root, '%rootResource': root, '%ucum': toTypedValue('http://unitsofmeasure.org') });
        expect(result, expression).toEqual([{ type: 'boolean', value: true }]);
      }
    }
  });

  it('leaves the reported issues to @medplum/core', () => {
    const observation: Observation = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, effectiveDateTime: '2024-01-01' };
    expect(surelyValid(observation)).toBe(true);
    const broken = [
      { ...observation, effectiveDateTime: '2024-13-01' },
      { ...observation, code: undefined },
      { ...observation, code: { text: '' } },
      { ...observation, valueString: 'a', valueQuantity: { value: 1 } },
      { ...observation, _status: { extension: [{ url: 'http://example.org', valueString: 'x' }] } },
      { ...observation, note: [] },
      { ...observation, subject: { reference: 'Patient/1', display: null } },
      { ...observation, unknown: 1 },
      { ...observation, dataAbsentReason: { text: 'gone' }, valueString: 'here' },
    ] as unknown as Resource[];
    for (const resource of broken) {
      expect(surelyValid(resource), JSON.stringify(resource)).toBe(false);
      const errors = medplumErrors(resource);
      if (errors.length > 0) {
        const thrown = (() => {
          try {
            validateOrThrow(resource);
          } catch (err) {
            return err;
          }
          return undefined;
        })();
        expect(thrown).toBeInstanceOf(FhirError);
        expect((thrown as FhirError).outcome.issue?.map((i) => i.expression)).toEqual(errors.map((i) => i.expression));
      }
    }
  });
});
