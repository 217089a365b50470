/** Why a C-CDA submission was refused. Messages never quote document content (no PHI). */
export type CcdaErrorCode =
  | 'empty-document'
  | 'malformed-xml'
  | 'not-ccda'
  | 'section-fragment'
  | 'wrong-namespace'
  | 'bad-type-id'
  | 'missing-header'
  | 'missing-patient'
  | 'missing-patient-name'
  | 'conversion-failed';

export interface CcdaError {
  /** 400: not parseable XML; 422: XML but not an acceptable C-CDA document. */
  status: 400 | 422;
  code: CcdaErrorCode;
  message: string;
  /** Where the problem is: `line:column` for XML errors, an element path otherwise. */
  location?: string;
}

/** Typed exception carrying a CcdaError, thrown by convertCcda when the document cannot be mapped. */
export class CcdaIngestError extends Error {
  readonly detail: CcdaError;
  constructor(detail: CcdaError) {
    super(detail.message);
    this.name = 'CcdaIngestError';
    this.detail = detail;
  }
}

export function ccdaError(status: 400 | 422, code: CcdaErrorCode, message: string, location?: string): CcdaError {
  return location === undefined ? { status, code, message } : { status, code, message, location };
}
