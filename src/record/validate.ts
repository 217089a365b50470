import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { loadFhirDefinitions, isStorableType } from '../fhir/definitions.ts';
import { badRequest, FhirError, fhirError } from '../fhir/outcome.ts';
import { loadRequiredBindings, requiredBindingIssues } from './required-bindings.ts';
import { surelyValid } from './validate-fast.ts';

/** Structural checks every write needs before validation proper: a JSON object with a known, storable resourceType. */
export function assertResourceShape(body: unknown, expectedType?: string): asserts body is Resource {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('The request body must be a FHIR resource (a JSON object).');
  const type = (body as { resourceType?: unknown }).resourceType;
  if (typeof type !== 'string') throw badRequest('The resource has no resourceType.', ['resourceType']);
  if (!isStorableType(type)) throw fhirError(400, 'not-supported', `Unknown or unsupported resource type "${type.slice(0, 64)}".`, ['resourceType']);
  if (expectedType && type !== expectedType) throw badRequest(`resourceType "${type}" does not match the URL type "${expectedType}".`, ['resourceType']);
}

/** Loads everything validation needs (definitions, required bindings), so the first write does not pay for it. */
export function prepareValidation(): void {
  loadFhirDefinitions();
  loadRequiredBindings();
}

/** Validates against the R4 StructureDefinitions; errors become one 400 OperationOutcome with FHIRPath locations. */
export function validateOrThrow(resource: Resource): void {
  loadFhirDefinitions();
  let issues: OperationOutcomeIssue[] = [];
  // The full validator runs only when the present-elements walk cannot vouch for the resource, so every reported
  // issue is still @medplum/core's own (its warnings are dropped below either way).
  if (!surelyValid(resource)) {
    try {
      issues = validateResource(resource);
    } catch (err) {
      if (err instanceof OperationOutcomeError) issues = err.outcome.issue ?? [];
      else throw err;
    }
  }
  const errors = [...issues.filter((i) => i.severity === 'error' || i.severity === 'fatal'), ...requiredBindingIssues(resource)];
  if (errors.length > 0) {
    // Every issue carries readable diagnostics, whichever field the validator filled.
    const issue = errors.slice(0, 50).map((i) => ({ ...i, diagnostics: i.diagnostics ?? i.details?.text ?? `Invalid ${i.expression?.[0] ?? 'resource'}` }));
    throw new FhirError(400, { resourceType: 'OperationOutcome', issue });
  }
}

export function validationOutcome(resource: unknown): OperationOutcomeIssue[] {
  try {
    assertResourceShape(resource);
    validateOrThrow(resource);
    return [];
  } catch (err) {
    if (err instanceof FhirError) return err.outcome.issue ?? [];
    throw err;
  }
}
