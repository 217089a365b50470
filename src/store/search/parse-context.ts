import { badRequest } from '../../fhir/outcome.ts';

export interface ParseOptions {
  /** `Prefer: handling=strict`: unknown or unsupported parameters are errors instead of warnings. */
  strict: boolean;
  /** This server's FHIR base, so absolute references to it search like relative ones. */
  baseUrl?: string;
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
