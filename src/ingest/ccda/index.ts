/** Public API of C-CDA ingestion: pure functions, wired to HTTP (`POST /ccda`) and `katahdin import` by the caller. */
export { convertCcda, ingestCcda, type ConversionResult, type ConvertOptions, type IngestResult } from './convert.ts';
export { CcdaIngestError, type CcdaError, type CcdaErrorCode } from './errors.ts';
export { HASH_SYSTEM, identifierFromCdaId, identifierQuery, sameIdentifier, URI_SYSTEM } from './dedupe-keys.ts';
export { decodeXml, validateCcda, type CcdaVersion, type ValidationResult } from './validate.ts';
