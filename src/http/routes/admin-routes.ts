import type { FastifyInstance } from 'fastify';
import { accountRef } from '../../audit/events.ts';
import { AuthInputError, type AccountTransaction } from '../../auth/auth-service.ts';
import { badRequest, conflict, forbidden, notFound } from '../../fhir/outcome.ts';
import { WEB_CLIENT_ID } from '../../auth/clients.ts';
import type { Services } from '../../services.ts';
import type { AccessContext } from '../../access/context.ts';

function requireAdmin(ctx: AccessContext): void {
  if (ctx.role !== 'admin') throw forbidden('Only HIE administrators manage users and system clients.');
}

/** The account store's input errors as 400, or as 404 where the input names an account (`missing`). */
async function wrapInput<T>(fn: () => Promise<T>, missing = false): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AuthInputError) throw missing ? notFound(err.message) : badRequest(err.message);
    throw err;
  }
}

/** The account a PUT .../disabled acts on, as its URL names it. */
interface AccountName {
  kind: 'user' | 'client';
  name: string;
}

/**
 * The `disabled` flag of a PUT .../disabled body, read only once the caller is known to be an administrator: anyone
 * else is refused (403) and audited as `asAdministrator` audits it, whatever the body holds (a body that does not say
 * `false` counts as disabling), so a malformed body cannot turn a refused attempt into an unaudited 400.
 */
async function disabledFlag(s: Services, ctx: AccessContext, body: { disabled?: unknown } | undefined, account: AccountName): Promise<boolean> {
  if (ctx.role !== 'admin') {
    await s.gate.run(ctx, { action: body?.disabled === false ? 'enable' : 'disable', query: `${account.kind} ${account.name}` }, async () => requireAdmin(ctx));
  }
  if (typeof body?.disabled !== 'boolean') throw badRequest('The body must be {"disabled": true} or {"disabled": false}.', ['disabled']);
  return body.disabled;
}

/**
 * The account store keeps its own transactions (it shares the database, and PGlite has one connection, so it must
 * not run inside a gate transaction): the administrative action is audited first, then carried out.
 */
export async function audited(s: Services, ctx: AccessContext, what: string): Promise<void> {
  await s.gate.run(ctx, { action: 'admin', query: what }, async () => undefined);
}

/**
 * Disabling or enabling an account, run in the gate's transaction (`AccountTransaction`): the change commits only with
 * its audit entry, which names the administrator, the account and the outcome. A refusal (not an administrator,
 * `check`) or an unknown account is audited by the gate as such, the account named in the query as asked for.
 */
function asAdministrator(s: Services, ctx: AccessContext, disabled: boolean, account: AccountName, check = () => {}): AccountTransaction {
  const action = disabled ? 'disable' : 'enable';
  const query = `${account.kind} ${account.name}`;
  return (change) => s.gate.run(ctx, { action, query }, async (scope) => {
    requireAdmin(ctx);
    check();
    const id = await wrapInput(() => change(scope.tx), true);
    scope.note(action, [], [accountRef(account.kind, id)], { query });
    return id;
  });
}

/** Users and system clients (organizations are FHIR resources under /fhir/Organization). Every call is audited. */
export async function adminRoutes(app: FastifyInstance, s: Services): Promise<void> {
  app.get('/admin/users', async (request) => {
    requireAdmin(request.ctx);
    // The auth service uses its own connection: calling it inside the gate's transaction deadlocks single-connection PGlite.
    // The list leaves only once its audit entry is written.
    const users = await s.auth.listUsers();
    return s.gate.run(request.ctx, { action: 'admin', query: 'list users' }, async () => users);
  });
  app.post<{ Body: Record<string, string> }>('/admin/users', async (request, reply) => {
    requireAdmin(request.ctx);
    const b = request.body ?? {};
    const user = await wrapInput(() => s.auth.addUser({
      username: b.username ?? '', password: b.password ?? '', role: b.role as never, displayName: b.displayName ?? '', organizationId: b.organizationId, personId: b.personId,
    }));
    await s.gate.run(request.ctx, { action: 'admin', query: 'add user' }, async () => undefined);
    return reply.status(201).send(user);
  });
  // Disabling ends the user's sessions and refuses their access tokens at once (src/auth/token-liveness.ts).
  app.put<{ Params: { username: string }; Body: { disabled?: unknown } }>('/admin/users/:username/disabled', async (request) => {
    const { username } = request.params;
    const account: AccountName = { kind: 'user', name: username };
    const disabled = await disabledFlag(s, request.ctx, request.body, account);
    await s.auth.setUserDisabled(username, disabled, asAdministrator(s, request.ctx, disabled, account));
    return { username, disabled };
  });
  app.get('/admin/clients', async (request) => {
    requireAdmin(request.ctx);
    const clients = await s.auth.listClients();
    return s.gate.run(request.ctx, { action: 'admin', query: 'list clients' }, async () => clients);
  });
  app.post<{ Body: { clientId?: string; name?: string; organizationId?: string; scopes?: string[] | string; jwks?: { keys: object[] } } }>('/admin/clients', async (request, reply) => {
    requireAdmin(request.ctx);
    const b = request.body ?? {};
    const scopes = Array.isArray(b.scopes) ? b.scopes : String(b.scopes ?? '').split(/[ ,]+/).filter(Boolean);
    const client = await wrapInput(() => s.auth.addClient({
      clientId: b.clientId ?? '', name: b.name ?? '', organizationId: b.organizationId, scopes, jwks: b.jwks as never,
    }));
    await s.gate.run(request.ctx, { action: 'admin', query: 'add client' }, async () => undefined);
    return reply.status(201).send(client);
  });
  app.put<{ Params: { clientId: string }; Body: { disabled?: unknown } }>('/admin/clients/:clientId/disabled', async (request) => {
    const { clientId } = request.params;
    const account: AccountName = { kind: 'client', name: clientId };
    const disabled = await disabledFlag(s, request.ctx, request.body, account);
    await s.auth.setClientDisabled(clientId, disabled, asAdministrator(s, request.ctx, disabled, account, () => {
      if (clientId === WEB_CLIENT_ID) throw conflict('The built-in web app cannot be disabled: every user signs in through it. Disable users instead.');
    }));
    return { clientId, disabled };
  });
}
