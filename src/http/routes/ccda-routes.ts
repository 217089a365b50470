import type { FastifyInstance } from 'fastify';
import { badRequest, forbidden } from '../../fhir/outcome.ts';
import { receiveCcda } from '../../ingest/ccda-pipeline.ts';
import type { Services } from '../../services.ts';

/**
 * C-CDA documents (`POST /ccda`, application/xml or text/xml). Only system clients submit: a document belongs to the
 * organization that sends it, and its clinical content enters the record as that organization's data. Clinicians
 * forward documents through their organization's EHR (a system client), not by hand.
 */
export async function ccdaRoutes(app: FastifyInstance, s: Services): Promise<void> {
  app.post<{ Body: unknown }>('/ccda', async (request, reply) => {
    if (request.ctx.role !== 'system') throw forbidden('Only system clients (sending organizations) may submit C-CDA documents.');
    if (!request.ctx.organizationId) throw forbidden('The client is not registered for an organization.');
    if (typeof request.body !== 'string' || !request.body.trim()) throw badRequest('Send one C-CDA document (XML) with content type application/xml or text/xml.');
    const out = await receiveCcda(s, request.body, request.ctx);
    if (out.documentReference) reply.header('location', out.documentReference);
    return reply.code(out.httpStatus).type('application/fhir+json').send(out.outcome);
  });
}
