import type { FastifyInstance } from 'fastify';
import { forbidden, badRequest, notFound } from '../../fhir/outcome.ts';
import { errorQueue, getMessage } from '../../ingest/inbox.ts';
import { receiveHl7 } from '../../ingest/hl7v2-pipeline.ts';
import { retryInboxMessage } from '../../ingest/reprocess.ts';
import { run } from '../../store/database.ts';
import { sql } from '../../store/sql.ts';
import type { Services } from '../../services.ts';
import type { AccessContext } from '../../access/context.ts';

function requireRole(ctx: AccessContext, roles: string[], what: string): void {
  if (!roles.includes(ctx.role)) throw forbidden(`Only ${roles.join(' or ')} users may ${what}.`);
}

/** HL7 v2 over HTTP (for senders that cannot do MLLP) and the administrators' ingestion monitor. */
export async function ingestRoutes(app: FastifyInstance, s: Services): Promise<void> {
  app.post<{ Body: unknown }>('/hl7v2', async (request, reply) => {
    requireRole(request.ctx, ['system'], 'submit HL7 v2 messages');
    if (typeof request.body !== 'string' || !request.body.trim()) throw badRequest('Send one HL7 v2 message (ER7) with content type x-application/hl7-v2+er7.');
    // Over HTTP the sender is the authenticated system client: it writes for its own organization only.
    const outcome = await receiveHl7(s, request.body, 'http', request.ctx);
    return reply.type('x-application/hl7-v2+er7').send(outcome.ack);
  });

  app.get('/admin/ingest/stats', async (request) => {
    requireRole(request.ctx, ['admin'], 'see the ingestion monitor');
    return s.gate.run(request.ctx, { action: 'admin', query: 'ingest stats' }, async (scope) => {
      const perMinute = await run<{ minute: Date; source: string; type: string; count: number }>(scope.tx, sql`
        select date_trunc('minute', received_at) as minute, sender as source, coalesce(message_type, '?') as type, count(*)::int as count
        from ingest_messages where received_at > now() - interval '60 minutes' group by 1, 2, 3 order by 1`);
      const totals = await run<{ status: string; n: number }>(scope.tx, sql`select status, count(*)::int as n from ingest_messages group by status`);
      const discarded = await run<{ n: number }>(scope.tx, sql`select coalesce(sum(count), 0)::int as n from discarded_data`);
      const by = Object.fromEntries(totals.map((t) => [t.status, t.n]));
      return {
        perMinute: perMinute.map((r) => ({ ...r, minute: new Date(r.minute).toISOString() })),
        totals: { accepted: by.processed ?? 0, errors: (by.error ?? 0) + (by.rejected ?? 0), discarded: discarded[0]?.n ?? 0, superseded: by.superseded ?? 0, pending: by.received ?? 0 },
      };
    });
  });

  app.get('/admin/ingest/errors', async (request) => {
    requireRole(request.ctx, ['admin'], 'see the ingestion error queue');
    const rows = await s.gate.run(request.ctx, { action: 'admin', query: 'ingest errors' }, (scope) => errorQueue(scope.tx));
    return rows.map((r) => ({ id: r.id, receivedAt: new Date(r.received_at).toISOString(), source: r.sender, type: r.message_type, controlId: r.control_id, status: r.status, reason: r.reason }));
  });

  app.get<{ Params: { id: string } }>('/admin/ingest/errors/:id', async (request) => {
    requireRole(request.ctx, ['admin'], 'inspect ingested messages');
    const m = await s.gate.run(request.ctx, { action: 'admin', query: 'ingest message raw' }, (scope) => getMessage(scope.tx, s.auth.fieldCrypto, request.params.id));
    if (!m) throw notFound('No such message.');
    return { id: m.id, receivedAt: new Date(m.received_at).toISOString(), source: m.sender, type: m.message_type, controlId: m.control_id, status: m.status, reason: m.reason, raw: m.raw, ack: m.ack };
  });

  app.post<{ Params: { id: string } }>('/admin/ingest/errors/:id/retry', async (request) => {
    requireRole(request.ctx, ['admin'], 'reprocess messages');
    const outcome = await retryInboxMessage(s, request.params.id);
    if (!outcome) throw notFound('No such message, or its content was purged.');
    return { status: outcome.status };
  });
}
