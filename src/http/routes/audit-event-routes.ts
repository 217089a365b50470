import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AccessContext } from '../../access/context.ts';
import { mayReadAuditLog, readAuditEvent, searchAudit } from '../../audit/search.ts';
import { parseAuditQuery } from '../../audit/search-query.ts';
import { forbidden, notFound } from '../../fhir/outcome.ts';
import type { Services } from '../../services.ts';
import { pageLinks, searchBundle } from '../fhir-bundle.ts';
import { isStrict, queryPairs } from '../query.ts';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';

export function requirePrivacyOfficer(ctx: AccessContext): void {
  if (!mayReadAuditLog(ctx)) throw forbidden('Only privacy officers may read the audit log.');
}

/** The audit log as FHIR AuditEvents, for privacy officers: search (GET and POST `_search`) and read by id. */
export async function auditEventRoutes(app: FastifyInstance, s: Services): Promise<void> {
  const search = async (request: FastifyRequest, reply: FastifyReply, pairs: Array<[string, string]>) => {
    requirePrivacyOfficer(request.ctx);
    const query = parseAuditQuery(pairs, { strict: isStrict(request), baseUrl: s.fhirBase });
    const text = `AuditEvent?${new URLSearchParams(pairs).toString()}`.slice(0, 2000);
    const result = await s.gate.runReadOnly(request.ctx, { action: 'search', query: text }, (scope) =>
      searchAudit(scope.tx, query, { personOf: (patientId) => s.links.personOf(scope, patientId) }));
    // Every link carries the pin, so following next and previous pages never meets the events appended since.
    const pinned: Array<[string, string]> = [...pairs.filter(([k]) => k !== '_before'), ['_before', String(result.before)]];
    const links = pageLinks(`${s.fhirBase}/AuditEvent`, pinned, { url: '', offset: query.offset, count: query.count, total: result.total, returned: result.events.length });
    return reply.type(FHIR_JSON).send(searchBundle(s.fhirBase, result.events, [], links, result.total, query.warnings));
  };

  app.get('/fhir/AuditEvent', (request, reply) => search(request, reply, queryPairs(request)));

  app.post<{ Body: unknown }>('/fhir/AuditEvent/_search', (request, reply) => {
    const body = typeof request.body === 'string' ? [...new URLSearchParams(request.body)] : [];
    return search(request, reply, [...queryPairs(request), ...body]);
  });

  app.get<{ Params: { id: string } }>('/fhir/AuditEvent/:id', async (request, reply) => {
    requirePrivacyOfficer(request.ctx);
    const ref = `AuditEvent/${request.params.id}`;
    const event = await s.gate.runReadOnly(request.ctx, { action: 'read', query: ref }, async (scope) => {
      const found = await readAuditEvent(scope.tx, request.params.id);
      if (!found) throw notFound(`${ref} is not known`);
      scope.note('read', [], [ref]);
      return found;
    });
    return reply.type(FHIR_JSON).send(event);
  });
}
