import type { Hl7Message } from '@medplum/core';

/** HL7 table 0357 (message error condition codes) — the subset Katahdin emits. */
export const Hl7ErrorCode = {
  SegmentSequence: 100,
  RequiredFieldMissing: 101,
  DataType: 102,
  TableValueNotFound: 103,
  UnsupportedMessageType: 200,
  UnsupportedEventCode: 201,
  UnsupportedProcessingId: 202,
  UnsupportedVersionId: 203,
  UnknownKeyIdentifier: 204,
  ApplicationInternalError: 207,
} as const;
export type Hl7ErrorCode = (typeof Hl7ErrorCode)[keyof typeof Hl7ErrorCode];

/** Where in the message an error sits (HL7 ERL data type: segment, sequence, field, component). */
export interface Hl7ErrorLocation {
  segment: string;
  /** 1-based occurrence of the segment within the message. */
  sequence?: number;
  field?: number;
  component?: number;
}

/** A reasoned rejection. `reason` never contains field values (no PHI). */
export interface Hl7Error {
  code: Hl7ErrorCode;
  /** AR: the message can never be accepted as sent; AE: it may succeed after a fix or a retry. */
  ackCode: 'AE' | 'AR';
  reason: string;
  location?: Hl7ErrorLocation;
}

/** A problem that did not stop the message (a skipped segment): acknowledged AA with an ERR of severity W. */
export type Hl7Warning = Omit<Hl7Error, 'ackCode'>;

/** Hierarchic designator (HD): namespace id, universal id, universal id type. */
export interface Hd {
  namespace: string;
  universalId: string;
  universalIdType: string;
}

export interface MessageHeader {
  sendingApplication: Hd;
  sendingFacility: Hd;
  receivingApplication: Hd;
  receivingFacility: Hd;
  /** MSH-9.1, e.g. `ADT`. */
  messageType: string;
  /** MSH-9.2, e.g. `A01` (empty for v2.1 ACKs). */
  triggerEvent: string;
  /** MSH-9.3, e.g. `ADT_A01` (often absent before v2.3.1). */
  messageStructure: string;
  controlId: string;
  processingId: string;
  version: string;
  /** MSH-7 as written (HL7 TS). */
  timestamp: string;
  /** Key used for facility identity: MSH-4 namespace, else its universal id, else MSH-3. */
  facilityKey: string;
}

export interface ParsedMessage {
  header: MessageHeader;
  /** Normalised ER7 (CR segment separators, no BOM, no trailing whitespace). */
  er7: string;
  message: Hl7Message;
}

export type ParseResult = { ok: true; message: ParsedMessage } | { ok: false; error: Hl7Error; partialHeader?: Partial<MessageHeader> };
