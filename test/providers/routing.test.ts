import request from 'supertest';
import { approvedSender, eventually, startStack, type TestStack } from '../support/harness';

/** Two providers on SMS (sandbox-typed, so the carrier is simulated): one for the sender "Bank",
 * the other the channel's default, each with its own route price. */
const PROVIDERS = [
  { name: 'main-route', type: 'sandbox', channels: ['sms'], default: true, prices: { sms: { default: 0.01 } }, settings: { latencyMs: 50 } },
  { name: 'bank-route', type: 'sandbox', channels: ['sms'], senders: ['Bank'], prices: { sms: { default: 0.07 } }, settings: { latencyMs: 50 } },
  { name: 'tg-route', type: 'sandbox', channels: ['chat'], messengers: ['telegram'], settings: { latencyMs: 50 } },
];

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: true, env: { PROVIDERS: JSON.stringify(PROVIDERS) } });
});
afterAll(async () => {
  await stack.close();
});

async function sendFrom(sender: string): Promise<string> {
  const template = await stack
    .admin()
    .post('/api/v1/templates')
    .send({ name: `route ${sender} ${Date.now()}`, channels: [{ channel: 'sms', sender, text: 'Your code is 1234', lifetimeMinutes: 1 }] })
    .expect(201);
  const sent = await stack.admin().post('/api/v1/notifications').send({ templateId: template.body.id, recipients: [{ phone: '+79990000007' }] }).expect(202);
  return sent.body.messages[0].id;
}

describe('routing between configured providers', () => {
  it("sends each sender's messages through its provider, at that route's price, and counts them on /metrics", async () => {
    await approvedSender(stack, 'sms', 'Bank');
    const shop = await approvedSender(stack, 'sms');
    const [bankMessage, shopMessage] = [await sendFrom('Bank'), await sendFrom(shop)];
    const delivered = async (id: string) =>
      eventually(
        async () => (await stack.admin().get(`/api/v1/messages/${id}`).expect(200)).body,
        (m) => m.status === 'DELIVERED',
      );
    const bank = await delivered(bankMessage);
    const other = await delivered(shopMessage);
    expect([bank.provider, bank.cost]).toEqual(['bank-route', 0.07]);
    expect([other.provider, other.cost]).toEqual(['main-route', 0.01]);
    const metrics = (await request(stack.app).get('/metrics').expect(200)).text;
    expect(metrics).toMatch(/provider_messages_total\{provider="bank-route",channel="sms",outcome="accepted"\} [1-9]/);
    expect(metrics).toMatch(/provider_messages_total\{provider="main-route",channel="sms",outcome="accepted"\} [1-9]/);
    expect(metrics).toMatch(/provider_request_seconds_count\{provider="bank-route",channel="sms"\} [1-9]/);
  });

  it('sends a chat through the provider of its messenger; a chat in a messenger no provider serves ends ERROR and falls back', async () => {
    await stack.admin().post('/api/v1/channels/chat/enable').expect(200);
    const sms = await approvedSender(stack, 'sms');
    const chatTemplate = async (messenger: string) =>
      (
        await stack
          .admin()
          .post('/api/v1/templates')
          .send({
            name: `chat ${messenger} ${Date.now()}`,
            channels: [
              { channel: 'chat', messenger, chatId: '424242', botId: 'acme_bot', text: 'Hello!', lifetimeMinutes: 1 },
              { channel: 'sms', sender: sms, text: 'Hello!', lifetimeMinutes: 1 },
            ],
          })
          .expect(201)
      ).body.id;
    const sendTo = async (templateId: string) =>
      (await stack.admin().post('/api/v1/notifications').send({ templateId, recipients: [{ phone: '+79990000007' }] }).expect(202)).body.messages as { id: string; channel: string }[];
    const final = (id: string, statuses = ['DELIVERED', 'SKIPPED', 'CANCELED']) =>
      eventually(
        async () => (await stack.admin().get(`/api/v1/messages/${id}`).expect(200)).body,
        (m) => statuses.includes(m.status),
      );
    const [telegramChat, telegramSms] = await sendTo(await chatTemplate('telegram'));
    expect(await final(telegramChat!.id)).toMatchObject({ status: 'DELIVERED', provider: 'tg-route' });
    expect((await final(telegramSms!.id)).status).toBe('CANCELED');
    const [slackChat, slackSms] = await sendTo(await chatTemplate('slack'));
    const refused = await final(slackChat!.id);
    expect([refused.status, refused.statusDescription]).toEqual(['SKIPPED', 'Skipped, but optional: no provider configured for chat in slack']);
    expect(refused.events.map((e: { status: string }) => e.status)).toContain('ERROR');
    expect(await final(slackSms!.id)).toMatchObject({ status: 'DELIVERED', provider: 'main-route' });
  });

  it('refuses to start with a provider setting it does not know, naming it', async () => {
    await expect(startStack({ env: { PROVIDERS: JSON.stringify([{ name: 'x', type: 'sandbox', channels: ['sms'], settings: { latencyMS: 5 } }]) } })).rejects.toThrow(
      /provider "x" \(providers\[0\]\)\.settings: .*latencyMS/,
    );
  });
});
