/** Public API of the privacy domain: pure decisions the access gate and the ingest pipeline call. */
export { clinicalDate, isOnOrAfter } from './clinical-date.ts';
export * from './consent.ts';
export { intakeDecision, intakeDecisions, isClinicalType, NON_CLINICAL_TYPES, type IntakeDecision, type IntakeEntry } from './intake.ts';
export { labelsForCdaXml } from './labels/ccda-codes.ts';
export { applyLabels, declaredLabels, labelCoding, labelsForCode, labelsForResource, labelsInJson, mergeLabels } from './labels/classifier.ts';
export { ownLabels, propagateBundleLabels, propagateLabels, PROPAGATING_KEYS, relabelRecord } from './labels/propagate.ts';
export { ACT_CODE_SYSTEM, SENSITIVITY_LABELS, type SensitivityLabel, type ValueSets } from './labels/value-set-types.ts';
export { compileValueSets, loadValueSets, valueSetVersion } from './labels/value-sets.ts';
export * from './policy.ts';
export { demographicView, maskSsn, redactDocumentSections, redactForRole, seesFullSsn, SSN_SYSTEM, type RedactionResult } from './redact.ts';
export { redactCdaXml, redactComposition } from './document-redaction.ts';
export * from './relationships.ts';
