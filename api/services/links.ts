import { randomFillSync } from 'node:crypto';
import { SHORT_CODE_ALPHABET, SHORT_CODE_LENGTH } from '../../core/links';

/** Random bytes drawn a few kilobytes at a time: an import makes a code per row. */
const randomPool = Buffer.alloc(4096);
let used = randomPool.length;

function randomByte(): number {
  if (used === randomPool.length) {
    randomFillSync(randomPool);
    used = 0;
  }
  return randomPool[used++]!;
}

/** The largest multiple of the alphabet's size that fits in a byte (4 × 62 = 248): bytes at or
 * above it are drawn again, so every character is equally likely. */
const UNBIASED_BELOW = 256 - (256 % SHORT_CODE_ALPHABET.length);

/** A new short-link code: SHORT_CODE_LENGTH characters from the OS's cryptographic random source
 * (≈ 59.5 bits), so codes cannot be guessed or enumerated. */
export function newShortCode(): string {
  let code = '';
  while (code.length < SHORT_CODE_LENGTH) {
    const byte = randomByte();
    if (byte < UNBIASED_BELOW) code += SHORT_CODE_ALPHABET[byte % SHORT_CODE_ALPHABET.length];
  }
  return code;
}
