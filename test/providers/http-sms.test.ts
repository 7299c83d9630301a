import request from 'supertest';
import { webhookSignature } from '../../api/routes/webhooks';
import type { ChannelProvider } from '../../activities/channels/types';
import { eventually, postWebhook, smsTemplate, startStack, type TestStack } from '../support/harness';
import { closedPortUrl, configuredProvider, HttpPeer, outgoing, reply, type PeerRequest } from '../support/http-peer';
import type { ServerResponse } from 'node:http';

const API_KEY = 'agg-key-0123456789';
const HOOK_SECRET = 'agg-webhook-secret-1';

/**
 * The aggregator: POST /api/send with X-Api-Key, a JSON body of exactly {to, from, text, reference,
 * validUntil}; answers {messageId}. `byRecipient` overrides the answer for one `to`.
 */
let peer: HttpPeer;
const byRecipient = new Map<string, (req: PeerRequest, res: ServerResponse) => void>();
let issued = 0;
function aggregator(req: PeerRequest, res: ServerResponse) {
  if (req.method !== 'POST' || req.url !== '/api/send') return reply(res, 404, { error: `no ${req.method} ${req.url}` });
  if (req.headers['x-api-key'] !== API_KEY) return reply(res, 401, { error: 'bad api key' });
  if (!String(req.headers['content-type']).startsWith('application/json')) return reply(res, 415, { error: 'json only' });
  const b = req.json;
  const keys = Object.keys(b ?? {}).sort().join(',');
  if (keys !== 'from,reference,text,to,validUntil' || !/^\+\d{7,15}$/.test(b.to) || Number.isNaN(Date.parse(b.validUntil))) {
    return reply(res, 422, { error: `bad body: ${keys}` });
  }
  const special = byRecipient.get(b.to);
  if (special) return special(req, res);
  reply(res, 200, { messageId: `agg-${++issued}` });
}

let stack: TestStack;
const entry = (settings: Record<string, unknown> = {}, common: Record<string, unknown> = {}) => ({
  name: 'agg-direct',
  type: 'http-sms',
  channels: ['sms'],
  timeoutMs: 5000,
  ...common,
  settings: { url: `${peer.url}/api/send`, authHeader: 'X-Api-Key', authValue: API_KEY, webhookSecret: HOOK_SECRET, ...settings },
});

beforeAll(async () => {
  peer = await HttpPeer.start(aggregator);
  stack = await startStack({
    worker: true,
    env: {
      PROVIDERS: JSON.stringify([
        { name: 'agg', type: 'http-sms', channels: ['sms'], default: true, timeoutMs: 8000, settings: { url: `${peer.url}/api/send`, authHeader: 'X-Api-Key', authValue: API_KEY, webhookSecret: HOOK_SECRET } },
        // No webhookSecret of its own: its reports are signed with WEBHOOK_SECRET.
        { name: 'agg-plain', type: 'http-sms', channels: ['sms'], senders: ['NOBODY'], settings: { url: `${peer.url}/api/send` } },
      ]),
    },
  });
});
afterAll(async () => {
  await stack.close();
  await peer.close();
});
beforeEach(() => byRecipient.clear());

describe('http-sms client against the aggregator', () => {
  let provider: ChannelProvider;
  beforeAll(() => {
    provider = configuredProvider(stack.deps.pool, entry(), 'sms');
  });

  it('POSTs {to, from, text, reference: sendId, validUntil} with the auth header and takes {messageId}', async () => {
    const m = outgoing('sms', { recipient: '+79990001001', sender: 'ACME', text: 'Code 1234' });
    const before = peer.requests.length;
    const [result] = await provider.submit([m]);
    expect(result).toEqual({ messageId: m.messageId, outcome: 'accepted', providerMessageId: expect.stringMatching(/^agg-\d+$/), detail: expect.stringMatching(/^POST \/api\/send → 200 messageId=agg-\d+$/) });
    const sent = peer.requests.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.headers['x-api-key']).toBe(API_KEY);
    expect(sent[0]!.json).toEqual({ to: '+79990001001', from: 'ACME', text: 'Code 1234', reference: m.sendId, validUntil: m.deliveryEndAt.toISOString() });
  });

  it('an answer without messageId is followed by our reference (the sendId)', async () => {
    byRecipient.set('+79990001002', (_req, res) => reply(res, 202, { status: 'queued' }));
    const m = outgoing('sms', { recipient: '+79990001002' });
    const [result] = await provider.submit([m]);
    expect(result).toMatchObject({ outcome: 'accepted', providerMessageId: m.sendId });
  });

  it('4xx is a permanent refusal; 429 and 5xx are retried, honouring Retry-After in seconds or as a date', async () => {
    byRecipient.set('+79990001003', (_req, res) => reply(res, 400, { error: 'invalid destination' }));
    byRecipient.set('+79990001004', (_req, res) => reply(res, 403, { error: 'insufficient balance' }));
    byRecipient.set('+79990001005', (_req, res) => reply(res, 429, { error: 'slow down' }, { 'Retry-After': '7' }));
    byRecipient.set('+79990001006', (_req, res) => reply(res, 503, { error: 'maintenance' }, { 'Retry-After': new Date(Date.now() + 30_000).toUTCString() }));
    byRecipient.set('+79990001007', (_req, res) => reply(res, 500, 'oops'));
    const batch = ['+79990001003', '+79990001004', '+79990001005', '+79990001006', '+79990001007'].map((recipient) => outgoing('sms', { recipient }));
    const results = await provider.submit(batch);
    expect(results.map((r) => r.messageId)).toEqual(batch.map((m) => m.messageId));
    expect(results[0]).toMatchObject({ outcome: 'rejected', reason: 'agg-direct: 400 {"error":"invalid destination"}', detail: 'POST /api/send → 400 {"error":"invalid destination"}' });
    expect(results[1]).toMatchObject({ outcome: 'rejected', reason: expect.stringContaining('403') });
    expect(results[2]).toMatchObject({ outcome: 'transient', retryAfterMs: 7000, reason: expect.stringContaining('429') });
    expect(results[3]).toMatchObject({ outcome: 'transient', reason: expect.stringContaining('503') });
    const dated = (results[3] as { retryAfterMs?: number }).retryAfterMs!;
    expect(dated).toBeGreaterThan(25_000);
    expect(dated).toBeLessThanOrEqual(30_000);
    expect(results[4]).toEqual({ messageId: batch[4]!.messageId, outcome: 'transient', reason: 'agg-direct: 500 oops', detail: 'POST /api/send → 500 oops' });
  });

  it('a wrong credential is refused by the aggregator (401) and the credential is not in the event line', async () => {
    const wrong = configuredProvider(stack.deps.pool, entry({ authValue: 'wrong-key-987' }), 'sms');
    const [result] = await wrong.submit([outgoing('sms', { recipient: '+79990001008' })]);
    expect(result).toMatchObject({ outcome: 'rejected', reason: 'agg-direct: 401 {"error":"bad api key"}' });
    expect(JSON.stringify(result)).not.toContain('wrong-key-987');
  });

  it('an aggregator that never answers: transient within timeoutMs, the rest of the batch unaffected', async () => {
    byRecipient.set('+79990001009', () => undefined); // holds the request forever
    const slow = outgoing('sms', { recipient: '+79990001009' });
    const fine = outgoing('sms', { recipient: '+79990001010' });
    const impatient = configuredProvider(stack.deps.pool, entry({}, { timeoutMs: 1500 }), 'sms');
    const started = Date.now();
    const [held, ok] = await impatient.submit([slow, fine]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect(Date.now() - started).toBeLessThan(3500);
    expect(held).toMatchObject({ messageId: slow.messageId, outcome: 'transient', reason: 'agg-direct: no answer in time (request aborted)' });
    expect(ok).toMatchObject({ messageId: fine.messageId, outcome: 'accepted' });
  });

  it('an aggregator that is down: transient', async () => {
    const down = configuredProvider(stack.deps.pool, entry({ url: `${await closedPortUrl()}/api/send` }), 'sms');
    const [result] = await down.submit([outgoing('sms')]);
    expect(result).toMatchObject({ outcome: 'transient', reason: 'agg-direct: request failed (ECONNREFUSED)' });
  });

  it('sends a batch at most `concurrency` requests at a time', async () => {
    let inFlight = 0;
    let most = 0;
    const recipients = Array.from({ length: 8 }, (_, i) => `+7999000110${i}`);
    for (const to of recipients) {
      byRecipient.set(to, (_req, res) => {
        most = Math.max(most, ++inFlight);
        setTimeout(() => {
          inFlight--;
          reply(res, 200, { messageId: `c-${to}` });
        }, 30);
      });
    }
    const limited = configuredProvider(stack.deps.pool, entry({ concurrency: 3 }, { timeoutMs: 5000 }), 'sms');
    const results = await limited.submit(recipients.map((recipient) => outgoing('sms', { recipient })));
    expect(results.map((r) => (r.outcome === 'accepted' ? r.providerMessageId : r.outcome))).toEqual(recipients.map((to) => `c-${to}`));
    expect(most).toBe(3);
  });
});

describe('http-sms through the stack: API send → aggregator → signed delivery report', () => {
  async function sendSms(phone: string) {
    const templateId = await smsTemplate(stack);
    const sent = await stack.admin().post('/api/v1/notifications').send({ templateId, variables: { name: 'Ann', order: 'A-1' }, recipients: [{ phone }] }).expect(202);
    return sent.body.messages[0].id as string;
  }
  const message = async (id: string) => (await stack.admin().get(`/api/v1/messages/${id}`).expect(200)).body;
  const signed = (body: string, secret = HOOK_SECRET) => postWebhook(stack, '/webhooks/sms/agg', body, webhookSignature(secret, body));

  it('accepted → SENT with the aggregator id and the request in the event log, report → DELIVERED', async () => {
    const id = await sendSms('+79990002001');
    const sent = await eventually(() => message(id), (m) => m.status === 'SENT');
    expect(sent.provider).toBe('agg');
    expect(sent.providerMessageId).toMatch(/^agg-\d+$/);
    expect(sent.events.find((e: { status: string }) => e.status === 'SENT').description).toBe(`POST /api/send → 200 messageId=${sent.providerMessageId}`);
    const got = peer.requests.find((r) => r.json?.to === '+79990002001')!;
    expect(got.json).toMatchObject({ text: 'Hi Ann, order A-1 is ready', from: sent.sender, reference: expect.stringMatching(/:1:sms$/) });

    const body = JSON.stringify({ messageId: sent.providerMessageId, status: 'delivered', at: '2026-01-01T10:00:00Z' });
    expect((await signed(body).expect(200)).body).toEqual({ applied: 1, unknown: 0 });
    const done = await message(id);
    expect(done.status).toBe('DELIVERED');
    expect(done.events.map((e: { status: string }) => e.status)).toEqual(['CREATED', 'QUEUED', 'SENT', 'DELIVERED']);
    expect(done.events.at(-1)).toMatchObject({ description: 'agg: delivered, at 2026-01-01T10:00:00Z', source: 'webhook:agg' });
  });

  it('bad, missing or WEBHOOK_SECRET-made signatures get 401 and change nothing; a body not of reports gets 400', async () => {
    const id = await sendSms('+79990002002');
    const sent = await eventually(() => message(id), (m) => m.status === 'SENT');
    const body = JSON.stringify({ messageId: sent.providerMessageId, status: 'undelivered' });
    const bad = await postWebhook(stack, '/webhooks/sms/agg', body, 'sha256=00').expect(401);
    expect(bad.body.error.code).toBe('bad_signature');
    await request(stack.app).post('/webhooks/sms/agg').set('Content-Type', 'application/json').send(body).expect(401);
    await signed(body, stack.config.webhookSecret).expect(401);
    expect((await message(id)).status).toBe('SENT');
    await signed(JSON.stringify({ messageId: sent.providerMessageId, status: 'lost-in-space' })).expect(400);
    await signed('not json').expect(400);
  });

  it('a provider without webhookSecret takes reports signed with WEBHOOK_SECRET', async () => {
    const body = JSON.stringify([{ messageId: 'never-seen', status: 'delivered' }]);
    await postWebhook(stack, '/webhooks/sms/agg-plain', body, webhookSignature(HOOK_SECRET, body)).expect(401);
    expect((await postWebhook(stack, '/webhooks/sms/agg-plain', body).expect(200)).body).toEqual({ applied: 0, unknown: 1 });
  });

  it('reports out of order (delivered before accepted) in one array: DELIVERED stays, both are in the log; errorCode kept', async () => {
    const id = await sendSms('+79990002003');
    const sent = await eventually(() => message(id), (m) => m.status === 'SENT');
    const body = JSON.stringify([
      { messageId: sent.providerMessageId, status: 'delivered' },
      { messageId: sent.providerMessageId, status: 'accepted' },
    ]);
    // The late "accepted" does not move DELIVERED back: not applied, only logged.
    expect((await signed(body).expect(200)).body).toEqual({ applied: 1, unknown: 0 });
    const later = JSON.stringify({ messageId: sent.providerMessageId, status: 'expired', errorCode: 27 });
    await signed(later).expect(200);
    const done = await message(id);
    expect(done.status).toBe('DELIVERED');
    expect(done.events.map((e: { status: string }) => e.status)).toEqual(['CREATED', 'QUEUED', 'SENT', 'DELIVERED', 'PENDING', 'UNDELIVERED']);
    expect(done.events.slice(-2).map((e: { description: string }) => e.description)).toEqual([
      'not applied: status was DELIVERED; agg: accepted',
      'not applied: status was DELIVERED; agg: expired, error 27',
    ]);
  });

  it('a report that arrives before the aggregator answered the submit is applied once the answer is recorded', async () => {
    let release!: () => void;
    const reached = new Promise<void>((resolve) => {
      byRecipient.set('+79990002004', (_req, res) => {
        release = () => reply(res, 200, { messageId: 'agg-early-1' });
        resolve();
      });
    });
    const id = await sendSms('+79990002004');
    await reached;
    expect((await signed(JSON.stringify({ messageId: 'agg-early-1', status: 'undelivered', errorCode: 'absent subscriber' })).expect(200)).body).toEqual({ applied: 0, unknown: 1 });
    expect((await message(id)).status).toBe('QUEUED');
    release();
    const done = await eventually(() => message(id), (m) => m.status === 'UNDELIVERED');
    expect(done.providerMessageId).toBe('agg-early-1');
    expect(done.events.at(-1)).toMatchObject({ status: 'UNDELIVERED', description: 'agg: undelivered, error absent subscriber' });
  });

  it('throttled with Retry-After, then accepted: retried after the wait, sent once', async () => {
    let calls = 0;
    byRecipient.set('+79990002005', (_req, res) => {
      calls++;
      if (calls === 1) reply(res, 429, { error: 'rate' }, { 'Retry-After': '1' });
      else reply(res, 200, { messageId: 'agg-after-wait' });
    });
    const id = await sendSms('+79990002005');
    const sent = await eventually(() => message(id), (m) => m.status === 'SENT');
    expect(calls).toBe(2);
    expect(sent.providerMessageId).toBe('agg-after-wait');
    const waited = sent.events.find((e: { description: string | null }) => e.description?.includes('429'));
    expect(waited).toBeDefined();
  });

  it('refused at submit: ERROR with the aggregator\'s reason', async () => {
    byRecipient.set('+79990002006', (_req, res) => reply(res, 400, { error: 'number blacklisted' }));
    const id = await sendSms('+79990002006');
    const done = await eventually(() => message(id), (m) => m.status === 'ERROR');
    expect(done.events.at(-1).description).toBe('agg: 400 {"error":"number blacklisted"} (POST /api/send → 400 {"error":"number blacklisted"})');
  });
});
