import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { AccessContext } from '../access/context.ts';
import { unauthorized } from '../fhir/outcome.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling; set by `requireAuth` on every protected route (undefined only on public routes). */
    ctx: AccessContext;
  }
}

/** The part of AuthService this hook needs. */
export interface TokenVerifier {
  verify(token: string): Promise<AccessContext>;
}

const BEARER = /^Bearer\s+([A-Za-z0-9._~+/-]+=*)$/i;

function refuse(reply: FastifyReply, error: 'invalid_request' | 'invalid_token', message: string): FastifyReply {
  const challenge = error === 'invalid_request' ? 'Bearer realm="katahdin"' : `Bearer realm="katahdin", error="${error}"`;
  return reply
    .status(401)
    .header('www-authenticate', challenge)
    .header('content-type', 'application/fhir+json; charset=utf-8')
    .send(unauthorized(message).outcome);
}

/**
 * preHandler that admits only a valid `Authorization: Bearer` access token and sets `request.ctx`.
 * The source IP and request id are filled in from the request so the audit trail has them.
 */
export function requireAuth(verifier: TokenVerifier): preHandlerAsyncHookHandler {
  return async function authenticate(this: FastifyInstance, req: FastifyRequest, reply: FastifyReply) {
    const header = req.headers.authorization;
    if (!header) return refuse(reply, 'invalid_request', 'An access token is required (Authorization: Bearer).');
    const m = BEARER.exec(header);
    if (!m) return refuse(reply, 'invalid_token', 'The Authorization header must be "Bearer <token>".');
    try {
      const ctx = await verifier.verify(m[1]);
      req.ctx = { ...ctx, sourceIp: req.ip, requestId: req.id };
    } catch {
      return refuse(reply, 'invalid_token', 'The access token is invalid or expired.');
    }
  };
}

/**
 * Decorates `request.ctx` and installs `requireAuth` on every route of `app`. Call it inside the protected plugin
 * (Fastify encapsulation keeps it off public routes such as `/metadata` and `/.well-known/*`).
 */
export function installAuth(app: FastifyInstance, verifier: TokenVerifier): void {
  if (!app.hasRequestDecorator('ctx')) app.decorateRequest('ctx', undefined as unknown as AccessContext);
  app.addHook('preHandler', requireAuth(verifier));
}
