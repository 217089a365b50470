import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { AccessContext } from '../access/context.ts';
import { exportChunk, exportDeleted, exportPlan, exportTypes, groupPersons, patientPersons, type ExportSelection } from '../access/export-reads.ts';
import type { GateScope } from '../access/gate-scope.ts';
import { FhirError } from '../fhir/outcome.ts';
import { selectElements } from '../record/elements.ts';
import type { Services } from '../services.ts';
import { completeJob, failJob, type ExportFile, type ExportJob } from './export-jobs.ts';

/** Resources read and audited per transaction while a file is streamed (each batch is committed with its audit entry before it is sent). */
const CHUNK = 500;
/** Binary content (whole documents, images) can be megabytes each: fewer per batch keeps a download's memory bounded. */
const BINARY_CHUNK = 20;

/** The name of the file that lists a job's warnings as an OperationOutcome. */
export const WARNINGS_FILE = 'warnings.ndjson';

/** An incremental export (`_since`) also lists what was deleted since, as transaction Bundles of DELETE entries. */
const DELETED_FILE: ExportFile = { type: 'Bundle', name: 'deleted.ndjson', from: '', to: null, deleted: true };

/** The requester's context as the export runs: recorded with the export's purpose (privacy-rules §7). */
export function exportContext(ctx: AccessContext, job: Pick<ExportJob, 'purpose'>): AccessContext {
  return { ...ctx, purposeOfUse: job.purpose };
}

/** Whose records a job covers: everyone's (system), every person's (Patient level), a Group's members; `patient` narrows the last two. */
async function jobPersons(scope: GateScope, job: ExportJob): Promise<ExportSelection['persons']> {
  if (job.level === 'system') return undefined;
  const named = job.patients ? await patientPersons(scope, job.patients) : undefined;
  if (job.level === 'patient') return named ?? 'compartment';
  const members = await groupPersons(scope, job.groupId!);
  return named ? members.filter((p) => named.includes(p)) : members;
}

async function selectionOf(scope: GateScope, job: ExportJob, types?: string[]): Promise<ExportSelection> {
  const persons = await jobPersons(scope, job);
  return {
    types: types ?? await exportTypes(scope, job.types ?? undefined), persons, since: job.since ?? undefined, until: job.transactionTime,
    ...(job.typeFilters ? { typeFilters: job.typeFilters } : {}),
  };
}

/**
 * Splits each type's boundaries into named files. A type's first file starts before every id and its last ends after
 * every id, so a resource that becomes visible after planning (a category shared since) still falls in a file.
 */
export function filesOf(plan: Array<{ type: string; from: string }>): ExportFile[] {
  const files: ExportFile[] = [];
  for (let i = 0; i < plan.length; i++) {
    const { type, from } = plan[i];
    const first = plan[i - 1]?.type !== type;
    const next = plan[i + 1]?.type === type ? plan[i + 1].from : null;
    const n = files.filter((f) => f.type === type).length + 1;
    files.push({ type, name: `${type}-${n}.ndjson`, from: first ? '' : from, to: next });
  }
  return files;
}

/**
 * Works out the files of a job (in the background after the kick-off), under the requester's context: the
 * bounds of each file among what the requester may export now. Failures are kept on the job, without PHI.
 */
export async function planExport(s: Services, ctx: AccessContext, job: ExportJob, log: { error(o: object, m: string): void }): Promise<void> {
  try {
    const plan = await s.gate.run(exportContext(ctx, job), { action: 'export', query: `$export ${job.id} (plan)` }, async (scope) =>
      exportPlan(scope, await selectionOf(scope, job), s.config.exportFileResources));
    await completeJob(s.db, job.id, [...filesOf(plan), ...(job.since ? [DELETED_FILE] : [])]);
  } catch (err) {
    const message = err instanceof FhirError ? err.message : 'The export could not be prepared because of a server error; start it again.';
    if (!(err instanceof FhirError)) log.error({ job: job.id, err: err instanceof Error ? err.name : 'error' }, 'bulk export planning failed');
    await failJob(s.db, job.id, message).catch(() => undefined);
  }
}

/**
 * The lines of one output file, read through the gate in batches at download time: what the requester may see
 * now, so a later opt-out, withdrawn consent or ended care relationship is honoured. Each batch is audited as an
 * export in the transaction that read it; the first batch is read before anything is sent, so a refusal is an error answer.
 */
export async function* exportFileLines(s: Services, ctx: AccessContext, job: ExportJob, file: ExportFile): AsyncGenerator<string> {
  if (file.deleted) {
    yield* deletedLines(s, ctx, job);
    return;
  }
  const query = `$export ${job.id} ${file.name}`;
  const elements = elementsFor(job, file.type);
  let sel: ExportSelection | undefined;
  let after: string | undefined;
  for (;;) {
    const out = await s.gate.run(exportContext(ctx, job), { action: 'export', query }, async (scope) => {
      sel ??= await selectionOf(scope, job, [file.type]);
      return exportChunk(scope, sel, file, after, file.type === 'Binary' ? BINARY_CHUNK : CHUNK, query);
    });
    if (out.resources.length) yield out.resources.map((r: Resource) => JSON.stringify(selectElements(r, elements))).join('\n') + '\n';
    if (!out.more) return;
    after = out.last;
  }
}

/** The root elements `_elements` keeps for a type (those named for every type and for it); undefined keeps them all. */
function elementsFor(job: ExportJob, type: string): string[] | undefined {
  const named = [...(job.elements?.['*'] ?? []), ...(job.elements?.[type] ?? [])];
  return named.length ? named : undefined;
}

/** The deleted file: one transaction Bundle of DELETE entries per batch, read and audited like any other file. */
async function* deletedLines(s: Services, ctx: AccessContext, job: ExportJob): AsyncGenerator<string> {
  const query = `$export ${job.id} ${DELETED_FILE.name}`;
  let sel: ExportSelection | undefined;
  let after: string | undefined;
  for (;;) {
    const out = await s.gate.run(exportContext(ctx, job), { action: 'export', query }, async (scope) => {
      sel ??= await selectionOf(scope, job);
      return exportDeleted(scope, sel, after, CHUNK, query);
    });
    if (out.keys.length) {
      const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: out.keys.map((k) => ({ request: { method: 'DELETE', url: `${k.resource_type}/${k.id}` } })) };
      yield `${JSON.stringify(bundle)}\n`;
    }
    if (!out.more) return;
    const last = out.keys[out.keys.length - 1];
    after = `${last.resource_type}/${last.id}`;
  }
}

/** The job's warnings (ignored parameters) as one OperationOutcome line. */
export function warningsOutcome(job: ExportJob): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: job.warnings.map((w) => ({ severity: 'warning', code: 'not-supported', diagnostics: w })),
  };
}
