import { randomUUID } from 'node:crypto';
import type { HlrConfig } from '../../../core/config';
import { failedLookup, type HlrProvider, type HlrResult } from '../../../core/hlr';
import type { NormalizedPhone } from '../../../core/phone';
import { insertHlrCheck, type HlrCheckRow } from '../../../db/hlr';
import type { Queryable } from '../../../db/messages';
import { HttpHlrProvider } from './http';
import { SandboxHlrProvider } from './sandbox';

/** The provider HLR_PROVIDER names (core/config.ts). */
export function createHlrProvider(config: HlrConfig): HlrProvider {
  if (config.provider === 'http') return new HttpHlrProvider({ ...config.http, defaultCost: config.costPerCheck });
  return new SandboxHlrProvider(config.costPerCheck);
}

/**
 * Checks each number with at most `concurrency` lookups in flight, storing each check as soon as
 * it is done, and answers in the order given. Once `stop` aborts (the caller went away) no further
 * lookup starts; those in flight finish and are stored — they are paid for — and the answer holds
 * only the numbers checked.
 */
export async function runHlrChecks(
  db: Queryable,
  provider: HlrProvider,
  phones: readonly NormalizedPhone[],
  options: { concurrency: number; createdBy: string | null; stop?: AbortSignal },
): Promise<HlrCheckRow[]> {
  const checks: (HlrCheckRow | undefined)[] = new Array(phones.length);
  let next = 0;
  // A check that cannot be stored (the database is gone) fails the call: start no more lookups.
  let broken = false;
  const worker = async () => {
    while (next < phones.length && !options.stop?.aborted && !broken) {
      const index = next++;
      const phone = phones[index]!;
      let result: HlrResult;
      try {
        result = await provider.lookup(phone.e164);
      } catch (error) {
        // The contract says adapters answer `failed` rather than throw; a bug must not lose the call.
        result = failedLookup(`lookup error: ${error instanceof Error ? error.message : String(error)}`);
      }
      try {
        checks[index] = await insertHlrCheck(db, {
          id: randomUUID(),
          phone: phone.e164,
          provider: provider.name,
          createdBy: options.createdBy,
          ...result,
          // The number itself tells its country when the provider does not.
          country: result.country ?? phone.country ?? null,
        });
      } catch (error) {
        broken = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, phones.length) }, worker));
  return checks.filter((check): check is HlrCheckRow => check !== undefined);
}
