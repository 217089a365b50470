import type { FastifyInstance } from 'fastify';
import type { Organization, Patient } from '@medplum/fhirtypes';
import type { AccessContext } from '../../access/context.ts';
import type { GateScope } from '../../access/gate-scope.ts';
import { accessReportCsv, accessReportPdf } from '../../audit/report-render.ts';
import { patientAccessReport } from '../../audit/reports.ts';
import { earlierMemberships } from '../../mpi/link-periods.ts';
import { createAuditRequest, fulfilAuditRequest, listAuditRequests } from '../../audit/requests.ts';
import { listReviews, markReviewed, reasonFor, type BreakGlassGrant, type ReviewItem } from '../../audit/review.ts';
import { badRequest, forbidden } from '../../fhir/outcome.ts';
import { run } from '../../store/database.ts';
import { sql } from '../../store/sql.ts';
import type { Services } from '../../services.ts';
import { queryPairs } from '../query.ts';
import { auditEventRoutes, requirePrivacyOfficer } from './audit-event-routes.ts';
import { personOfPatient } from './operations.ts';
import { reviewRows } from './review-rows.ts';
import { audited } from './admin-routes.ts';

async function organizationName(s: Services, scope: GateScope, orgId: string): Promise<string | undefined> {
  const rows = await scope.rowsFor([{ resource_type: 'Organization', id: orgId }]);
  return (rows[0]?.content as Organization | undefined)?.name;
}

/** The patient's "who viewed my record and when" report (their own, or any for a privacy officer). */
async function accessReport(s: Services, ctx: AccessContext, patientId: string) {
  return s.gate.run(ctx, { action: 'audit-report', query: 'access report' }, async (scope) => {
    const personId = await personOfPatient(s, scope, patientId);
    if (ctx.role === 'patient' ? ctx.personId !== personId : ctx.role !== 'privacy-officer') {
      throw forbidden('Only the patient or a privacy officer may see this access report.');
    }
    const patient = (await scope.rowsFor([{ resource_type: 'Patient', id: patientId }]))[0]?.content as Patient | undefined;
    const name = patient?.name?.[0];
    const earlier = await earlierMemberships(scope.tx, [personId]);
    const rows = await patientAccessReport(scope.tx, { personIds: [personId], earlier }, (org) => organizationName(s, scope, org));
    // What was disclosed is the log, not the record: an `audit-report` event, which the report itself leaves out.
    scope.note('audit-report', [personId], [], { detail: `access report: ${rows.length} rows` });
    return { person: { name: `${name?.given?.join(' ') ?? ''} ${name?.family ?? ''}`.trim() }, rows };
  });
}

/** Audit log search, access reports, break-the-glass and attestation review, audit requests. */
export async function auditRoutes(app: FastifyInstance, s: Services): Promise<void> {
  app.get<{ Params: { id: string } }>('/fhir/Patient/:id/$access-report', async (request, reply) => {
    const format = queryPairs(request).find(([k]) => k === '_format')?.[1] ?? 'json';
    const report = await accessReport(s, request.ctx, request.params.id);
    if (format === 'csv') return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="access-report.csv"').send(accessReportCsv(report.rows));
    if (format === 'pdf') {
      const pdf = await accessReportPdf(report.rows, { personName: report.person.name });
      return reply.type('application/pdf').header('content-disposition', 'attachment; filename="access-report.pdf"').send(pdf);
    }
    return report;
  });

  await auditEventRoutes(app, s);

  app.get('/admin/break-glass', async (request) => {
    requirePrivacyOfficer(request.ctx);
    const items = await s.gate.run(request.ctx, { action: 'read', query: 'break-glass review queue' }, async (scope) => {
      // Inside the gate's transaction: PGlite has one connection, and a second statement outside it would wait forever.
      const list = [...(await listReviews(scope.tx, 'break-glass')), ...(await listReviews(scope.tx, 'break-glass', { status: 'reviewed', limit: 50 }))];
      const grants = await run<BreakGlassGrant>(scope.tx, sql`select id, user_id, person_id, reason, created_at from break_glass`);
      return reviewRows(scope, list, (i) => ({ reason: reasonFor(i, grants) }));
    });
    return items;
  });

  app.post<{ Params: { seq: string }; Body: { notes?: string } }>('/admin/break-glass/:seq/review', async (request) => {
    requirePrivacyOfficer(request.ctx);
    const seq = Number(request.params.seq);
    if (!Number.isInteger(seq)) throw badRequest('seq must be an audit sequence number.');
    return markReviewed(s.db, request.ctx, seq, String(request.body?.notes ?? '').slice(0, 2000));
  });

  app.get('/admin/attestations', async (request) => {
    requirePrivacyOfficer(request.ctx);
    return s.gate.run(request.ctx, { action: 'read', query: 'attestation review' }, async (scope) => {
      const list = [...(await listReviews(scope.tx, 'attestation', { limit: 500 })), ...(await listReviews(scope.tx, 'attestation', { status: 'reviewed', limit: 50 }))];
      const rows = await run<{ id: string; user_id: string; person_id: string; reason: string; created_at: Date; expires_at: Date }>(scope.tx, sql`select * from attestations order by created_at desc limit 500`);
      const attestations = rows.map((r) => ({ id: r.id, userId: r.user_id, personId: r.person_id, reason: r.reason, time: new Date(r.created_at).toISOString(), expires: new Date(r.expires_at).toISOString() }));
      // The attestation an audit entry records: the same user and person, declared closest to the entry.
      const recordOf = (i: ReviewItem) => attestations
        .filter((a) => a.userId === i.agentUserId && i.personIds.includes(a.personId))
        .sort((a, b) => Math.abs(Date.parse(a.time) - Date.parse(i.time)) - Math.abs(Date.parse(b.time) - Date.parse(i.time)))[0];
      const reviews = await reviewRows(scope, list, (i) => ({ reason: recordOf(i)?.reason, expires: recordOf(i)?.expires }));
      return { reviews, attestations };
    });
  });

  app.get('/admin/audit-requests', async (request) => {
    if (!['privacy-officer', 'registrar'].includes(request.ctx.role)) throw forbidden('Only privacy officers and registrars handle audit requests.');
    await audited(s, request.ctx, 'list audit requests');
    return listAuditRequests(s.db);
  });

  app.post<{ Body: { patientId?: string; channel?: string } }>('/admin/audit-requests', async (request, reply) => {
    if (!['privacy-officer', 'registrar'].includes(request.ctx.role)) throw forbidden('Only privacy officers and registrars record paper or phone requests.');
    const channel = request.body?.channel;
    if (channel !== 'paper' && channel !== 'phone') throw badRequest('channel must be paper or phone.');
    const personId = await s.gate.run(request.ctx, { action: 'read', query: 'audit request' }, (scope) => personOfPatient(s, scope, request.body?.patientId ?? ''));
    return reply.status(201).send(await createAuditRequest(s.db, request.ctx, { personId, channel }));
  });

  app.post<{ Params: { id: string } }>('/admin/audit-requests/:id/fulfil', async (request) => {
    requirePrivacyOfficer(request.ctx);
    return fulfilAuditRequest(s.db, request.ctx, request.params.id);
  });

  app.get('/portal/me', async (request) => {
    const ctx = request.ctx;
    if (ctx.role !== 'patient' || !ctx.personId) throw forbidden('Only patients have a portal profile.');
    const patientId = await s.gate.run(ctx, { action: 'read', query: 'portal profile' }, async (scope) => {
      scope.note('read', [ctx.personId!], [], { query: 'portal profile' });
      return (await s.links.members(scope, ctx.personId!))[0];
    });
    return { username: ctx.userId, displayName: ctx.displayName, patientId, personId: ctx.personId };
  });

  app.post('/portal/audit-requests', async (request, reply) => {
    const ctx = request.ctx;
    if (ctx.role !== 'patient' || !ctx.personId) throw forbidden('Only patients request their own report here.');
    return reply.status(201).send(await createAuditRequest(s.db, ctx, { personId: ctx.personId, channel: 'online' }));
  });

  app.get('/portal/audit-requests', async (request) => {
    const ctx = request.ctx;
    if (ctx.role !== 'patient' || !ctx.personId) throw forbidden('Only patients see their own requests here.');
    await audited(s, ctx, 'own audit requests');
    return listAuditRequests(s.db, { personId: ctx.personId });
  });
}
