/**
 * SMS encoding, part counting, splitting and cost.
 *
 * Pure and deterministic on purpose: no imports, no I/O and no Node APIs, so this module can be
 * used inside Temporal workflow code (which replays it and must get the same answer every time).
 *
 * Rules (3GPP TS 23.038, ex GSM 03.38, and TS 23.040 concatenation):
 * - Text made only of GSM-7 default alphabet + extension table characters is sent as GSM-7:
 *   160 septets in a single part, 153 per part once split (7 septets go to the UDH).
 *   Extension characters (`^{}\[~]|€` and form feed) are sent as ESC + char, i.e. 2 septets, and
 *   the pair is never split across parts (a handset would show garbage).
 * - Anything else makes the whole text UCS-2: 70 UTF-16 code units in one part, 67 per part once
 *   split. A surrogate pair (e.g. an emoji) is 2 units and is never split across parts.
 * National language shift tables (TS 23.038 §6.2.1.2.4) are not used: carriers rarely support them.
 */

export type SmsEncoding = 'GSM-7' | 'UCS-2';

export interface SmsInfo {
  encoding: SmsEncoding;
  /** Number of SMS parts billed. An empty text is 1 part: carriers still send (and bill) one SMS. */
  parts: number;
  /** Total size: septets for GSM-7 (extension characters count 2), UTF-16 code units for UCS-2. */
  units: number;
  /** Capacity of each part for this message: 160/153 (GSM-7) or 70/67 (UCS-2) depending on `parts`. */
  perPart: number;
  /** Units still free in the last part before another part would be needed. */
  remainingInLastPart: number;
}

/** Per-encoding part capacities, in septets (GSM-7) or UTF-16 code units (UCS-2). */
export const SMS_LIMITS: Readonly<Record<SmsEncoding, { single: number; multi: number }>> = Object.freeze({
  'GSM-7': Object.freeze({ single: 160, multi: 153 }),
  'UCS-2': Object.freeze({ single: 70, multi: 67 }),
});

/**
 * GSM 03.38 default alphabet (basic table), all 127 characters except ESC (0x1B).
 * 0x09 is Ç (U+00C7) as printed in ETSI GSM 03.38 / 3GPP TS 23.038; Unicode's GSM0338.TXT maps it
 * to ç (U+00E7) instead. We only accept Ç: guessing "GSM-7" for ç would under-count parts
 * (and cost) whenever the carrier disagrees, while treating it as UCS-2 can only over-count.
 */
const GSM7_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';

/** GSM 03.38 extension table: each is sent as ESC + char, so it costs 2 septets. */
const GSM7_EXTENSION = '\f^{}\\[~]|€';

const GSM7_BASIC_SET: ReadonlySet<string> = new Set(GSM7_BASIC);
const GSM7_EXTENSION_SET: ReadonlySet<string> = new Set(GSM7_EXTENSION);

/** Septets for one UTF-16 code unit, or 0 when it is not representable in GSM-7. */
function gsm7Septets(char: string): 0 | 1 | 2 {
  if (GSM7_BASIC_SET.has(char)) return 1;
  if (GSM7_EXTENSION_SET.has(char)) return 2;
  return 0;
}

/** True when every character is in the GSM-7 basic or extension table (the empty text is GSM-7). */
export function isGsm7(text: string): boolean {
  // All GSM-7 characters are in the BMP, so walking UTF-16 code units is enough: any surrogate fails.
  for (let i = 0; i < text.length; i++) {
    if (gsm7Septets(text[i]!) === 0) return false;
  }
  return true;
}

/** The smallest indivisible pieces of the text with their size in the chosen encoding. */
interface Token {
  text: string;
  units: number;
}

function tokenize(text: string, encoding: SmsEncoding): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (encoding === 'GSM-7') {
      tokens.push({ text: char, units: gsm7Septets(char) });
      continue;
    }
    const code = char.charCodeAt(0);
    const next = i + 1 < text.length ? text.charCodeAt(i + 1) : -1;
    if (code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      // A well-formed surrogate pair travels as one 2-unit token so it is never split.
      tokens.push({ text: text.slice(i, i + 2), units: 2 });
      i++;
    } else {
      // Includes lone (ill-formed) surrogates: one code unit each, nothing to keep them with.
      tokens.push({ text: char, units: 1 });
    }
  }
  return tokens;
}

interface Layout {
  encoding: SmsEncoding;
  parts: string[];
  units: number;
  perPart: number;
  lastPartUnits: number;
}

/**
 * Greedy packing of tokens into parts. Greedy is optimal here: parts hold consecutive tokens, so
 * filling each part as far as possible can never lead to more parts.
 */
function layout(text: string): Layout {
  const encoding: SmsEncoding = isGsm7(text) ? 'GSM-7' : 'UCS-2';
  const { single, multi } = SMS_LIMITS[encoding];
  const tokens = tokenize(text, encoding);
  const units = tokens.reduce((sum, token) => sum + token.units, 0);

  if (units <= single) {
    // Covers the empty text too: one (empty) part, as carriers bill it.
    return { encoding, parts: [text], units, perPart: single, lastPartUnits: units };
  }

  const parts: string[] = [];
  let current = '';
  let currentUnits = 0;
  for (const token of tokens) {
    if (currentUnits + token.units > multi) {
      parts.push(current);
      current = '';
      currentUnits = 0;
    }
    current += token.text;
    currentUnits += token.units;
  }
  parts.push(current);
  return { encoding, parts, units, perPart: multi, lastPartUnits: currentUnits };
}

/** Encoding, part count and sizes of a text as it would be sent by SMS. */
export function smsInfo(text: string): SmsInfo {
  const { encoding, parts, units, perPart, lastPartUnits } = layout(text);
  return { encoding, parts: parts.length, units, perPart, remainingInLastPart: perPart - lastPartUnits };
}

/**
 * The text of each SMS part (`parts.join('') === text`, `length === smsInfo(text).parts`).
 * GSM-7 escape pairs and UTF-16 surrogate pairs are never split. An empty text gives `['']`.
 */
export function splitSms(text: string): string[] {
  return layout(text).parts;
}

// ---------------------------------------------------------------------------------------------
// Cost

/**
 * Prices by channel: `default` applies unless the recipient's country (ISO 3166-1 alpha-2,
 * upper case) has its own price. Per SMS part for `sms`, per message for the other channels.
 */
export interface PriceTable {
  [channel: string]: { default: number; countries?: Record<string, number> };
}

/** Plausible list prices (in the account currency) used when no table is configured. */
export const DEFAULT_PRICE_TABLE: PriceTable = deepFreeze({
  sms: {
    default: 0.05,
    countries: { US: 0.0079, CA: 0.0079, GB: 0.04, DE: 0.075, FR: 0.07, ES: 0.06, IT: 0.065, IN: 0.0045, BR: 0.03 },
  },
  email: { default: 0.0001 },
  push: { default: 0 },
  viber: { default: 0.012 },
  whatsapp: { default: 0.005, countries: { US: 0.004, GB: 0.0088, DE: 0.0107, IN: 0.0014, BR: 0.008 } },
  chat: { default: 0 },
});

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (typeof child === 'object' && child !== null) deepFreeze(child);
  }
  return Object.freeze(value);
}

function hasOwn(object: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(object, key);
}

/**
 * Price of one part (or message) on a channel for a country. Falls back to the channel's default
 * when the country is missing or has no price, and to 0 when the channel is not in the table.
 */
export function pricePerPart(table: PriceTable, channel: string, country?: string): number {
  // Own properties only: 'constructor' or 'toString' must not resolve to Object.prototype members.
  if (!hasOwn(table, channel)) return 0;
  const entry = table[channel]!;
  const countries = entry.countries;
  if (country !== undefined && countries !== undefined) {
    const code = country.toUpperCase();
    if (hasOwn(countries, code)) return countries[code]!;
  }
  return entry.default;
}

const COST_DECIMALS = 4;

/** Exact decimal value of a finite number's shortest representation: `digits × 10^-scale`. */
function toScaledDecimal(value: number): { digits: bigint; scale: number } {
  // Number#toString gives the shortest decimal that round-trips, e.g. 0.1 → "0.1", 1e-7 → "1e-7".
  const match = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(value));
  if (!match) throw new RangeError(`not a finite non-negative number: ${value}`);
  const [, integer, fraction = '', exponent = '0'] = match;
  let digits = BigInt(integer! + fraction);
  let scale = fraction.length - Number(exponent);
  if (scale < 0) {
    digits *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { digits, scale };
}

/**
 * Cost of `parts` parts at `price` each, rounded half-up to 4 decimal places. Computed in exact
 * decimal arithmetic (BigInt) so that e.g. 3 × 0.1 is exactly 0.3, not 0.30000000000000004.
 */
export function messageCost(parts: number, price: number): number {
  if (!Number.isSafeInteger(parts) || parts < 0) {
    throw new RangeError(`parts must be a non-negative integer, got ${parts}`);
  }
  if (!Number.isFinite(price) || price < 0) {
    throw new RangeError(`price must be a finite number >= 0, got ${price}`);
  }
  const { digits, scale } = toScaledDecimal(price);
  const exact = digits * BigInt(parts); // value = exact × 10^-scale
  let tenThousandths: bigint;
  if (scale <= COST_DECIMALS) {
    tenThousandths = exact * 10n ** BigInt(COST_DECIMALS - scale);
  } else {
    const divisor = 10n ** BigInt(scale - COST_DECIMALS);
    // Half-up: add half the divisor before truncating (all values are non-negative).
    tenThousandths = (exact + divisor / 2n) / divisor;
  }
  const text = tenThousandths.toString().padStart(COST_DECIMALS + 1, '0');
  // Parsing the decimal string yields the double nearest to the exact result.
  return Number(`${text.slice(0, -COST_DECIMALS)}.${text.slice(-COST_DECIMALS)}`);
}

const COUNTRY_CODE = /^[A-Z]{2}$/;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPrice(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/**
 * Parse and validate a price table from JSON. Throws an Error naming the offending key, e.g.
 * `price table: "sms.countries.usa" is not an ISO 3166-1 alpha-2 country code`.
 * Unknown keys inside a channel are rejected so that typos (`"defualt"`) do not go unnoticed.
 */
export function parsePriceTable(json: string): PriceTable {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (error) {
    throw new Error(`price table: invalid JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(raw)) {
    throw new Error('price table: must be a JSON object mapping channel names to prices');
  }

  const entries: [string, PriceTable[string]][] = [];
  for (const [channel, entry] of Object.entries(raw)) {
    if (channel.trim() === '') throw new Error('price table: channel name must not be empty');
    if (!isPlainObject(entry)) {
      throw new Error(`price table: "${channel}" must be an object like { "default": 0.05 }`);
    }
    for (const key of Object.keys(entry)) {
      if (key !== 'default' && key !== 'countries') {
        throw new Error(`price table: "${channel}.${key}" is not allowed (expected "default" or "countries")`);
      }
    }
    if (!hasOwn(entry, 'default')) throw new Error(`price table: "${channel}.default" is missing`);
    if (!isPrice(entry.default)) {
      throw new Error(`price table: "${channel}.default" must be a finite number >= 0`);
    }

    let countries: Record<string, number> | undefined;
    if (hasOwn(entry, 'countries')) {
      if (!isPlainObject(entry.countries)) {
        throw new Error(`price table: "${channel}.countries" must be an object mapping country codes to prices`);
      }
      const countryEntries: [string, number][] = [];
      for (const [country, price] of Object.entries(entry.countries)) {
        if (!COUNTRY_CODE.test(country)) {
          throw new Error(
            `price table: "${channel}.countries.${country}" is not an ISO 3166-1 alpha-2 country code (two upper-case letters)`,
          );
        }
        if (!isPrice(price)) {
          throw new Error(`price table: "${channel}.countries.${country}" must be a finite number >= 0`);
        }
        countryEntries.push([country, price]);
      }
      countries = Object.fromEntries(countryEntries);
    }
    entries.push([channel, countries === undefined ? { default: entry.default } : { default: entry.default, countries }]);
  }
  // fromEntries defines own data properties, so a "__proto__" key cannot reach the prototype.
  return Object.fromEntries(entries);
}
