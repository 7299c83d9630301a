import { createHmac, randomInt, randomUUID } from 'node:crypto';
import pino from 'pino';
import request from 'supertest';
import { createProviders, providerWebhooks } from '../../activities/channels/registry';
import type { ChannelProvider, OutgoingMessage, SubmitResult } from '../../activities/channels/types';
import { parseProvidersConfig } from '../../core/providers';
import { approvedSender, eventually, startStack, type TestStack } from '../support/harness';
import { gate, JsonPeer, type PeerReply, type PeerRequest } from '../support/json-peer';

const ACCESS_TOKEN = 'EAAGtestaccesstoken0123456789';
const APP_SECRET = 'meta-app-secret-5b1e';
const VERIFY_TOKEN = 'verify-me-42';
const PHONE_ID = '106540352242922';
const SECOND_PHONE_ID = '106540352249999';
const suffix = randomUUID().slice(0, 6);
const PROVIDER = `whatsapp-${suffix}`;

function randomPhone(): string {
  return `+7916${String(randomInt(10_000_000)).padStart(7, '0')}`;
}
function wamid(): string {
  return `wamid.HBgL${randomUUID().replace(/-/g, '')}`;
}
const signature = (body: string, secret = APP_SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
const graphError = (code: number, message: string, status = 400): PeerReply => ({
  status,
  body: { error: { message, type: 'OAuthException', code, fbtrace_id: 'AbCdEf' } },
});

/**
 * The Graph API: checks the route (version and phone number id), the bearer token and the
 * template message's shape as the Cloud API does (#100 for a bad parameter, #190 for a bad token),
 * and otherwise answers as the test's `behaviour` says (by default: accepted with a new wamid).
 */
const peer = new JsonPeer();
let behaviour: (body: Record<string, unknown>) => PeerReply | Promise<PeerReply> = accept();

function accept(id?: string): (body: Record<string, unknown>) => PeerReply {
  return (body) => ({ status: 200, body: { messaging_product: 'whatsapp', contacts: [{ input: body.to, wa_id: body.to }], messages: [{ id: id ?? wamid() }] } });
}

function requestProblems(req: PeerRequest): PeerReply | undefined {
  const route = /^\/v(\d+\.\d+)\/(\d+)\/messages$/.exec(req.url);
  if (req.method !== 'POST' || !route) return graphError(100, `Unsupported ${req.method} request ${req.url}`);
  if (route[1] !== '21.0' || ![PHONE_ID, SECOND_PHONE_ID].includes(route[2]!)) return graphError(100, `(#100) Unknown phone number id ${route[2]} on v${route[1]}`);
  if (req.headers.authorization !== `Bearer ${ACCESS_TOKEN}`) return graphError(190, 'Invalid OAuth access token - Cannot parse access token', 401);
  const body = JSON.parse(req.body);
  const problems: string[] = [];
  if (body.messaging_product !== 'whatsapp') problems.push('messaging_product must be whatsapp');
  if (typeof body.to !== 'string' || !/^\d{8,15}$/.test(body.to)) problems.push('to: a phone number');
  if (body.type !== 'template') problems.push('type: template expected');
  const template = body.template ?? {};
  if (typeof template.name !== 'string' || !/^[a-z0-9_]+$/.test(template.name)) problems.push('template.name');
  if (typeof template.language?.code !== 'string') problems.push('template.language.code');
  for (const component of template.components ?? []) {
    if (component.type === 'header') {
      const [media] = component.parameters ?? [];
      if (!['image', 'video', 'document'].includes(media?.type) || typeof media[media.type]?.link !== 'string') problems.push('header: a media parameter with a link');
    } else if (component.type === 'body') {
      for (const p of component.parameters ?? []) if (p.type !== 'text' || typeof p.text !== 'string') problems.push('body parameters: type text with text');
    } else problems.push(`unknown component ${component.type}`);
  }
  return problems.length > 0 ? graphError(100, `(#100) Invalid parameter: ${problems.join('; ')}`) : undefined;
}

peer.answer = (req) => requestProblems(req) ?? behaviour(JSON.parse(req.body));

const settings = {
  baseUrl: '',
  accessToken: ACCESS_TOKEN,
  phoneNumberId: PHONE_ID,
  phoneNumberIds: { 'ACME-2': SECOND_PHONE_ID },
  appSecret: APP_SECRET,
  verifyToken: VERIFY_TOKEN,
};

let stack: TestStack;
beforeAll(async () => {
  await peer.start();
  settings.baseUrl = peer.url;
  stack = await startStack({
    worker: true,
    env: { PROVIDERS: JSON.stringify([{ name: PROVIDER, type: 'whatsapp', channels: ['whatsapp'], timeoutMs: 5000, settings }]) },
  });
});
afterAll(async () => {
  await stack?.close();
  await peer.close();
});
beforeEach(() => {
  behaviour = accept();
});

function directProvider(options: { timeoutMs?: number } = {}): ChannelProvider {
  const configs = parseProvidersConfig(
    JSON.stringify([{ name: 'whatsapp-direct', type: 'whatsapp', channels: ['whatsapp'], timeoutMs: options.timeoutMs ?? 5000, settings }]),
    'test',
  );
  return createProviders({ configs, pool: stack.deps.pool, logger: pino({ level: 'silent' }), publicUrl: 'https://notify.example', sandboxLatencyMs: 100 }).registry
    .whatsapp as ChannelProvider;
}

function outgoing(overrides: Partial<OutgoingMessage> = {}, payload: Record<string, unknown> = {}): OutgoingMessage {
  return {
    messageId: randomUUID(),
    sendId: randomUUID(),
    channel: 'whatsapp',
    recipient: randomPhone(),
    sender: 'ACME',
    text: 'order_ready {}',
    payload: { templateName: 'order_ready', language: 'en_US', templateData: { '2': 'A-1', '1': 'Ann', order_id: 'A-1' }, mediaUrl: 'https://cdn.example/a1.png', ...payload },
    deliveryEndAt: new Date(Date.now() + 3600_000),
    ...overrides,
  };
}

async function submitOne(provider: ChannelProvider, message = outgoing()): Promise<SubmitResult> {
  const [result] = await provider.submit([message]);
  return result!;
}

describe('WhatsApp client against the Graph API peer', () => {
  it('posts the template with language, header media and body parameters, with the bearer token; accepted with the wamid', async () => {
    const id = wamid();
    behaviour = accept(id);
    const from = peer.requests.length;
    const message = outgoing();
    expect(await submitOne(directProvider(), message)).toEqual({
      messageId: message.messageId,
      outcome: 'accepted',
      providerMessageId: id,
      detail: `POST /v21.0/${PHONE_ID}/messages → 200 id=${id}`,
    });
    const [sent] = peer.since(from);
    expect(sent!.headers.authorization).toBe(`Bearer ${ACCESS_TOKEN}`);
    expect(JSON.parse(sent!.body)).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: message.recipient.slice(1),
      type: 'template',
      template: {
        name: 'order_ready',
        language: { code: 'en_US' },
        components: [
          { type: 'header', parameters: [{ type: 'image', image: { link: 'https://cdn.example/a1.png' } }] },
          {
            type: 'body',
            parameters: [
              { type: 'text', text: 'Ann' },
              { type: 'text', text: 'A-1' },
              { type: 'text', parameter_name: 'order_id', text: 'A-1' },
            ],
          },
        ],
      },
      biz_opaque_callback_data: message.sendId,
    });
  });

  it('tells the header media by the URL: video, document (with its file name); no media and no data → no components', async () => {
    const provider = directProvider();
    const from = peer.requests.length;
    await submitOne(provider, outgoing({}, { mediaUrl: 'https://cdn.example/clip.mp4?x=1' }));
    await submitOne(provider, outgoing({}, { mediaUrl: 'https://cdn.example/docs/Invoice%2042.pdf' }));
    await submitOne(provider, outgoing({}, { mediaUrl: undefined, templateData: {} }));
    const [video, document, bare] = peer.since(from).map((r) => JSON.parse(r.body).template);
    expect(video.components[0]).toEqual({ type: 'header', parameters: [{ type: 'video', video: { link: 'https://cdn.example/clip.mp4?x=1' } }] });
    expect(document.components[0]).toEqual({
      type: 'header',
      parameters: [{ type: 'document', document: { link: 'https://cdn.example/docs/Invoice%2042.pdf', filename: 'Invoice 42.pdf' } }],
    });
    expect(bare).toEqual({ name: 'order_ready', language: { code: 'en_US' } });
  });

  it("sends from the phone number id of the message's sender when phoneNumberIds names it", async () => {
    const from = peer.requests.length;
    expect(await submitOne(directProvider(), outgoing({ sender: 'ACME-2' }))).toMatchObject({ outcome: 'accepted' });
    expect(peer.since(from)[0]!.url).toBe(`/v21.0/${SECOND_PHONE_ID}/messages`);
  });

  it('rate limits (130429, 131056, 80007), 429 with Retry-After and 5xx are transient', async () => {
    const provider = directProvider();
    for (const code of [130429, 131056, 80007]) {
      behaviour = () => graphError(code, `(#${code}) Rate limit hit`);
      expect(await submitOne(provider)).toMatchObject({ outcome: 'transient', reason: `whatsapp ${code}: (#${code}) Rate limit hit` });
    }
    behaviour = () => ({ status: 429, headers: { 'Retry-After': '5' }, body: { error: { code: 4, message: 'Application request limit reached' } } });
    expect(await submitOne(provider)).toMatchObject({ outcome: 'transient', retryAfterMs: 5000 });
    behaviour = () => ({ status: 502, body: '<html>Bad gateway</html>' });
    expect(await submitOne(provider)).toMatchObject({ outcome: 'transient', reason: 'whatsapp <html>Bad gateway</html>' });
  });

  it('undeliverable (131026), template (132000, 132001), invalid parameter (100) and auth (190) errors are rejected with the message', async () => {
    const provider = directProvider();
    const cases: [number, string][] = [
      [131026, 'Message undeliverable'],
      [132000, 'Number of parameters does not match the expected number of params'],
      [132001, 'Template name does not exist in the translation'],
      [100, 'Invalid parameter'],
    ];
    for (const [code, message] of cases) {
      behaviour = () => ({ status: 400, body: { error: { message, code, error_data: { messaging_product: 'whatsapp', details: 'see docs' } } } });
      expect(await submitOne(provider)).toMatchObject({ outcome: 'rejected', reason: `whatsapp ${code}: ${message} (see docs)`, detail: `POST /v21.0/${PHONE_ID}/messages → 400` });
    }
    // A 190 that quotes the token: the token never reaches the event text.
    behaviour = () => graphError(190, `Error validating access token ${ACCESS_TOKEN}: session expired`, 401);
    expect(await submitOne(provider)).toMatchObject({ outcome: 'rejected', reason: 'whatsapp 190: Error validating access token ***: session expired' });
  });

  it('the peer checks the request: a template name it cannot take is refused (#100) and ends rejected', async () => {
    expect(await submitOne(directProvider(), outgoing({}, { templateName: 'Bad Name' }))).toMatchObject({ outcome: 'rejected', reason: expect.stringContaining('template.name') });
  });

  it('no answer within the timeout is transient', async () => {
    behaviour = () => 'hang';
    const started = Date.now();
    expect(await submitOne(directProvider({ timeoutMs: 300 }))).toMatchObject({ outcome: 'transient', reason: expect.stringContaining('no answer') });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('a send id accepted once is answered from memory when resubmitted, not sent twice (the Cloud API has no idempotency key)', async () => {
    const provider = directProvider();
    const message = outgoing();
    const from = peer.requests.length;
    const first = await submitOne(provider, message);
    const again = await submitOne(provider, message);
    expect(again).toMatchObject({ outcome: 'accepted', providerMessageId: (first as { providerMessageId: string }).providerMessageId });
    expect(peer.since(from)).toHaveLength(1);
  });
});

function statusWebhook(statuses: Record<string, unknown>[]): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { display_phone_number: '15550783881', phone_number_id: PHONE_ID }, statuses } }],
      },
    ],
  });
}
const status = (id: string, name: string, timestamp: number, extra: Record<string, unknown> = {}) => ({ id, status: name, timestamp: String(timestamp), recipient_id: '79161234567', ...extra });

describe('WhatsApp webhooks', () => {
  const handler = () => providerWebhooks(stack.config.providers, stack.config.webhookSecret).get(PROVIDER)!.handle;

  it('maps sent → PENDING, delivered → DELIVERED, read → READ, failed → UNDELIVERED with the error title, in the order they happened', async () => {
    const body = statusWebhook([
      status('wamid.A', 'read', 1700000003),
      status('wamid.A', 'delivered', 1700000002),
      status('wamid.A', 'sent', 1700000001),
      status('wamid.B', 'failed', 1700000001, { errors: [{ code: 131026, title: 'Message undeliverable' }] }),
      status('wamid.C', 'read', 1700000005),
      status('wamid.C', 'delivered', 1700000005),
      status('wamid.D', 'deleted', 1700000001),
    ]);
    const answer = await handler()({ method: 'POST', channel: 'whatsapp', headers: { 'x-hub-signature-256': signature(body) }, query: {}, rawBody: Buffer.from(body) });
    expect(answer.receipts).toEqual([
      { providerMessageId: 'wamid.A', status: 'PENDING', description: 'whatsapp: sent' },
      { providerMessageId: 'wamid.B', status: 'UNDELIVERED', description: 'whatsapp: failed (131026: Message undeliverable)' },
      { providerMessageId: 'wamid.A', status: 'DELIVERED', description: 'whatsapp: delivered' },
      { providerMessageId: 'wamid.A', status: 'READ', description: 'whatsapp: read' },
      { providerMessageId: 'wamid.C', status: 'DELIVERED', description: 'whatsapp: delivered' },
      { providerMessageId: 'wamid.C', status: 'READ', description: 'whatsapp: read' },
    ]);
  });

  it('answers the subscription handshake with hub.challenge as text when the verify token matches, 403 otherwise', async () => {
    const path = `/webhooks/whatsapp/${PROVIDER}`;
    const ok = await request(stack.app).get(path).query({ 'hub.mode': 'subscribe', 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': '1158201444' }).expect(200);
    expect(ok.text).toBe('1158201444');
    expect(ok.headers['content-type']).toMatch(/^text\/plain/);
    await request(stack.app).get(path).query({ 'hub.mode': 'subscribe', 'hub.verify_token': 'wrong', 'hub.challenge': '1158201444' }).expect(403);
    await request(stack.app).get(path).query({ 'hub.mode': 'unsubscribe', 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': '1158201444' }).expect(403);
  });

  it('through the API: a bad or missing X-Hub-Signature-256 is 401, a body without entry 400, an unknown wamid is kept (200)', async () => {
    const path = `/webhooks/whatsapp/${PROVIDER}`;
    const post = (raw: string, sig?: string) => {
      const req = request(stack.app).post(path).set('Content-Type', 'application/json');
      if (sig !== undefined) req.set('X-Hub-Signature-256', sig);
      return req.send(raw);
    };
    const body = statusWebhook([status(wamid(), 'delivered', 1700000001)]);
    await post(body).expect(401);
    await post(body, signature(body, 'another-secret')).expect(401);
    await post(body, signature(body).replace('sha256=', '')).expect(401);
    await post('{"object":"page"}', signature('{"object":"page"}')).expect(400);
    expect((await post(body, signature(body)).expect(200)).body).toEqual({ applied: 0, unknown: 1 });
  });
});

describe('WhatsApp end to end: API → worker → Graph peer → status webhooks', () => {
  let templateId: string;
  beforeAll(async () => {
    const sender = await approvedSender(stack, 'whatsapp');
    const res = await stack
      .admin()
      .post('/api/v1/templates')
      .send({
        name: `WhatsApp order ${suffix}`,
        channels: [
          {
            channel: 'whatsapp',
            sender,
            templateName: 'order_ready',
            language: 'en_US',
            templateData: { '1': '{name}', order_id: '{order}' },
            mediaUrl: 'https://cdn.example/orders/{order}.jpg',
            lifetimeMinutes: 10,
          },
        ],
      });
    expect(res.status).toBe(201);
    templateId = res.body.id;
  });

  async function send(phone: string): Promise<string> {
    const res = await stack.admin().post('/api/v1/notifications').send({ templateId, variables: { order: 'B-9' }, recipients: [{ phone, variables: { name: 'Bo' } }] }).expect(202);
    return res.body.messages[0].id;
  }
  const message = async (id: string) => (await stack.admin().get(`/api/v1/messages/${id}`).expect(200)).body;
  const postStatuses = (statuses: Record<string, unknown>[]) => {
    const body = statusWebhook(statuses);
    return request(stack.app).post(`/webhooks/whatsapp/${PROVIDER}`).set('Content-Type', 'application/json').set('X-Hub-Signature-256', signature(body)).send(body);
  };
  const statuses = (m: { events: { status: string }[] }) => m.events.map((e) => e.status);

  it('sent, delivered, read: the message ends READ with each step in its events', async () => {
    const phone = randomPhone();
    const id = wamid();
    behaviour = accept(id);
    const from = peer.requests.length;
    const messageId = await send(phone);
    const sent = await eventually(() => message(messageId), (m) => m.status === 'SENT');
    expect(sent.providerMessageId).toBe(id);
    const body = JSON.parse(peer.since(from).find((r) => JSON.parse(r.body).to === phone.slice(1))!.body);
    expect(body.template).toEqual({
      name: 'order_ready',
      language: { code: 'en_US' },
      components: [
        { type: 'header', parameters: [{ type: 'image', image: { link: 'https://cdn.example/orders/B-9.jpg' } }] },
        { type: 'body', parameters: [{ type: 'text', text: 'Bo' }, { type: 'text', parameter_name: 'order_id', text: 'B-9' }] },
      ],
    });
    expect(body.biz_opaque_callback_data).toBe(sent.sendId);

    const t = Math.floor(Date.now() / 1000);
    expect((await postStatuses([status(id, 'sent', t), status(id, 'delivered', t + 1)]).expect(200)).body).toEqual({ applied: 2, unknown: 0 });
    expect((await message(messageId)).status).toBe('DELIVERED');
    await postStatuses([status(id, 'read', t + 2)]).expect(200);
    const read = await message(messageId);
    expect(read.status).toBe('READ');
    expect(statuses(read)).toEqual(['CREATED', 'QUEUED', 'SENT', 'PENDING', 'DELIVERED', 'READ']);
    expect(read.events.at(-1)).toMatchObject({ status: 'READ', description: 'whatsapp: read', source: `webhook:${PROVIDER}` });
  });

  it('read before delivered, in separate callbacks: READ stays', async () => {
    const id = wamid();
    behaviour = accept(id);
    const messageId = await send(randomPhone());
    await eventually(() => message(messageId), (m) => m.status === 'SENT');
    const t = Math.floor(Date.now() / 1000);
    await postStatuses([status(id, 'read', t + 2)]).expect(200);
    await postStatuses([status(id, 'delivered', t + 1)]).expect(200);
    const m = await message(messageId);
    expect(m.status).toBe('READ');
    expect(m.events.at(-1)).toMatchObject({ status: 'DELIVERED', description: expect.stringContaining('not applied: status was READ') });
  });

  it('failed → UNDELIVERED with the error title', async () => {
    const id = wamid();
    behaviour = accept(id);
    const messageId = await send(randomPhone());
    await eventually(() => message(messageId), (m) => m.status === 'SENT');
    await postStatuses([status(id, 'failed', Math.floor(Date.now() / 1000), { errors: [{ code: 131049, title: 'This message was not delivered to maintain healthy ecosystem engagement.' }] })]).expect(200);
    const m = await message(messageId);
    expect(m.status).toBe('UNDELIVERED');
    expect(m.statusDescription).toBe('whatsapp: failed (131049: This message was not delivered to maintain healthy ecosystem engagement.)');
  });

  it('statuses that overtake the send answer are kept and applied when the answer is recorded', async () => {
    const id = wamid();
    const held = gate();
    let reached!: () => void;
    const arrived = new Promise<void>((resolve) => (reached = resolve));
    behaviour = async (body) => {
      reached();
      await held.opened;
      return accept(id)(body);
    };
    const messageId = await send(randomPhone());
    await arrived;
    const t = Math.floor(Date.now() / 1000);
    // Out of order as well: read listed before delivered.
    expect((await postStatuses([status(id, 'read', t + 2), status(id, 'delivered', t + 1)]).expect(200)).body).toEqual({ applied: 0, unknown: 2 });
    expect((await message(messageId)).status).toBe('QUEUED');
    held.open();
    const m = await eventually(() => message(messageId), (x) => x.status === 'READ');
    expect(m.providerMessageId).toBe(id);
    expect(statuses(m)).toEqual(['CREATED', 'QUEUED', 'SENT', 'DELIVERED', 'READ']);
  });

  it('a template error (132001) ends ERROR with the Graph message', async () => {
    behaviour = () => graphError(132001, 'Template name does not exist in the translation');
    const messageId = await send(randomPhone());
    const m = await eventually(() => message(messageId), (x) => x.status === 'ERROR');
    expect(m.statusDescription).toBe(`whatsapp 132001: Template name does not exist in the translation (POST /v21.0/${PHONE_ID}/messages → 400)`);
  });
});
