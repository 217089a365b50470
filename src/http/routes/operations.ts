import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Resource } from '@medplum/fhirtypes';
import type { GateScope } from '../../access/gate-scope.ts';
import { notFound } from '../../fhir/outcome.ts';
import { validationOutcome } from '../../record/validate.ts';
import type { Services } from '../../services.ts';
import { pageLinks, searchBundle } from '../fhir-bundle.ts';
import { intParam, queryPairs } from '../query.ts';
import { privacyOperationRoutes } from './privacy-operations.ts';
import { mpiOperationRoutes } from './mpi-operations.ts';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** The person (MPI enterprise id) of a source Patient the caller may know about; 404 otherwise. */
export async function personOfPatient(s: Services, scope: GateScope, patientId: string): Promise<string> {
  await scope.read('Patient', patientId);
  const personId = await s.links.personOf(scope, patientId);
  if (!personId) throw notFound(`Patient/${patientId} is not linked to a person yet.`);
  return personId;
}

/** `$everything`, `$validate` and the operation families (privacy, MPI). */
export async function operationRoutes(app: FastifyInstance, s: Services): Promise<void> {
  app.get<{ Params: { id: string } }>('/fhir/Patient/:id/$everything', async (request, reply) => {
    const pairs = queryPairs(request);
    const count = intParam(pairs, '_count', 100, 1000);
    const offset = intParam(pairs, '_offset', 0, 10_000_000);
    const since = pairs.find(([k]) => k === '_since')?.[1];
    const types = pairs.find(([k]) => k === '_type')?.[1]?.split(',').map((t) => t.trim()).filter(Boolean);
    const { resources, total } = await s.gate.runReadOnly(request.ctx, { action: 'everything' }, async (scope) => {
      const personId = await personOfPatient(s, scope, request.params.id);
      return scope.personRecord(personId, { since, types, count, offset });
    });
    const base = `${s.fhirBase}/Patient/${request.params.id}/$everything`;
    return reply.type(FHIR_JSON).send(searchBundle(s.fhirBase, resources, [], pageLinks(base, pairs, { url: base, offset, count, total, returned: resources.length }), total));
  });

  const validate = (body: unknown) => {
    const resource = (body as { resourceType?: string; parameter?: Array<{ name: string; resource?: Resource }> }) ?? {};
    const target = resource.resourceType === 'Parameters' ? resource.parameter?.find((p) => p.name === 'resource')?.resource : body;
    const issues = validationOutcome(target);
    return { resourceType: 'OperationOutcome', issue: issues.length ? issues : [{ severity: 'information', code: 'informational', diagnostics: 'Validation passed' }] };
  };
  // The answer is sent only after the gate's transaction (with its audit entry) has committed.
  const validateRoute = async (request: FastifyRequest, reply: FastifyReply) =>
    reply.type(FHIR_JSON).send(await s.gate.run(request.ctx, { action: 'validate' }, async () => validate(request.body)));
  app.post('/fhir/:type/$validate', validateRoute);
  app.post('/fhir/:type/:id/$validate', validateRoute);

  await privacyOperationRoutes(app, s);
  await mpiOperationRoutes(app, s);
}
