/**
 * Last line of defence for SSNs in logs: every log line passes through `redactSsns` before it is written, so an
 * SSN that slips into a URL, a body echoed in an error, or a message is masked. (Primary defence: SSNs are
 * encrypted at rest and code never logs them.) Over-matching other nine-digit numbers is acceptable in logs.
 */
const SSN_LIKE = /(?<![\d-])\d{3}([- ]?)\d{2}\1\d{4}(?![\d-])/g;

export function redactSsns(text: string): string {
  return text.replace(SSN_LIKE, '***-**-****');
}

/** Spread into Fastify's `logger` (pino) options: `Fastify({ logger: { level, ...ssnSafeLoggerOptions } })`. */
export const ssnSafeLoggerOptions = {
  hooks: { streamWrite: redactSsns },
};
