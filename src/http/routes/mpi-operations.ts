import type { FastifyInstance } from 'fastify';
import type { Bundle, BundleEntry, Identifier, Parameters, Patient } from '@medplum/fhirtypes';
import { badRequest, fhirError, notFound } from '../../fhir/outcome.ts';
import type { Candidate } from '../../mpi/link-store.ts';
import { patientToRecord } from '../../mpi/normalize.ts';
import { decideTask, linkOf, listTasks, mergePersons, unlink } from '../../mpi/stewardship.ts';
import { assertResourceShape, validateOrThrow } from '../../record/validate.ts';
import type { Services } from '../../services.ts';
import { param, parameters, stringParam } from '../parameters.ts';
import { queryPairs } from '../query.ts';
import { run } from '../../store/database.ts';
import { sql } from '../../store/sql.ts';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const GRADE_URL = 'http://hl7.org/fhir/StructureDefinition/match-grade';

function grade(c: Candidate): string {
  if (c.decision.decision === 'auto-link') return 'certain';
  if (c.decision.decision === 'review') return 'probable';
  return c.result.probability > 0.5 ? 'possible' : 'certainly-not';
}

/** Patient/$match, PIXm $ihe-pix, Patient/$merge and the MPI stewardship API under /admin/mpi. */
export async function mpiOperationRoutes(app: FastifyInstance, s: Services): Promise<void> {
  app.post('/fhir/Patient/$match', async (request, reply) => {
    const input = param(request.body, 'resource')?.resource as Patient | undefined;
    if (!input) throw badRequest('$match needs a "resource" parameter holding a Patient.', ['resource']);
    assertResourceShape(input, 'Patient');
    // An invalid Patient (a birth date that is no date) would silently match nobody; FHIR wants it refused.
    validateOrThrow(input);
    const certainOnly = param(request.body, 'onlyCertainMatches')?.valueBoolean === true;
    const requested = param(request.body, 'count')?.valueInteger ?? 10;
    if (!Number.isInteger(requested) || requested < 1) throw badRequest('count must be a positive integer.', ['count']);
    const count = Math.min(requested, 100);
    const bundle = await s.gate.run(request.ctx, { action: 'match' }, async (scope) => {
      const ranked = (await s.links.candidates(scope, patientToRecord(input)))
        .filter((c) => (certainOnly ? grade(c) === 'certain' : grade(c) !== 'certainly-not'))
        .sort((a, b) => b.result.weight - a.result.weight)
        .slice(0, count);
      const rows = await scope.rowsFor(ranked.map((c) => ({ resource_type: 'Patient', id: c.patientId })));
      const visible = new Map((await scope.deliver(rows, 'match')).map((r) => [r.id, r]));
      const entry: BundleEntry[] = ranked.filter((c) => visible.has(c.patientId)).map((c) => ({
        fullUrl: `${s.fhirBase}/Patient/${c.patientId}`,
        resource: visible.get(c.patientId),
        search: { mode: 'match', score: Number(c.result.probability.toFixed(4)), extension: [{ url: GRADE_URL, valueCode: grade(c) }] },
      }));
      return { resourceType: 'Bundle', type: 'searchset', total: entry.length, entry } as Bundle;
    });
    return reply.type(FHIR_JSON).send(bundle);
  });

  app.get('/fhir/Patient/$ihe-pix', async (request, reply) => {
    const pairs = queryPairs(request);
    const source = pairs.find(([k]) => k === 'sourceIdentifier')?.[1];
    if (!source || !source.includes('|')) throw badRequest('sourceIdentifier=system|value is required.', ['sourceIdentifier']);
    const targetSystems = pairs.filter(([k]) => k === 'targetSystem').map(([, v]) => v);
    const result = await s.gate.run(request.ctx, { action: 'match', query: 'ihe-pix' }, async (scope) => {
      // ITI-83 tells an unknown assigning authority (400) and target domain (403) apart from an unknown identifier (404).
      // A domain is known when any source record carries it, whether or not the caller may see that record: an
      // identifier system names a registry, not a person, and a hidden patient must look like an unknown identifier.
      const knownDomain = async (system: string) =>
        (await run(scope.tx, sql`select 1 from search_token where resource_type = 'Patient' and param = 'identifier' and system = ${system} limit 1`)).length > 0;
      for (const system of targetSystems) {
        if (!(await knownDomain(system))) throw fhirError(403, 'code-invalid', 'targetSystem not found', ['targetSystem']);
      }
      const found = await scope.searchType('Patient', [['identifier', source]], false);
      if (found.matches.length === 0) {
        if (!(await knownDomain(source.slice(0, source.indexOf('|'))))) throw fhirError(400, 'code-invalid', 'sourceIdentifier Assigning Authority not found', ['sourceIdentifier']);
        throw notFound('sourceIdentifier Patient Identifier not found');
      }
      const personId = await s.links.personOf(scope, found.matches[0].id!);
      const members = personId ? await scope.searchType('Patient', [['_id', (await s.links.members(scope, personId)).join(',')], ['_count', '100']], false) : found;
      const out: Parameters = { resourceType: 'Parameters', parameter: [] };
      for (const p of members.matches as Patient[]) {
        for (const id of (p.identifier ?? []).filter((i: Identifier) => !targetSystems.length || targetSystems.includes(i.system ?? ''))) {
          if (id.system === 'http://hl7.org/fhir/sid/us-ssn') continue;
          out.parameter!.push({ name: 'targetIdentifier', valueIdentifier: { system: id.system, value: id.value } });
        }
        out.parameter!.push({ name: 'targetId', valueReference: { reference: `Patient/${p.id}` } });
      }
      return out;
    });
    return reply.type(FHIR_JSON).send(result);
  });

  app.post('/fhir/Patient/$merge', async (request, reply) => {
    const sourceRef = param(request.body, 'source-patient')?.valueReference?.reference ?? stringParam(request.body, 'source-patient');
    const targetRef = param(request.body, 'target-patient')?.valueReference?.reference ?? stringParam(request.body, 'target-patient');
    if (!sourceRef || !targetRef) throw badRequest('source-patient and target-patient references are required.');
    const personId = await s.gate.run(request.ctx, { action: 'mpi-merge' }, async (scope) => {
      const [from, to] = await Promise.all([sourceRef, targetRef].map((r) => s.links.personOf(scope, r.replace(/^Patient\//, ''))));
      if (!from || !to) throw notFound('Both patients must exist and be linked.');
      return from === to ? to : mergePersons(scope, s.links, from, to);
    });
    return reply.type(FHIR_JSON).send(parameters({ person: `Person/${personId}` }));
  });

  app.get('/admin/mpi/tasks', async (request) => {
    const status = queryPairs(request).find(([k]) => k === 'status')?.[1] ?? 'open';
    return s.gate.run(request.ctx, { action: 'read', query: 'mpi tasks' }, (scope) => listTasks(scope, status));
  });

  app.get<{ Params: { patientId: string } }>('/admin/mpi/links/:patientId', async (request) =>
    s.gate.run(request.ctx, { action: 'read', query: 'mpi link explanation' }, (scope) => linkOf(scope, request.params.patientId)));

  app.post<{ Params: { id: string }; Body: { decision?: string } }>('/admin/mpi/tasks/:id', async (request) => {
    const decision = request.body?.decision;
    if (decision !== 'link' && decision !== 'not-link') throw badRequest('decision must be "link" or "not-link".');
    const status = await s.gate.run(request.ctx, { action: 'mpi-link' }, (scope) => decideTask(scope, s.links, request.params.id, decision));
    return { status };
  });

  app.post<{ Body: { patientId?: string } }>('/admin/mpi/unlink', async (request) => {
    const patientId = request.body?.patientId;
    if (!patientId) throw badRequest('patientId is required.');
    const personId = await s.gate.run(request.ctx, { action: 'mpi-unlink' }, (scope) => unlink(scope, s.links, patientId));
    return { personId };
  });

  app.post<{ Body: { sourcePersonId?: string; targetPersonId?: string } }>('/admin/mpi/merge', async (request) => {
    const { sourcePersonId, targetPersonId } = request.body ?? {};
    if (!sourcePersonId || !targetPersonId) throw badRequest('sourcePersonId and targetPersonId are required.');
    const personId = await s.gate.run(request.ctx, { action: 'mpi-merge' }, (scope) => mergePersons(scope, s.links, sourcePersonId, targetPersonId));
    return { personId };
  });
}
