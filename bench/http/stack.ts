import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { AccessContext } from '../../src/access/context.ts';
import { AccessGate } from '../../src/access/gate.ts';
import { createSsnProtector } from '../../src/access/ssn-protector.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { createApp } from '../../src/http/app.ts';
import { fhirRestRoutes } from '../../src/http/routes/fhir-rest.ts';
import { registerRoutes } from '../../src/http/routes/index.ts';
import { TransactionService } from '../../src/record/transaction-service.ts';
import { buildServices, openDatabase, type Services } from '../../src/services.ts';
import { createSearchEngine } from '../../src/store/search/engine.ts';
import { sql } from '../../src/store/sql.ts';
import { startStatisticsMaintenance } from '../../src/store/statistics-maintenance.ts';
import { throwawaySchema } from '../../test/support/databases.ts';
import { profiled, type ProfiledDatabase } from './sql-profile.ts';

export type DbKind = 'pglite' | 'postgres';

/**
 * The server variants compared, all in this process over the same Database object:
 * - full: the production assembly (registerRoutes): token verification, privacy filter, audit;
 * - noAudit: the production assembly with a gate whose audit sink does nothing;
 * - fixed: the FHIR routes with a fixed AccessContext chosen by the run (no token verification) —
 *   a clinician context keeps the privacy filter, an internal context bypasses it.
 * The production server has no switch for any of this: the variants are assembled here from exported pieces.
 */
export interface BenchStack {
  kind: DbKind;
  db: ProfiledDatabase;
  services: Services;
  urls: { full: string; noAudit: string; fixed: string };
  /** The context the `fixed` server gives every request (set before each run). */
  fixedContext: { current: AccessContext | undefined };
  close(): Promise<void>;
}

/** A bare route reading one row by primary key from the same Database: the baseline every ratio is against. */
function baselineRoute(app: FastifyInstance, db: ProfiledDatabase): void {
  app.get<{ Params: { type: string; id: string } }>('/bench/row/:type/:id', async (request, reply) => {
    const { rows } = await db.query<{ content: unknown }>('select content from resources where resource_type = $1 and id = $2', [request.params.type, request.params.id]);
    if (rows.length === 0) return reply.status(404).send({});
    return reply.type('application/fhir+json; charset=utf-8').send(rows[0].content);
  });
}

function withoutAudit(s: Services): Services {
  const gate = new AccessGate({
    db: s.db,
    config: s.config,
    search: createSearchEngine({ fhirBase: s.fhirBase, maxIncludes: s.config.searchMaxIncludes }),
    protector: createSsnProtector(s.auth.fieldCrypto),
    audit: {
      append: async () => undefined,
      appendStatements: () => [],
      readStatement: (r) => sql`select x.*, true as audited from (select) as d left join (${r.read}) as x on true order by x.ord`,
    },
  });
  return { ...s, gate, transactions: new TransactionService(gate, s.records, s.fhirBase) };
}

async function fixedContextApp(config: Config, s: Services, fixed: { current: AccessContext | undefined }): Promise<FastifyInstance> {
  const app = createApp(config);
  await app.register(async (prot) => {
    prot.decorateRequest('ctx', undefined as unknown as AccessContext);
    prot.addHook('preHandler', async (req) => {
      if (!fixed.current) throw new Error('bench: no fixed context set');
      req.ctx = { ...fixed.current, sourceIp: req.ip, requestId: req.id };
    });
    await fhirRestRoutes(prot, s);
  });
  return app;
}

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

export async function startStack(kind: DbKind): Promise<BenchStack> {
  const dataDir = await mkdtemp(join(tmpdir(), 'katahdin-bench-'));
  const schema = kind === 'postgres' ? await throwawaySchema() : undefined;
  const config: Config = {
    ...loadConfig({}),
    host: '127.0.0.1', port: 0, dataDir, demo: false, databaseUrl: schema?.url ?? 'memory://',
    // Per-request info logs would measure stdout, not the server; warnings still print.
    logLevel: 'warn', accessTokenSeconds: 3600, publicUrl: 'http://127.0.0.1:8080',
  };
  const db = profiled(await openDatabase(config));
  const services = await buildServices(config, db);
  const fixedContext: BenchStack['fixedContext'] = { current: undefined };
  const full = createApp(config);
  baselineRoute(full, db);
  await registerRoutes(full, services);
  const noAudit = createApp(config);
  await registerRoutes(noAudit, withoutAudit(services));
  const fixed = await fixedContextApp(config, services, fixedContext);
  const urls = { full: await listen(full), noAudit: await listen(noAudit), fixed: await listen(fixed) };
  // As the server does (src/server.ts): the embedded database has no autovacuum to keep planner statistics current.
  const statistics = startStatisticsMaintenance(db);
  return {
    kind, db, services, urls, fixedContext,
    async close() {
      await statistics.stop();
      for (const app of [full, noAudit, fixed]) await app.close();
      await db.close();
      await schema?.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
