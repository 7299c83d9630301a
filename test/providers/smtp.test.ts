import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import pino from 'pino';
import request from 'supertest';
import type { Pool } from 'pg';
import { createProviders, type RunningProviders } from '../../activities/channels/registry';
import { messageIdFor } from '../../activities/channels/smtp';
import type { ChannelProvider, OutgoingMessage, SubmitResult } from '../../activities/channels/types';
import { emailChannelSchema } from '../../api/schemas';
import { renderChannel } from '../../api/services/notifications';
import { parseProvidersConfig } from '../../core/providers';
import { createPool } from '../../db/pool';
import { approvedSender, eventually, postWebhook, startStack, type TestStack } from '../support/harness';
import { startSmtpPeer, type SmtpPeer } from '../support/smtp-peer';

const USER = 'relay-user';
const PASSWORD = 'relay-secret-pw';
const PUBLIC_URL = 'https://notify.example';
const FROM = 'ACME News <news@acme.test>';

const REFUSALS: Record<string, { reply: number; message: string }> = {
  'busy@mx.example': { reply: 451, message: '4.3.0 Temporary local problem, try later' },
  'full@mx.example': { reply: 452, message: '4.2.2 Mailbox full' },
  'unavailable@mx.example': { reply: 450, message: '4.2.1 Mailbox temporarily unavailable' },
  'closing@mx.example': { reply: 421, message: '4.4.2 Service shutting down' },
  'nobody@mx.example': { reply: 550, message: '5.1.1 No such user here' },
  'bad-address@mx.example': { reply: 553, message: '5.1.3 Mailbox name not allowed' },
  'spam@mx.example': { reply: 554, message: '5.7.1 Message rejected as spam' },
};

let peer: SmtpPeer;
let pool: Pool;
const running: RunningProviders[] = [];

beforeAll(async () => {
  peer = await startSmtpPeer({ user: USER, password: PASSWORD });
  peer.behaviour = (recipient) => {
    if (recipient.startsWith('drop-once')) return 'drop-once';
    if (recipient.startsWith('drop-always')) return 'drop';
    if (recipient.startsWith('stall')) return 'stall';
    return REFUSALS[recipient];
  };
  pool = createPool(process.env.DATABASE_URL!, 2);
});
afterAll(async () => {
  await Promise.all(running.map((r) => r.stop()));
  await peer.close();
  await pool.end();
});

/** The SMTP provider as a worker runs it (behind the registry's timeout and redaction). */
function smtpProvider(settings: Record<string, unknown> = {}, common: Record<string, unknown> = {}, port = peer.port): ChannelProvider {
  const configs = parseProvidersConfig(
    JSON.stringify([{ name: 'mail', type: 'smtp', channels: ['email'], ...common, settings: { host: '127.0.0.1', port, user: USER, password: PASSWORD, ...settings } }]),
    'test',
  );
  const providers = createProviders({ configs, pool, logger: pino({ level: 'silent' }), publicUrl: PUBLIC_URL, sandboxLatencyMs: 1 });
  running.push(providers);
  return providers.registry.email as ChannelProvider;
}

const taskId = randomUUID();
let seq = 0;
let code = 0;

/** An email as the API renders it: HTML with a tracked link and the open pixel, a subject. */
function email(recipient: string): OutgoingMessage {
  seq += 1;
  const messageId = randomUUID();
  const channel = { mandatory: true, ...emailChannelSchema.parse({
    channel: 'email',
    sender: FROM,
    subject: 'Your order {order}',
    text: '<html><body><p>Hi {name},</p><p><a href="https://shop.example/orders/{order}">Track your order</a></p></body></html>',
    shortenLinks: true,
  }) };
  const rendered = renderChannel(channel, { name: 'Ann & Bob', order: `A-${seq}` }, { publicUrl: PUBLIC_URL, messageId, newCode: () => `Code${String(++code).padStart(6, '0')}` });
  return { messageId, sendId: `${taskId}:${seq}:email`, channel: 'email', recipient, sender: channel.sender, text: rendered.text, payload: rendered.payload, deliveryEndAt: new Date(Date.now() + 60_000) };
}

function receivedBy(recipient: string) {
  return peer.received.filter((m) => m.envelope.to.includes(recipient));
}

function outcome(results: SubmitResult[], message: OutgoingMessage) {
  return results.find((r) => r.messageId === message.messageId)!;
}

describe('SMTP adapter against an SMTP server', () => {
  it('sends From the approved sender, To, Subject, HTML with the short link and open pixel, a text alternative and a Message-ID from the send id', async () => {
    const provider = smtpProvider();
    const message = email('ann@mx.example');
    const [result] = await provider.submit([message]);
    const expectedId = messageIdFor(message.sendId, 'acme.test');
    expect(expectedId).toBe(`<${taskId}.${seq}.email@acme.test>`);
    expect(result).toEqual({ messageId: message.messageId, outcome: 'accepted', providerMessageId: expectedId, detail: expect.stringMatching(/^250 2\.0\.0 Ok: queued as Q\d+$/) });

    const [mail] = receivedBy('ann@mx.example');
    expect(mail!.user).toBe(USER);
    expect(mail!.envelope).toEqual({ from: 'news@acme.test', to: ['ann@mx.example'] });
    const parsed = mail!.parsed;
    expect(parsed.from?.value).toEqual([{ name: 'ACME News', address: 'news@acme.test' }]);
    expect(parsed.to).toMatchObject({ value: [{ address: 'ann@mx.example' }] });
    expect(parsed.subject).toBe(`Your order A-${seq}`);
    expect(parsed.messageId).toBe(expectedId);
    expect(parsed.headerLines.filter((h) => h.key === 'message-id')).toHaveLength(1);
    const html = parsed.html as string;
    expect(html).toContain('<p>Hi Ann &amp; Bob,</p>');
    expect(html).toMatch(new RegExp(`<a href="${PUBLIC_URL}/l/Code\\d{6}">Track your order</a>`));
    expect(html).toContain(`<img src="${PUBLIC_URL}/o/${message.messageId}.gif" width="1" height="1" alt="">`);
    expect(parsed.text).toMatch(new RegExp(`^Hi Ann & Bob,\\n\\nTrack your order \\(${PUBLIC_URL}/l/Code\\d{6}\\)$`));

    // A resubmission of the same send id carries the same Message-ID (receivers can drop the copy).
    const [again] = await provider.submit([message]);
    expect(again).toMatchObject({ outcome: 'accepted', providerMessageId: expectedId });
    expect(receivedBy('ann@mx.example').map((m) => m.parsed.messageId)).toEqual([expectedId, expectedId]);
  });

  it('a plain-text body goes as text only, its escaped characters decoded; messageIdDomain and returnPath are used', async () => {
    const provider = smtpProvider({ messageIdDomain: 'mail.acme.test', returnPath: 'bounces@acme.test' });
    const message = { ...email('plain@mx.example'), text: 'Tom &amp; Jerry: see https://notify.example/l/Code000042' };
    const [result] = await provider.submit([message]);
    expect(result).toMatchObject({ outcome: 'accepted', providerMessageId: `<${taskId}.${seq}.email@mail.acme.test>` });
    const [mail] = receivedBy('plain@mx.example');
    expect(mail!.envelope.from).toBe('bounces@acme.test');
    expect(mail!.parsed.from?.value[0]?.address).toBe('news@acme.test');
    expect(mail!.parsed.html).toBe(false);
    expect(mail!.parsed.text?.trim()).toBe('Tom & Jerry: see https://notify.example/l/Code000042');
  });

  it('a batch goes out concurrently over the pool: several messages over fewer connections, maxConnections at once', async () => {
    const connectionsBefore = peer.connections;
    peer.dataDelayMs = 150;
    try {
      const provider = smtpProvider({ maxConnections: 3, maxMessagesPerConnection: 4 });
      const batch = Array.from({ length: 12 }, (_, i) => email(`pool-${i}@mx.example`));
      const started = Date.now();
      const results = await provider.submit(batch);
      const elapsed = Date.now() - started;
      expect(results.map((r) => r.outcome)).toEqual(Array(12).fill('accepted'));
      for (let i = 0; i < 12; i++) expect(receivedBy(`pool-${i}@mx.example`)).toHaveLength(1);
      const opened = peer.connections - connectionsBefore;
      // 12 messages, 4 per connection: 3 connections, never more than 3 at once.
      expect(opened).toBeGreaterThanOrEqual(3);
      expect(opened).toBeLessThan(12);
      expect(peer.maxConcurrentData).toBe(3);
      // One after another would take 12 × 150 ms.
      expect(elapsed).toBeLessThan(12 * 150);
      const sessions = new Set(batch.map((m) => receivedBy(m.recipient)[0]!.sessionId));
      expect(sessions.size).toBe(opened);
    } finally {
      peer.dataDelayMs = 0;
    }
  });

  it('4xx replies are transient, 5xx replies are refused with the server text; the rest of the batch goes through', async () => {
    const provider = smtpProvider();
    const batch = [...Object.keys(REFUSALS), 'fine@mx.example'].map(email);
    const results = await provider.submit(batch);
    const byRecipient = Object.fromEntries(batch.map((m) => [m.recipient, outcome(results, m)]));
    expect(byRecipient['busy@mx.example']).toMatchObject({ outcome: 'transient', reason: 'SMTP 451 4.3.0 Temporary local problem, try later', detail: expect.stringContaining('RCPT') });
    expect(byRecipient['full@mx.example']).toMatchObject({ outcome: 'transient', reason: 'SMTP 452 4.2.2 Mailbox full' });
    expect(byRecipient['unavailable@mx.example']).toMatchObject({ outcome: 'transient', reason: 'SMTP 450 4.2.1 Mailbox temporarily unavailable' });
    expect(byRecipient['closing@mx.example']).toMatchObject({ outcome: 'transient', reason: expect.stringContaining('421 4.4.2 Service shutting down') });
    expect(byRecipient['nobody@mx.example']).toMatchObject({ outcome: 'rejected', reason: 'SMTP 550 5.1.1 No such user here' });
    expect(byRecipient['bad-address@mx.example']).toMatchObject({ outcome: 'rejected', reason: 'SMTP 553 5.1.3 Mailbox name not allowed' });
    expect(byRecipient['spam@mx.example']).toMatchObject({ outcome: 'rejected', reason: 'SMTP 554 5.7.1 Message rejected as spam' });
    expect(byRecipient['fine@mx.example']).toMatchObject({ outcome: 'accepted' });
    for (const refused of Object.keys(REFUSALS)) expect(receivedBy(refused)).toHaveLength(0);
  });

  it('a failed login is transient (the relay, not the message), and the password stays out of the reason', async () => {
    const failures = peer.failedLogins;
    const provider = smtpProvider({ password: 'wrong-password' });
    const [result] = await provider.submit([email('login@mx.example')]);
    expect(result).toMatchObject({ outcome: 'transient', reason: expect.stringContaining('535') });
    expect(JSON.stringify(result)).not.toContain('wrong-password');
    expect(peer.failedLogins).toBeGreaterThan(failures);
    expect(receivedBy('login@mx.example')).toHaveLength(0);
  });

  it('a connection dropped mid-message: transient for that message, the others go through; the resubmission is sent once', async () => {
    const provider = smtpProvider();
    const once = email('drop-once@mx.example');
    const always = email('drop-always@mx.example');
    const fine = email('beside-drop@mx.example');
    const results = await provider.submit([once, always, fine]);
    expect(outcome(results, once)).toMatchObject({ outcome: 'transient', reason: 'SMTP ECONNECTION: Connection closed unexpectedly' });
    expect(outcome(results, always)).toMatchObject({ outcome: 'transient', reason: 'SMTP ECONNECTION: Connection closed unexpectedly' });
    expect(outcome(results, fine)).toMatchObject({ outcome: 'accepted' });
    // The engine offers the transient ones again: the connection is back, the message goes once.
    const retried = await provider.submit([once, always]);
    expect(outcome(retried, once)).toMatchObject({ outcome: 'accepted', providerMessageId: messageIdFor(once.sendId, 'acme.test') });
    expect(outcome(retried, always)).toMatchObject({ outcome: 'transient' });
    expect(receivedBy('drop-once@mx.example')).toHaveLength(1);
    expect(receivedBy('drop-always@mx.example')).toHaveLength(0);
    expect(receivedBy('beside-drop@mx.example')).toHaveLength(1);
  });

  it('a server that stops answering: transient when the provider timeout runs out, the rest of the batch answered', async () => {
    const provider = smtpProvider({}, { timeoutMs: 700 });
    const stalled = email('stall@mx.example');
    const fine = email('beside-stall@mx.example');
    const started = Date.now();
    const results = await provider.submit([stalled, fine]);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(outcome(results, stalled)).toMatchObject({ outcome: 'transient', reason: expect.stringContaining('no answer before the timeout') });
    expect(outcome(results, fine)).toMatchObject({ outcome: 'accepted' });
  });

  it('a server silent for socketTimeoutMs: that message is transient (ETIMEDOUT) well within the provider timeout', async () => {
    const provider = smtpProvider({ socketTimeoutMs: 300 }, { timeoutMs: 10_000 });
    const started = Date.now();
    const [result] = await provider.submit([email('stall-socket@mx.example')]);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(result).toMatchObject({ outcome: 'transient', reason: expect.stringMatching(/^SMTP ETIMEDOUT/) });
  });

  it('verifyOnStart: a relay that refuses the login stops the worker start with the reason', async () => {
    const configs = parseProvidersConfig(
      JSON.stringify([{ name: 'mail', type: 'smtp', channels: ['email'], settings: { host: '127.0.0.1', port: peer.port, user: USER, password: 'wrong-password', verifyOnStart: true } }]),
      'test',
    );
    const providers = createProviders({ configs, pool, logger: pino({ level: 'silent' }), publicUrl: PUBLIC_URL, sandboxLatencyMs: 1 });
    running.push(providers);
    await expect(providers.start()).rejects.toThrow(/^provider "mail" cannot start: .*535/);
  });

  it('connection refused: transient', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const provider = smtpProvider({}, {}, port);
    const [result] = await provider.submit([email('refused@mx.example')]);
    expect(result).toMatchObject({ outcome: 'transient', reason: expect.stringMatching(/ECONNREFUSED/) });
  });

  it('settings are checked: a missing host, a user without password, an unknown setting', () => {
    const check = (settings: Record<string, unknown>) => () => smtpProvider(settings);
    expect(check({ host: undefined })).toThrow(/providers\[0\]\)\.settings\.host/);
    expect(check({ password: undefined })).toThrow(/settings\.password: user and password go together/);
    expect(check({ pool: 3 })).toThrow(/settings: Unrecognized key/);
  });

  it('lines that start with a dot arrive as written (dot-stuffing); each connection sends its share of messages and is replaced', async () => {
    const connectionsBefore = peer.connections;
    const provider = smtpProvider({ maxConnections: 1, maxMessagesPerConnection: 2 });
    const batch = Array.from({ length: 5 }, (_, i) => ({ ...email(`dots-${i}@mx.example`), text: `.first line\n..second\n.\nend ${i}` }));
    const results = await provider.submit(batch);
    expect(results.map((r) => r.outcome)).toEqual(Array(5).fill('accepted'));
    for (let i = 0; i < 5; i++) expect(receivedBy(`dots-${i}@mx.example`)[0]!.parsed.text).toBe(`.first line\n..second\n.\nend ${i}\n`);
    // Two messages a connection, one connection at a time: three sessions.
    expect(peer.connections - connectionsBefore).toBe(3);
    expect(new Set(batch.map((m) => receivedBy(m.recipient)[0]!.sessionId)).size).toBe(3);
  });
});

describe('SMTP adapter: TLS, login methods and relays without PIPELINING', () => {
  const peers: SmtpPeer[] = [];
  afterAll(async () => {
    await Promise.all(peers.map((p) => p.close()));
  });
  async function relay(options: Parameters<typeof startSmtpPeer>[1]): Promise<SmtpPeer> {
    const started = await startSmtpPeer({ user: USER, password: PASSWORD }, options);
    started.behaviour = (recipient) => REFUSALS[recipient];
    peers.push(started);
    return started;
  }

  it('STARTTLS (required), AUTH LOGIN only, no PIPELINING: sent encrypted, refusals still per message, the session reset between them', async () => {
    // smtp-server's own self-signed certificate; AUTH only once encrypted.
    const tlsRelay = await relay({ disabledCommands: [], authMethods: ['LOGIN'], allowInsecureAuth: false, hidePIPELINING: true });
    const provider = smtpProvider({ requireTLS: true, allowInvalidCertificate: true }, {}, tlsRelay.port);
    const batch = ['tls-1@mx.example', 'nobody@mx.example', 'tls-2@mx.example', 'busy@mx.example', 'tls-3@mx.example'].map(email);
    const results = await provider.submit(batch);
    expect(results.map((r) => r.outcome)).toEqual(['accepted', 'rejected', 'accepted', 'transient', 'accepted']);
    expect(results[1]).toMatchObject({ reason: 'SMTP 550 5.1.1 No such user here' });
    expect(tlsRelay.received.map((m) => [m.envelope.to[0], m.secure, m.user])).toEqual([
      ['tls-1@mx.example', true, USER],
      ['tls-2@mx.example', true, USER],
      ['tls-3@mx.example', true, USER],
    ]);
    expect(tlsRelay.received[1]!.parsed.messageId).toBe(messageIdFor(batch[2]!.sendId, 'acme.test'));
  });

  it("a certificate that does not verify is refused unless allowInvalidCertificate; requireTLS refuses a relay without STARTTLS; both try later", async () => {
    const tlsRelay = await relay({ disabledCommands: [] });
    const [untrusted] = await smtpProvider({}, {}, tlsRelay.port).submit([email('untrusted@mx.example')]);
    expect(untrusted).toMatchObject({ outcome: 'transient', reason: expect.stringMatching(/^SMTP ETLS: TLS: .*certificate/) });
    const plainRelay = await relay({});
    const [noTls] = await smtpProvider({ requireTLS: true }, {}, plainRelay.port).submit([email('no-tls@mx.example')]);
    expect(noTls).toMatchObject({ outcome: 'transient', reason: 'SMTP ETLS: the relay does not offer STARTTLS and requireTLS is set' });
    expect(tlsRelay.received).toHaveLength(0);
    expect(plainRelay.received).toHaveLength(0);
  });

  /** A relay written line by line: `answer` replies to each command line (or hangs up, given the socket). */
  const scripted = async (answer: (line: string, socket: Socket) => string | undefined, greeting = '220 scripted ESMTP') => {
    const server = createServer((socket) => {
      socket.write(`${greeting}\r\n`);
      let buffered = '';
      socket.on('data', (chunk) => {
        buffered += chunk.toString('latin1');
        for (let end = buffered.indexOf('\r\n'); end >= 0; end = buffered.indexOf('\r\n')) {
          const reply = answer(buffered.slice(0, end), socket);
          buffered = buffered.slice(end + 2);
          if (reply) socket.write(`${reply}\r\n`);
        }
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { port: (server.address() as AddressInfo).port, close: () => new Promise((r) => server.close(r)) };
  };

  it("a relay that hangs up after a message's data: that message and the next, already pipelined behind it, try later at once", async () => {
    let inData = false;
    const hangingUp = await scripted((line, socket) => {
      if (inData) {
        if (line === '.') socket.destroy();
        return undefined;
      }
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') return '250-scripted\r\n250-PIPELINING\r\n250 AUTH PLAIN';
      if (verb === 'AUTH') return '235 2.7.0 Authentication successful';
      if (verb === 'DATA') {
        inData = true;
        return '354 End data with <CR><LF>.<CR><LF>';
      }
      return '250 2.0.0 Ok';
    });
    const provider = smtpProvider({ maxConnections: 1 }, { timeoutMs: 8000 }, hangingUp.port);
    const started = Date.now();
    const results = await provider.submit([email('first@mx.example'), email('second@mx.example')]);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(results.map((r) => [r.outcome, 'reason' in r ? r.reason : undefined])).toEqual([
      ['transient', 'SMTP ECONNECTION: Connection closed unexpectedly'],
      ['transient', 'SMTP ECONNECTION: Connection closed unexpectedly'],
    ]);
    await hangingUp.close();
  });

  it('a relay that refuses the session (a 554 greeting, a 554 to RSET) means try later: the session failed, not the message', async () => {
    const refusing = await scripted(() => undefined, '554 5.7.1 No SMTP service here');
    const [greeted] = await smtpProvider({}, {}, refusing.port).submit([email('greeting@mx.example')]);
    expect(greeted).toMatchObject({ outcome: 'transient', reason: 'SMTP 554 5.7.1 No SMTP service here' });

    let rcpts = 0;
    const resetRefused = await scripted((line) => {
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') return '250-scripted\r\n250-PIPELINING\r\n250 AUTH PLAIN';
      if (verb === 'AUTH') return '235 2.7.0 Authentication successful';
      if (verb === 'MAIL') return '250 2.1.0 Ok';
      if (verb === 'RCPT') return ++rcpts === 1 ? '550 5.1.1 No such user here' : '250 2.1.5 Ok';
      if (verb === 'DATA') return '503 5.5.1 Error: need RCPT command';
      if (verb === 'RSET') return '554 5.5.1 Error: no valid recipients';
      return '502 5.5.2 Command not recognized';
    });
    const provider = smtpProvider({ maxConnections: 1 }, {}, resetRefused.port);
    const [refused, next] = await provider.submit([email('nobody@mx.example'), email('after-reset@mx.example')]);
    expect(refused).toMatchObject({ outcome: 'rejected', reason: 'SMTP 550 5.1.1 No such user here' });
    expect(next).toMatchObject({ outcome: 'transient', reason: 'SMTP 554 5.5.1 Error: no valid recipients', detail: expect.stringContaining('RSET') });
    await Promise.all([refusing.close(), resetRefused.close()]);
  });

  it('implicit TLS (secure, port 465 style)', async () => {
    const tlsRelay = await relay({ secure: true });
    const [result] = await smtpProvider({ secure: true, allowInvalidCertificate: true }, {}, tlsRelay.port).submit([email('implicit@mx.example')]);
    expect(result).toMatchObject({ outcome: 'accepted' });
    expect(tlsRelay.received.map((m) => [m.envelope.to[0], m.secure])).toEqual([['implicit@mx.example', true]]);
  });
});

describe('SMTP through the real stack', () => {
  let stack: TestStack;
  let sender: string;
  const bounce = (bounces: unknown[]) => JSON.stringify({ bounces });

  beforeAll(async () => {
    stack = await startStack({
      worker: true,
      env: {
        PUBLIC_URL,
        PROVIDERS: JSON.stringify([{ name: 'mail', type: 'smtp', channels: ['email'], settings: { host: '127.0.0.1', port: peer.port, user: USER, password: PASSWORD } }]),
      },
    });
    sender = await approvedSender(stack, 'email', `news-${randomUUID().slice(0, 6)}@acme.test`);
  });
  afterAll(async () => {
    await stack.close();
  });

  async function template(channels: Record<string, unknown>[]): Promise<string> {
    const res = await stack.admin().post('/api/v1/templates').send({ name: `mail ${randomUUID().slice(0, 6)}`, channels });
    if (res.status !== 201) throw new Error(`template: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.id;
  }
  const emailChannel = {
    channel: 'email',
    subject: 'Order {order}',
    text: '<p>Hi {name}, <a href="https://shop.example/o/{order}">track it</a></p>',
    shortenLinks: true,
  };
  const message = async (id: string) => (await stack.admin().get(`/api/v1/messages/${id}`).expect(200)).body;

  it('POST /api/v1/notifications → SMTP server → SENT; bounces through the webhook: soft → PENDING, hard → UNDELIVERED, complaint → DELIVERED', async () => {
    const templateId = await template([{ ...emailChannel, sender }]);
    const sent = await stack
      .admin()
      .post('/api/v1/notifications')
      .send({ templateId, variables: { order: 'E-1' }, recipients: [{ email: 'e2e-ann@mx.example', variables: { name: 'Ann' } }, { email: 'e2e-bob@mx.example', variables: { name: 'Bob' } }] })
      .expect(202);
    const [ann, bob] = sent.body.messages as { id: string }[];
    const annSent = await eventually(() => message(ann!.id), (m) => m.status === 'SENT');
    await eventually(() => message(bob!.id), (m) => m.status === 'SENT');
    const [mail] = receivedBy('e2e-ann@mx.example');
    expect(annSent.providerMessageId).toBe(mail!.parsed.messageId);
    expect(annSent.providerMessageId).toMatch(/@acme\.test>$/);
    expect(mail!.parsed.from?.value[0]?.address).toBe(sender);
    expect(mail!.parsed.subject).toBe('Order E-1');
    expect(mail!.parsed.html).toContain(`${PUBLIC_URL}/o/${ann!.id}.gif`);
    expect(mail!.parsed.html).toContain(annSent.shortLink);
    expect(annSent.shortLink).toMatch(new RegExp(`^${PUBLIC_URL}/l/\\w{10}$`));
    expect(annSent.events.at(-1)).toMatchObject({ status: 'SENT', source: 'provider:mail', description: expect.stringMatching(/^250 2\.0\.0 Ok: queued as Q\d+$/) });

    const annId = annSent.providerMessageId as string;
    const bobId = (await message(bob!.id)).providerMessageId as string;
    const body = bounce([{ messageId: annId, type: 'soft', description: '452 4.2.2 mailbox full, retrying' }]);
    await postWebhook(stack, '/webhooks/email/mail', body, 'sha256=0000').expect(401);
    await postWebhook(stack, '/webhooks/email/mail', body, `sha256=${'0'.repeat(64)}`).expect(401);
    expect((await message(ann!.id)).status).toBe('SENT');
    await postWebhook(stack, '/webhooks/email/mail', bounce([{ messageId: annId, type: 'lost' }])).expect(400);
    await request(stack.app).get('/webhooks/email/mail').expect(404);

    expect((await postWebhook(stack, '/webhooks/email/mail', body).expect(200)).body).toEqual({ applied: 1, unknown: 0 });
    expect((await message(ann!.id)).status).toBe('PENDING');
    // Without the angle brackets, as some bounce processors write it; an id never sent is kept aside.
    const hard = bounce([
      { messageId: annId.slice(1, -1), type: 'hard', description: '550 5.1.1 mailbox unknown' },
      { messageId: '<never-sent@acme.test>', type: 'hard' },
      { messageId: bobId, type: 'complaint', description: 'abuse report from mx.example' },
    ]);
    expect((await postWebhook(stack, '/webhooks/email/mail', hard).expect(200)).body).toEqual({ applied: 2, unknown: 1 });
    const annAfter = await message(ann!.id);
    expect(annAfter.status).toBe('UNDELIVERED');
    expect(annAfter.events.map((e: { status: string }) => e.status)).toEqual(['CREATED', 'QUEUED', 'SENT', 'PENDING', 'UNDELIVERED']);
    expect(annAfter.events.at(-1)).toMatchObject({ status: 'UNDELIVERED', description: 'hard bounce: 550 5.1.1 mailbox unknown', source: 'webhook:mail' });
    // Out of order: a soft bounce arriving after the hard one is logged but moves nothing back.
    const late = bounce([{ messageId: annId, type: 'soft', description: 'late retry notice' }]);
    expect((await postWebhook(stack, '/webhooks/email/mail', late).expect(200)).body).toEqual({ applied: 0, unknown: 0 });
    const annLate = await message(ann!.id);
    expect(annLate.status).toBe('UNDELIVERED');
    expect(annLate.events.at(-1)).toMatchObject({ status: 'PENDING', description: 'not applied: status was UNDELIVERED; soft bounce: late retry notice' });
    const bobAfter = await message(bob!.id);
    expect(bobAfter.status).toBe('DELIVERED');
    expect(bobAfter.events.at(-1)).toMatchObject({ status: 'DELIVERED', description: 'complaint (marked as spam): abuse report from mx.example' });
  });

  it('a bounce that overtakes the SMTP answer is kept and applied once the message is SENT', async () => {
    const templateId = await template([{ ...emailChannel, sender }]);
    peer.dataDelayMs = 1500;
    try {
      const sent = await stack.admin().post('/api/v1/notifications').send({ templateId, variables: { order: 'E-2', name: 'Cy' }, recipients: [{ email: 'e2e-early@mx.example' }] }).expect(202);
      const id = sent.body.messages[0].id as string;
      // The Message-ID is known in advance: it comes from the send id (task:seq:channel).
      const messageId = messageIdFor(`${sent.body.taskId}:1:email`, sender.split('@')[1]!);
      await eventually(() => message(id), (m) => m.status === 'QUEUED');
      const early = bounce([{ messageId, type: 'hard', description: '550 5.1.1 gone' }]);
      expect((await postWebhook(stack, '/webhooks/email/mail', early).expect(200)).body).toEqual({ applied: 0, unknown: 1 });
      const final = await eventually(() => message(id), (m) => m.status === 'UNDELIVERED');
      expect(final.providerMessageId).toBe(messageId);
      expect(final.events.map((e: { status: string }) => e.status)).toEqual(['CREATED', 'QUEUED', 'SENT', 'UNDELIVERED']);
    } finally {
      peer.dataDelayMs = 0;
    }
  });

  it('a 5xx refusal makes the email ERROR and the template falls back to its next channel (SMS on the sandbox)', async () => {
    const sms = await approvedSender(stack, 'sms');
    const templateId = await template([
      { ...emailChannel, sender },
      { channel: 'sms', sender: sms, text: 'Order {order}: see your email' },
    ]);
    const sent = await stack
      .admin()
      .post('/api/v1/notifications')
      .send({ templateId, variables: { order: 'E-3', name: 'Di' }, recipients: [{ email: 'nobody@mx.example', phone: '+79990000050' }] })
      .expect(202);
    const [mail, text] = sent.body.messages as { id: string; channel: string }[];
    expect([mail!.channel, text!.channel]).toEqual(['email', 'sms']);
    const smsDone = await eventually(() => message(text!.id), (m) => m.status === 'DELIVERED' || m.status === 'READ');
    expect(smsDone.text).toBe('Order E-3: see your email');
    const emailDone = await message(mail!.id);
    expect(emailDone.events.map((e: { status: string }) => e.status)).toEqual(['CREATED', 'QUEUED', 'ERROR', 'SKIPPED']);
    expect(emailDone.events.find((e: { status: string }) => e.status === 'ERROR')).toMatchObject({ description: expect.stringContaining('SMTP 550 5.1.1 No such user here') });
  });
});
