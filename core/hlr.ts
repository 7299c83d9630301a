/**
 * Phone checks (HLR lookups): the provider contract, shaped like the channel providers'
 * (activities/channels/types.ts): a named adapter that answers for each number and never throws
 * for what the network or the provider said.
 */

/**
 * What a check found:
 * - `active`: the number is in service and its phone reachable;
 * - `absent_subscriber`: in service, but the phone is off or out of coverage;
 * - `invalid_number`: not assigned to any subscriber;
 * - `unknown`: the network gave no definite answer;
 * - `failed`: the lookup did not complete (provider error, timeout): nothing is known, and
 *   nothing was charged unless the provider said so.
 */
export const HLR_STATUSES = ['active', 'absent_subscriber', 'invalid_number', 'unknown', 'failed'] as const;
export type HlrStatus = (typeof HLR_STATUSES)[number];

export interface HlrResult {
  status: HlrStatus;
  /** The network now serving the number (the ported-to one when ported); null when unknown. */
  operator: string | null;
  /** ISO 3166 alpha-2 of the number's home network; null when the provider names none. */
  country: string | null;
  /** null when unknown (a failed lookup). */
  ported: boolean | null;
  roaming: boolean | null;
  /** What the lookup cost, in the account currency. */
  cost: number;
  /** Why a check failed or came back unknown; null otherwise. */
  error: string | null;
  /** The provider's answer as received, kept for disputes and debugging. */
  raw: unknown;
}

export interface HlrProvider {
  /** Stored on each check (`provider` column). */
  readonly name: string;
  /**
   * Looks up one number in E.164. Answers `failed` (with `error`) when the provider cannot be
   * reached, refuses, or times out, within the adapter's own time limit.
   */
  lookup(e164: string): Promise<HlrResult>;
}

/** A check that did not complete: nothing is known about the number. */
export function failedLookup(error: string, raw: unknown = null, cost = 0): HlrResult {
  return { status: 'failed', operator: null, country: null, ported: null, roaming: null, cost, error, raw };
}
