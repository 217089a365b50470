import { badRequest } from '../../fhir/outcome.ts';

export interface ParseOptions {
  /** `Prefer: handling=strict`: unknown or unsupported parameters are errors instead of warnings. */
  strict: boolean;
  /** This server's FHIR base, so absolute references to it search like relative ones. */
  baseUrl?: string;
  /**
   * Keyed hashes for an identifier whose value is never stored in the clear (an SSN: only its masked form is in the
   * resource and the index), under every key still in use; undefined for any other identifier.
   */
  protectedHashes?: (system: string, value: string) => string[] | undefined;
}

export interface ParseContext extends ParseOptions {
  resourceType: string;
  warnings: string[];
}

/** An unknown or unsupported parameter: a warning (lenient) or 400 (strict). */
export function unsupported(ctx: ParseContext, message: string): void {
  if (ctx.strict) throw badRequest(message);
  ctx.warnings.push(message);
}
