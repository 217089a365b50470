import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import type { Database } from '../database.ts';
import { run } from '../database.ts';
import { sql } from '../sql.ts';
import { writeIndex } from './index-writer.ts';

/** Test support: the Synthea corpus as plain resources, `urn:uuid:` references rewritten to `Type/id`. */
export const SYNTHEA_DIR = path.resolve(process.cwd(), '../shared/corpora/synthea-r4/bundles');
export const syntheaPresent = existsSync(SYNTHEA_DIR);

export function loadSynthea(): Resource[][] {
  const seen = new Set<string>();
  return readdirSync(SYNTHEA_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const bundle = JSON.parse(readFileSync(path.join(SYNTHEA_DIR, file), 'utf8')) as Bundle;
      const types = new Map((bundle.entry ?? []).map((e) => [e.fullUrl, e.resource?.resourceType]));
      const text = JSON.stringify((bundle.entry ?? []).map((e) => e.resource)).replace(
        /"urn:uuid:([0-9a-f-]+)"/g,
        (_m, id: string) => `"${types.get(`urn:uuid:${id}`)}/${id}"`,
      );
      // Organizations and Practitioners repeat across bundles (same id): keep the first.
      return (JSON.parse(text) as Resource[]).filter((r) => {
        const key = `${r.resourceType}/${r.id}`;
        return !seen.has(key) && seen.add(key);
      });
    });
}

export const LAST_UPDATED = '2024-06-01T12:00:00.000Z';

/** Inserts version 1 of every resource and its index rows, one transaction per bundle; returns ms spent in writeIndex. */
export async function storeSynthea(db: Database, bundles: Resource[][]): Promise<number> {
  let indexMs = 0;
  for (const resources of bundles) {
    await db.transaction(async (tx) => {
      await run(
        tx,
        sql`insert into resources (resource_type, id, version_id, last_updated, content)
            select t, i, 1, ${LAST_UPDATED}::timestamptz, c from unnest(${resources.map((r) => r.resourceType)}::text[],
            ${resources.map((r) => r.id as string)}::text[], ${resources.map((r) => JSON.stringify(r))}::jsonb[]) as x (t, i, c)`,
      );
      const t0 = performance.now();
      await writeIndex(tx, resources, { fresh: true });
      indexMs += performance.now() - t0;
    });
  }
  return indexMs;
}
