import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { declaredLabels, labelsForResource } from './classifier.ts';
import { propagateBundleLabels } from './propagate.ts';
import type { ValueSetFile } from './value-set-types.ts';
import { combinedVersion, compileValueSets, loadValueSets, VALUE_SET_FILES } from './value-sets.ts';

const dir = new URL('./valuesets/', import.meta.url);
const files = VALUE_SET_FILES.map((f) => JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as ValueSetFile);

describe('value-set files', () => {
  it('name their sources, a version and a date, and stay under 3 MB together', () => {
    let bytes = 0;
    for (const [i, f] of files.entries()) {
      bytes += statSync(new URL(VALUE_SET_FILES[i], dir)).size;
      expect(f.version).toMatch(/^\d{4}\.\d+\.\d+\+[0-9a-f]{12}$/);
      expect(f.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(f.sources.length).toBeGreaterThan(2);
      for (const s of f.sources) {
        // Katahdin's own curated additions name the policy file that defines them instead of an upstream commit.
        if (s.repository === 'Katahdin') {
          expect(s.path).toMatch(/^bench\/privacy\//);
          continue;
        }
        expect(s.repository).toMatch(/^https:\/\/github\.com\//);
        expect(s.commit).toMatch(/^[0-9a-f]{40}$/);
        expect(s.license.length).toBeGreaterThan(2);
        expect(s.codes).toBeGreaterThan(0);
      }
    }
    expect(bytes).toBeLessThan(3_000_000);
  });

  it('carry a version whose hash matches their content (no hand edits without regenerating)', () => {
    for (const f of files) {
      const hash = createHash('sha256').update(JSON.stringify({ ranges: f.ranges, names: f.names, codes: f.codes })).digest('hex').slice(0, 12);
      expect(f.version.endsWith(hash)).toBe(true);
    }
  });

  it('keep SUD codes out of the mental-health file', () => {
    const psy = files.find((f) => f.label === 'PSY')!;
    expect(psy.codes.filter((c) => /^F1[0-9]/.test(c.code) && c.system.includes('icd-10'))).toEqual([]);
  });

  it('the combined version changes when any file changes', () => {
    const changed = files.map((f, i) => (i === 1 ? { ...f, version: '2026.11.2+000000000000' } : f));
    expect(combinedVersion(changed)).not.toBe(combinedVersion(files));
    expect(loadValueSets().version).toBe(combinedVersion(files));
    expect(compileValueSets(files).index.size).toBeGreaterThan(7000);
  });
});

const synthea = resolve(process.cwd(), '../shared/corpora/synthea-r4/bundles');
const present = existsSync(synthea);
if (!present) console.warn(`corpus ${synthea} absent: skipping Synthea labelling checks`);

describe.skipIf(!present)('labelling known Synthea resources (hand-checked expectations)', () => {
  const vs = loadValueSets();
  const load = (prefix: string): Bundle => {
    const file = readdirSync(synthea).find((f) => f.startsWith(prefix))!;
    return JSON.parse(readFileSync(join(synthea, file), 'utf8')) as Bundle;
  };
  const find = (b: Bundle, type: string, code: string) =>
    (b.entry ?? []).map((e) => e.resource as Resource).filter((r) => r.resourceType === type && JSON.stringify(r).includes(`"code":"${code}"`));

  it("Alzheimer's disease (SNOMED 26929004, in VSAC Mental Health Diagnoses) is PSY and flows to its medications", () => {
    const b = propagateBundleLabels(load('Beatrice_Aufderhar'), vs);
    const [alz] = find(b, 'Condition', '26929004');
    expect(labelsForResource(alz, vs)).toEqual(['PSY']);
    const [galantamine] = find(b, 'MedicationRequest', '310436');
    expect(labelsForResource(galantamine, vs)).toEqual([]);
    expect(declaredLabels(galantamine)).toEqual(['PSY']);
    const [sinusitis] = find(b, 'Condition', '444814009');
    expect(sinusitis === undefined || declaredLabels(sinusitis).length === 0).toBe(true);
    expect(declaredLabels(b.entry![0].resource as Resource)).toEqual([]);
  });

  it('an opioid analgesic (oxycodone/acetaminophen 1049221) is not SUD information', () => {
    const b = propagateBundleLabels(load('Chet_'), vs);
    const meds = find(b, 'MedicationRequest', '1049221');
    expect(meds.length).toBeGreaterThan(0);
    for (const m of meds) expect(declaredLabels(m)).toEqual([]);
  });

  it('seizure-disorder benzodiazepines (clonazepam, diazepam) are not labelled', () => {
    for (const f of readdirSync(synthea)) {
      const b = JSON.parse(readFileSync(join(synthea, f), 'utf8')) as Bundle;
      for (const r of [...find(b, 'MedicationRequest', '1153378'), ...find(b, 'MedicationRequest', '563026')]) {
        expect(labelsForResource(r, vs)).toEqual([]);
      }
    }
  });
});
