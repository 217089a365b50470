import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { notFoundHandler } from '../errors.ts';

const DIST = fileURLToPath(new URL('../../../web/dist/', import.meta.url));
const API_PREFIX = /^\/(fhir|admin|portal|oauth|hl7v2|ccda|\.well-known)(\/|$)/;
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json', '.woff2': 'font/woff2',
};

/** The built web app (web/dist) with SPA fallback to index.html; paths are confined to the dist folder. */
export async function webRoutes(app: FastifyInstance): Promise<void> {
  app.get('/*', async (request, reply) => {
    const path = decodeURIComponent(request.url.split('?')[0]);
    if (API_PREFIX.test(path)) return notFoundHandler(request, reply);
    if (!existsSync(join(DIST, 'index.html'))) {
      return reply.status(503).type('text/plain').send('The web app is not built. Run `npm run build:web` (npm start does it for you).');
    }
    const file = normalize(join(DIST, path));
    const inside = file.startsWith(DIST) && existsSync(file) && extname(file) !== '';
    const target = inside ? file : join(DIST, 'index.html');
    const type = TYPES[extname(target)] ?? 'application/octet-stream';
    if (target.includes(`${DIST}assets`)) reply.header('Cache-Control', 'public, max-age=31536000, immutable');
    return reply.type(type).send(await readFile(target));
  });
}
