import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { exportPurpose } from '../../access/export-policy.ts';
import { checkTypeFilters, exportTypes, patientPersons } from '../../access/export-reads.ts';
import { notFound, outcome } from '../../fhir/outcome.ts';
import { cancelJob, createJob, failJob, findJob, type ExportJob } from '../../export/export-jobs.ts';
import { NDJSON, parametersToPairs, parseExportRequest, type ExportLevel } from '../../export/export-request.ts';
import { exportContext, exportFileLines, planExport, WARNINGS_FILE, warningsOutcome } from '../../export/export-runner.ts';
import type { Services } from '../../services.ts';
import { isStrict, queryPairs } from '../query.ts';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
/** A job still planning after this long was interrupted (the server stopped): it is reported failed. */
const PLANNING_LIMIT_MS = 15 * 60_000;

type JobRequest = { Params: { job: string; file?: string } };

/**
 * FHIR Bulk Data Access (v2) export: kick-off at system, Patient and Group level (202 + Content-Location),
 * status and manifest, cancellation, and the NDJSON files, each read through the gate when it is downloaded.
 */
export async function exportRoutes(app: FastifyInstance, s: Services): Promise<void> {
  const planning = new Set<Promise<void>>();
  // Graceful shutdown lets the plans in progress finish before the database closes.
  app.addHook('onClose', async () => void (await Promise.allSettled([...planning])));

  const kickOff = (level: ExportLevel) => async (request: FastifyRequest<{ Params: { id?: string }; Body: unknown }>, reply: FastifyReply) => {
    const purpose = exportPurpose(request.ctx);
    const ctx = exportContext(request.ctx, { purpose });
    // Parsed inside the gate's run, so a refused kick-off (bad parameters too) is in the audit log like an accepted one.
    const job = await s.gate.run(ctx, { action: 'export', query: `$export kick-off ${request.url}`.slice(0, 2000) }, async (scope) => {
      const pairs = request.method === 'POST' ? [...queryPairs(request), ...parametersToPairs(request.body)] : queryPairs(request);
      const exportRequest = parseExportRequest(level, request.params.id, pairs, isStrict(request));
      // Refusals a requester can act on come now, not from a failed job: a type outside the scopes, a Group not visible.
      if (exportRequest.types) await exportTypes(scope, exportRequest.types);
      // Criteria are parsed strictly now (an unknown parameter or a malformed value is a 400), as each file will be.
      if (exportRequest.typeFilters) checkTypeFilters(scope, exportRequest.typeFilters);
      if (exportRequest.groupId) await scope.read('Group', exportRequest.groupId);
      if (exportRequest.patients) await patientPersons(scope, exportRequest.patients);
      return createJob(scope.tx, { ctx, request: exportRequest, requestUrl: `${s.config.publicUrl}${request.url}`, purpose, now: new Date(), expiryHours: s.config.exportExpiryHours });
    });
    const plan = planExport(s, request.ctx, job, request.log).finally(() => planning.delete(plan));
    planning.add(plan);
    return reply.status(202).header('content-location', `${s.fhirBase}/$export-status/${job.id}`).type(FHIR_JSON)
      .send(outcome('information', 'informational', `Export accepted; poll ${s.fhirBase}/$export-status/${job.id}`));
  };
  app.get('/fhir/$export', kickOff('system'));
  app.post('/fhir/$export', kickOff('system'));
  app.get('/fhir/Patient/$export', kickOff('patient'));
  app.post('/fhir/Patient/$export', kickOff('patient'));
  app.get('/fhir/Group/:id/$export', kickOff('group'));
  app.post('/fhir/Group/:id/$export', kickOff('group'));

  /** The caller's job, audited as an operation on it; 404 for anyone else's, cancelled or expired. */
  const jobFor = async (request: FastifyRequest<JobRequest>, what: string): Promise<ExportJob> => {
    const now = new Date();
    const job = await s.gate.run(request.ctx, { action: 'operation', query: `$export ${what} ${request.params.job}` }, async (scope) => findJob(scope.tx, request.params.job, request.ctx, now));
    if (!job) throw notFound('No such export: it is unknown, was started by someone else, was cancelled or has expired.');
    if (job.status === 'planning' && now.getTime() - Date.parse(job.transactionTime) > PLANNING_LIMIT_MS) {
      await failJob(s.db, job.id, 'The export was interrupted (the server stopped while preparing it); start it again.');
      return { ...job, status: 'failed', error: 'The export was interrupted (the server stopped while preparing it); start it again.' };
    }
    return job;
  };

  app.get<JobRequest>('/fhir/$export-status/:job', async (request, reply) => {
    const job = await jobFor(request, 'status');
    if (job.status === 'planning') return reply.status(202).header('x-progress', 'preparing the file list').header('retry-after', '1').send();
    if (job.status === 'failed') return reply.status(500).type(FHIR_JSON).send(outcome('error', 'exception', job.error ?? 'The export failed.'));
    const fileUrl = (name: string) => `${s.fhirBase}/$export-file/${job.id}/${name}`;
    return reply.type('application/json').header('expires', new Date(job.expiresAt).toUTCString()).send({
      transactionTime: job.transactionTime,
      request: job.requestUrl,
      requiresAccessToken: true,
      output: job.files.filter((f) => !f.deleted).map((f) => ({ type: f.type, url: fileUrl(f.name) })),
      deleted: job.files.filter((f) => f.deleted).map((f) => ({ type: f.type, url: fileUrl(f.name) })),
      error: job.warnings.length ? [{ type: 'OperationOutcome', url: fileUrl(WARNINGS_FILE) }] : [],
    });
  });

  app.delete<JobRequest>('/fhir/$export-status/:job', async (request, reply) => {
    const now = new Date();
    const cancelled = await s.gate.run(request.ctx, { action: 'operation', query: `$export cancel ${request.params.job}` }, async (scope) => cancelJob(scope.tx, request.params.job, request.ctx, now));
    if (!cancelled) throw notFound('No such export to cancel.');
    return reply.status(202).type(FHIR_JSON).send(outcome('information', 'informational', 'Export cancelled; its files are no longer available.'));
  });

  app.get<JobRequest>('/fhir/$export-file/:job/:file', async (request, reply) => {
    const job = await jobFor(request, `file ${request.params.file}`);
    if (request.params.file === WARNINGS_FILE && job.warnings.length) return reply.type(NDJSON).send(`${JSON.stringify(warningsOutcome(job))}\n`);
    const file = job.status === 'complete' ? job.files.find((f) => f.name === request.params.file) : undefined;
    if (!file) throw notFound('No such file in this export.');
    const lines = exportFileLines(s, request.ctx, job, file);
    // The first batch is read (and audited) before the answer starts, so a refusal is still an OperationOutcome.
    const first = await lines.next();
    async function* rest() {
      if (!first.done) yield first.value;
      yield* lines;
    }
    return reply.type(NDJSON).send(Readable.from(rest()));
  });
}
