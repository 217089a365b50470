import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { redactSsns } from '../auth/log-redaction.ts';
import { FhirError, outcome } from '../fhir/outcome.ts';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** The one place errors become HTTP: FhirError as is, Fastify's own errors by code, anything else a bare 500. */
export function errorHandler(err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  if (err instanceof FhirError) {
    reply.status(err.status).type(FHIR_JSON).send(withoutSsns(err.outcome));
    return;
  }
  const fe = err as FastifyError;
  const known: Record<string, [number, string, string]> = {
    FST_ERR_CTP_BODY_TOO_LARGE: [413, 'too-long', 'The request body is larger than the server accepts.'],
    FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'not-supported', 'Unsupported content type; send application/fhir+json.'],
    FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'invalid', 'The request body is empty.'],
    FST_ERR_CTP_INVALID_JSON_BODY: [400, 'invalid', 'The request body is not valid JSON.'],
  };
  const hit = fe.code ? known[fe.code] : undefined;
  if (hit) {
    reply.status(hit[0]).type(FHIR_JSON).send(outcome('error', hit[1] as never, hit[2]));
    return;
  }
  if (err instanceof SyntaxError || (fe.statusCode === 400 && /JSON/i.test(err.message))) {
    reply.status(400).type(FHIR_JSON).send(outcome('error', 'invalid', 'The request body is not valid JSON.'));
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
