import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { isStorableType } from '../../fhir/definitions.ts';
import { allOk, badRequest, fhirError } from '../../fhir/outcome.ts';
import { selectElements, summarize, type SummaryMode } from '../../record/elements.ts';
import { MAX_INCLUDE_DEPTH } from '../../store/search/includes.ts';
import { parseElements } from '../../store/search/parse-control.ts';
import type { WriteOutcome } from '../../record/record-service.ts';
import { unreadableBody } from '../errors.ts';
import { pageLinks, searchBundle } from '../fhir-bundle.ts';
import { intParam, isStrict, preferredReturn, queryPairs } from '../query.ts';
import type { HttpServices } from '../services.ts';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';

type TypeParams = { type: string };
type IdParams = { type: string; id: string };

function checkType(type: string): void {
  if (!isStorableType(type)) throw fhirError(404, 'not-supported', `Unknown resource type "${type.slice(0, 64)}".`);
}

/** `_summary` and `_elements` apply to a read and a vread as to a search (FHIR R4 §3.1.1.5). */
function readShape(request: FastifyRequest): (r: Resource) => Resource {
  const pairs = queryPairs(request);
  const summary = pairs.find(([k]) => k === '_summary')?.[1];
  if (summary !== undefined && summary !== 'false') {
    if (summary !== 'true' && summary !== 'text' && summary !== 'data') throw badRequest('_summary on a read must be true, text, data or false.', ['_summary']);
    return (r) => summarize(r, summary as SummaryMode);
  }
  const elements = pairs.find(([k]) => k === '_elements')?.[1];
  if (elements === undefined) return (r) => r;
  const names = parseElements(elements);
  return (r) => selectElements(r, names);
}

/** A create, update or transaction without a body is refused like one that is not JSON: audited, the same answer. */
function requireBody(request: FastifyRequest): unknown {
  if (request.body === undefined) throw unreadableBody('empty');
  return request.body;
}

function versionHeaders(reply: FastifyReply, resource: Resource): FastifyReply {
  if (resource.meta?.versionId) reply.header('ETag', `W/"${resource.meta.versionId}"`);
  if (resource.meta?.lastUpdated) reply.header('Last-Modified', new Date(resource.meta.lastUpdated).toUTCString());
  return reply;
}

function sendResource(reply: FastifyReply, resource: Resource, status = 200): FastifyReply {
  return versionHeaders(reply, resource).status(status).type(FHIR_JSON).send(resource);
}

/** A create's or update's answer: Location, ETag and Last-Modified always; the body as `Prefer: return=` asks (R4). */
function sendWritten(request: FastifyRequest, reply: FastifyReply, fhirBase: string, out: WriteOutcome): FastifyReply {
  const { resource, status } = out;
  reply.header('Location', `${fhirBase}/${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId ?? '1'}`);
  const prefer = preferredReturn(request);
  if (prefer === 'minimal') return versionHeaders(reply, resource).status(status).send();
  if (prefer === 'OperationOutcome') {
    const done = status === 201 ? 'Created' : status === 200 && request.method === 'POST' ? 'Found existing' : 'Updated';
    return versionHeaders(reply, resource).status(status).type(FHIR_JSON).send(allOk(`${done} ${resource.resourceType}/${resource.id} (version ${resource.meta?.versionId ?? '1'}).`));
  }
  return sendResource(reply, resource, status);
}

/**
 * A page whose includes reached the limit (the search stops reading there, `SEARCH_MAX_INCLUDES`) may be missing some:
 * the client is told rather than left to think it has them all.
 */
function includesCut(limit: number): OperationOutcomeIssue {
  return {
    severity: 'warning', code: 'incomplete',
    diagnostics: `This page reached the limit of ${limit} included resources (_include, _revinclude): some may be missing. Ask for smaller pages (_count) to have them all.`,
  };
}

/** `:iterate` stopped at its deepest level with more beyond it: unlike the limit above, smaller pages would not bring those. */
function iterateCut(): OperationOutcomeIssue {
  return {
    severity: 'warning', code: 'incomplete',
    diagnostics: `_include:iterate and _revinclude:iterate are followed at most ${MAX_INCLUDE_DEPTH} levels from the page: resources further along were not included.`,
  };
}

/** Create, read, update, delete, search and history for every resource type. */
export async function fhirRestRoutes(app: FastifyInstance, s: HttpServices): Promise<void> {
  const search = async (request: FastifyRequest<{ Params: TypeParams }>, reply: FastifyReply, pairs: Array<[string, string]>) => {
    const { type } = request.params;
    checkType(type);
    const result = await s.gate.search(request.ctx, type, pairs, isStrict(request));
    const { request: req } = result;
    const summary = req.summary === 'true' || req.summary === 'text' || req.summary === 'data' ? req.summary : undefined;
    const shape = (r: Resource) => (summary ? summarize(r, summary) : selectElements(r, req.elements));
    const links = pageLinks(`${s.fhirBase}/${type}`, pairs, { url: '', offset: req.offset, count: req.count, total: result.total, returned: result.matches.length });
    const warnings = [
      ...result.warnings,
      ...(result.included.length < s.config.searchMaxIncludes ? [] : [includesCut(s.config.searchMaxIncludes)]),
      ...(result.includesBeyondDepth ? [iterateCut()] : []),
    ];
    return reply.type(FHIR_JSON).send(searchBundle(s.fhirBase, result.matches.map(shape), result.included.map(shape), req.summary === 'count' ? [] : links, result.total, warnings));
  };

  app.get<{ Params: TypeParams }>('/fhir/:type', (request, reply) => search(request, reply, queryPairs(request)));

  app.post<{ Params: TypeParams; Body: unknown }>('/fhir/:type/_search', (request, reply) => {
    const body = typeof request.body === 'string' ? [...new URLSearchParams(request.body)] : [];
    return search(request, reply, [...queryPairs(request), ...body]);
  });

  app.get<{ Params: IdParams }>('/fhir/:type/:id', async (request, reply) => {
    const { type, id } = request.params;
    checkType(type);
    const shape = readShape(request);
    const resource = await s.gate.read(request.ctx, type, id);
    return sendResource(reply, shape(resource));
  });

  app.post<{ Params: TypeParams; Body: unknown }>('/fhir/:type', async (request, reply) => {
    const { type } = request.params;
    const body = requireBody(request);
    checkType(type);
    if ((body as Resource).resourceType !== type) {
      throw badRequest(`The body's resourceType must be ${type}.`, ['resourceType']);
    }
    const ifNoneExist = request.headers['if-none-exist'];
    const out = await s.gate.run(request.ctx, { action: 'create' }, (scope) =>
      s.records.create(scope, body, { ifNoneExist: typeof ifNoneExist === 'string' ? ifNoneExist : undefined }),
    );
    return sendWritten(request, reply, s.fhirBase, out);
  });

  app.put<{ Params: TypeParams; Body: unknown }>('/fhir/:type', async (request, reply) => {
    const { type } = request.params;
    const body = requireBody(request);
    checkType(type);
    const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
    if (!query) throw badRequest('Conditional update needs search parameters in the URL.');
    const ifMatch = request.headers['if-match'];
    const out = await s.gate.run(request.ctx, { action: 'update' }, (scope) =>
      s.records.conditionalUpdate(scope, type, query, body, typeof ifMatch === 'string' ? ifMatch : undefined),
    );
    return sendWritten(request, reply, s.fhirBase, out);
  });

  app.put<{ Params: IdParams; Body: unknown }>('/fhir/:type/:id', async (request, reply) => {
    const { type, id } = request.params;
    const body = requireBody(request);
    checkType(type);
    const ifMatch = request.headers['if-match'];
    const out = await s.gate.run(request.ctx, { action: 'update' }, (scope) =>
      s.records.update(scope, type, id, body, typeof ifMatch === 'string' ? ifMatch : undefined),
    );
    return sendWritten(request, reply, s.fhirBase, out);
  });

  app.delete<{ Params: IdParams }>('/fhir/:type/:id', async (request, reply) => {
    const { type, id } = request.params;
    checkType(type);
    await s.gate.run(request.ctx, { action: 'delete' }, (scope) => scope.remove(type, id));
    return reply.status(200).type(FHIR_JSON).send(allOk(`Deleted ${type}/${id}`));
  });

  const history = async (request: FastifyRequest, reply: FastifyReply, type?: string, id?: string) => {
    if (type) checkType(type);
    const pairs = queryPairs(request);
    const count = intParam(pairs, '_count', 50, 1000);
    const offset = intParam(pairs, '_offset', 0, 1_000_000);
    const since = pairs.find(([k]) => k === '_since')?.[1];
    if (since && Number.isNaN(Date.parse(since))) throw badRequest('_since must be an instant.');
    const { entries, total } = await s.gate.runReadOnly(request.ctx, { action: 'history' }, (scope) => scope.history({ type, id, since, count, offset }));
    const base = `${s.fhirBase}${type ? `/${type}` : ''}${id ? `/${id}` : ''}/_history`;
    return reply.type(FHIR_JSON).send({
      resourceType: 'Bundle',
      type: 'history',
      total,
      link: pageLinks(base, pairs, { url: base, offset, count, total, returned: entries.length }),
      entry: entries.map((e) => ({
        fullUrl: `${s.fhirBase}/${e.resource_type}/${e.id}`,
        ...(e.deleted ? {} : { resource: e.content }),
        request: { method: e.deleted ? 'DELETE' : e.version_id === 1 ? 'POST' : 'PUT', url: `${e.resource_type}/${e.id}` },
        response: { status: e.deleted ? '204' : e.version_id === 1 ? '201' : '200', etag: `W/"${e.version_id}"`, lastModified: new Date(e.last_updated).toISOString() },
      })),
    });
  };

  app.get('/fhir/_history', (request, reply) => history(request, reply));
  app.get<{ Params: TypeParams }>('/fhir/:type/_history', (request, reply) => history(request, reply, request.params.type));
  app.get<{ Params: IdParams }>('/fhir/:type/:id/_history', (request, reply) => history(request, reply, request.params.type, request.params.id));

  app.get<{ Params: IdParams & { vid: string } }>('/fhir/:type/:id/_history/:vid', async (request, reply) => {
    const { type, id, vid } = request.params;
    checkType(type);
    const version = Number(vid);
    if (!Number.isInteger(version) || version < 1) throw badRequest('The version id must be a positive integer.');
    const shape = readShape(request);
    const resource = await s.gate.runReadOnly(request.ctx, { action: 'vread' }, (scope) => scope.vread(type, id, version));
    return sendResource(reply, shape(resource));
  });

  app.post<{ Body: unknown }>('/fhir', async (request, reply) => {
    const bundle = await s.transactions.execute(request.ctx, requireBody(request), { return: preferredReturn(request) });
    return reply.type(FHIR_JSON).send(bundle);
  });
}
