/** Demographics of the demo's Synthea patients (the server loads the first files of the same corpus, sorted). */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Patient } from '@medplum/fhirtypes';
import { syntheaDir } from '../../../src/demo/load-demo.ts';

export interface DemoPerson {
  given: string;
  family: string;
  birthDate: string;
  postalCode: string;
  gender: string;
}

export const corpusPresent = existsSync(syntheaDir());
if (!corpusPresent) console.warn(`corpus ${syntheaDir()} absent: skipping web end-to-end tests`);

/** The n-th demo patient (0 already has the patient.demo account). */
export function demoPerson(n: number): DemoPerson {
  const file = readdirSync(syntheaDir()).filter((f) => f.endsWith('.json')).sort()[n];
  const bundle = JSON.parse(readFileSync(join(syntheaDir(), file), 'utf8')) as Bundle;
  const p = bundle.entry?.find((e) => e.resource?.resourceType === 'Patient')?.resource as Patient;
  const name = p.name?.find((x) => x.use === 'official') ?? p.name?.[0];
  return {
    given: name?.given?.[0] ?? '',
    family: name?.family ?? '',
    birthDate: p.birthDate ?? '',
    postalCode: p.address?.[0]?.postalCode ?? '',
    gender: p.gender ?? 'unknown',
  };
}
