import type { ServerResponse } from 'node:http';
import type { ChannelProvider } from '../../activities/channels/types';
import { eventually, startStack, type TestStack } from '../support/harness';
import { closedPortUrl, configuredProvider, HttpPeer, outgoing, reply, type PeerRequest } from '../support/http-peer';

const TOKEN = '110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';
const SUPPORT_TOKEN = '220301654:BBIerUdwDI2wHXKygTfpgTBt1L6QBMEtbx';

/** The Bot API: POST /bot<token>/sendMessage with {chat_id, text[, parse_mode]}. */
let peer: HttpPeer;
const byChat = new Map<string, (res: ServerResponse) => void>();
let nextMessageId = 100;
function botApi(req: PeerRequest, res: ServerResponse) {
  const match = /^\/bot([^/]+)\/sendMessage$/.exec(req.url);
  if (req.method !== 'POST' || !match) return reply(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
  if (![TOKEN, SUPPORT_TOKEN].includes(decodeURIComponent(match[1]!))) return reply(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
  const b = req.json;
  const keys = Object.keys(b ?? {}).sort().join(',');
  if (!['chat_id,text', 'chat_id,parse_mode,text'].includes(keys) || typeof b.text !== 'string' || b.text === '') {
    return reply(res, 400, { ok: false, error_code: 400, description: `Bad Request: unexpected fields ${keys}` });
  }
  const special = byChat.get(String(b.chat_id));
  if (special) return special(res);
  reply(res, 200, { ok: true, result: { message_id: ++nextMessageId, chat: { id: Number(b.chat_id), type: 'private' }, date: Math.floor(Date.now() / 1000), text: b.text } });
}

let stack: TestStack;
const entry = (settings: Record<string, unknown> = {}, common: Record<string, unknown> = {}) => ({
  name: 'tg-direct',
  type: 'telegram',
  channels: ['chat'],
  timeoutMs: 5000,
  ...common,
  settings: { baseUrl: peer.url, botToken: TOKEN, acceptedIsDelivered: false, ...settings },
});
const chat = (recipient: string, fields: Record<string, unknown> = {}) =>
  outgoing('chat', { recipient, sender: 'acme_bot', text: 'Hello from ACME', payload: { chatId: 'support', botId: 'acme_bot', messenger: 'telegram' }, ...fields });

beforeAll(async () => {
  peer = await HttpPeer.start(botApi);
  stack = await startStack({
    worker: true,
    env: { PROVIDERS: JSON.stringify([{ name: 'tg', type: 'telegram', channels: ['chat'], timeoutMs: 8000, settings: { baseUrl: peer.url, botToken: TOKEN } }]) },
  });
});
afterAll(async () => {
  await stack.close();
  await peer.close();
});
beforeEach(() => byChat.clear());

describe('telegram client against the Bot API', () => {
  let provider: ChannelProvider;
  beforeAll(() => {
    provider = configuredProvider(stack.deps.pool, entry(), 'chat');
  });

  it('sendMessage with chat_id = recipient; ok → accepted as <chat_id>:<message_id>, the token shown as <token>', async () => {
    const before = peer.requests.length;
    const m = chat('123456789');
    const [result] = await provider.submit([m]);
    const sent = peer.requests.slice(before);
    expect(sent.map((r) => r.url)).toEqual([`/bot${TOKEN}/sendMessage`]);
    expect(sent[0]!.json).toEqual({ chat_id: '123456789', text: 'Hello from ACME' });
    expect(result).toEqual({ messageId: m.messageId, outcome: 'accepted', providerMessageId: `123456789:${nextMessageId}`, detail: `POST ${peer.url}/bot<token>/sendMessage → 200 message_id=${nextMessageId}` });
  });

  it('parse_mode when configured; several bots by botId through botTokens', async () => {
    const several = configuredProvider(stack.deps.pool, entry({ botToken: undefined, botTokens: { acme_bot: TOKEN, support_bot: SUPPORT_TOKEN }, parseMode: 'HTML' }), 'chat');
    const before = peer.requests.length;
    const results = await several.submit([
      chat('1001', { text: '<b>Hi</b>' }),
      chat('1002', { sender: 'support_bot', payload: { chatId: 'x', botId: 'support_bot', messenger: 'telegram' } }),
      chat('1003', { sender: 'unknown_bot', payload: { chatId: 'x', botId: 'unknown_bot', messenger: 'telegram' } }),
    ]);
    const sent = peer.requests.slice(before).sort((a, b) => a.json.chat_id.localeCompare(b.json.chat_id));
    expect(sent.map((r) => [r.url, r.json])).toEqual([
      [`/bot${TOKEN}/sendMessage`, { chat_id: '1001', text: '<b>Hi</b>', parse_mode: 'HTML' }],
      [`/bot${SUPPORT_TOKEN}/sendMessage`, { chat_id: '1002', text: 'Hello from ACME', parse_mode: 'HTML' }],
    ]);
    expect(results.map((r) => r.outcome)).toEqual(['accepted', 'accepted', 'rejected']);
    expect(results[2]).toMatchObject({ reason: 'tg-direct: no token for bot unknown_bot in botTokens' });
  });

  it('a chat of another messenger is refused without reaching Telegram', async () => {
    const before = peer.requests.length;
    const [result] = await provider.submit([chat('555', { payload: { chatId: 'x', botId: 'acme_bot', messenger: 'viber' } })]);
    expect(result).toMatchObject({ outcome: 'rejected', reason: 'tg-direct: a viber chat, not a telegram one: route its bot to a provider for viber' });
    expect(peer.requests.length).toBe(before);
  });

  it('chat not found (400) and blocked by the user (403) are permanent; 429 retry_after and 5xx are retried', async () => {
    byChat.set('404404', (res) => reply(res, 400, { ok: false, error_code: 400, description: 'Bad Request: chat not found' }));
    byChat.set('403403', (res) => reply(res, 403, { ok: false, error_code: 403, description: 'Forbidden: bot was blocked by the user' }));
    byChat.set('429429', (res) => reply(res, 429, { ok: false, error_code: 429, description: 'Too Many Requests: retry after 5', parameters: { retry_after: 5 } }));
    byChat.set('502502', (res) => {
      res.writeHead(502, { 'Content-Type': 'text/html' });
      res.end('<html><body>502 Bad Gateway</body></html>');
    });
    const results = await provider.submit(['404404', '403403', '429429', '502502'].map((id) => chat(id)));
    const shown = `POST ${peer.url}/bot<token>/sendMessage`;
    expect(results.map(({ messageId: _, ...r }) => r)).toEqual([
      { outcome: 'rejected', reason: 'tg-direct: 400 Bad Request: chat not found', detail: `${shown} → 400 Bad Request: chat not found` },
      { outcome: 'rejected', reason: 'tg-direct: 403 Forbidden: bot was blocked by the user', detail: `${shown} → 403 Forbidden: bot was blocked by the user` },
      { outcome: 'transient', reason: 'tg-direct: 429 Too Many Requests: retry after 5', retryAfterMs: 5000, detail: `${shown} → 429 Too Many Requests: retry after 5` },
      { outcome: 'transient', reason: 'tg-direct: 502 <html><body>502 Bad Gateway</body></html>', detail: expect.any(String) },
    ]);
  });

  it('a wrong token (401) is refused and no line carries the token', async () => {
    const wrong = configuredProvider(stack.deps.pool, entry({ botToken: '999:WRONGwrongWRONGwrong' }), 'chat');
    const [result] = await wrong.submit([chat('777')]);
    expect(result).toMatchObject({ outcome: 'rejected', reason: 'tg-direct: 401 Unauthorized', detail: `POST ${peer.url}/bot<token>/sendMessage → 401 Unauthorized` });
    expect(JSON.stringify(result)).not.toContain('WRONGwrong');
  });

  it('Telegram never answers: transient within timeoutMs; down: transient; the token in neither', async () => {
    byChat.set('888', () => undefined);
    const impatient = configuredProvider(stack.deps.pool, entry({}, { timeoutMs: 600 }), 'chat');
    const started = Date.now();
    const [held] = await impatient.submit([chat('888')]);
    expect(Date.now() - started).toBeLessThan(2500);
    expect(held).toMatchObject({ outcome: 'transient', reason: 'tg-direct: no answer in time (request aborted)' });
    const down = configuredProvider(stack.deps.pool, entry({ baseUrl: await closedPortUrl() }), 'chat');
    const [refused] = await down.submit([chat('889')]);
    expect(refused).toMatchObject({ outcome: 'transient', reason: 'tg-direct: request failed (ECONNREFUSED)' });
    expect(JSON.stringify([held, refused])).not.toContain(TOKEN);
  });
});

describe('telegram chats through the stack', () => {
  async function chatTemplate(messenger: string) {
    await stack.admin().post('/api/v1/channels/chat/enable').expect(200);
    const res = await stack
      .admin()
      .post('/api/v1/templates')
      .send({ name: `tg ${messenger} ${Date.now()}`, channels: [{ channel: 'chat', chatId: 'welcome', botId: 'acme_bot', messenger, text: 'Hi {name}!', lifetimeMinutes: 5 }] })
      .expect(201);
    return res.body.id as string;
  }
  const message = async (id: string) => (await stack.admin().get(`/api/v1/messages/${id}`).expect(200)).body;

  it('API send → sendMessage → SENT → DELIVERED (the Bot API has no receipts: ok means in the chat); no event carries the token', async () => {
    const templateId = await chatTemplate('telegram');
    const sent = await stack.admin().post('/api/v1/notifications').send({ templateId, variables: { name: 'Ann' }, recipients: [{ externalId: '424242' }] }).expect(202);
    const id = sent.body.messages[0].id;
    const done = await eventually(() => message(id), (m) => m.status === 'DELIVERED');
    expect(done.provider).toBe('tg');
    expect(done.providerMessageId).toMatch(/^424242:\d+$/);
    expect(done.events.map((e: { status: string }) => e.status)).toEqual(['CREATED', 'QUEUED', 'SENT', 'DELIVERED']);
    expect(done.events.find((e: { status: string }) => e.status === 'SENT').description).toMatch(new RegExp(`^POST ${peer.url}/bot<token>/sendMessage → 200 message_id=\\d+$`));
    expect(JSON.stringify(done)).not.toContain(TOKEN);
    const got = peer.requests.find((r) => r.json?.chat_id === '424242')!;
    expect(got.json.text).toBe('Hi Ann!');
  });

  it('a chat blocked the bot: ERROR with the reason', async () => {
    byChat.set('500500', (res) => reply(res, 403, { ok: false, error_code: 403, description: 'Forbidden: bot was blocked by the user' }));
    const templateId = await chatTemplate('telegram');
    const sent = await stack.admin().post('/api/v1/notifications').send({ templateId, variables: { name: 'Bo' }, recipients: [{ externalId: '500500' }] }).expect(202);
    const done = await eventually(() => message(sent.body.messages[0].id), (m) => m.status === 'ERROR');
    expect(done.events.at(-1).description).toContain('tg: 403 Forbidden: bot was blocked by the user');
  });

  it('a viber chat routed to the telegram provider (routing is by bot id) is refused, not sent to Telegram', async () => {
    const templateId = await chatTemplate('viber');
    const before = peer.requests.length;
    const sent = await stack.admin().post('/api/v1/notifications').send({ templateId, variables: { name: 'Cy' }, recipients: [{ externalId: '600600' }] }).expect(202);
    const done = await eventually(() => message(sent.body.messages[0].id), (m) => m.status === 'ERROR');
    expect(done.events.at(-1).description).toBe('tg: a viber chat, not a telegram one: route its bot to a provider for viber');
    expect(peer.requests.slice(before).filter((r) => r.json?.chat_id === '600600')).toEqual([]);
  });
});
