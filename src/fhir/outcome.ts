import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

export type IssueCode = OperationOutcomeIssue['code'];

/** A FHIR error: thrown by any layer, mapped once to an HTTP status and `OperationOutcome` by the HTTP error handler. */
export class FhirError extends Error {
  constructor(
    readonly status: number,
    readonly outcome: OperationOutcome,
  ) {
    super(outcome.issue?.[0]?.diagnostics ?? `FHIR error ${status}`);
    this.name = 'FhirError';
  }
}

export function outcome(
  severity: OperationOutcomeIssue['severity'],
  code: IssueCode,
  diagnostics: string,
  expression?: string[],
): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity, code, diagnostics, ...(expression ? { expression } : {}) }],
  };
}

export function fhirError(status: number, code: IssueCode, diagnostics: string, expression?: string[]): FhirError {
  return new FhirError(status, outcome('error', code, diagnostics, expression));
}

export const badRequest = (msg: string, expression?: string[]) => fhirError(400, 'invalid', msg, expression);
export const notFound = (msg: string) => fhirError(404, 'not-found', msg);
export const gone = (msg: string) => fhirError(410, 'deleted', msg);
export const forbidden = (msg: string) => fhirError(403, 'forbidden', msg);
export const conflict = (msg: string) => fhirError(409, 'conflict', msg);
export const preconditionFailed = (msg: string) => fhirError(412, 'conflict', msg);
export const unprocessable = (msg: string, expression?: string[]) => fhirError(422, 'processing', msg, expression);
export const unauthorized = (msg: string) => fhirError(401, 'login', msg);

export function allOk(diagnostics = 'All OK'): OperationOutcome {
  return outcome('information', 'informational', diagnostics);
}
