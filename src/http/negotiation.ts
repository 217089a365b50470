import type { FastifyRequest } from 'fastify';
import { fhirError } from '../fhir/outcome.ts';

/** `_format` values and media types a JSON answer satisfies (R4 http.html#mime-type; `json` is the short form). */
const JSON_TYPES = new Set(['json', 'application/json', 'application/fhir+json', 'application/json+fhir', '*/*', 'application/*']);

/** /fhir routes that answer in formats of their own: the bulk export's NDJSON files, the access report's CSV and PDF. */
const OWN_FORMATS = new Set(['/fhir/$export-file/:job/:file', '/fhir/Patient/:id/$access-report']);

/** The media type of a `_format` value or an Accept entry, without parameters; a `+` decoded from the query as a space restored. */
function mediaType(text: string): string {
  return text.split(';')[0].trim().toLowerCase().replace(/ /g, '+');
}

/** Whether an Accept header admits JSON: absent, or any entry not refused with q=0 is a JSON type or a wildcard. */
function acceptsJson(accept: string): boolean {
  if (accept.trim() === '') return true;
  return accept.split(',').some((entry) => {
    const q = /;\s*q\s*=\s*([\d.]+)/i.exec(entry)?.[1];
    return JSON_TYPES.has(mediaType(entry)) && (q === undefined || Number(q) > 0);
  });
}

/**
 * Content negotiation for the FHIR API, which speaks JSON only: 406 when the request asks only for formats it cannot
 * produce (`_format` overrides Accept, as R4 says). Other routes (the web app, OAuth, admin) are not concerned.
 */
export function checkFhirFormat(request: FastifyRequest): void {
  const path = request.url.split('?')[0];
  if (!/^\/fhir(\/|$)/.test(path) || OWN_FORMATS.has(request.routeOptions.url ?? '')) return;
  const format = new URLSearchParams(request.url.slice(path.length + 1)).get('_format');
  const accept = request.headers.accept ?? '';
  if (format !== null ? !JSON_TYPES.has(mediaType(format)) : !acceptsJson(accept)) {
    const asked = (format ?? accept).slice(0, 100);
    throw fhirError(406, 'not-supported', `This server answers in application/fhir+json only; "${asked}" was asked for.`);
  }
}
