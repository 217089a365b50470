/**
 * Katahdin's own choices layered on the published value sets. Each is explained in docs/PRIVACY.md.
 * Bump RELEASE/RELEASE_DATE when these choices change; the content hash in each file's version
 * changes by itself when the codes do.
 */
import { SYSTEMS, type CodeRangeRule, type NameRule, type SensitivityLabel } from '../../src/privacy/labels/value-set-types.ts';

export const RELEASE = '2026.11.1';
export const RELEASE_DATE = '2026-11-25';

const icd = SYSTEMS.icd10cm;

/** ICD-10-CM rules named by the issue: chapter F is mental health except SUD (F10–F19, tobacco F17 excluded). */
export const RANGES: Array<CodeRangeRule & { label: SensitivityLabel }> = [
  { label: 'PSY', system: icd, from: 'F01', to: 'F09', note: 'ICD-10-CM chapter 5: mental disorders due to known physiological conditions' },
  { label: 'PSY', system: icd, from: 'F20', to: 'F99', note: 'ICD-10-CM chapter 5: mental, behavioral and neurodevelopmental disorders' },
  { label: 'ETH', system: icd, from: 'F10', to: 'F16', note: 'ICD-10-CM substance-related disorders (alcohol … hallucinogens)' },
  { label: 'ETH', system: icd, from: 'F18', to: 'F19', note: 'ICD-10-CM inhalant and other psychoactive substance disorders (F17 nicotine excluded: 42 CFR 2.11)' },
  { label: 'HIV', system: icd, from: 'B20', to: 'B20', note: 'HIV disease' },
  { label: 'HIV', system: icd, from: 'Z21', to: 'Z21', note: 'asymptomatic HIV infection status' },
  { label: 'HIV', system: icd, from: 'B9735', to: 'B9735', note: 'HIV-2 as the cause of diseases classified elsewhere' },
  { label: 'HIV', system: icd, from: 'O987', to: 'O987', note: 'HIV disease complicating pregnancy, childbirth and the puerperium' },
];

/** eCQM sets left out: "Mental Behavioral and Neurodevelopmental Disorders" also holds dementia and developmental codes. */
export const EXCLUDED_ECQM = new Set(['2.16.840.1.113883.3.464.1003.105.12.1203']);

/** Tobacco and caffeine are not substance use disorders under 42 CFR 2.11; naloxone alone is overdose rescue. */
export const ETH_EXCLUDE = /tobacco|nicotine|smok|cigar|varenicline|bupropion|caffeine|^(?!.*buprenorphine).*naloxone/i;

/**
 * Only drugs whose prescription reveals SUD treatment are ETH: MOUD and alcohol-use-disorder drugs.
 * The C2S/OBHITA "substance abuse treatment" RxNorm lists also hold antidepressants, antipsychotics
 * and opioid analgesics; buprenorphine brands for pain (Butrans, Belbuca, Buprenex) and opioid/naltrexone
 * analgesic combinations are left out.
 */
export const ETH_RXNORM_ALLOW =
  /buprenorphine|methadone|methadose|diskets|naltrexone|vivitrol|disulfiram|antabuse|acamprosate|campral|lofexidine|lucemyra|suboxone|subutex|zubsolv|bunavail|sublocade|brixadi/i;
export const ETH_RXNORM_DENY = /butrans|belbuca|buprenex|morphine|embeda|oxycodone|troxyca/i;

/**
 * Drugs with common non-psychiatric uses (pain, sleep, nausea, seizures, Parkinson's, smoking cessation;
 * a doxorubicin row in C2S is a plain error):
 * a prescription alone does not reveal mental-health care, so they are not labelled PSY.
 */
export const PSY_EXCLUDE =
  /amitriptyline|elavil|nortriptyline|pamelor|doxepin|silenor|prudoxin|zonalon|imipramine|tofranil|duloxetine|cymbalta|milnacipran|bupropion|wellbutrin|zyban|aplenzin|budeprion|buproban|forfivo|trazodone|desyrel|oleptro|prochlorperazine|promethazine|metoclopramide|droperidol|clonazepam|klonopin|diazepam|valium|lorazepam|ativan|hydroxyzine|gabapentin|pregabalin|carbamazepine|tegretol|equetro|valpro|depakene|depakote|lamotrigine|lamictal|topiramate|zolpidem|ambien|eszopiclone|lunesta|triazolam|halcion|temazepam|restoril|estazolam|benztropine|cogentin|selegiline|eldepryl|zelapar|clidinium|librax|doxorubicin|hydroxytryptophan/i;

/** C2S lists acyclovir/Zovirax under HIV; it is an antiviral for herpes, not an antiretroviral. */
export const HIV_EXCLUDE = /acyclovir|zovirax/i;

/**
 * The ARV RxNorm source is partial (INSTIs, boosters, attachment inhibitors only), so antiretrovirals
 * are also recognised by ingredient name. Nirmatrelvir/ritonavir (COVID-19) and hepatitis B
 * products are excluded.
 */
export const ARV_NAMES: NameRule = {
  systems: [SYSTEMS.rxnorm],
  include: [
    'abacavir', 'didanosine', 'emtricitabine', 'lamivudine', 'stavudine', 'tenofovir', 'zidovudine',
    'efavirenz', 'etravirine', 'nevirapine', 'rilpivirine', 'doravirine', 'delavirdine',
    'atazanavir', 'darunavir', 'fosamprenavir', 'indinavir', 'lopinavir', 'nelfinavir', 'ritonavir',
    'saquinavir', 'tipranavir', 'cobicistat', 'enfuvirtide', 'maraviroc', 'ibalizumab', 'fostemsavir',
    'raltegravir', 'dolutegravir', 'elvitegravir', 'bictegravir', 'cabotegravir', 'lenacapavir',
  ],
  exclude: ['nirmatrelvir', 'paxlovid', 'epivir-hbv', 'hbv', 'vemlidy', 'baraclude', 'entecavir'],
  note: 'Katahdin rule: FDA-approved antiretroviral ingredient names, matched as whole words in RxNorm displays or medication text',
};

/**
 * Common HIV laboratory tests (viral loads, antigen/antibody screens and confirmations) as lab feeds send them.
 * The published sets name HIV diagnoses and drugs but not all of these tests, and a result of any of them
 * reveals HIV testing or status.
 */
export const HIV_LOINC_SOURCE_ID = 'katahdin-hiv-loinc';
export const HIV_LOINC: Array<[string, string]> = [
  ['25836-8', 'HIV 1 RNA [#/volume] (viral load) in Serum or Plasma by NAA with probe detection'],
  ['20447-9', 'HIV 1 RNA [#/volume] (viral load) in Serum or Plasma by NAA with probe detection'],
  ['23876-6', 'HIV 1 RNA [#/volume] in Plasma by Probe and target amplification method'],
  ['29539-4', 'HIV 1 RNA [Log #/volume] (viral load) in Plasma by NAA with probe detection'],
  ['29541-0', 'HIV 1 RNA [Log #/volume] (viral load) in Plasma by Probe and target amplification method'],
  ['70241-5', 'HIV 1 RNA [Log #/volume] (viral load) in Serum or Plasma by NAA with probe detection'],
  ['86233-4', 'HIV 1 RNA [Presence] in Serum, Plasma or Blood by NAA with probe detection'],
  ['48023-5', 'HIV 1 proviral DNA [Presence] in Specimen by NAA with probe detection'],
  ['56888-1', 'HIV 1+2 Ab and HIV1 p24 Ag [Presence] in Serum or Plasma by Immunoassay'],
  ['75622-1', 'HIV 1 and 2 Ag and Ab [Presence] in Serum or Plasma by Immunoassay'],
  ['7917-8', 'HIV 1 Ab [Presence] in Serum'],
  ['7918-6', 'HIV 1+2 Ab [Presence] in Serum'],
  ['5221-7', 'HIV 1 Ab [Presence] in Serum by Immunoblot'],
  ['68961-2', 'HIV 1 Ab [Presence] in Serum, Plasma or Blood by Rapid immunoassay'],
  ['31201-7', 'HIV 1+2 Ab [Presence] in Serum'],
  ['43009-4', 'HIV 1+2 Ab [Presence] in Serum by Immunoassay'],
  ['49580-4', 'HIV 1+2 Ab [Presence] in Serum, Plasma or Blood by Rapid immunoassay'],
];
