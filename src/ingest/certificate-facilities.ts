import type { ClientCertificate } from './hl7v2/mllp-server.ts';

const REFUSED = 'cert-refused:';

/**
 * Whether a client certificate may send for a facility: the name its messages are filed under (MSH-4 namespace, else
 * its universal id, else MSH-3), so a certificate never files data under a facility it does not name. A CN listed in
 * MLLP_CERT_FACILITIES may send for the facilities listed there; any other certificate for its CN or a DNS/URI
 * subject alternative name.
 */
export function maySendFor(cert: ClientCertificate, facility: string, listed: ReadonlyMap<string, readonly string[]>): boolean {
  const allowed = cert.cn === undefined ? undefined : listed.get(cert.cn);
  return (allowed ?? [cert.cn, ...cert.altNames]).includes(facility);
}

/**
 * Inbox sender of a message whose certificate may not send for its facility. Kept apart from the facility's own
 * messages (a refused copy must never answer for one of the facility's control ids) and marked, so that every run
 * of it — first, crash recovery, an administrator's retry — refuses it.
 */
export function refusedSender(cert: ClientCertificate, facility: string): string {
  return `${REFUSED}${cert.cn ?? ''}|${facility}`;
}

export function isRefusedSender(sender: string): boolean {
  return sender.startsWith(REFUSED);
}
