import { runHlrChecks } from '../../api/services/hlr/checks';
import { HttpHlrProvider } from '../../api/services/hlr/http';
import { SandboxHlrProvider } from '../../api/services/hlr/sandbox';
import { loadConfig } from '../../core/config';
import type { HlrProvider, HlrResult } from '../../core/hlr';
import type { Queryable } from '../../db/messages';
import { freePort } from '../../worker/ports';
import { lookupAnswer, startHlrStub, type StubAnswer } from '../support/hlr-stub';

describe('sandbox HLR (API.md "Sandbox numbers")', () => {
  const sandbox = new SandboxHlrProvider(0.007);

  it('decides the status by the last digit: 8 invalid, 9 absent, anything else active', async () => {
    expect((await sandbox.lookup('+79161234568')).status).toBe('invalid_number');
    expect((await sandbox.lookup('+79161234569')).status).toBe('absent_subscriber');
    for (const digit of ['0', '1', '2', '3', '4', '5', '6', '7']) expect((await sandbox.lookup(`+7916123456${digit}`)).status).toBe('active');
  });

  it('names the country and the operator the prefix was allocated to; nothing ported or roaming; costs HLR_COST', async () => {
    expect(await sandbox.lookup('+79161234567')).toEqual({
      status: 'active',
      operator: 'MTS',
      country: 'RU',
      ported: false,
      roaming: false,
      cost: 0.007,
      error: null,
      raw: { sandbox: true, lastDigit: '7' },
    });
    expect(await sandbox.lookup('+79991234569')).toMatchObject({ status: 'absent_subscriber', operator: 'Yota', country: 'RU' });
    expect(await sandbox.lookup('+79261234560')).toMatchObject({ operator: 'MegaFon', country: 'RU' });
    expect(await sandbox.lookup('+77011234567')).toMatchObject({ operator: 'Kcell', country: 'KZ' });
    expect(await sandbox.lookup('+4917112345670')).toMatchObject({ operator: 'Telekom', country: 'DE' });
    expect(await sandbox.lookup('+375441234567')).toMatchObject({ operator: 'A1', country: 'BY' });
    // A country the table does not know: the country still comes from the number.
    expect(await sandbox.lookup('+12025550123')).toMatchObject({ status: 'active', operator: null, country: 'US' });
  });

  it('gives an unassigned number no operator', async () => {
    expect(await sandbox.lookup('+79161234568')).toMatchObject({ status: 'invalid_number', operator: null, country: 'RU', cost: 0.007 });
  });
});

describe('HTTP HLR adapter against a local hlr-lookups.com-shaped stub', () => {
  const credentials = { key: 'test-key', secret: 'test-secret' };
  let answers: Record<string, StubAnswer> = {};
  let stub: Awaited<ReturnType<typeof startHlrStub>>;
  const provider = (overrides: Partial<ConstructorParameters<typeof HttpHlrProvider>[0]> = {}) =>
    new HttpHlrProvider({ url: stub.url, ...credentials, timeoutMs: 400, defaultCost: 0.02, ...overrides });

  beforeAll(async () => {
    stub = await startHlrStub(credentials, (msisdn) => answers[msisdn] ?? { status: 200, json: lookupAnswer(msisdn) });
  });
  afterAll(async () => {
    await stub.close();
  });
  beforeEach(() => {
    answers = {};
    stub.requests.length = 0;
  });

  it('posts the number, signed, and maps a connected subscriber to active with the provider’s cost', async () => {
    const result = await provider().lookup('+79161234567');
    expect(result).toMatchObject({ status: 'active', operator: 'MTS', country: 'RU', ported: false, roaming: false, cost: 0.01, error: null });
    expect(result.raw).toMatchObject({ id: 'f94ef092cb53', connectivity_status: 'CONNECTED' });
    expect(stub.requests).toHaveLength(1);
    expect(stub.requests[0]).toMatchObject({ method: 'POST', path: '/hlr-lookup', body: '{"msisdn":"+79161234567"}' });
    expect(stub.requests[0]!.headers['x-digest-key']).toBe('test-key');
  });

  it('maps each connectivity status, and names the ported-to network as the operator', async () => {
    answers['+79160000001'] = { status: 200, json: lookupAnswer('+79160000001', { connectivity_status: 'ABSENT' }) };
    answers['+79160000002'] = { status: 200, json: lookupAnswer('+79160000002', { connectivity_status: 'INVALID_MSISDN' }) };
    answers['+79160000003'] = { status: 200, json: lookupAnswer('+79160000003', { connectivity_status: 'UNDETERMINED' }) };
    answers['+79160000004'] = {
      status: 200,
      json: lookupAnswer('+79160000004', { is_ported: true, ported_network_name: 'Beeline', is_roaming: true, roaming_network_name: 'Vodafone DE' }),
    };
    answers['+79160000005'] = { status: 200, json: lookupAnswer('+79160000005', { connectivity_status: 'SOMETHING_NEW' }) };
    const p = provider();
    expect(await p.lookup('+79160000001')).toMatchObject({ status: 'absent_subscriber', error: null });
    expect(await p.lookup('+79160000002')).toMatchObject({ status: 'invalid_number', error: null });
    expect(await p.lookup('+79160000003')).toMatchObject({ status: 'unknown', error: 'provider: connectivity undetermined', cost: 0.01 });
    expect(await p.lookup('+79160000004')).toMatchObject({ status: 'active', operator: 'Beeline', ported: true, roaming: true, country: 'RU' });
    expect(await p.lookup('+79160000005')).toMatchObject({ status: 'unknown', error: 'provider: unrecognised connectivity_status "SOMETHING_NEW"' });
  });

  it('records the configured cost when the answer names none', async () => {
    answers['+79160000006'] = { status: 200, json: lookupAnswer('+79160000006', { cost: undefined }) };
    expect(await provider().lookup('+79160000006')).toMatchObject({ status: 'active', cost: 0.02 });
  });

  it('answers failed for a rejected lookup, with the provider’s error code', async () => {
    answers['+79160000007'] = { status: 200, json: lookupAnswer('+79160000007', { processing_status: 'REJECTED', connectivity_status: null, error_code: 12, cost: '0.0000' }) };
    expect(await provider().lookup('+79160000007')).toMatchObject({
      status: 'failed',
      operator: null,
      ported: null,
      roaming: null,
      cost: 0,
      error: 'provider: lookup REJECTED (error_code 12)',
    });
  });

  it('answers failed with the provider’s message for an error answer (wrong secret: 401)', async () => {
    const result = await provider({ secret: 'wrong-secret' }).lookup('+79161234567');
    expect(result).toMatchObject({ status: 'failed', cost: 0, error: 'provider answered HTTP 401: Unauthorized: invalid API key or signature' });
    expect(result.raw).toEqual({ errors: ['Unauthorized: invalid API key or signature'] });
  });

  it('answers failed for a server error and for a body that is not JSON', async () => {
    answers['+79160000008'] = { status: 503, text: 'upstream maintenance' };
    answers['+79160000009'] = { status: 200, text: '<html>gateway</html>' };
    expect(await provider().lookup('+79160000008')).toMatchObject({ status: 'failed', error: 'provider answered HTTP 503: upstream maintenance' });
    expect(await provider().lookup('+79160000009')).toMatchObject({ status: 'failed', error: expect.stringContaining('not JSON: <html>gateway</html>') });
  });

  it('gives up after the timeout when the provider does not answer, or stalls after the headers', async () => {
    answers['+79160000010'] = 'hang';
    answers['+79160000011'] = 'stall';
    for (const msisdn of ['+79160000010', '+79160000011']) {
      const started = Date.now();
      const result = await provider({ timeoutMs: 300 }).lookup(msisdn);
      const took = Date.now() - started;
      expect(result).toMatchObject({ status: 'failed', error: 'provider gave no answer within 300 ms' });
      expect(took).toBeGreaterThanOrEqual(290);
      expect(took).toBeLessThan(2000);
    }
  });

  it('answers failed when the provider cannot be reached', async () => {
    // A port that was free a moment ago: nothing listens there.
    const result = await provider({ url: `http://127.0.0.1:${await freePort()}` }).lookup('+79161234567');
    expect(result).toMatchObject({ status: 'failed', error: 'provider unreachable: ECONNREFUSED' });
  });
});

describe('HLR configuration', () => {
  it('uses the sandbox by default', () => {
    expect(loadConfig({}).hlr).toMatchObject({ provider: 'sandbox', concurrency: 10, costPerCheck: 0.005 });
  });

  it('reads the HTTP provider’s settings', () => {
    const config = loadConfig({ HLR_PROVIDER: 'http', HLR_HTTP_URL: 'https://hlr.example/api/v2/', HLR_HTTP_KEY: 'k', HLR_HTTP_SECRET: 's', HLR_HTTP_TIMEOUT_MS: '2500', HLR_COST: '0.01', HLR_CONCURRENCY: '4' });
    expect(config.hlr).toEqual({ provider: 'http', concurrency: 4, costPerCheck: 0.01, http: { url: 'https://hlr.example/api/v2', key: 'k', secret: 's', timeoutMs: 2500 } });
  });

  it('refuses to start with the HTTP provider half configured, or an unknown provider, naming what is wrong', () => {
    expect(() => loadConfig({ HLR_PROVIDER: 'http', HLR_HTTP_URL: 'https://hlr.example' })).toThrow('HLR_HTTP_KEY, HLR_HTTP_SECRET must be set when HLR_PROVIDER=http');
    expect(() => loadConfig({ HLR_PROVIDER: 'http', HLR_HTTP_URL: 'hlr.example', HLR_HTTP_KEY: 'k', HLR_HTTP_SECRET: 's' })).toThrow('HLR_HTTP_URL must be an http(s) URL');
    expect(() => loadConfig({ HLR_PROVIDER: 'smpp' })).toThrow('HLR_PROVIDER must be one of sandbox, http, got "smpp"');
    expect(() => loadConfig({ HLR_COST: '-1' })).toThrow('HLR_COST must be a non-negative number');
  });
});

describe('runHlrChecks', () => {
  const phones = Array.from({ length: 50 }, (_, i) => ({ e164: `+7916000${String(i).padStart(4, '0')}`, country: 'RU' }));
  /** A provider that counts its lookups and the most at once. */
  function countingProvider(): HlrProvider & { lookups: number; maxAtOnce: number } {
    let atOnce = 0;
    const provider = {
      name: 'counting',
      lookups: 0,
      maxAtOnce: 0,
      async lookup(): Promise<HlrResult> {
        provider.lookups++;
        provider.maxAtOnce = Math.max(provider.maxAtOnce, ++atOnce);
        await new Promise((resolve) => setTimeout(resolve, 5));
        atOnce--;
        return { status: 'active', operator: null, country: null, ported: false, roaming: false, cost: 0, error: null, raw: null };
      },
    };
    return provider;
  }
  /** Stands in for the pool: stores rows in memory, failing from the `failFrom`-th insert on. */
  function memoryDb(failFrom = Infinity) {
    let inserts = 0;
    return {
      get inserts() {
        return inserts;
      },
      query: async (_sql: string, params: unknown[]) => {
        if (++inserts >= failFrom) throw new Error('connection terminated');
        return { rows: [{ id: params[0], phone: params[1], status: params[2], country: params[4], created_at: new Date() }] };
      },
    };
  }

  it('answers in the order given, with at most `concurrency` lookups at once, and the number’s country when the provider names none', async () => {
    const provider = countingProvider();
    const checks = await runHlrChecks(memoryDb() as unknown as Queryable, provider, phones, { concurrency: 4, createdBy: null });
    expect(checks.map((c) => c.phone)).toEqual(phones.map((p) => p.e164));
    expect(checks.every((c) => c.country === 'RU')).toBe(true);
    expect(provider.maxAtOnce).toBe(4);
  });

  it('stops starting lookups when the database fails, and fails the call', async () => {
    const provider = countingProvider();
    const db = memoryDb(5);
    await expect(runHlrChecks(db as unknown as Queryable, provider, phones, { concurrency: 4, createdBy: null })).rejects.toThrow('connection terminated');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(provider.lookups).toBeLessThanOrEqual(5 + 3);
  });

  it('stops starting lookups once told to stop, keeping the checks done', async () => {
    const provider = countingProvider();
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 12);
    const checks = await runHlrChecks(memoryDb() as unknown as Queryable, provider, phones, { concurrency: 4, createdBy: null, stop: stop.signal });
    expect(checks.length).toBe(provider.lookups);
    expect(checks.length).toBeGreaterThan(0);
    expect(checks.length).toBeLessThan(phones.length);
  });
});
