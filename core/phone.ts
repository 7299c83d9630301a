import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';

export interface NormalizedPhone {
  e164: string;
  country?: string;
}

/**
 * Normalises to E.164; undefined when the number is not a valid phone number. A number without a
 * leading + is read in `defaultCountry`'s national format when one is configured
 * (DEFAULT_PHONE_COUNTRY, e.g. RU: "8 999 000-00-07"), else as international digits.
 */
export function normalizePhone(input: string, defaultCountry?: string): NormalizedPhone | undefined {
  const trimmed = input.trim().replace(/[\s().-]/g, '');
  if (!/^\+?\d{6,16}$/.test(trimmed)) return undefined;
  const candidates = trimmed.startsWith('+')
    ? [parsePhoneNumberFromString(trimmed)]
    : [defaultCountry ? parsePhoneNumberFromString(trimmed, defaultCountry.toUpperCase() as CountryCode) : undefined, parsePhoneNumberFromString(`+${trimmed}`)];
  const parsed = candidates.find((p) => p?.isValid());
  if (!parsed) return undefined;
  return { e164: parsed.number, country: parsed.country };
}

const EMAIL = /^[^\s@<>()[\],;:"]+@[^\s@<>()[\],;:"]+\.[^\s@<>()[\],;:"]{2,}$/;
export function isValidEmail(input: string): boolean {
  return input.length <= 254 && EMAIL.test(input);
}
