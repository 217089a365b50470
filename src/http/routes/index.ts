import type { FastifyInstance } from 'fastify';
import { auditedByGate } from '../../access/gate.ts';
import { auditAuthEvent } from '../../audit/auth-events.ts';
import { FhirError } from '../../fhir/outcome.ts';
import { oauthRoutes } from '../../auth/oauth-routes.ts';
import { portalSignupRoutes } from '../../auth/portal-signup.ts';
import { installAuth } from '../../auth/request-auth.ts';
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
    prot.addHook('onError', async (request, _reply, error) => {
      if (error instanceof FhirError && error.status === 403 && request.ctx && !auditedByGate(error)) {
        await s.gate.refused(request.ctx, { action: 'denied', query: `${request.method} ${request.routeOptions.url ?? ''}` }, error);
      }
    });
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
