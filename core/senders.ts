/**
 * What a sender name may look like on each channel, so that a template (or a sender request) that
 * could never be sent is refused up front. Pure: shared by the request schemas and the admin routes.
 */
import { isValidEmail } from './phone';

/** SMPP source address: a number (phone or short code, up to 15 digits) or an alphanumeric
 * sender id of at most 11 characters with at least one letter (GSM 03.40 / SMPP 3.4 TON 5). */
const SMS_NUMERIC = /^\+?\d{3,15}$/;
const SMS_ALPHANUMERIC = /^(?=.*[A-Za-z])[A-Za-z0-9 ._&'-]{1,11}$/;

/** `news@acme.com` or `ACME News <news@acme.com>` (the display-name form of RFC 5322). */
const EMAIL_WITH_NAME = /^([^<>"\r\n]*[^<>"\s]|"[^"\r\n]+")\s*<([^<>\s]+)>$/;

export const SENDER_RULES: Readonly<Record<string, string>> = Object.freeze({
  sms: 'an SMS sender is a number of 3 to 15 digits (optionally with +) or up to 11 letters, digits, spaces and . _ & \' - with at least one letter',
  email: 'an email sender is an address such as news@acme.com, optionally with a display name: ACME <news@acme.com>',
});

/** The address part of an email sender (`ACME <news@acme.com>` → `news@acme.com`), or undefined when it is not one. */
export function emailSenderAddress(sender: string): string | undefined {
  const trimmed = sender.trim();
  const named = EMAIL_WITH_NAME.exec(trimmed);
  const address = named ? named[2]! : trimmed;
  return isValidEmail(address) ? address : undefined;
}

/** Why `name` cannot be a sender on `channel`; undefined when it can. */
export function senderNameProblem(channel: string, name: string): string | undefined {
  switch (channel) {
    case 'sms':
      return SMS_NUMERIC.test(name) || SMS_ALPHANUMERIC.test(name) ? undefined : SENDER_RULES.sms;
    case 'email':
      return emailSenderAddress(name) ? undefined : SENDER_RULES.email;
    default:
      return undefined;
  }
}
