import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { redactSsns } from '../auth/log-redaction.ts';
import { badRequest, FhirError, fhirError, outcome } from '../fhir/outcome.ts';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';

const BODY_EMPTY = 'The request body is empty.';
const BODY_NOT_JSON = 'The request body is not valid JSON.';
const MEDIA_TYPE_UNSUPPORTED = 'Unsupported content type; send application/fhir+json.';

/**
 * The refusal of a body the route cannot read (none where a resource is required, or not JSON). Made once the caller
 * is known, so that an authenticated caller's refusal is audited and an anonymous one stays a 401.
 * The message is fixed: the body may hold PHI and is never quoted.
 */
export function unreadableBody(kind: 'empty' | 'not-json'): FhirError {
  return badRequest(kind === 'empty' ? BODY_EMPTY : BODY_NOT_JSON);
}

/** A body in a content type no parser reads: the answer Fastify's own refusal gets, made once the caller is known. */
export function unsupportedMediaType(): FhirError {
  return fhirError(415, 'not-supported', MEDIA_TYPE_UNSUPPORTED);
}

/** The one place errors become HTTP: FhirError as is, Fastify's own errors by code, anything else a bare 500. */
export function errorHandler(err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  if (err instanceof FhirError) {
    reply.status(err.status).type(FHIR_JSON).send(withoutSsns(err.outcome));
    return;
  }
  const fe = err as FastifyError;
  const known: Record<string, [number, string, string]> = {
    FST_ERR_CTP_BODY_TOO_LARGE: [413, 'too-long', 'The request body is larger than the server accepts.'],
    FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'not-supported', MEDIA_TYPE_UNSUPPORTED],
    FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'invalid', BODY_EMPTY],
    FST_ERR_CTP_INVALID_JSON_BODY: [400, 'invalid', BODY_NOT_JSON],
  };
  const hit = fe.code ? known[fe.code] : undefined;
  if (hit) {
    reply.status(hit[0]).type(FHIR_JSON).send(outcome('error', hit[1] as never, hit[2]));
    return;
  }
  if (err instanceof SyntaxError || (fe.statusCode === 400 && /JSON/i.test(err.message))) {
    reply.status(400).type(FHIR_JSON).send(outcome('error', 'invalid', BODY_NOT_JSON));
    return;
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    reply.status(fe.statusCode).type(FHIR_JSON).send(outcome('error', 'invalid', 'The request could not be processed.'));
    return;
  }
  // Unknown errors: logged by code and request id only (no message text, which could carry PHI), answered without detail.
  request.log.error({ errName: err.name, errCode: fe.code, stack: err.stack?.split('\n').slice(0, 6).join('\n') }, 'unhandled error');
  reply.status(500).type(FHIR_JSON).send(outcome('error', 'exception', `Internal server error (request ${request.id}).`));
}

/** Messages may quote what the caller sent (an id, a value); an SSN-shaped number in them is masked (privacy-rules §7). */
function withoutSsns(o: OperationOutcome): OperationOutcome {
  return { ...o, issue: o.issue?.map((i) => (i.diagnostics ? { ...i, diagnostics: redactSsns(i.diagnostics) } : i)) ?? [] };
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  reply.status(404).type(FHIR_JSON).send(outcome('error', 'not-found', `No route for ${request.method} ${redactSsns(request.url.split('?')[0].slice(0, 200))}.`));
}
