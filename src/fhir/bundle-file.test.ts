import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Resource } from '@medplum/fhirtypes';
import { afterAll, describe, expect, it } from 'vitest';
import { forEachBundleResource } from './bundle-file.ts';
import { r4File } from './definitions.ts';

const dir = mkdtempSync(join(tmpdir(), 'bundle-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function resourcesOf(text: string, readSize: number): Resource[] {
  const file = join(dir, 'bundle.json');
  writeFileSync(file, text);
  const out: Resource[] = [];
  forEachBundleResource(file, (r) => out.push(r), readSize);
  return out;
}

describe('forEachBundleResource', () => {
  it('yields the resources JSON.parse finds, whatever the strings hold and wherever reads split them', () => {
    const resource = fc.record({
      resourceType: fc.constantFrom('Basic', 'Observation'),
      // Brackets, quotes, backslashes and multi-byte characters inside strings, keys named entry inside resources.
      text: fc.string({ unit: fc.constantFrom('{', '}', '[', ']', '"', '\\', 'a', 'é', '€', '𝄞', ',', ':') }),
      entry: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(fc.array(resource, { maxLength: 6 }), fc.integer({ min: 1, max: 64 }), fc.boolean(), (resources, readSize, indent) => {
        const bundle = {
          resourceType: 'Bundle', id: 'entry', type: 'collection',
          link: [{ relation: 'entry', url: 'x' }],
          entry: resources.map((r) => ({ fullUrl: `urn:${r.resourceType}`, resource: r })),
          signature: { data: '[{"entry": ["x"]}]' },
        };
        const text = JSON.stringify(bundle, null, indent ? 2 : 0);
        expect(resourcesOf(text, readSize)).toEqual((JSON.parse(text) as { entry: Array<{ resource: Resource }> }).entry.map((e) => e.resource));
      }),
      { numRuns: 300 },
    );
  });

  it('reads an R4 definitions bundle entry by entry', () => {
    const types: string[] = [];
    forEachBundleResource(r4File('profiles-types.json'), (r) => types.push(r.resourceType));
    expect(types.length).toBe(63);
    expect(new Set(types)).toEqual(new Set(['StructureDefinition']));
  });
});
