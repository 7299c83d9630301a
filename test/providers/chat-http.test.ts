import type { ServerResponse } from 'node:http';
import { checkProviders } from '../../activities/channels/registry';
import type { ChannelProvider } from '../../activities/channels/types';
import { parseProvidersConfig } from '../../core/providers';
import { eventually, postWebhook, startStack, type TestStack } from '../support/harness';
import { configuredProvider, HttpPeer, outgoing, reply, type PeerRequest } from '../support/http-peer';

const BEARER = 'chat-platform-bearer-42';
const API_KEY = 'chat-platform-key-77';
const TG_TOKEN = '330401765:CCJfsVexEJ3xIYLzhUgqhUCu2M7RCNFucy';

/** The chat platform: POST /v1/messages, `Authorization: Bearer` or `X-Api-Key`, JSON
 * {chatId, botId, messenger, text, sendId} with `Idempotency-Key: <sendId>`; answers {id}. */
let platform: HttpPeer;
const byChat = new Map<string, (res: ServerResponse) => void>();
let issued = 0;
function chatApi(req: PeerRequest, res: ServerResponse) {
  if (req.method !== 'POST' || req.url !== '/v1/messages') return reply(res, 404, { error: 'not found' });
  if (req.headers.authorization !== `Bearer ${BEARER}` && req.headers['x-api-key'] !== API_KEY) return reply(res, 401, { error: 'unauthenticated' });
  const b = req.json;
  const keys = Object.keys(b ?? {}).sort().join(',');
  if (keys !== 'botId,chatId,messenger,sendId,text' || req.headers['idempotency-key'] !== b.sendId) return reply(res, 422, { error: `bad request: ${keys}` });
  const special = byChat.get(b.chatId);
  if (special) return special(res);
  reply(res, 201, { id: `cm-${++issued}` });
}
/** Telegram, for the telegram bot's chats in the same stack. */
let telegram: HttpPeer;

let stack: TestStack;
const entry = (settings: Record<string, unknown> = {}, common: Record<string, unknown> = {}) => ({
  name: 'chat-direct',
  type: 'chat-http',
  channels: ['chat'],
  timeoutMs: 5000,
  ...common,
  settings: { url: `${platform.url}/v1/messages`, bearerToken: BEARER, ...settings },
});
const chat = (recipient: string, messenger = 'viber', fields: Record<string, unknown> = {}) =>
  outgoing('chat', { recipient, sender: 'acme_bot', text: 'Hi there', payload: { chatId: 'welcome', botId: 'acme_bot', messenger }, ...fields });

beforeAll(async () => {
  platform = await HttpPeer.start(chatApi);
  telegram = await HttpPeer.start((req, res) => {
    if (req.url !== `/bot${TG_TOKEN}/sendMessage`) return reply(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    reply(res, 200, { ok: true, result: { message_id: 7, chat: { id: Number(req.json.chat_id) } } });
  });
  stack = await startStack({
    worker: true,
    env: {
      PROVIDERS: JSON.stringify([
        { name: 'chatapi', type: 'chat-http', channels: ['chat'], default: true, settings: { url: `${platform.url}/v1/messages`, apiKey: API_KEY } },
        { name: 'tg', type: 'telegram', channels: ['chat'], senders: ['acme_tg_bot'], settings: { baseUrl: telegram.url, botToken: TG_TOKEN } },
      ]),
    },
  });
});
afterAll(async () => {
  await stack.close();
  await platform.close();
  await telegram.close();
});
beforeEach(() => byChat.clear());

describe('chat-http client against the chat platform', () => {
  let provider: ChannelProvider;
  beforeAll(() => {
    provider = configuredProvider(stack.deps.pool, entry(), 'chat');
  });

  it('POSTs {chatId: recipient, botId, messenger, text, sendId} with the bearer and the sendId as Idempotency-Key; {id} → accepted', async () => {
    const before = platform.requests.length;
    const m = chat('viber-user-1');
    const [result] = await provider.submit([m]);
    expect(result).toEqual({ messageId: m.messageId, outcome: 'accepted', providerMessageId: `cm-${issued}`, detail: `POST /v1/messages → 201 id=cm-${issued}` });
    const [got] = platform.requests.slice(before);
    expect(got!.headers.authorization).toBe(`Bearer ${BEARER}`);
    expect(got!.headers['idempotency-key']).toBe(m.sendId);
    expect(got!.json).toEqual({ chatId: 'viber-user-1', botId: 'acme_bot', messenger: 'viber', text: 'Hi there', sendId: m.sendId });
  });

  it('an API key in a header of its choice instead of a bearer', async () => {
    const keyed = configuredProvider(stack.deps.pool, entry({ bearerToken: undefined, apiKey: API_KEY, apiKeyHeader: 'X-Api-Key' }), 'chat');
    const before = platform.requests.length;
    const [result] = await keyed.submit([chat('viber-user-2')]);
    expect(result!.outcome).toBe('accepted');
    expect(platform.requests.slice(before)[0]!.headers.authorization).toBeUndefined();
    const wrong = configuredProvider(stack.deps.pool, entry({ bearerToken: 'not-the-bearer' }), 'chat');
    expect((await wrong.submit([chat('viber-user-3')]))[0]).toMatchObject({ outcome: 'rejected', reason: 'chat-direct: 401 {"error":"unauthenticated"}' });
  });

  it('no id in the answer: accepted under the sendId; 4xx permanent; 429 and 5xx retried with Retry-After; no answer: transient', async () => {
    byChat.set('c-noid', (res) => reply(res, 202, {}));
    byChat.set('c-404', (res) => reply(res, 404, { error: 'chat not found' }));
    byChat.set('c-429', (res) => reply(res, 429, { error: 'slow down' }, { 'Retry-After': '2' }));
    byChat.set('c-503', (res) => reply(res, 503, { error: 'down' }));
    byChat.set('c-silent', () => undefined);
    const batch = ['c-noid', 'c-404', 'c-429', 'c-503'].map((id) => chat(id));
    const results = await provider.submit(batch);
    expect(results.map(({ messageId: _, ...r }) => r)).toEqual([
      { outcome: 'accepted', providerMessageId: batch[0]!.sendId, detail: `POST /v1/messages → 202 without id: receipts go by sendId ${batch[0]!.sendId}` },
      { outcome: 'rejected', reason: 'chat-direct: 404 {"error":"chat not found"}', detail: 'POST /v1/messages → 404 {"error":"chat not found"}' },
      { outcome: 'transient', reason: 'chat-direct: 429 {"error":"slow down"}', retryAfterMs: 2000, detail: expect.any(String) },
      { outcome: 'transient', reason: 'chat-direct: 503 {"error":"down"}', detail: expect.any(String) },
    ]);
    const impatient = configuredProvider(stack.deps.pool, entry({}, { timeoutMs: 600 }), 'chat');
    const started = Date.now();
    const [silent] = await impatient.submit([chat('c-silent')]);
    expect(Date.now() - started).toBeLessThan(2500);
    expect(silent).toMatchObject({ outcome: 'transient', reason: 'chat-direct: no answer in time (request aborted)', detail: 'POST /v1/messages → no answer' });
  });

  it('settings: bearerToken and apiKey together are refused at start, naming the setting', () => {
    const configs = parseProvidersConfig(JSON.stringify([entry({ apiKey: API_KEY })]), 'test');
    expect(() => checkProviders(configs)).toThrow('provider "chat-direct" (providers[0]).settings.apiKey: set bearerToken or apiKey, not both');
  });
});

describe('chats through the stack: routed by bot, receipts through the generic webhook', () => {
  async function chatTemplate(botId: string, messenger: string) {
    await stack.admin().post('/api/v1/channels/chat/enable').expect(200);
    const res = await stack
      .admin()
      .post('/api/v1/templates')
      .send({ name: `chat ${botId} ${Date.now()}`, channels: [{ channel: 'chat', chatId: 'welcome', botId, messenger, text: 'Hello {name}', lifetimeMinutes: 5 }] })
      .expect(201);
    return res.body.id as string;
  }
  const message = async (id: string) => (await stack.admin().get(`/api/v1/messages/${id}`).expect(200)).body;
  const send = async (templateId: string, chatId: string) =>
    (await stack.admin().post('/api/v1/notifications').send({ templateId, variables: { name: 'Ann' }, recipients: [{ externalId: chatId }] }).expect(202)).body.messages[0].id as string;

  it('a viber chat goes to the platform, then DELIVERED and READ from signed generic receipts (READ first, out of order)', async () => {
    const id = await send(await chatTemplate('acme_viber_bot', 'viber'), 'viber-e2e-1');
    const sent = await eventually(() => message(id), (m) => m.status === 'SENT');
    expect(sent.provider).toBe('chatapi');
    const got = platform.requests.find((r) => r.json?.chatId === 'viber-e2e-1')!;
    expect(got.headers['x-api-key']).toBe(API_KEY);
    expect(got.json).toMatchObject({ botId: 'acme_viber_bot', messenger: 'viber', text: 'Hello Ann' });

    const read = JSON.stringify({ receipts: [{ providerMessageId: sent.providerMessageId, status: 'READ', description: 'seen' }] });
    await postWebhook(stack, '/webhooks/chat/chatapi', read, 'sha256=bad').expect(401);
    expect((await postWebhook(stack, '/webhooks/chat/chatapi', read).expect(200)).body).toEqual({ applied: 1, unknown: 0 });
    const delivered = JSON.stringify({ receipts: [{ providerMessageId: sent.providerMessageId, status: 'DELIVERED' }] });
    await postWebhook(stack, '/webhooks/chat/chatapi', delivered).expect(200);
    const done = await message(id);
    expect(done.status).toBe('READ');
    expect(done.events.map((e: { status: string }) => e.status)).toEqual(['CREATED', 'QUEUED', 'SENT', 'READ', 'DELIVERED']);
  });

  it("the telegram bot's chats go to Telegram (its sender), the others to the platform", async () => {
    const tgId = await send(await chatTemplate('acme_tg_bot', 'telegram'), '31337');
    const otherId = await send(await chatTemplate('acme_other_bot', 'skype'), 'skype-e2e-1');
    const tg = await eventually(() => message(tgId), (m) => m.status === 'DELIVERED');
    const other = await eventually(() => message(otherId), (m) => m.status === 'SENT');
    expect(tg).toMatchObject({ provider: 'tg', providerMessageId: '31337:7' });
    expect(other.provider).toBe('chatapi');
    expect(telegram.requests.map((r) => r.json.chat_id)).toEqual(['31337']);
    expect(platform.requests.filter((r) => r.json?.chatId === '31337')).toEqual([]);
  });
});
