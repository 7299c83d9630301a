import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { CHANNELS, type Channel } from '../../core/config';
import { ConfigError } from '../../core/config-error';
import { redactSecrets, routeProvider, secretValues, type ProviderConfig } from '../../core/providers';
import { applyProviderReceipts } from '../../db/messages';
import { recordReceipts, recordSubmit } from '../metrics';
import { RateLimiter } from '../rate-limiter';
import { chatHttpAdapter } from './chat-http';
import { fcmAdapter } from './fcm';
import { httpSmsAdapter } from './http-sms';
import { sandboxAdapter, SandboxProvider } from './sandbox';
import { smppAdapter } from './smpp';
import { viberAdapter } from './viber';
import { whatsappAdapter } from './whatsapp';
import { smtpAdapter } from './smtp';
import { telegramAdapter } from './telegram';
import type {
  ChannelProvider,
  ChannelRoutes,
  OutgoingMessage,
  ProviderAdapter,
  ProviderClient,
  ProviderRegistry,
  SubmitResult,
  WebhookAnswer,
  WebhookRequest,
} from './types';

/** Every provider type, one line each (`type` in PROVIDERS_FILE). */
const ADAPTERS: readonly ProviderAdapter[] = [
  sandboxAdapter,
  viberAdapter,
  whatsappAdapter,
  smtpAdapter,
  fcmAdapter,
  telegramAdapter,
  chatHttpAdapter,
  httpSmsAdapter,
  smppAdapter,
];

export const PROVIDER_TYPES = ADAPTERS.map((a) => a.type);

function adapterOf(config: ProviderConfig, index: number): { adapter: ProviderAdapter; settings: unknown } {
  const at = `provider "${config.name}" (providers[${index}])`;
  const adapter = ADAPTERS.find((a) => a.type === config.type);
  if (!adapter) throw new ConfigError(`${at}.type: unknown provider type "${config.type}" (one of ${PROVIDER_TYPES.join(', ')})`);
  const parsed = adapter.settings.safeParse(config.settings);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${at}.settings${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${issue.message}`);
  }
  return { adapter, settings: parsed.data };
}

/** Checks every provider's type and settings; throws naming the first bad setting. */
export function checkProviders(configs: readonly ProviderConfig[]): void {
  configs.forEach((config, index) => adapterOf(config, index));
}

/** How long a message over a provider's rate waits before it is offered again. */
const OVER_RATE_RETRY_MIN_MS = 50;

/**
 * A configured provider on one channel: the adapter's client behind the provider's rate limit and
 * timeout, its answers redacted of the provider's secrets and counted on /metrics. A failing call
 * answers "try later" for the whole batch (retried with backoff within each message's lifetime).
 */
class ConfiguredProvider implements ChannelProvider {
  readonly name: string;
  readonly maxBatchSize?: number;

  constructor(
    private readonly config: ProviderConfig,
    readonly channel: Channel,
    private readonly client: ProviderClient,
    private readonly limiter: RateLimiter | undefined,
    private readonly secrets: readonly string[],
  ) {
    this.name = config.name;
    this.maxBatchSize = client.maxBatchSize;
  }

  async submit(batch: readonly OutgoingMessage[], signal?: AbortSignal): Promise<SubmitResult[]> {
    const allowed = this.limiter ? this.limiter.takeNow(batch.length) : batch.length;
    const overRate: SubmitResult[] = batch.slice(allowed).map((m) => ({
      messageId: m.messageId,
      outcome: 'transient',
      reason: `over ${this.name}'s rate of ${this.config.ratePerSecond}/s`,
      retryAfterMs: Math.max(OVER_RATE_RETRY_MIN_MS, this.limiter!.msUntilNext()),
    }));
    const sending = batch.slice(0, allowed);
    if (sending.length === 0) return overRate;
    const timeout = AbortSignal.timeout(this.config.timeoutMs);
    const started = process.hrtime.bigint();
    let results: SubmitResult[];
    try {
      results = await this.client.submit(sending, signal ? AbortSignal.any([signal, timeout]) : timeout);
    } catch (error) {
      const reason = timeout.aborted ? `no answer from ${this.name} within ${this.config.timeoutMs} ms` : `${this.name}: ${(error as Error).message}`;
      results = sending.map((m) => ({ messageId: m.messageId, outcome: 'transient', reason }));
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const count = (outcome: SubmitResult['outcome']) => results.filter((r) => r.outcome === outcome).length;
    recordSubmit(this.name, this.channel, seconds, { submitted: sending.length, accepted: count('accepted'), rejected: count('rejected'), transient: count('transient') + overRate.length });
    return [...results.map((r) => this.redacted(r)), ...overRate];
  }

  private redacted(result: SubmitResult): SubmitResult {
    if (this.secrets.length === 0) return result;
    const out = { ...result };
    if ('reason' in out) out.reason = redactSecrets(out.reason, this.secrets);
    if (out.detail) out.detail = redactSecrets(out.detail, this.secrets);
    return out;
  }
}

class MessageRoutes implements ChannelRoutes {
  constructor(
    readonly channel: Channel,
    private readonly configs: readonly ProviderConfig[],
    private readonly byName: ReadonlyMap<string, ChannelProvider>,
  ) {}
  forMessage(message: { sender: string | null; payload: Record<string, unknown> | null }): ChannelProvider | undefined {
    const messenger = this.channel === 'chat' && typeof message.payload?.messenger === 'string' ? message.payload.messenger : undefined;
    const route = routeProvider(this.configs, this.channel, message.sender, messenger);
    return route ? this.byName.get(route.name) : undefined;
  }
}

export interface RunningProviders {
  registry: ProviderRegistry;
  /** Connects every provider's client (SMPP binds); throws naming the provider that cannot start. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The worker's providers: each configured one on the channels it serves (routed by sender where a
 * channel has several), the sandbox on every channel none serves.
 */
export function createProviders(deps: {
  configs: readonly ProviderConfig[];
  pool: Pool;
  logger: Logger;
  publicUrl: string;
  sandboxLatencyMs: number;
}): RunningProviders {
  const clients: { name: string; client: ProviderClient }[] = [];
  const byChannel = new Map<Channel, Map<string, ChannelProvider>>();
  deps.configs.forEach((config, index) => {
    const { adapter, settings } = adapterOf(config, index);
    const client = adapter.createClient(settings, {
      config,
      pool: deps.pool,
      logger: deps.logger.child({ provider: config.name }),
      webhookUrl: (channel) => `${deps.publicUrl}/webhooks/${channel}/${config.name}`,
      async applyReceipts(channel, receipts) {
        if (receipts.length === 0) return;
        await applyProviderReceipts(deps.pool, { channel, provider: config.name, receipts, source: `provider:${config.name}` });
        recordReceipts(config.name, channel, receipts.map((r) => r.status));
      },
    });
    clients.push({ name: config.name, client });
    const limiter = config.ratePerSecond ? new RateLimiter(config.ratePerSecond) : undefined;
    const secrets = secretValues(config.settings);
    for (const channel of config.channels) {
      if (!byChannel.has(channel)) byChannel.set(channel, new Map());
      byChannel.get(channel)!.set(config.name, new ConfiguredProvider(config, channel, client, limiter, secrets));
    }
  });
  const registry: ProviderRegistry = {};
  for (const channel of CHANNELS) {
    const providers = byChannel.get(channel);
    if (!providers) registry[channel] = new SandboxProvider(channel, deps.pool, deps.sandboxLatencyMs);
    else if (providers.size === 1 && !deps.configs.some((c) => c.channels.includes(channel) && c.messengers.length > 0)) registry[channel] = [...providers.values()][0]!;
    else registry[channel] = new MessageRoutes(channel, deps.configs, providers);
  }
  return {
    registry,
    async start() {
      await Promise.all(
        clients.map(async ({ name, client }) => {
          try {
            await client.start?.();
          } catch (error) {
            throw new ConfigError(`provider "${name}" cannot start: ${(error as Error).message}`);
          }
        }),
      );
    },
    async stop() {
      await Promise.allSettled(clients.map(({ client }) => client.stop?.()));
    },
  };
}

export type ProviderWebhook = (req: WebhookRequest) => Promise<WebhookAnswer> | WebhookAnswer;

/** The API's callbacks of configured providers that have them, by provider name. */
export function providerWebhooks(configs: readonly ProviderConfig[], webhookSecret: string): Map<string, { channels: readonly Channel[]; handle: ProviderWebhook }> {
  const hooks = new Map<string, { channels: readonly Channel[]; handle: ProviderWebhook }>();
  configs.forEach((config, index) => {
    const { adapter, settings } = adapterOf(config, index);
    if (adapter.webhook) hooks.set(config.name, { channels: config.channels, handle: adapter.webhook(settings, { config, webhookSecret }) });
  });
  return hooks;
}
