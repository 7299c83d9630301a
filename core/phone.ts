import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

export interface NormalizedPhone {
  e164: string;
  country?: string;
}

/** Normalises to E.164; undefined when the number is not a valid phone number. Numbers without
 * a leading + are read as international (the digits include the country code). */
export function normalizePhone(input: string): NormalizedPhone | undefined {
  const trimmed = input.trim().replace(/[\s()-]/g, '');
  if (!/^\+?\d{6,16}$/.test(trimmed)) return undefined;
  const parsed = parsePhoneNumberFromString(trimmed.startsWith('+') ? trimmed : `+${trimmed}`);
  if (!parsed || !parsed.isValid()) return undefined;
  return { e164: parsed.number, country: parsed.country };
}

const EMAIL = /^[^\s@<>()[\],;:"]+@[^\s@<>()[\],;:"]+\.[^\s@<>()[\],;:"]{2,}$/;
export function isValidEmail(input: string): boolean {
  return input.length <= 254 && EMAIL.test(input);
}
