import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { AccessContext } from '../../src/access/context.ts';
import { receiveCcda } from '../../src/ingest/ccda-pipeline.ts';
import type { Services } from '../../src/services.ts';

const CCDA = resolve(process.cwd(), '../shared/corpora/ccda');
const FILES = [
  'hl7-examples/documents/CCD_1.xml',
  'hl7-examples/documents/Referral_Note.xml',
  'onc-cures/gold/170.315_b1_toc_gold_sample2_v4.xml',
  'chb-sample-ccdas/allscripts_mu2_InPt_Discharge_Summary.xml',
];

export const hasCcdaCorpus = existsSync(join(CCDA, 'INDEX.csv'));

/** A corpus document under a fresh ClinicalDocument/id and patient id, so each one is a new document for a new patient. */
function variant(xml: string, n: string): string {
  return xml
    .replace(/<id\s[^>]*?\/?>(<\/id>)?/, `<id root="2.25.${Date.now()}${n}" extension="bench-${n}"/>`)
    .replace(/(<patientRole[^>]*>\s*<id\s[^>]*?extension=")([^"]*)"/, (_m, head: string, ext: string) => `${head}${ext}-${n}"`);
}

export interface CcdaLoadResult {
  documents: number;
  seconds: number;
  perSecond: number;
  resourcesPerSecond: number;
  failed: number;
}

/** Documents through the full C-CDA pipeline (validate, convert, inbox, one gate transaction), `workers` at a time. */
export async function runCcdaLoad(s: Services, ctx: AccessContext, workers: number, durationMs: number, prefix: string): Promise<CcdaLoadResult> {
  const docs = FILES.map((f) => readFileSync(join(CCDA, f), 'utf8'));
  let n = 0;
  let resources = 0;
  let documents = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() - started < durationMs) {
        const i = n++;
        const out = await receiveCcda(s, variant(docs[i % docs.length], `${prefix}${i}`), ctx);
        if (out.status === 'processed') {
          documents++;
          resources += out.resources ?? 0;
        } else failed++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { documents, seconds, perSecond: documents / seconds, resourcesPerSecond: resources / seconds, failed };
}
