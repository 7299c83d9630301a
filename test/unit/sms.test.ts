import {
  DEFAULT_PRICE_TABLE,
  SMS_LIMITS,
  isGsm7,
  messageCost,
  parsePriceTable,
  pricePerPart,
  smsInfo,
  splitSms,
  type PriceTable,
  type SmsEncoding,
  type SmsInfo,
} from '../../core/sms';

/** The parts of split-sms@0.1.7 (an independent calculator, CommonJS, untyped) that we compare with. */
interface SplitSmsResult {
  characterSet: 'GSM' | 'Unicode';
  parts: { content: string; length: number; bytes: number }[];
  /** Septets for GSM; 2 × UTF-16 code units for Unicode. */
  bytes: number;
  /** Free septets (GSM) or UTF-16 units (Unicode) in the last part. */
  remainingInPart: number;
}
const splitSmsLib = require('split-sms') as { split(message: string): SplitSmsResult };

const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXTENSION = '\f^{}\\[~]|€';
const CYRILLIC = 'абвгдежзийклмнопрстуфхцчшщъыьэюяАБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ';
/** Astral emoji (surrogate pairs) plus a few BMP symbols outside GSM-7. */
const EMOJI = ['😀', '🎉', '👍', '🚀', '❤', '☃', '✓', '🇪🇺', '👨‍👩‍👧'];

const cyr = (n: number): string => 'ж'.repeat(n);
const a = (n: number): string => 'a'.repeat(n);

/** Size of a part in the given encoding, computed independently of core/sms. */
function partUnits(part: string, encoding: SmsEncoding): number {
  if (encoding === 'UCS-2') return part.length;
  return [...part].reduce((sum, ch) => sum + (GSM_EXTENSION.includes(ch) ? 2 : 1), 0);
}

function isHigh(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
function isLow(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** Invariants every split must satisfy, whatever the text. */
function expectConsistentSplit(text: string): void {
  const info = smsInfo(text);
  const parts = splitSms(text);
  expect(parts.join('')).toBe(text);
  expect(parts).toHaveLength(info.parts);
  for (const part of parts) expect(partUnits(part, info.encoding)).toBeLessThanOrEqual(info.perPart);
  expect(info.remainingInLastPart).toBe(info.perPart - partUnits(parts[parts.length - 1]!, info.encoding));
  expect(info.units).toBe(partUnits(text, info.encoding));
  for (let i = 0; i < parts.length - 1; i++) {
    const end = parts[i]!.charCodeAt(parts[i]!.length - 1);
    const start = parts[i + 1]!.charCodeAt(0);
    // A surrogate pair is never split across parts.
    expect(isHigh(end) && isLow(start)).toBe(false);
  }
}

/** Deterministic PRNG (mulberry32) so the property test is reproducible. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('isGsm7', () => {
  it('accepts the empty text and every basic and extension character', () => {
    expect(isGsm7('')).toBe(true);
    expect(isGsm7(GSM_BASIC)).toBe(true);
    expect(isGsm7(GSM_EXTENSION)).toBe(true);
    for (const ch of GSM_BASIC + GSM_EXTENSION) expect(isGsm7(ch)).toBe(true);
  });

  it('has exactly 127 basic characters (128 minus ESC) and 10 extension characters', () => {
    expect(new Set(GSM_BASIC).size).toBe(127);
    expect(new Set(GSM_EXTENSION).size).toBe(10);
  });

  it.each([
    ['Cyrillic', 'Привет'],
    ['emoji', '😀'],
    ['BMP symbol', '☃'],
    ['tab (not in GSM 03.38)', '\t'],
    ['backtick', '`'],
    ['raw ESC', '\u001b'],
    ['no-break space', '\u00a0'],
    ['lone surrogate', '\ud83d'],
    ['small c cedilla', 'ç'],
    ['a single non-GSM char among GSM ones', `${a(100)}ą${a(10)}`],
  ])('rejects %s', (_label, text) => {
    expect(isGsm7(text)).toBe(false);
  });

  it('agrees with split-sms on every BMP code unit', () => {
    // split-sms exposes its validator through split(): a one-character message is GSM or Unicode.
    const disagreements: number[] = [];
    for (let code = 0; code < 0x10000; code++) {
      if (isHigh(code) || isLow(code)) continue; // lone surrogates: see the divergence test below
      const ch = String.fromCharCode(code);
      if (isGsm7(ch) !== (splitSmsLib.split(ch).characterSet === 'GSM')) disagreements.push(code);
    }
    expect(disagreements).toEqual([]);
  });

  it('treats 0x09 as Ç (ETSI GSM 03.38 / 3GPP TS 23.038), not ç (Unicode GSM0338.TXT)', () => {
    // The ETSI table prints an upper-case Ç at 0x09; Unicode's mapping file says ç. We follow ETSI
    // (as split-sms does) so that ç is sent as UCS-2: over-counting is safer than under-billing.
    expect(isGsm7('Ç')).toBe(true);
    expect(isGsm7('ç')).toBe(false);
    expect(smsInfo('ç').encoding).toBe('UCS-2');
  });
});

describe('smsInfo: GSM-7', () => {
  it('counts an empty text as one empty part, like carriers bill it', () => {
    expect(smsInfo('')).toEqual<SmsInfo>({
      encoding: 'GSM-7',
      parts: 1,
      units: 0,
      perPart: 160,
      remainingInLastPart: 160,
    });
    expect(splitSms('')).toEqual(['']);
  });

  it('fits 160 septets in one part and needs two parts at 161', () => {
    expect(smsInfo(a(1))).toEqual<SmsInfo>({ encoding: 'GSM-7', parts: 1, units: 1, perPart: 160, remainingInLastPart: 159 });
    expect(smsInfo(a(160))).toEqual<SmsInfo>({ encoding: 'GSM-7', parts: 1, units: 160, perPart: 160, remainingInLastPart: 0 });
    expect(smsInfo(a(161))).toEqual<SmsInfo>({ encoding: 'GSM-7', parts: 2, units: 161, perPart: 153, remainingInLastPart: 145 });
    expect(splitSms(a(161))).toEqual([a(153), a(8)]);
  });

  it.each([2, 3, 4, 5, 6, 10])('fits 153×%i septets in that many parts and one more septet in one more', (k) => {
    expect(smsInfo(a(153 * k))).toMatchObject({ parts: k, units: 153 * k, perPart: 153, remainingInLastPart: 0 });
    expect(smsInfo(a(153 * k + 1))).toMatchObject({ parts: k + 1, perPart: 153, remainingInLastPart: 152 });
    expect(smsInfo(a(153 * k - 1))).toMatchObject({ parts: k, remainingInLastPart: 1 });
    expectConsistentSplit(a(153 * k + 1));
  });

  it.each([...GSM_EXTENSION])('counts extension character %j as two septets', (ch) => {
    expect(smsInfo(ch)).toMatchObject({ encoding: 'GSM-7', units: 2, remainingInLastPart: 158 });
    expect(smsInfo(ch.repeat(80))).toMatchObject({ parts: 1, units: 160, remainingInLastPart: 0 });
    expect(smsInfo(ch.repeat(81))).toMatchObject({ parts: 2, units: 162, perPart: 153 });
  });

  it('keeps 158 septets + € in one part and splits at 159 + €', () => {
    expect(smsInfo(`${a(158)}€`)).toMatchObject({ parts: 1, units: 160, remainingInLastPart: 0 });
    expect(smsInfo(`${a(159)}€`)).toMatchObject({ parts: 2, units: 161 });
    expect(splitSms(`${a(159)}€`)).toEqual([a(153), `${a(6)}€`]);
  });

  it('never splits an escape pair: 152 septets + € moves the € to the next part', () => {
    const text = `${a(152)}€${a(10)}`;
    expect(splitSms(text)).toEqual([a(152), `€${a(10)}`]);
    // The first part wastes one septet, so the last part has 153 − 12 free.
    expect(smsInfo(text)).toEqual<SmsInfo>({ encoding: 'GSM-7', parts: 2, units: 164, perPart: 153, remainingInLastPart: 141 });
  });

  it('fills the part exactly when the pair ends on septet 153', () => {
    expect(splitSms(`${a(151)}€${a(10)}`)).toEqual([`${a(151)}€`, a(10)]);
  });

  it('counts the septets wasted by unsplittable pairs: 306 septets can need 3 parts', () => {
    const text = `${a(152)}€${a(150)}€`; // 306 septets = 2 × 153, but the pairs cannot straddle
    expect(smsInfo(text)).toMatchObject({ parts: 3, units: 306, remainingInLastPart: 151 });
    expect(splitSms(text)).toEqual([a(152), `€${a(150)}`, '€']);
  });

  it('treats CR, LF and every basic character as one septet', () => {
    expect(smsInfo(GSM_BASIC)).toMatchObject({ encoding: 'GSM-7', units: 127, parts: 1 });
    expect(smsInfo('line1\r\nline2')).toMatchObject({ units: 12 });
  });
});

describe('smsInfo: UCS-2', () => {
  it('fits 70 units in one part and needs two parts at 71', () => {
    expect(smsInfo(cyr(70))).toEqual<SmsInfo>({ encoding: 'UCS-2', parts: 1, units: 70, perPart: 70, remainingInLastPart: 0 });
    expect(smsInfo(cyr(71))).toEqual<SmsInfo>({ encoding: 'UCS-2', parts: 2, units: 71, perPart: 67, remainingInLastPart: 63 });
    expect(splitSms(cyr(71))).toEqual([cyr(67), cyr(4)]);
  });

  it.each([2, 3, 4, 5, 9])('fits 67×%i units in that many parts and one more unit in one more', (k) => {
    expect(smsInfo(cyr(67 * k))).toMatchObject({ parts: k, units: 67 * k, perPart: 67, remainingInLastPart: 0 });
    expect(smsInfo(cyr(67 * k + 1))).toMatchObject({ parts: k + 1, remainingInLastPart: 66 });
    expect(smsInfo(cyr(67 * k - 1))).toMatchObject({ parts: k, remainingInLastPart: 1 });
    expectConsistentSplit(cyr(67 * k + 1));
  });

  it('switches a whole GSM text to UCS-2 for a single non-GSM character', () => {
    expect(smsInfo(a(159))).toMatchObject({ encoding: 'GSM-7', parts: 1 });
    expect(smsInfo(`${a(159)}ж`)).toMatchObject({ encoding: 'UCS-2', parts: 3, units: 160, perPart: 67 });
    expect(smsInfo(`${a(69)}ж`)).toMatchObject({ encoding: 'UCS-2', parts: 1, units: 70 });
  });

  it('counts GSM extension characters as one unit once the text is UCS-2', () => {
    expect(smsInfo('ж€')).toMatchObject({ encoding: 'UCS-2', units: 2 });
    expect(smsInfo(`${'€'.repeat(69)}ж`)).toMatchObject({ parts: 1, units: 70 });
  });

  it('counts an emoji (surrogate pair) as two units', () => {
    expect(smsInfo('😀')).toEqual<SmsInfo>({ encoding: 'UCS-2', parts: 1, units: 2, perPart: 70, remainingInLastPart: 68 });
    expect(smsInfo('😀'.repeat(35))).toMatchObject({ parts: 1, units: 70, remainingInLastPart: 0 });
    expect(smsInfo('😀'.repeat(36))).toMatchObject({ parts: 2, units: 72 });
    // 67 is odd: each part holds 33 emoji (66 units) and the 67th unit stays empty.
    expect(splitSms('😀'.repeat(36))).toEqual(['😀'.repeat(33), '😀'.repeat(3)]);
    expect(smsInfo('😀'.repeat(67))).toMatchObject({ parts: 3, units: 134, remainingInLastPart: 65 });
  });

  it('never splits a surrogate pair: 66 units + emoji moves the emoji to the next part', () => {
    const text = `${cyr(66)}😀${cyr(4)}`;
    expect(splitSms(text)).toEqual([cyr(66), `😀${cyr(4)}`]);
    expect(smsInfo(text)).toEqual<SmsInfo>({ encoding: 'UCS-2', parts: 2, units: 72, perPart: 67, remainingInLastPart: 61 });
    expect(splitSms(`${cyr(69)}😀`)).toEqual([cyr(67), `${cyr(2)}😀`]);
    expect(smsInfo(`${cyr(66)}😀${cyr(2)}`)).toMatchObject({ parts: 1, units: 70 });
  });

  it('counts the units wasted by unsplittable pairs: 134 units can need 3 parts', () => {
    const text = `${cyr(66)}😀${cyr(64)}😀`; // 134 units = 2 × 67
    expect(smsInfo(text)).toMatchObject({ parts: 3, units: 134, remainingInLastPart: 65 });
    expect(splitSms(text)).toEqual([cyr(66), `😀${cyr(64)}`, '😀']);
  });

  it('counts multi-code-point emoji by their UTF-16 units', () => {
    expect(smsInfo('🇪🇺')).toMatchObject({ units: 4 }); // two regional indicators
    expect(smsInfo('👨‍👩‍👧')).toMatchObject({ units: 8 }); // three pairs joined by two ZWJ
    // Only surrogate pairs are atomic (the spec's rule); a ZWJ sequence may break between code points.
    expectConsistentSplit(`${cyr(65)}👨‍👩‍👧${cyr(10)}`);
  });

  it('treats a lone surrogate as one unit that can go anywhere', () => {
    // Divergence from split-sms (checked below): UCS-2 carries 16-bit code units, and an ill-formed
    // lone surrogate is one of them (carriers send it as is or as U+FFFD, also one unit). split-sms
    // assumes every high surrogate is followed by a low one and charges 2 units for a trailing one.
    expect(smsInfo('a\ud83d')).toMatchObject({ encoding: 'UCS-2', units: 2 });
    expect(splitSmsLib.split('a\ud83d').bytes / 2).toBe(3);
    expect(smsInfo('\udc00')).toMatchObject({ encoding: 'UCS-2', units: 1 });
    expectConsistentSplit(`${cyr(66)}\ud83d${cyr(10)}`);
    // 71 units: the lone high surrogate fills unit 67 of the first part, nothing is carried over.
    expect(splitSms(`${cyr(66)}\ud83d${cyr(4)}`)).toEqual([`${cyr(66)}\ud83d`, cyr(4)]);
  });
});

describe('smsInfo and splitSms on mixed text', () => {
  it.each([
    ['plain GSM with extension characters', 'Your code is {1234}. Total: €12.50 [paid] ~ok~', 'GSM-7', 1, 53],
    ['GSM text with one emoji', 'Your order has shipped 🚀', 'UCS-2', 1, 25],
    ['Cyrillic with € and emoji', 'Привет, Анна! Скидка 20€ 🎉', 'UCS-2', 1, 27],
    ['long multilingual text', `${'Hello €! '.repeat(20)}Ωμέγα`, 'UCS-2', 3, 185],
    ['long GSM text', 'Dear customer, your balance is £10. '.repeat(10), 'GSM-7', 3, 360],
  ] as const)('%s', (_label, text, encoding, parts, units) => {
    expect(smsInfo(text)).toMatchObject({ encoding, parts, units });
    expectConsistentSplit(text);
  });
});

describe('splitSms invariants and cross-check with split-sms@0.1.7', () => {
  const pools = {
    basic: [...GSM_BASIC],
    extension: [...GSM_EXTENSION],
    cyrillic: [...CYRILLIC],
    emoji: EMOJI,
  };
  type Pool = keyof typeof pools;
  /** Mixes chosen so that both encodings and both never-split rules are exercised often. */
  const mixes: { weights: Partial<Record<Pool, number>> }[] = [
    { weights: { basic: 1 } },
    { weights: { basic: 0.8, extension: 0.2 } },
    { weights: { basic: 0.5, extension: 0.5 } },
    { weights: { basic: 0.7, extension: 0.1, cyrillic: 0.2 } },
    { weights: { cyrillic: 0.7, emoji: 0.3 } },
    { weights: { basic: 0.6, extension: 0.15, cyrillic: 0.15, emoji: 0.1 } },
    { weights: { emoji: 1 } },
  ];
  /** Lengths cluster around the part boundaries, where mistakes happen. */
  const targetUnits = [0, 1, 67, 70, 134, 153, 160, 201, 306, 459, 612];

  function randomText(random: () => number, index: number): string {
    const { weights } = mixes[index % mixes.length]!;
    const target = targetUnits[Math.floor(random() * targetUnits.length)]!;
    const length = Math.max(0, target + Math.floor(random() * 9) - 4);
    let text = '';
    for (let i = 0; i < length; i++) {
      let roll = random();
      let pool: Pool = 'basic';
      for (const [name, weight] of Object.entries(weights) as [Pool, number][]) {
        pool = name;
        if (roll < weight) break;
        roll -= weight;
      }
      const chars = pools[pool];
      text += chars[Math.floor(random() * chars.length)]!;
    }
    return text;
  }

  const random = mulberry32(0x5eed5);
  const corpus: string[] = Array.from({ length: 400 }, (_, i) => randomText(random, i));
  const boundaryCases: string[] = [
    '',
    a(160),
    a(161),
    a(306),
    a(307),
    a(459),
    a(460),
    `${a(152)}€`,
    `${a(152)}€${a(10)}`,
    `${a(158)}€`,
    `${a(159)}€`,
    `${a(152)}€${a(150)}€`,
    '€'.repeat(80),
    '€'.repeat(81),
    '\f'.repeat(77),
    cyr(70),
    cyr(71),
    cyr(134),
    cyr(135),
    cyr(201),
    cyr(202),
    '😀'.repeat(35),
    '😀'.repeat(36),
    `${cyr(66)}😀${cyr(4)}`,
    `${cyr(69)}😀`,
    `${cyr(66)}😀${cyr(64)}😀`,
    `${a(159)}ж`,
  ];

  it('generates a corpus that covers both encodings and multi-part messages', () => {
    const infos = corpus.map(smsInfo);
    expect(infos.filter((i) => i.encoding === 'GSM-7').length).toBeGreaterThan(50);
    expect(infos.filter((i) => i.encoding === 'UCS-2').length).toBeGreaterThan(50);
    expect(infos.filter((i) => i.parts >= 3).length).toBeGreaterThan(50);
  });

  it('keeps join(parts) === text, parts within capacity and pairs unsplit for every generated text', () => {
    for (const text of [...corpus, ...boundaryCases]) expectConsistentSplit(text);
  });

  it.each(boundaryCases.map((text) => [smsInfo(text).encoding, text.length, text]))(
    'agrees with split-sms on boundary case (%s, %i code units)',
    (_encoding, _length, text) => {
      expectSameAsSplitSms(text as string);
    },
  );

  it('agrees with split-sms on encoding, parts, units, free space and part contents for 400 random texts', () => {
    for (const text of corpus) expectSameAsSplitSms(text);
  });

  function expectSameAsSplitSms(text: string): void {
    const theirs = splitSmsLib.split(text);
    const ours = smsInfo(text);
    const theirEncoding: SmsEncoding = theirs.characterSet === 'GSM' ? 'GSM-7' : 'UCS-2';
    const theirUnits = theirEncoding === 'GSM-7' ? theirs.bytes : theirs.bytes / 2;
    expect({ text, encoding: ours.encoding, parts: ours.parts, units: ours.units, remaining: ours.remainingInLastPart }).toEqual({
      text,
      encoding: theirEncoding,
      parts: theirs.parts.length,
      units: theirUnits,
      remaining: theirs.remainingInPart,
    });
    expect(splitSms(text)).toEqual(theirs.parts.map((part) => part.content));
  }
});

describe('SMS_LIMITS', () => {
  it('matches 3GPP TS 23.040 capacities', () => {
    expect(SMS_LIMITS).toEqual({ 'GSM-7': { single: 160, multi: 153 }, 'UCS-2': { single: 70, multi: 67 } });
  });
});

describe('pricePerPart', () => {
  const table: PriceTable = {
    sms: { default: 0.05, countries: { US: 0.0079, GB: 0.04 } },
    email: { default: 0.0001 },
    push: { default: 0, countries: { DE: 0.001 } },
  };

  it('uses the country price when there is one', () => {
    expect(pricePerPart(table, 'sms', 'US')).toBe(0.0079);
    expect(pricePerPart(table, 'sms', 'GB')).toBe(0.04);
    expect(pricePerPart(table, 'push', 'DE')).toBe(0.001);
  });

  it('accepts a lower-case country code', () => {
    expect(pricePerPart(table, 'sms', 'us')).toBe(0.0079);
  });

  it("falls back to the channel's default for other, missing or unpriced countries", () => {
    expect(pricePerPart(table, 'sms', 'FR')).toBe(0.05);
    expect(pricePerPart(table, 'sms')).toBe(0.05);
    expect(pricePerPart(table, 'email', 'US')).toBe(0.0001);
    expect(pricePerPart(table, 'push')).toBe(0);
  });

  it('is 0 for a channel missing from the table, including Object.prototype names', () => {
    expect(pricePerPart(table, 'viber')).toBe(0);
    expect(pricePerPart(table, 'viber', 'US')).toBe(0);
    expect(pricePerPart(table, 'constructor')).toBe(0);
    expect(pricePerPart(table, 'toString', 'US')).toBe(0);
    expect(pricePerPart(table, 'sms', 'constructor')).toBe(0.05);
  });
});

describe('messageCost', () => {
  it('has no float drift: 3 × 0.1 is exactly 0.3', () => {
    expect(3 * 0.1).not.toBe(0.3); // the problem being avoided
    expect(messageCost(3, 0.1)).toBe(0.3);
    expect(messageCost(3, 0.7)).toBe(2.1);
    expect(messageCost(123, 1.1)).toBe(135.3);
    expect(messageCost(10, 0.0075)).toBe(0.075);
    expect(messageCost(1_000_000, 0.0079)).toBe(7900);
  });

  it('rounds half up to 4 decimal places', () => {
    expect(messageCost(3, 0.00375)).toBe(0.0113); // 0.01125
    expect(messageCost(7, 0.00005)).toBe(0.0004); // 0.00035
    expect(messageCost(1, 0.00004)).toBe(0);
    expect(messageCost(1, 0.00005)).toBe(0.0001);
    expect(messageCost(1, 1e-7)).toBe(0); // exponent notation from Number#toString
    expect(messageCost(3, 0.33333)).toBe(1); // 0.99999
    expect(messageCost(2, 1.23456789)).toBe(2.4691); // 2.46913578
  });

  it('is 0 for zero parts or a free channel', () => {
    expect(messageCost(0, 0.05)).toBe(0);
    expect(messageCost(5, 0)).toBe(0);
  });

  it('handles large prices written in exponent notation', () => {
    expect(messageCost(2, 1e21)).toBe(2e21);
  });

  it.each([
    ['negative parts', -1, 0.1],
    ['fractional parts', 1.5, 0.1],
    ['NaN parts', Number.NaN, 0.1],
    ['negative price', 1, -0.1],
    ['NaN price', 1, Number.NaN],
    ['infinite price', 1, Number.POSITIVE_INFINITY],
  ])('rejects %s', (_label, parts, price) => {
    expect(() => messageCost(parts, price)).toThrow(RangeError);
  });

  it('prices a real message end to end', () => {
    const text = `${'Привет! '.repeat(20)}😀`; // 162 UCS-2 units → 3 parts
    const { parts } = smsInfo(text);
    expect(parts).toBe(3);
    expect(messageCost(parts, pricePerPart(DEFAULT_PRICE_TABLE, 'sms', 'DE'))).toBe(0.225);
  });
});

describe('DEFAULT_PRICE_TABLE', () => {
  it('prices every channel with finite, non-negative numbers', () => {
    expect(Object.keys(DEFAULT_PRICE_TABLE).sort()).toEqual(['chat', 'email', 'push', 'sms', 'viber', 'whatsapp']);
    for (const entry of Object.values(DEFAULT_PRICE_TABLE)) {
      const prices = [entry.default, ...Object.values(entry.countries ?? {})];
      for (const price of prices) expect(Number.isFinite(price) && price >= 0).toBe(true);
    }
  });

  it('passes its own validation (round trip through JSON)', () => {
    expect(parsePriceTable(JSON.stringify(DEFAULT_PRICE_TABLE))).toEqual(DEFAULT_PRICE_TABLE);
  });

  it('is frozen so no caller can change prices for everyone', () => {
    expect(Object.isFrozen(DEFAULT_PRICE_TABLE)).toBe(true);
    expect(Object.isFrozen(DEFAULT_PRICE_TABLE.sms)).toBe(true);
    expect(Object.isFrozen(DEFAULT_PRICE_TABLE.sms!.countries)).toBe(true);
  });
});

describe('parsePriceTable', () => {
  it('parses a valid table', () => {
    const table = parsePriceTable('{"sms":{"default":0.05,"countries":{"US":0.0079}},"push":{"default":0}}');
    expect(table).toEqual({ sms: { default: 0.05, countries: { US: 0.0079 } }, push: { default: 0 } });
    expect(pricePerPart(table, 'sms', 'US')).toBe(0.0079);
  });

  it('accepts an empty table', () => {
    expect(parsePriceTable('{}')).toEqual({});
  });

  it('keeps a "__proto__" channel as plain data', () => {
    const table = parsePriceTable('{"__proto__":{"default":1}}');
    expect(Object.getPrototypeOf(table)).toBe(Object.prototype);
    expect(pricePerPart(table, '__proto__')).toBe(1);
  });

  it.each([
    ['invalid JSON', '{sms:', /^price table: invalid JSON/],
    ['an array', '[]', /must be a JSON object/],
    ['null', 'null', /must be a JSON object/],
    ['a number', '0.05', /must be a JSON object/],
    ['an empty channel name', '{"":{"default":1}}', /channel name must not be empty/],
    ['a channel that is not an object', '{"sms":0.05}', /"sms" must be an object/],
    ['a channel that is an array', '{"sms":[0.05]}', /"sms" must be an object/],
    ['a missing default', '{"sms":{"countries":{}}}', /"sms\.default" is missing/],
    ['a string default', '{"sms":{"default":"0.05"}}', /"sms\.default" must be a finite number >= 0/],
    ['a negative default', '{"email":{"default":-1}}', /"email\.default" must be a finite number >= 0/],
    ['a null default', '{"email":{"default":null}}', /"email\.default" must be a finite number >= 0/],
    ['a misspelt key', '{"sms":{"defualt":0.05}}', /"sms\.defualt" is not allowed/],
    ['countries that are not an object', '{"sms":{"default":1,"countries":[1]}}', /"sms\.countries" must be an object/],
    ['a lower-case country code', '{"sms":{"default":1,"countries":{"us":1}}}', /"sms\.countries\.us" is not an ISO 3166-1 alpha-2/],
    ['an alpha-3 country code', '{"sms":{"default":1,"countries":{"USA":1}}}', /"sms\.countries\.USA" is not an ISO 3166-1 alpha-2/],
    ['a string country price', '{"viber":{"default":1,"countries":{"DE":"1"}}}', /"viber\.countries\.DE" must be a finite number >= 0/],
    ['a negative country price', '{"viber":{"default":1,"countries":{"DE":-0.5}}}', /"viber\.countries\.DE" must be a finite number >= 0/],
  ])('rejects %s with a message naming the key', (_label, json, message) => {
    expect(() => parsePriceTable(json)).toThrow(Error);
    expect(() => parsePriceTable(json)).toThrow(message);
  });
});
