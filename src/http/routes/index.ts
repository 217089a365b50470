import type { FastifyInstance, FastifyRequest } from 'fastify';
import { auditedByGate, recordedByGate } from '../../access/gate.ts';
import { auditAuthEvent } from '../../audit/auth-events.ts';
import type { AuditAction } from '../../audit/types.ts';
import { FhirError, fhirError } from '../../fhir/outcome.ts';
import { oauthRoutes } from '../../auth/oauth-routes.ts';
import { portalSignupRoutes } from '../../auth/portal-signup.ts';
import { installAuth } from '../../auth/request-auth.ts';
import { refuseUnreadableBodiesAfterAuth } from '../app.ts';
import type { Services } from '../../services.ts';
import { findPersonForSignup } from '../../mpi/signup-match.ts';
import { fhirRestRoutes } from './fhir-rest.ts';
import { healthRoutes } from './health.ts';
import { ingestRoutes } from './ingest-routes.ts';
import { ccdaRoutes } from './ccda-routes.ts';
import { adminRoutes } from './admin-routes.ts';
import { auditRoutes } from './audit-routes.ts';
import { unusualAccessRoutes } from './unusual-access-routes.ts';
import { metadataRoutes } from './metadata.ts';
import { operationRoutes } from './operations.ts';
import { exportRoutes } from './export-routes.ts';
import { webRoutes } from './web.ts';

export interface RouteInfo {
  method: string;
  url: string;
  protected: boolean;
}

/** Every route, as registered: the leak and audit suites enumerate this so a new route cannot escape them. */
export const registeredRoutes: RouteInfo[] = [];

/**
 * Public routes (health, metadata, SMART/OAuth, the web app) and the protected scope where every route runs
 * `requireAuth` first — Fastify encapsulation makes it impossible to add a protected route without it.
 */
export async function registerRoutes(app: FastifyInstance, s: Services): Promise<void> {
  registeredRoutes.length = 0;
  const collect = (isProtected: boolean) => (route: { method: string | string[]; url: string }) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') registeredRoutes.push({ method, url: route.url, protected: isProtected });
  };
  await app.register(async (pub) => {
    pub.addHook('onRoute', collect(false));
    await healthRoutes(pub, s);
    await metadataRoutes(pub, s);
    await pub.register(oauthRoutes, { db: s.db, config: s.config, auth: s.auth, audit: auditAuthEvent });
    await pub.register(portalSignupRoutes, {
      auth: s.auth,
      audit: auditAuthEvent,
      findPerson: (d) => findPersonForSignup(s, d),
      deliverCode: async (username, code) => app.log.info({ username, oneTimeCode: code }, 'portal sign-up code (demo delivery: server log)'),
    });
    await webRoutes(pub);
  });
  await app.register(async (prot) => {
    prot.addHook('onRoute', collect(true));
    installAuth(prot, s.auth);
    refuseUnreadableBodiesAfterAuth(prot);
    auditUnrecordedFailures(prot, s);
    prot.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    await fhirRestRoutes(prot, s);
    await operationRoutes(prot, s);
    await exportRoutes(prot, s);
    await ingestRoutes(prot, s);
    await ccdaRoutes(prot, s);
    await adminRoutes(prot, s);
    await auditRoutes(prot, s);
    await unusualAccessRoutes(prot, s);
  });
}

/**
 * Every authenticated request that ends in an error status leaves exactly one entry for its failure (privacy-rules §6).
 * The gate records the accesses it runs, refusals included (`recordedByGate`, `auditedByGate`); a request it never
 * recorded (refused by its route before the gate, or answering an error status itself) is recorded here, as the gate
 * records a refusal, before the answer leaves. Hooked on the whole protected scope, so a new route cannot escape it.
 * Without `ctx` (refused 401, or before authentication) there is no caller to record, as for any anonymous call.
 */
function auditUnrecordedFailures(prot: FastifyInstance, s: Services): void {
  const thrown = new WeakMap<FastifyRequest, Error>();
  prot.addHook('onError', async (request, _reply, error) => {
    thrown.set(request, error);
  });
  prot.addHook('onSend', async (request, reply) => {
    const { ctx } = request;
    const status = reply.statusCode;
    if (status < 400 || !ctx || recordedByGate(ctx)) return;
    const error = thrown.get(request);
    if (error && auditedByGate(error)) return;
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    const url = request.routeOptions.url ?? '';
    const action = status === 401 || status === 403 ? 'denied' : attemptedAction(method, url);
    // A FhirError's message is what the gate records for its own refusals; anything else is recorded by its status only.
    const failure = error instanceof FhirError ? error : fhirError(status, 'processing', `status ${status}`);
    try {
      await s.gate.refused(ctx, { action, query: `${method} ${url}` }, failure);
    } catch (err) {
      // The answer is a refusal or failure already, and stays one; that it went unrecorded must not go unnoticed.
      request.log.error({ errName: (err as Error).name, errCode: (err as { code?: string }).code, status }, 'failed request not audited');
    }
  });
}

/** The action each protected route's accesses are recorded under, so its refusals are found with them. */
const ROUTE_ACTIONS: Array<[AuditAction, string[]]> = [
  ['create', ['POST /fhir', 'POST /fhir/:type']],
  ['update', ['PUT /fhir/:type', 'PUT /fhir/:type/:id']],
  ['delete', ['DELETE /fhir/:type/:id']],
  ['read', [
    'GET /fhir/:type/:id', 'GET /fhir/AuditEvent/:id', 'GET /fhir/Patient/:id/$consent-status', 'GET /fhir/Patient/:id/$break-the-glass',
    'GET /admin/mpi/tasks', 'GET /admin/mpi/links/:patientId', 'GET /admin/break-glass', 'GET /admin/attestations', 'GET /portal/me',
  ]],
  ['search', ['GET /fhir/:type', 'POST /fhir/:type/_search', 'GET /fhir/AuditEvent', 'POST /fhir/AuditEvent/_search']],
  ['history', ['GET /fhir/_history', 'GET /fhir/:type/_history', 'GET /fhir/:type/:id/_history']],
  ['vread', ['GET /fhir/:type/:id/_history/:vid']],
  ['everything', ['GET /fhir/Patient/:id/$everything']],
  ['validate', ['POST /fhir/:type/$validate', 'POST /fhir/:type/:id/$validate']],
  ['export', ['GET /fhir/$export', 'POST /fhir/$export', 'GET /fhir/Patient/$export', 'POST /fhir/Patient/$export', 'GET /fhir/Group/:id/$export', 'POST /fhir/Group/:id/$export']],
  ['match', ['POST /fhir/Patient/$match', 'GET /fhir/Patient/$ihe-pix']],
  ['mpi-merge', ['POST /fhir/Patient/$merge', 'POST /admin/mpi/merge']],
  ['mpi-link', ['POST /admin/mpi/tasks/:id']],
  ['mpi-unlink', ['POST /admin/mpi/unlink']],
  // A body that does not say `false` counts as disabling, as the route itself records a refused attempt.
  ['disable', ['PUT /admin/users/:username/disabled', 'PUT /admin/clients/:clientId/disabled']],
  ['break-glass', ['POST /fhir/Patient/:id/$break-the-glass']],
  ['attest', ['POST /fhir/Patient/:id/$attest']],
  ['consent', ['POST /fhir/Patient/:id/$consent']],
  ['audit-report', ['GET /fhir/Patient/:id/$access-report', 'GET /admin/unusual-access', 'POST /admin/audit-requests/:id/fulfil']],
  ['audit-review', ['POST /admin/break-glass/:seq/review']],
  ['audit-request', ['GET /admin/audit-requests', 'POST /admin/audit-requests', 'GET /portal/audit-requests', 'POST /portal/audit-requests']],
  ['ingest', ['POST /hl7v2', 'POST /ccda']],
];
const ACTION_OF_ROUTE = new Map(ROUTE_ACTIONS.flatMap(([action, routes]) => routes.map((route): [string, AuditAction] => [route, action])));

/** What a request refused before the gate was attempting; a route not listed counts as administration or an operation. */
function attemptedAction(method: string, url: string): AuditAction {
  return ACTION_OF_ROUTE.get(`${method} ${url}`) ?? (url.startsWith('/admin/') ? 'admin' : 'operation');
}
