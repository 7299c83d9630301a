/**
 * Channel provider configuration (PROVIDERS_FILE or PROVIDERS, README "Providers"): which provider
 * serves which channels, for which senders, at what rate and price. Pure: the settings of each
 * provider type are checked by its adapter (activities/channels/registry.ts) when a process starts.
 */
import { CHANNELS, CHAT_MESSENGERS, type Channel } from './channels';
import { ConfigError } from './config-error';
import { parsePriceTable, pricePerPart, type PriceTable } from './sms';

export interface ProviderConfig {
  /** Stored on each message it handles and used in its webhook path (`/webhooks/<channel>/<name>`). */
  name: string;
  /** The adapter: `smpp`, `smtp`, `fcm`, `viber`, `whatsapp`, `telegram`, `chat-http`, `http-sms`, `sandbox`. */
  type: string;
  channels: Channel[];
  /** The channel's provider for senders no provider lists (one default per channel). */
  default: boolean;
  /** Sender names this provider sends for, ahead of the channel's default. */
  senders: string[];
  /** Chat: the messengers it serves (e.g. telegram); none listed: any. A chat message goes to a
   * provider serving its messenger. */
  messengers: string[];
  /** Messages per second per worker process; more is answered "try later". */
  ratePerSecond?: number;
  /** The longest one request to the provider may take before its messages are retried. */
  timeoutMs: number;
  /** Prices of this route, in PRICE_TABLE's shape; a channel it leaves out is priced by PRICE_TABLE. */
  prices?: PriceTable;
  /** The adapter's own settings (URL, credentials, ...), `${ENV_VAR}` references resolved. */
  settings: Record<string, unknown>;
}

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const DEFAULT_TIMEOUT_MS = 10_000;

/** A setting that is wrong, named by its path: `PROVIDERS_FILE providers.json: [1].channels[0]: "fax" is not a channel`. */
function fail(source: string, path: string, problem: string): never {
  throw new ConfigError(`${source}: ${path}: ${problem}`);
}

/** `${NAME}` in a string setting is replaced by that environment variable, so secrets stay out of the file. */
function resolveEnv(value: unknown, env: NodeJS.ProcessEnv, source: string, path: string): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_match, name: string) => {
      const found = env[name];
      if (found === undefined) fail(source, path, `environment variable ${name} is not set`);
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => resolveEnv(item, env, source, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolveEnv(item, env, source, `${path}.${key}`)]));
  }
  return value;
}

const COMMON_KEYS = new Set(['name', 'type', 'channels', 'default', 'senders', 'messengers', 'ratePerSecond', 'timeoutMs', 'prices', 'settings']);

/** Parses and checks the common part of every provider entry; throws naming the first bad setting. */
export function parseProvidersConfig(json: string, source: string, env: NodeJS.ProcessEnv = process.env): ProviderConfig[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (error) {
    fail(source, '(file)', `not valid JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(raw)) fail(source, '(file)', 'must be a JSON array of providers');
  const names = new Set<string>();
  const defaults = new Map<Channel, string>();
  const configs = raw.map((entry: unknown, index): ProviderConfig => {
    const at = `[${index}]`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) fail(source, at, 'must be an object');
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e)) if (!COMMON_KEYS.has(key)) fail(source, `${at}.${key}`, `unknown setting (known: ${[...COMMON_KEYS].join(', ')})`);
    if (typeof e.name !== 'string' || !NAME.test(e.name)) fail(source, `${at}.name`, 'required: lower-case letters, digits, "-" or "_"');
    if (names.has(e.name)) fail(source, `${at}.name`, `"${e.name}" is used twice`);
    names.add(e.name);
    if (typeof e.type !== 'string' || e.type === '') fail(source, `${at}.type`, 'required');
    if (!Array.isArray(e.channels) || e.channels.length === 0) fail(source, `${at}.channels`, `required: a list of ${CHANNELS.join(', ')}`);
    e.channels.forEach((channel, i) => {
      if (!CHANNELS.includes(channel as Channel)) fail(source, `${at}.channels[${i}]`, `"${String(channel)}" is not a channel (${CHANNELS.join(', ')})`);
    });
    if (e.default !== undefined && typeof e.default !== 'boolean') fail(source, `${at}.default`, 'must be true or false');
    if (e.senders !== undefined && (!Array.isArray(e.senders) || e.senders.some((s) => typeof s !== 'string' || s === ''))) {
      fail(source, `${at}.senders`, 'must be a list of sender names');
    }
    if (e.messengers !== undefined) {
      if (!Array.isArray(e.messengers)) fail(source, `${at}.messengers`, `must be a list of ${CHAT_MESSENGERS.join(', ')}`);
      e.messengers.forEach((m, i) => {
        if (!CHAT_MESSENGERS.includes(m as (typeof CHAT_MESSENGERS)[number])) fail(source, `${at}.messengers[${i}]`, `"${String(m)}" is not a messenger (${CHAT_MESSENGERS.join(', ')})`);
      });
    }
    for (const key of ['ratePerSecond', 'timeoutMs'] as const) {
      if (e[key] !== undefined && (typeof e[key] !== 'number' || !(e[key] > 0))) fail(source, `${at}.${key}`, 'must be a positive number');
    }
    let prices: PriceTable | undefined;
    if (e.prices !== undefined) {
      try {
        prices = parsePriceTable(JSON.stringify(e.prices));
      } catch (error) {
        fail(source, `${at}.prices`, (error as Error).message);
      }
    }
    if (e.settings !== undefined && (e.settings === null || typeof e.settings !== 'object' || Array.isArray(e.settings))) fail(source, `${at}.settings`, 'must be an object');
    const channels = [...new Set(e.channels as Channel[])];
    if (e.default === true) {
      for (const channel of channels) {
        const other = defaults.get(channel);
        if (other) fail(source, `${at}.default`, `${channel} already has the default provider "${other}"`);
        defaults.set(channel, e.name);
      }
    }
    return {
      name: e.name,
      type: e.type,
      channels,
      default: e.default === true,
      senders: (e.senders as string[] | undefined) ?? [],
      messengers: (e.messengers as string[] | undefined) ?? [],
      ratePerSecond: e.ratePerSecond as number | undefined,
      timeoutMs: (e.timeoutMs as number | undefined) ?? DEFAULT_TIMEOUT_MS,
      prices,
      settings: resolveEnv(e.settings ?? {}, env, source, `${at}.settings`) as Record<string, unknown>,
    };
  });
  return configs;
}

/**
 * The provider that sends a channel's message from `sender`: among those serving the channel (and,
 * for a chat, its messenger), the one listing that sender, else the default, else the first.
 * Undefined: no configured provider serves it (the sandbox does).
 */
export function routeProvider(providers: readonly ProviderConfig[], channel: Channel, sender: string | null, messenger?: string): ProviderConfig | undefined {
  const serving = providers.filter((p) => p.channels.includes(channel) && (messenger === undefined || p.messengers.length === 0 || p.messengers.includes(messenger)));
  return (
    (sender !== null ? serving.find((p) => p.senders.includes(sender)) : undefined) ?? serving.find((p) => p.default) ?? serving[0]
  );
}

/** Price of one part (SMS) or message on the route a message takes: the route's own price for the
 * channel when it has one, else PRICE_TABLE's. */
export function routePricePerPart(
  priceTable: PriceTable,
  providers: readonly ProviderConfig[],
  channel: Channel,
  sender: string | null,
  country?: string,
): number {
  const prices = routeProvider(providers, channel, sender)?.prices;
  return prices && Object.prototype.hasOwnProperty.call(prices, channel) ? pricePerPart(prices, channel, country) : pricePerPart(priceTable, channel, country);
}

const SECRET_KEY = /pass|secret|token|key|credential|auth/i;

/** The values of a provider's settings that must never reach a log or an event (by key name). */
export function secretValues(settings: Record<string, unknown>): string[] {
  const found: string[] = [];
  const visit = (value: unknown, secret: boolean) => {
    if (typeof value === 'string') {
      if (secret && value.length >= 4) found.push(value);
    } else if (Array.isArray(value)) value.forEach((item) => visit(item, secret));
    else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) visit(item, secret || SECRET_KEY.test(key));
    }
  };
  visit(settings, false);
  return found.sort((a, b) => b.length - a.length);
}

/** `text` with every secret replaced by `***`. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('***');
  return out;
}
