import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { sandboxOutcomeDigit } from '../../../activities/channels/sandbox';
import type { HlrProvider, HlrResult } from '../../../core/hlr';

/**
 * Mobile prefixes (the national number's first digits) as they were originally allocated, so
 * sandbox checks name a believable operator. Number portability makes this a guess on a real
 * network — which is why real checks ask the HLR; the sandbox never reports a number as ported.
 */
const ORIGINAL_OPERATORS: Record<string, readonly (readonly [from: string, to: string, operator: string])[]> = {
  RU: [
    ['910', '919', 'MTS'],
    ['980', '989', 'MTS'],
    ['903', '903', 'Beeline'],
    ['905', '906', 'Beeline'],
    ['909', '909', 'Beeline'],
    ['960', '969', 'Beeline'],
    ['920', '939', 'MegaFon'],
    ['999', '999', 'Yota'],
    ['900', '902', 'Tele2'],
    ['904', '904', 'Tele2'],
    ['908', '908', 'Tele2'],
    ['950', '953', 'Tele2'],
    ['958', '958', 'Tele2'],
    ['977', '977', 'Tele2'],
    ['991', '996', 'Tele2'],
  ],
  KZ: [
    ['700', '700', 'Altel'],
    ['708', '708', 'Altel'],
    ['701', '702', 'Kcell'],
    ['775', '775', 'Kcell'],
    ['778', '778', 'Kcell'],
    ['705', '705', 'Beeline KZ'],
    ['771', '771', 'Beeline KZ'],
    ['776', '777', 'Beeline KZ'],
    ['707', '707', 'Tele2 KZ'],
    ['747', '747', 'Tele2 KZ'],
  ],
  BY: [
    ['25', '25', 'life:)'],
    ['33', '33', 'MTS BY'],
    ['44', '44', 'A1'],
  ],
  DE: [
    ['151', '151', 'Telekom'],
    ['160', '160', 'Telekom'],
    ['170', '171', 'Telekom'],
    ['175', '175', 'Telekom'],
    ['152', '152', 'Vodafone'],
    ['162', '162', 'Vodafone'],
    ['172', '174', 'Vodafone'],
    ['155', '155', 'O2'],
    ['157', '157', 'O2'],
    ['159', '159', 'O2'],
    ['163', '163', 'O2'],
    ['176', '179', 'O2'],
  ],
};

/** The operator a number's prefix was allocated to, when the table knows it. */
export function originalOperator(country: string | undefined, nationalNumber: string): string | null {
  for (const [from, to, operator] of ORIGINAL_OPERATORS[country ?? ''] ?? []) {
    const prefix = nationalNumber.slice(0, from.length);
    if (prefix >= from && prefix <= to) return operator;
  }
  return null;
}

/**
 * The built-in HLR (shared/API.md, "Sandbox numbers"): the last digit decides — `8` invalid
 * number, `9` absent subscriber, anything else active. Country and operator come from the number
 * itself; nothing is ported or roaming; every lookup costs `costPerCheck` (HLR_COST).
 */
export class SandboxHlrProvider implements HlrProvider {
  readonly name = 'sandbox';

  constructor(private readonly costPerCheck: number) {}

  async lookup(e164: string): Promise<HlrResult> {
    const parsed = parsePhoneNumberFromString(e164);
    const country = parsed?.country ?? null;
    const digit = sandboxOutcomeDigit(e164);
    const status = digit === '8' ? 'invalid_number' : digit === '9' ? 'absent_subscriber' : 'active';
    // An unassigned number has no subscriber, hence no operator serving it.
    const operator = status === 'invalid_number' ? null : originalOperator(parsed?.country, parsed?.nationalNumber ?? '');
    return {
      status,
      operator,
      country,
      ported: false,
      roaming: false,
      cost: this.costPerCheck,
      error: null,
      raw: { sandbox: true, lastDigit: digit },
    };
  }
}
