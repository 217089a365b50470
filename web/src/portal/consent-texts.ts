/**
 * Plain-language texts for the patient's privacy forms (6th–8th grade reading level).
 * Based on docs/privacy rules 2–5: opt-out removes health information, opt-in covers only new visits,
 * sensitive categories are hidden unless shared, and emergency access is recorded.
 */
import type { ConsentAction, SensitiveCategory } from '../api/types.ts';

export interface ConsentFormText {
  id: string;
  action: ConsentAction;
  category?: SensitiveCategory;
  title: string;
  intro: string;
  whatHappens: string[];
  confirmQuestion: string;
  confirmLabel: string;
}

export const CATEGORY_NAMES: Record<SensitiveCategory, string> = {
  PSY: 'mental health',
  HIV: 'HIV/AIDS',
  ETH: 'substance use (alcohol or drug treatment)',
};

export const OPT_OUT: ConsentFormText = {
  id: 'opt-out',
  action: 'opt-out',
  title: 'Opt out: do not share my health information',
  intro: 'You can choose not to have your health information shared through Katahdin.',
  whatHappens: [
    'We remove your health information right away. This means your visits, test results, medicines, allergies and reports from every doctor, hospital and lab.',
    'We keep only your name, birth date, sex and ID numbers. We need these so we know not to add new health information about you.',
    'Your doctors can no longer see your health information here. This is true even in an emergency.',
    'Your doctors still have their own records. This choice does not change those.',
    'We keep the list of who looked at your record. You can still ask for that report.',
    'You can change your mind later and opt back in.',
  ],
  confirmQuestion: 'Are you sure you want to opt out? Your health information will be removed now.',
  confirmLabel: 'Yes, opt me out',
};

export const OPT_IN: ConsentFormText = {
  id: 'opt-in',
  action: 'opt-in',
  title: 'Opt back in: share my health information again',
  intro: 'You can choose to have your health information shared through Katahdin again.',
  whatHappens: [
    'Your record will only include information from medical visits that happen after today.',
    'Information that was removed when you opted out does not come back.',
    'Doctors and nurses who care for you can see your new information.',
    'Mental health, HIV/AIDS and substance use information stays private unless you choose to share it.',
  ],
  confirmQuestion: 'Are you sure you want to opt back in?',
  confirmLabel: 'Yes, opt me back in',
};

export function shareText(category: SensitiveCategory): ConsentFormText {
  const name = CATEGORY_NAMES[category];
  return {
    id: `share-${category}`,
    action: 'share',
    category,
    title: `Share my ${name} information`,
    intro: `Right now your ${name} information is kept private. You can choose to share it with the people who care for you.`,
    whatHappens: [
      `Doctors and nurses who care for you will be able to see your ${name} information.`,
      'This can help them give you safer care, for example when they choose a medicine.',
      'You can change your mind later and keep it private again.',
    ],
    confirmQuestion: `Are you sure you want to share your ${name} information?`,
    confirmLabel: 'Yes, share it',
  };
}

export function withholdText(category: SensitiveCategory): ConsentFormText {
  const name = CATEGORY_NAMES[category];
  return {
    id: `withhold-${category}`,
    action: 'withhold',
    category,
    title: `Keep my ${name} information private`,
    intro: `You can choose to keep your ${name} information private.`,
    whatHappens: [
      `Your ${name} information will be hidden from the people who look at your record.`,
      'In a medical emergency, a doctor can still see it. We record every time this happens, and you can see it in your report.',
      'You can change your mind later and share it again.',
    ],
    confirmQuestion: `Are you sure you want to keep your ${name} information private?`,
    confirmLabel: 'Yes, keep it private',
  };
}
