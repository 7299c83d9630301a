import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkProviders, createProviders } from '../../activities/channels/registry';
import { isChannelRoutes, type ChannelProvider, type ProviderClient } from '../../activities/channels/types';
import { loadConfig } from '../../core/config';
import { parseProvidersConfig, redactSecrets, routePricePerPart, routeProvider, secretValues } from '../../core/providers';
import { DEFAULT_PRICE_TABLE } from '../../core/sms';

const parse = (value: unknown, env: NodeJS.ProcessEnv = {}) => parseProvidersConfig(JSON.stringify(value), 'PROVIDERS', env);

describe('provider configuration', () => {
  it('reads every common setting, with defaults', () => {
    const [p] = parse([{ name: 'smsc', type: 'smpp', channels: ['sms'], settings: { host: 'smsc.example.com' } }]);
    expect(p).toEqual({ name: 'smsc', type: 'smpp', channels: ['sms'], default: false, senders: [], messengers: [], ratePerSecond: undefined, timeoutMs: 10_000, prices: undefined, settings: { host: 'smsc.example.com' } });
  });

  it('names the bad setting', () => {
    expect(() => parse({})).toThrow('PROVIDERS: (file): must be a JSON array of providers');
    expect(() => parseProvidersConfig('[{', 'PROVIDERS_FILE p.json')).toThrow(/PROVIDERS_FILE p.json: \(file\): not valid JSON/);
    expect(() => parse([{ type: 'smpp', channels: ['sms'] }])).toThrow('PROVIDERS: [0].name: required');
    expect(() => parse([{ name: 'a', type: 'smpp', channels: ['fax'] }])).toThrow('PROVIDERS: [0].channels[0]: "fax" is not a channel');
    expect(() => parse([{ name: 'a', type: 'smpp', channels: [] }])).toThrow('[0].channels: required');
    expect(() => parse([{ name: 'a', type: 'smpp', channels: ['sms'], rate: 5 }])).toThrow('[0].rate: unknown setting');
    expect(() => parse([{ name: 'a', type: 'smpp', channels: ['sms'], ratePerSecond: -1 }])).toThrow('[0].ratePerSecond: must be a positive number');
    expect(() => parse([{ name: 'a', type: 'smpp', channels: ['sms'], prices: { sms: { defualt: 1 } } }])).toThrow(/\[0\]\.prices: .*defualt/);
    expect(() =>
      parse([
        { name: 'a', type: 'smpp', channels: ['sms'] },
        { name: 'a', type: 'smpp', channels: ['sms'] },
      ]),
    ).toThrow('[1].name: "a" is used twice');
    expect(() =>
      parse([
        { name: 'a', type: 'smpp', channels: ['sms'], default: true },
        { name: 'b', type: 'smpp', channels: ['sms'], default: true },
      ]),
    ).toThrow('[1].default: sms already has the default provider "a"');
  });

  it('takes secrets from the environment, and says which variable is missing', () => {
    const [p] = parse([{ name: 'a', type: 'smpp', channels: ['sms'], settings: { password: '${SMSC_PASSWORD}', nested: ['x-${SMSC_USER}'] } }], { SMSC_PASSWORD: 's3cret!', SMSC_USER: 'bob' });
    expect(p!.settings).toEqual({ password: 's3cret!', nested: ['x-bob'] });
    expect(() => parse([{ name: 'a', type: 'smpp', channels: ['sms'], settings: { password: '${NOPE}' } }])).toThrow('[0].settings.password: environment variable NOPE is not set');
  });

  it('is read from PROVIDERS_FILE or PROVIDERS, not both', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'providers-')), 'providers.json');
    fs.writeFileSync(file, JSON.stringify([{ name: 'mail', type: 'sandbox', channels: ['email'] }]));
    expect(loadConfig({ PROVIDERS_FILE: file }).providers.map((p) => p.name)).toEqual(['mail']);
    expect(loadConfig({}).providers).toEqual([]);
    expect(() => loadConfig({ PROVIDERS_FILE: file, PROVIDERS: '[]' })).toThrow('set PROVIDERS_FILE or PROVIDERS, not both');
    expect(() => loadConfig({ PROVIDERS_FILE: `${file}.missing` })).toThrow(/PROVIDERS_FILE: cannot read .*ENOENT/);
  });

  it('routes by sender, then to the default, then to the first provider of the channel', () => {
    const providers = parse([
      { name: 'cheap', type: 'sandbox', channels: ['sms'] },
      { name: 'main', type: 'sandbox', channels: ['sms', 'viber'], default: true },
      { name: 'bank', type: 'sandbox', channels: ['sms'], senders: ['MyBank'], prices: { sms: { default: 0.2, countries: { DE: 0.3 } } } },
      { name: 'mail', type: 'sandbox', channels: ['email'] },
    ]);
    expect(routeProvider(providers, 'sms', 'MyBank')?.name).toBe('bank');
    expect(routeProvider(providers, 'sms', 'Shop')?.name).toBe('main');
    expect(routeProvider(providers, 'sms', null)?.name).toBe('main');
    expect(routeProvider(providers, 'email', 'x@y.z')?.name).toBe('mail');
    expect(routeProvider(providers, 'push', null)).toBeUndefined();
    // The route's own price, else PRICE_TABLE's.
    expect(routePricePerPart(DEFAULT_PRICE_TABLE, providers, 'sms', 'MyBank', 'DE')).toBe(0.3);
    expect(routePricePerPart(DEFAULT_PRICE_TABLE, providers, 'sms', 'MyBank', 'FR')).toBe(0.2);
    expect(routePricePerPart(DEFAULT_PRICE_TABLE, providers, 'sms', 'Shop', 'DE')).toBe(DEFAULT_PRICE_TABLE.sms!.countries!.DE);
  });

  it('finds the secrets among the settings and redacts them', () => {
    const secrets = secretValues({ host: 'smsc.example.com', password: 'hunter22', auth: { user: 'bob', pass: 'p4ssw0rd' }, apiKey: 'k-123456' });
    expect(secrets.sort()).toEqual(['bob', 'hunter22', 'k-123456', 'p4ssw0rd'].filter((s) => s.length >= 4).sort());
    expect(redactSecrets('POST https://api/bothunter22/send?key=k-123456 → 200', secrets)).toBe('POST https://api/bot***/send?key=*** → 200');
  });

  it('checks each provider type and its settings at start, naming the setting', () => {
    expect(() => checkProviders(parse([{ name: 'x', type: 'smppp', channels: ['sms'] }]))).toThrow(/provider "x" \(providers\[0\]\)\.type: unknown provider type "smppp" \(one of sandbox/);
    expect(() => checkProviders(parse([{ name: 'x', type: 'sandbox', channels: ['sms'], settings: { latencyMs: 'fast' } }]))).toThrow(
      /provider "x" \(providers\[0\]\)\.settings\.latencyMs: /,
    );
    expect(() => checkProviders(parse([{ name: 'x', type: 'sandbox', channels: ['sms'], settings: { latency: 5 } }]))).toThrow(/settings: .*latency/);
  });
});

describe('configured providers on a channel', () => {
  const pool = {} as never;
  const logger = { child: () => logger } as never;
  function providersOf(configs: unknown) {
    return createProviders({ configs: parse(configs), pool, logger, publicUrl: 'http://x', sandboxLatencyMs: 1 });
  }
  const message = (i: number, sender: string | null = 'S') => ({
    messageId: `m${i}`,
    sendId: `t:${i}:sms`,
    channel: 'sms' as const,
    recipient: `+7999000000${i % 10}`,
    sender,
    text: 'hi',
    payload: null,
    deliveryEndAt: new Date(Date.now() + 60_000),
  });

  it('puts the sandbox on channels no provider serves and routes a shared channel by sender', () => {
    const { registry } = providersOf([
      { name: 'a', type: 'sandbox', channels: ['sms'], default: true },
      { name: 'b', type: 'sandbox', channels: ['sms'], senders: ['Bank'] },
      { name: 'c', type: 'sandbox', channels: ['email'] },
    ]);
    const sms = registry.sms!;
    expect(isChannelRoutes(sms)).toBe(true);
    if (!isChannelRoutes(sms)) return;
    expect(sms.forMessage({ sender: 'Bank', payload: null })?.name).toBe('b');
    expect(sms.forMessage({ sender: 'Shop', payload: null })?.name).toBe('a');
    expect((registry.email as ChannelProvider).name).toBe('c');
    expect((registry.push as ChannelProvider).name).toBe('sandbox');
  });

  it('sends a chat through the provider of its messenger; a messenger none serves has no route', () => {
    const { registry } = providersOf([
      { name: 'tg', type: 'sandbox', channels: ['chat'], messengers: ['telegram'] },
      { name: 'platform', type: 'sandbox', channels: ['chat'], messengers: ['viber', 'facebook'] },
    ]);
    const chat = registry.chat!;
    if (!isChannelRoutes(chat)) throw new Error('chat has two providers: routed');
    const route = (messenger: string) => chat.forMessage({ sender: null, payload: { chatId: '1', botId: 'b', messenger } })?.name;
    expect([route('telegram'), route('viber'), route('facebook'), route('slack')]).toEqual(['tg', 'platform', 'platform', undefined]);
    expect(() => parse([{ name: 'x', type: 'sandbox', channels: ['chat'], messengers: ['icq'] }])).toThrow('[0].messengers[0]: "icq" is not a messenger');
  });

  /** A configured provider with the client swapped for one under the test's control. */
  function withClient(client: ProviderClient, extra: Record<string, unknown> = {}): ChannelProvider {
    const { registry } = providersOf([{ name: 'p', type: 'sandbox', channels: ['sms'], settings: {}, ...extra }]);
    const provider = registry.sms as ChannelProvider & { client: ProviderClient };
    Object.assign(provider, { client });
    return provider;
  }

  it('answers "try later" for what is over the rate, and for a whole batch when the call fails', async () => {
    const sent: string[] = [];
    const limited = withClient(
      { submit: async (batch) => batch.map((m) => (sent.push(m.messageId), { messageId: m.messageId, outcome: 'accepted' as const, providerMessageId: m.sendId })) },
      { ratePerSecond: 3 },
    );
    const results = await limited.submit([1, 2, 3, 4, 5].map((i) => message(i)));
    expect(sent).toEqual(['m1', 'm2', 'm3']);
    expect(results.filter((r) => r.outcome === 'transient').map((r) => [r.messageId, 'reason' in r && r.reason])).toEqual([
      ['m4', "over p's rate of 3/s"],
      ['m5', "over p's rate of 3/s"],
    ]);
    const failing = withClient({ submit: async () => Promise.reject(new Error('connection reset')) });
    expect(await failing.submit([message(1)])).toEqual([{ messageId: 'm1', outcome: 'transient', reason: 'p: connection reset' }]);
  });

  it('stops waiting for a provider after its timeout, and keeps its secrets out of what it records', async () => {
    const hanging = withClient({ submit: (_batch, signal) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')))) }, { timeoutMs: 50 });
    expect(await hanging.submit([message(1)])).toEqual([{ messageId: 'm1', outcome: 'transient', reason: 'no answer from p within 50 ms' }]);
    const { registry } = providersOf([{ name: 'q', type: 'sandbox', channels: ['sms'], settings: {} }]);
    const leaky = registry.sms as ChannelProvider & { secrets: string[] };
    Object.assign(leaky, {
      secrets: ['tok-abcdef'],
      client: { submit: async () => [{ messageId: 'm1', outcome: 'rejected', reason: 'bad token tok-abcdef', detail: 'POST /bottok-abcdef/send → 401' }] },
    });
    expect(await leaky.submit([message(1)])).toEqual([{ messageId: 'm1', outcome: 'rejected', reason: 'bad token ***', detail: 'POST /bot***/send → 401' }]);
  });
});
