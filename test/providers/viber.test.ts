import { createHmac, randomInt, randomUUID } from 'node:crypto';
import pino from 'pino';
import request from 'supertest';
import { createProviders, providerWebhooks } from '../../activities/channels/registry';
import type { ChannelProvider, OutgoingMessage, SubmitResult } from '../../activities/channels/types';
import { parseJsonKeepingBigIntegers } from '../../activities/channels/http-answer';
import { parseProvidersConfig } from '../../core/providers';
import { approvedSender, eventually, startStack, type TestStack } from '../support/harness';
import { gate, JsonPeer, type PeerReply, type PeerRequest } from '../support/json-peer';

/** The aggregator's API key, sent in X-Api-Key; also the HMAC key of its callbacks. */
const API_KEY = 'viber-api-key-7f3a9c';
const suffix = randomUUID().slice(0, 6);
const PROVIDER = `viber-${suffix}`;

/** A Viber message token above 2^53, unique per run (parked receipts outlive a test run). */
function bigToken(): string {
  return `5${Array.from({ length: 18 }, () => randomInt(10)).join('')}`;
}
function randomPhone(): string {
  return `+7916${String(randomInt(10_000_000)).padStart(7, '0')}`;
}
const sign = (body: string, key = API_KEY) => createHmac('sha256', key).update(body).digest('hex');

/**
 * The aggregator: checks what a real one checks (route, API key, JSON body fields), answers a
 * message id it has seen with the token it gave before (it does not send twice), and otherwise
 * does what the test's `behaviour` says.
 */
const peer = new JsonPeer();
const tokensByMessageId = new Map<string, string>();
let behaviour: (body: Record<string, unknown>) => PeerReply | Promise<PeerReply> = () => ({ status: 200, body: `{"status":0,"message_token":${bigToken()}}` });

function requestProblems(req: PeerRequest): PeerReply | undefined {
  if (req.method !== 'POST' || req.url !== '/send') return { status: 404, body: { error: `no route ${req.method} ${req.url}` } };
  if (req.headers['x-api-key'] !== API_KEY) return { status: 401, body: { error: 'invalid api key' } };
  if (!String(req.headers['content-type']).startsWith('application/json')) return { status: 415, body: { error: 'expected JSON' } };
  const body = JSON.parse(req.body) as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof body.message_id !== 'string' || body.message_id === '') problems.push('message_id required');
  if (typeof body.sender !== 'string' || body.sender === '') problems.push('sender required');
  if (typeof body.phone !== 'string' || !/^\d{10,15}$/.test(body.phone)) problems.push('phone: digits of the international number');
  if (typeof body.text !== 'string' || body.text === '' || body.text.length > 1000) problems.push('text: 1 to 1000 characters');
  if (!Number.isInteger(body.ttl) || (body.ttl as number) < 30 || (body.ttl as number) > 1_209_600) problems.push('ttl: 30 to 1209600 seconds');
  if ((body.button_caption === undefined) !== (body.button_url === undefined)) problems.push('a button needs button_caption and button_url');
  if (typeof body.callback_url !== 'string' || !body.callback_url.startsWith('http')) problems.push('callback_url required');
  return problems.length > 0 ? { status: 400, body: { error: problems.join('; ') } } : undefined;
}

peer.answer = async (req) => {
  const problem = requestProblems(req);
  if (problem) return problem;
  const body = JSON.parse(req.body) as Record<string, unknown>;
  const known = tokensByMessageId.get(body.message_id as string);
  if (known) return { status: 200, body: `{"status":0,"message_token":${known}}` };
  const reply = await behaviour(body);
  if (reply !== 'hang' && reply.status === 200 && typeof reply.body === 'string') {
    const token = /"message_token":\s*"?(\d+)/.exec(reply.body)?.[1];
    if (token) tokensByMessageId.set(body.message_id as string, token);
  }
  return reply;
};

let stack: TestStack;
beforeAll(async () => {
  await peer.start();
  stack = await startStack({
    worker: true,
    env: {
      PROVIDERS: JSON.stringify([
        { name: PROVIDER, type: 'viber', channels: ['viber'], timeoutMs: 5000, settings: { baseUrl: peer.url, authToken: API_KEY, tokenHeader: 'X-Api-Key', tokenPrefix: '' } },
      ]),
    },
  });
});
afterAll(async () => {
  await stack?.close();
  await peer.close();
});
beforeEach(() => {
  behaviour = () => ({ status: 200, body: `{"status":0,"message_token":${bigToken()}}` });
});

/** The provider as the worker runs it (timeout, redaction of the API key), driven directly. */
function directProvider(options: { timeoutMs?: number; baseUrl?: string } = {}): ChannelProvider {
  const configs = parseProvidersConfig(
    JSON.stringify([
      {
        name: 'viber-direct',
        type: 'viber',
        channels: ['viber'],
        timeoutMs: options.timeoutMs ?? 5000,
        settings: { baseUrl: options.baseUrl ?? peer.url, authToken: API_KEY, tokenHeader: 'X-Api-Key', tokenPrefix: '', serviceId: 'svc-1' },
      },
    ]),
    'test',
  );
  const running = createProviders({ configs, pool: stack.deps.pool, logger: pino({ level: 'silent' }), publicUrl: 'https://notify.example', sandboxLatencyMs: 100 });
  return running.registry.viber as ChannelProvider;
}

function outgoing(overrides: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    messageId: randomUUID(),
    sendId: randomUUID(),
    channel: 'viber',
    recipient: randomPhone(),
    sender: 'ACME',
    text: 'Your order A-1 is ready',
    payload: { imageUrl: 'https://cdn.example/a1.png', buttonUrl: 'https://shop.example/a1', buttonText: 'Track' },
    deliveryEndAt: new Date(Date.now() + 3600_000),
    ...overrides,
  };
}

async function submitOne(provider: ChannelProvider, message = outgoing()): Promise<SubmitResult> {
  const [result] = await provider.submit([message]);
  return result!;
}

describe('Viber client against the aggregator peer', () => {
  it('sends text, image and button with our send id, the remaining lifetime as ttl, and keeps a 64-bit token exact', async () => {
    const token = '5491391152263159293'; // > 2^53: as a JS number it would become …9300
    behaviour = () => ({ status: 200, body: `{"status":0,"message_token":${token}}` });
    const from = peer.requests.length;
    const message = outgoing({ deliveryEndAt: new Date(Date.now() + 600_000) });
    const result = await submitOne(directProvider(), message);
    expect(result).toEqual({ messageId: message.messageId, outcome: 'accepted', providerMessageId: token, detail: `POST /send → 200 message_token=${token}` });
    const [sent] = peer.since(from);
    expect(sent!.headers['x-api-key']).toBe(API_KEY);
    const body = JSON.parse(sent!.body);
    expect(body).toEqual({
      message_id: message.sendId,
      service_id: 'svc-1',
      sender: 'ACME',
      phone: message.recipient.slice(1),
      text: 'Your order A-1 is ready',
      image_url: 'https://cdn.example/a1.png',
      button_caption: 'Track',
      button_url: 'https://shop.example/a1',
      ttl: expect.any(Number),
      callback_url: 'https://notify.example/webhooks/viber/viber-direct',
    });
    expect(body.ttl).toBeGreaterThan(590);
    expect(body.ttl).toBeLessThanOrEqual(600);
  });

  it('sends a text-only message without image and button fields', async () => {
    const from = peer.requests.length;
    const result = await submitOne(directProvider(), outgoing({ payload: {} }));
    expect(result.outcome).toBe('accepted');
    const body = JSON.parse(peer.since(from)[0]!.body);
    expect(body).not.toHaveProperty('image_url');
    expect(body).not.toHaveProperty('button_caption');
    expect(body).not.toHaveProperty('button_url');
  });

  it('resubmitting the same send id does not send twice: the aggregator answers the first token', async () => {
    const provider = directProvider();
    const message = outgoing();
    const first = await submitOne(provider, message);
    const again = await submitOne(provider, { ...message, messageId: message.messageId });
    expect(first.outcome).toBe('accepted');
    expect(again).toMatchObject({ outcome: 'accepted', providerMessageId: (first as { providerMessageId: string }).providerMessageId });
  });

  it('429 and 5xx are transient with Retry-After (seconds or a date); other 4xx are rejected with the aggregator\'s reason', async () => {
    const provider = directProvider();
    behaviour = () => ({ status: 429, headers: { 'Retry-After': '7' }, body: { error: 'too many requests' } });
    expect(await submitOne(provider)).toMatchObject({ outcome: 'transient', retryAfterMs: 7000, reason: 'viber: too many requests', detail: 'POST /send → 429' });
    behaviour = () => ({ status: 503, headers: { 'Retry-After': new Date(Date.now() + 30_000).toUTCString() }, body: 'maintenance' });
    const unavailable = await submitOne(provider);
    expect(unavailable).toMatchObject({ outcome: 'transient', reason: 'viber: maintenance' });
    expect((unavailable as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(25_000);
    behaviour = () => ({ status: 500, body: { error: 'internal' } });
    expect(await submitOne(provider)).toMatchObject({ outcome: 'transient', retryAfterMs: undefined });
    behaviour = () => ({ status: 400, body: { error: 'phone is not a Viber user' } });
    expect(await submitOne(provider)).toMatchObject({ outcome: 'rejected', reason: 'viber: phone is not a Viber user', detail: 'POST /send → 400' });
  });

  it('a request the aggregator refuses (bad key) is rejected, and the key never reaches the event text', async () => {
    behaviour = () => ({ status: 403, body: { error: `key ${API_KEY} is blocked` } });
    const result = await submitOne(directProvider());
    expect(result).toMatchObject({ outcome: 'rejected', reason: 'viber: key *** is blocked' });
  });

  it('the peer checks the request: an empty text is refused by it (400) and ends rejected', async () => {
    const result = await submitOne(directProvider(), outgoing({ text: '' }));
    expect(result).toMatchObject({ outcome: 'rejected', reason: expect.stringContaining('text: 1 to 1000 characters') });
  });

  it('an answer without a token is transient (the message id makes the retry safe)', async () => {
    behaviour = () => ({ status: 200, body: { status: 0 } });
    expect(await submitOne(directProvider())).toMatchObject({ outcome: 'transient', reason: 'viber: answer without a message_token' });
  });

  it('no answer within the timeout, or no connection, is transient', async () => {
    behaviour = () => 'hang';
    const started = Date.now();
    expect(await submitOne(directProvider({ timeoutMs: 300 }))).toMatchObject({ outcome: 'transient', reason: expect.stringContaining('no answer') });
    expect(Date.now() - started).toBeLessThan(3000);
    const closed = new JsonPeer();
    const url = await closed.start();
    await closed.close();
    expect(await submitOne(directProvider({ baseUrl: url }))).toMatchObject({ outcome: 'transient', reason: expect.stringContaining('request failed') });
  });

  it('keeps integers of 16+ digits as strings when reading JSON, and leaves strings and small numbers alone', () => {
    expect(parseJsonKeepingBigIntegers('{"message_token":5491391152263159293,"status":0,"x":1.25e3,"s":"12345678901234567890","neg":-9223372036854775807}')).toEqual({
      message_token: '5491391152263159293',
      status: 0,
      x: 1250,
      s: '12345678901234567890',
      neg: '-9223372036854775807',
    });
  });
});

describe('Viber callbacks', () => {
  const handler = () => providerWebhooks(stack.config.providers, stack.config.webhookSecret).get(PROVIDER)!.handle;
  const callback = (body: string) => ({ method: 'POST' as const, channel: 'viber' as const, headers: { 'x-viber-content-signature': sign(body) }, query: {}, rawBody: Buffer.from(body) });

  it('maps delivered → DELIVERED, seen → READ, expired/failed/undelivered → UNDELIVERED, ignores sent; tokens stay exact', async () => {
    const body = `[
      {"message_token":5491391152263159293,"status":"delivered"},
      {"message_token":5491391152263159294,"status":"seen"},
      {"message_token":5491391152263159295,"status":"expired"},
      {"message_token":5491391152263159296,"status":"failed","error":"blocked by user"},
      {"message_token":"5491391152263159297","status":"undelivered"},
      {"message_token":5491391152263159298,"status":"sent"}]`;
    const answer = await handler()(callback(body));
    expect(answer.receipts).toEqual([
      { providerMessageId: '5491391152263159293', status: 'DELIVERED', description: 'viber: delivered' },
      { providerMessageId: '5491391152263159294', status: 'READ', description: 'viber: seen' },
      { providerMessageId: '5491391152263159295', status: 'UNDELIVERED', description: 'viber: expired' },
      { providerMessageId: '5491391152263159296', status: 'UNDELIVERED', description: 'viber: failed (blocked by user)' },
      { providerMessageId: '5491391152263159297', status: 'UNDELIVERED', description: 'viber: undelivered' },
    ]);
  });

  it('through the API: a bad or missing signature is 401, a body without a token 400, an unknown token is kept (200)', async () => {
    const body = JSON.stringify({ message_token: 1234, status: 'delivered' }).replace('1234', bigToken());
    const path = `/webhooks/viber/${PROVIDER}`;
    const post = (raw: string, signature?: string) => {
      const req = request(stack.app).post(path).set('Content-Type', 'application/json');
      if (signature !== undefined) req.set('X-Viber-Content-Signature', signature);
      return req.send(raw);
    };
    await post(body, sign(body, 'another-key')).expect(401);
    await post(body).expect(401);
    await post(body, sign(`${body} `)).expect(401);
    const noToken = JSON.stringify({ status: 'delivered' });
    await post(noToken, sign(noToken)).expect(400);
    expect((await post(body, sign(body)).expect(200)).body).toEqual({ applied: 0, unknown: 1 });
  });
});

describe('Viber end to end: API → worker → aggregator peer → callback', () => {
  let sender: string;
  let templateId: string;
  beforeAll(async () => {
    sender = await approvedSender(stack, 'viber');
    const res = await stack
      .admin()
      .post('/api/v1/templates')
      .send({
        name: `Viber order ${suffix}`,
        channels: [
          { channel: 'viber', sender, text: 'Hi {name}, order {order} is ready', imageUrl: 'https://cdn.example/{order}.png', buttonText: 'Track', buttonUrl: 'https://shop.example/t/{order}', lifetimeMinutes: 10 },
        ],
      });
    expect(res.status).toBe(201);
    templateId = res.body.id;
  });

  async function send(phone: string): Promise<string> {
    const res = await stack.admin().post('/api/v1/notifications').send({ templateId, variables: { order: 'A-7' }, recipients: [{ phone, variables: { name: 'Ann' } }] }).expect(202);
    return res.body.messages[0].id;
  }
  const message = async (id: string) => (await stack.admin().get(`/api/v1/messages/${id}`).expect(200)).body;
  const postCallback = (body: string) => request(stack.app).post(`/webhooks/viber/${PROVIDER}`).set('Content-Type', 'application/json').set('X-Viber-Content-Signature', sign(body)).send(body);
  const statuses = (m: { events: { status: string }[] }) => m.events.map((e) => e.status);

  it('delivered then seen: the message ends READ with the 64-bit token kept exactly, each step in its events', async () => {
    const phone = randomPhone();
    const token = bigToken();
    const from = peer.requests.length;
    behaviour = () => ({ status: 200, body: `{"status":0,"message_token":${token}}` });
    const id = await send(phone);
    const sent = await eventually(() => message(id), (m) => m.status === 'SENT');
    expect(sent.providerMessageId).toBe(token);
    expect(sent.provider).toBe(PROVIDER);
    const body = JSON.parse(peer.since(from).find((r) => JSON.parse(r.body).phone === phone.slice(1))!.body);
    expect(body).toMatchObject({
      message_id: sent.sendId,
      sender,
      text: 'Hi Ann, order A-7 is ready',
      image_url: 'https://cdn.example/A-7.png',
      button_caption: 'Track',
      button_url: 'https://shop.example/t/A-7',
      callback_url: `${stack.config.api.publicUrl}/webhooks/viber/${PROVIDER}`,
    });
    expect(body.ttl).toBeGreaterThan(500);
    expect(body.ttl).toBeLessThanOrEqual(600);

    expect((await postCallback(`{"message_token":${token},"status":"delivered"}`).expect(200)).body).toEqual({ applied: 1, unknown: 0 });
    expect((await message(id)).status).toBe('DELIVERED');
    await postCallback(`{"message_token":${token},"status":"seen"}`).expect(200);
    const read = await message(id);
    expect(read.status).toBe('READ');
    expect(statuses(read)).toEqual(['CREATED', 'QUEUED', 'SENT', 'DELIVERED', 'READ']);
    expect(read.events.at(-1)).toMatchObject({ status: 'READ', description: 'viber: seen', source: `webhook:${PROVIDER}` });
    expect(read.events.find((e: { status: string }) => e.status === 'SENT').description).toBe(`POST /send → 200 message_token=${token}`);
  });

  it('seen before delivered: READ stays, the late delivered is logged but not applied', async () => {
    const token = bigToken();
    behaviour = () => ({ status: 200, body: `{"status":0,"message_token":${token}}` });
    const id = await send(randomPhone());
    await eventually(() => message(id), (m) => m.status === 'SENT');
    await postCallback(`[{"message_token":${token},"status":"seen"}]`).expect(200);
    await postCallback(`[{"message_token":${token},"status":"delivered"}]`).expect(200);
    const m = await message(id);
    expect(m.status).toBe('READ');
    expect(m.events.at(-1)).toMatchObject({ status: 'DELIVERED', description: expect.stringContaining('not applied: status was READ') });
  });

  it('expired → UNDELIVERED', async () => {
    const token = bigToken();
    behaviour = () => ({ status: 200, body: `{"status":0,"message_token":${token}}` });
    const id = await send(randomPhone());
    await eventually(() => message(id), (m) => m.status === 'SENT');
    await postCallback(`{"message_token":${token},"status":"expired"}`).expect(200);
    const m = await message(id);
    expect(m.status).toBe('UNDELIVERED');
    expect(m.statusDescription).toBe('viber: expired');
  });

  it('a callback that overtakes the send answer is kept and applied when the answer is recorded', async () => {
    const token = bigToken();
    const held = gate();
    let reached!: () => void;
    const arrived = new Promise<void>((resolve) => (reached = resolve));
    behaviour = async () => {
      reached();
      await held.opened;
      return { status: 200, body: `{"status":0,"message_token":${token}}` };
    };
    const id = await send(randomPhone());
    await arrived;
    expect((await postCallback(`{"message_token":${token},"status":"delivered"}`).expect(200)).body).toEqual({ applied: 0, unknown: 1 });
    expect((await message(id)).status).toBe('QUEUED');
    held.open();
    const m = await eventually(() => message(id), (x) => x.status === 'DELIVERED');
    expect(m.providerMessageId).toBe(token);
    expect(statuses(m)).toEqual(['CREATED', 'QUEUED', 'SENT', 'DELIVERED']);
  });

  it('throttled (429, Retry-After: 1) then accepted: retried with the same message id, sent once', async () => {
    const phone = randomPhone();
    let calls = 0;
    behaviour = () => (++calls === 1 ? { status: 429, headers: { 'Retry-After': '1' }, body: { error: 'rate limit' } } : { status: 200, body: `{"message_token":${bigToken()}}` });
    const from = peer.requests.length;
    const id = await send(phone);
    const m = await eventually(() => message(id), (x) => x.status === 'SENT', 15_000);
    const attempts = peer.since(from).map((r) => JSON.parse(r.body)).filter((b) => b.phone === phone.slice(1));
    expect(attempts).toHaveLength(2);
    expect(attempts[0].message_id).toBe(attempts[1].message_id);
    expect(m.events.find((e: { status: string; description: string }) => e.status === 'QUEUED' && e.description?.includes('rate limit'))).toBeDefined();
  });

  it('a refused message (400) ends ERROR with the aggregator\'s reason', async () => {
    behaviour = () => ({ status: 400, body: { error: 'not a Viber user' } });
    const id = await send(randomPhone());
    const m = await eventually(() => message(id), (x) => x.status === 'ERROR');
    expect(m.statusDescription).toBe('viber: not a Viber user (POST /send → 400)');
  });
});
