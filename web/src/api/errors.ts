import type { OperationOutcome } from '@medplum/fhirtypes';

const ACCESS_SYSTEM = 'https://katahdin.org/fhir/CodeSystem/access';

/** A failed API call: HTTP status plus the server's OperationOutcome when it sent one. */
export class ApiError extends Error {
  readonly status: number;
  readonly outcome?: OperationOutcome;

  constructor(status: number, message: string, outcome?: OperationOutcome) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.outcome = outcome;
  }

  /** The Katahdin access code (`no-care-relationship`, `relationship-expired`) when the server sent one. */
  get accessCode(): string | undefined {
    const coding = this.outcome?.issue?.[0]?.details?.coding ?? [];
    return coding.find((c) => c.system === ACCESS_SYSTEM)?.code;
  }

  get needsRelationship(): boolean {
    return this.status === 403 && (this.accessCode === 'no-care-relationship' || this.accessCode === 'relationship-expired');
  }
}

export function isOperationOutcome(value: unknown): value is OperationOutcome {
  return typeof value === 'object' && value !== null && (value as { resourceType?: unknown }).resourceType === 'OperationOutcome';
}

/** Human readable text of an error, for status messages. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return 'Something went wrong. Please try again.';
}
