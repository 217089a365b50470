const utf8 = new TextDecoder('utf-8', { fatal: true });

/** HL7 v2 bytes → text: UTF-8 when valid, else Latin-1 (the usual MSH-18 default on the wire and in files). */
export function decodeHl7Bytes(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return Buffer.from(bytes).toString('latin1');
  }
}
