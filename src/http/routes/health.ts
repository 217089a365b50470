import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.ts';

/** Liveness (the process answers) and readiness (the database answers). */
export async function healthRoutes(app: FastifyInstance, s: Services): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await s.db.query('select 1');
      return { status: 'ready', database: s.db.dialect };
    } catch {
      return reply.status(503).send({ status: 'unavailable' });
    }
  });
}
