import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { DestinationStream } from 'pino';
import type { Config } from '../config.ts';
import { ssnSafeLoggerOptions } from '../auth/log-redaction.ts';
import type { FhirError } from '../fhir/outcome.ts';
import { errorHandler, notFoundHandler, unreadableBody, unsupportedMediaType } from './errors.ts';
import { checkFhirFormat } from './negotiation.ts';

const JSON_TYPES = ['application/json', 'application/fhir+json'];
const TEXT_TYPES = ['x-application/hl7-v2+er7', 'application/hl7-v2', 'application/xml', 'text/xml', 'text/plain'];

/** Paths and fields the logger must never print (tokens, passwords, bodies are never logged at all). */
const REDACT = ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'];

/** A bare Fastify instance with Katahdin's parsers, limits, logger and error mapping; routes are added by server.ts. */
export function createApp(config: Config, logStream?: DestinationStream): FastifyInstance {
  const app = (Fastify as unknown as (o: object) => FastifyInstance)({
    bodyLimit: config.bodyLimitBytes,
    logger: {
      level: config.logLevel,
      ...ssnSafeLoggerOptions,
      redact: REDACT,
      serializers: {
        // URLs are logged without their query string: search parameters can hold names and birth dates.
        req: (req: { method: string; url: string; id: string }) => ({ method: req.method, path: req.url.split('?')[0], id: req.id }),
      },
      ...(logStream ? { stream: logStream } : {}),
    },
    genReqId: () => crypto.randomUUID(),
    // Behind a reverse proxy, request.ip (rate limits, audit source IP) is the client named in X-Forwarded-For, but
    // only when the peer is one of TRUST_PROXY's addresses; otherwise the header is ignored and request.ip is the peer.
    ...(config.trustProxy.length ? { trustProxy: config.trustProxy } : {}),
    routerOptions: { maxParamLength: 256 },
    ...(config.tls ? { https: { key: readFileSync(config.tls.keyFile), cert: readFileSync(config.tls.certFile) } } : {}),
  });
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser(JSON_TYPES, { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, readJson(body as string));
    } catch {
      const err = Object.assign(new Error('invalid JSON'), { code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400 });
      done(err, undefined);
    }
  });
  app.addContentTypeParser(TEXT_TYPES, { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  // CORS is closed unless CORS_ORIGINS names the browser origins allowed to call the API.
  const corsOrigins = new Set(config.corsOrigins);
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (!origin || !corsOrigins.has(origin)) return;
    reply.header('Access-Control-Allow-Origin', origin).header('Vary', 'Origin');
    if (request.method === 'OPTIONS') {
      reply.header('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE').header('Access-Control-Allow-Headers', 'Authorization, Content-Type, If-Match, If-None-Exist, Prefer').status(204).send();
    }
  });
  app.addHook('onRequest', async (request, reply) => {
    if (!reply.sent) checkFhirFormat(request);
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('X-Frame-Options', 'DENY');
    reply.header('Referrer-Policy', 'no-referrer');
    if (config.tls || config.tlsTerminatedUpstream) reply.header('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    if (!request.url.startsWith('/fhir') && !request.url.startsWith('/oauth')) {
      reply.header('Content-Security-Policy', "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'");
    }
  });
  return app;
}

/** An empty body is no body: routes that take none (a kick-off, a logout) accept it, writes refuse it themselves. */
function readJson(body: string): unknown {
  return body === '' ? undefined : JSON.parse(body);
}

/**
 * Body parsing runs before any preHandler, so on its own a body that is not JSON, or in a content type no parser reads,
 * would be refused before the caller is known: unaudited, and a 400 or 415 even without a token. In `scope` (the
 * protected routes; call after `installAuth`) such a body is refused by a preHandler after authentication instead, with
 * the same OperationOutcome, so the scope's audit hook records an authenticated caller's refusal.
 */
export function refuseUnreadableBodiesAfterAuth(scope: FastifyInstance): void {
  const refusals = new WeakMap<FastifyRequest, FhirError>();
  scope.removeContentTypeParser(JSON_TYPES);
  scope.addContentTypeParser(JSON_TYPES, { parseAs: 'string' }, (request, body, done) => {
    try {
      done(null, readJson(body as string));
    } catch {
      refusals.set(request, unreadableBody('not-json'));
      done(null, undefined);
    }
  });
  // Every type without a parser of its own (and a body sent without one). The body is not read: Node discards what is
  // left of it once the answer is sent, as it did when Fastify refused the type itself.
  scope.addContentTypeParser('*', (request, _payload, done) => {
    refusals.set(request, unsupportedMediaType());
    done(null, undefined);
  });
  scope.addHook('preHandler', async (request) => {
    const refusal = refusals.get(request);
    if (refusal) throw refusal;
  });
}
