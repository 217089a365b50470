import type { FastifyInstance } from 'fastify';
import { AuthInputError } from '../../auth/auth-service.ts';
import { badRequest, forbidden } from '../../fhir/outcome.ts';
import type { Services } from '../../services.ts';
import type { AccessContext } from '../../access/context.ts';

function requireAdmin(ctx: AccessContext): void {
  if (ctx.role !== 'admin') throw forbidden('Only HIE administrators manage users and system clients.');
}

async function wrapInput<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AuthInputError) throw badRequest(err.message);
    throw err;
  }
}

/** Users and system clients (organizations are FHIR resources under /fhir/Organization). Every call is audited. */
export async function adminRoutes(app: FastifyInstance, s: Services): Promise<void> {
  app.get('/admin/users', async (request) => {
    requireAdmin(request.ctx);
    return s.gate.run(request.ctx, { action: 'admin', query: 'list users' }, () => s.auth.listUsers());
  });
  app.post<{ Body: Record<string, string> }>('/admin/users', async (request, reply) => {
    requireAdmin(request.ctx);
    const b = request.body ?? {};
    const user = await s.gate.run(request.ctx, { action: 'admin', query: 'add user' }, () => wrapInput(() => s.auth.addUser({
      username: b.username ?? '', password: b.password ?? '', role: b.role as never, displayName: b.displayName ?? '', organizationId: b.organizationId, personId: b.personId,
    })));
    return reply.status(201).send(user);
  });
  app.get('/admin/clients', async (request) => {
    requireAdmin(request.ctx);
    return s.gate.run(request.ctx, { action: 'admin', query: 'list clients' }, () => s.auth.listClients());
  });
  app.post<{ Body: { clientId?: string; name?: string; organizationId?: string; scopes?: string[] | string; jwks?: { keys: object[] } } }>('/admin/clients', async (request, reply) => {
    requireAdmin(request.ctx);
    const b = request.body ?? {};
    const scopes = Array.isArray(b.scopes) ? b.scopes : String(b.scopes ?? '').split(/[ ,]+/).filter(Boolean);
    const client = await s.gate.run(request.ctx, { action: 'admin', query: 'add client' }, () => wrapInput(() => s.auth.addClient({
      clientId: b.clientId ?? '', name: b.name ?? '', organizationId: b.organizationId, scopes, jwks: b.jwks as never,
    })));
    return reply.status(201).send(client);
  });
}
