import { randomUUID } from 'node:crypto';
import net from 'node:net';
import pino from 'pino';
import type { Pool } from 'pg';
import { SmppClient, smppSettings, type SmppSettings } from '../../activities/channels/smpp';
import type { OutgoingMessage, ProviderReceipt, SubmitResult } from '../../activities/channels/types';
import { splitSms } from '../../core/sms';
import { createPool } from '../../db/pool';
import { eventually, smsTemplate, startStack } from '../support/harness';
import { SmppPeer, type SmppPeerOptions } from '../../scripts/bench/smpp-peer';

const CREDENTIALS = { systemId: 'notif', password: 'secret1' };
const ESME_RTHROTTLED = 0x58;
const ESME_RMSGQFUL = 0x14;
const ESME_RINVDSTADR = 0x0b;

let pool: Pool;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(() => {
  pool = createPool(process.env.DATABASE_URL!, 5);
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await pool.end();
});

async function peer(options: Partial<SmppPeerOptions> = {}): Promise<SmppPeer> {
  const started = await SmppPeer.start({ ...CREDENTIALS, ...options });
  cleanups.push(() => started.close());
  return started;
}

interface Harness {
  client: SmppClient;
  receipts: ProviderReceipt[];
  name: string;
}

function client(port: number, settings: Partial<SmppSettings> = {}, name = `smsc-${randomUUID().slice(0, 8)}`): Harness {
  const receipts: ProviderReceipt[] = [];
  const parsed = smppSettings.parse({ host: '127.0.0.1', port, ...CREDENTIALS, reconnectDelayMs: 50, reconnectMaxDelayMs: 200, ...settings });
  const created = new SmppClient(parsed, {
    config: { name, type: 'smpp', channels: ['sms'], default: true, senders: [], messengers: [], timeoutMs: 10_000, settings: {} },
    pool,
    logger: pino({ level: 'silent' }),
    webhookUrl: () => 'http://unused',
    async applyReceipts(_channel, batch) {
      receipts.push(...batch);
    },
  });
  cleanups.push(() => created.stop());
  return { client: created, receipts, name };
}

let recipientSeq = 0;
function message(text: string, overrides: Partial<OutgoingMessage> = {}): OutgoingMessage {
  recipientSeq++;
  return {
    messageId: randomUUID(),
    sendId: `send-${randomUUID()}`,
    channel: 'sms',
    recipient: `+7999${String(recipientSeq).padStart(7, '0')}`,
    sender: 'ACME',
    text,
    payload: null,
    deliveryEndAt: new Date(Date.now() + 3600_000),
    ...overrides,
  };
}

const submit = (h: Harness, batch: OutgoingMessage[]) => h.client.submit(batch, new AbortController().signal);

function accepted(result: SubmitResult): string {
  if (result.outcome !== 'accepted') throw new Error(`not accepted: ${JSON.stringify(result)}`);
  return result.providerMessageId;
}

describe('SMPP adapter against an SMSC speaking SMPP 3.4', () => {
  it('binds as a transceiver with its credentials; refused credentials fail start()', async () => {
    const smsc = await peer();
    const good = client(smsc.port);
    await good.client.start();
    expect(good.client.bound).toBe(true);
    expect(smsc.binds).toEqual([{ systemId: 'notif', password: 'secret1', ok: true }]);

    const bad = client(smsc.port, { password: 'wrong' });
    await expect(bad.client.start()).rejects.toThrow('bind_transceiver refused: ESME_RINVPASWD (0x0e)');
  });

  it('starts while the SMSC is unreachable, answers transient, and binds once it is up', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));

    const h = client(port);
    await h.client.start();
    const [result] = await submit(h, [message('Hello')]);
    expect(result).toMatchObject({ outcome: 'transient', reason: 'not bound to the SMSC (reconnecting)', retryAfterMs: expect.any(Number) });

    const smsc = await peer({ port });
    await eventually(async () => h.client.bound, (b) => b, 5000, 20);
    const [later] = await submit(h, [message('Hello')]);
    expect(later!.outcome).toBe('accepted');
    expect(smsc.submits).toHaveLength(1);
  });

  it('GSM-7 single part: data_coding 0, alphanumeric sender TON 5, registered_delivery 1, validity = remaining lifetime', async () => {
    const smsc = await peer();
    const h = client(smsc.port);
    await h.client.start();
    const m = message('Your code is 1234 [ok] €5', { deliveryEndAt: new Date(Date.now() + 2 * 3600_000) });
    const [result] = await submit(h, [m]);
    const id = accepted(result!);
    expect(result!.detail).toBe(`submit_sm 1 part GSM-7 → message_id=${id}`);
    expect(smsc.submits).toHaveLength(1);
    const s = smsc.submits[0]!;
    expect(s).toMatchObject({ destination: m.recipient.slice(1), source: 'ACME', dataCoding: 0, esmClass: 0, udh: null, text: 'Your code is 1234 [ok] €5', registeredDelivery: 1 });
    expect(s.pdu.source_addr_ton).toBe(5);
    expect(s.pdu.source_addr_npi).toBe(0);
    expect(s.pdu.dest_addr_ton).toBe(1);
    expect(s.pdu.dest_addr_npi).toBe(1);
    // The package decodes the relative validity_period into the moment it ends.
    const validUntil = (s.validityPeriod as Date).getTime();
    expect(Math.abs(validUntil - m.deliveryEndAt.getTime())).toBeLessThan(5000);
  });

  it('a numeric sender goes with the configured TON/NPI and without "+"', async () => {
    const smsc = await peer();
    const h = client(smsc.port, { sourceTon: 1, sourceNpi: 1 });
    await h.client.start();
    await submit(h, [message('Hi', { sender: '+15550001111' })]);
    expect(smsc.submits[0]!.source).toBe('15550001111');
    expect(smsc.submits[0]!.pdu.source_addr_ton).toBe(1);
  });

  it('GSM-7 long message: 153-septet parts with a concatenation UDH (IEI 0x00), esm_class 0x40', async () => {
    const smsc = await peer();
    const h = client(smsc.port);
    await h.client.start();
    const text = 'Order A-1: '.padEnd(400, 'x');
    const [result] = await submit(h, [message(text)]);
    const first = accepted(result!);
    expect(smsc.submits).toHaveLength(3);
    const expected = splitSms(text);
    expect(expected.map((p) => p.length)).toEqual([153, 153, 94]);
    const ref = smsc.submits[0]!.udh![2];
    smsc.submits.forEach((s, i) => {
      expect(s.dataCoding).toBe(0);
      expect(s.esmClass & 0x40).toBe(0x40);
      expect(s.udh).toEqual([0x00, 0x03, ref, 3, i + 1]);
    });
    expect([...smsc.submits].sort((a, b) => a.udh![4]! - b.udh![4]!).map((s) => s.text)).toEqual(expected);
    expect(result!.detail).toMatch(new RegExp(`^submit_sm 3 parts GSM-7 → message_id=${first}, message_id=\\w+, message_id=\\w+$`));
  });

  it('UCS-2 (Cyrillic) long message: data_coding 8, 67-character parts with UDH', async () => {
    const smsc = await peer();
    const h = client(smsc.port);
    await h.client.start();
    const text = 'Ваш заказ готов к выдаче. '.repeat(6);
    const [result] = await submit(h, [message(text)]);
    accepted(result!);
    const expected = splitSms(text);
    expect(expected.map((p) => p.length)).toEqual([67, 67, 22]);
    expect(smsc.submits).toHaveLength(3);
    const parts = [...smsc.submits].sort((a, b) => a.udh![4]! - b.udh![4]!);
    expect(parts.map((s) => s.dataCoding)).toEqual([8, 8, 8]);
    expect(parts.map((s) => s.text)).toEqual(expected);
    expect(parts.map((s) => s.udh!.slice(0, 2))).toEqual([[0, 3], [0, 3], [0, 3]]);
    expect(result!.detail).toMatch(/^submit_sm 3 parts UCS-2 → /);
  });

  it('keeps a window of submit_sm outstanding, never more than windowSize', async () => {
    const smsc = await peer({ decide: () => ({ delayMs: 100 }) });
    const h = client(smsc.port, { windowSize: 5 });
    await h.client.start();
    const results = await submit(h, Array.from({ length: 20 }, () => message('Hello')));
    expect(results.every((r) => r.outcome === 'accepted')).toBe(true);
    expect(smsc.submits).toHaveLength(20);
    expect(smsc.maxOutstanding).toBe(5);
  });

  it('ESME_RTHROTTLED and ESME_RMSGQFUL answer transient with a retry-after; the retry goes through', async () => {
    const refusals = new Map<string, number>();
    const smsc = await peer({
      decide: (s) => {
        const n = refusals.get(s.destination) ?? 0;
        refusals.set(s.destination, n + 1);
        if (n === 0) return { status: s.text === 'queue' ? ESME_RMSGQFUL : ESME_RTHROTTLED };
        return {};
      },
    });
    const h = client(smsc.port, { throttledRetryMs: 700 });
    await h.client.start();
    const batch = [message('throttle'), message('queue')];
    const first = await submit(h, batch);
    expect(first[0]).toMatchObject({ outcome: 'transient', reason: 'SMSC busy: ESME_RTHROTTLED (0x58)', retryAfterMs: 700 });
    expect(first[1]).toMatchObject({ outcome: 'transient', reason: 'SMSC busy: ESME_RMSGQFUL (0x14)', retryAfterMs: 700 });
    expect(first[0]!.detail).toBe('submit_sm 1 part GSM-7 → ESME_RTHROTTLED (0x58)');
    const second = await submit(h, batch);
    expect(second.map((r) => r.outcome)).toEqual(['accepted', 'accepted']);
    expect([...smsc.accepted.values()]).toEqual([1, 1]);
  });

  it('another error status is a permanent rejection named after the status', async () => {
    const smsc = await peer({ decide: () => ({ status: ESME_RINVDSTADR }) });
    const h = client(smsc.port);
    await h.client.start();
    const [result] = await submit(h, [message('Hello')]);
    expect(result).toMatchObject({ outcome: 'rejected', reason: 'SMSC refused submit_sm: ESME_RINVDSTADR (0x0b)', detail: 'submit_sm 1 part GSM-7 → ESME_RINVDSTADR (0x0b)' });
  });

  it('maps every receipt stat, from the text or from the receipted_message_id/message_state TLVs', async () => {
    const smsc = await peer();
    const h = client(smsc.port);
    await h.client.start();
    const stats = ['DELIVRD', 'UNDELIV', 'EXPIRED', 'REJECTD', 'DELETED', 'UNKNOWN', 'ACCEPTD', 'ENROUTE'];
    const expected: Record<string, string> = { DELIVRD: 'DELIVERED', UNDELIV: 'UNDELIVERED', EXPIRED: 'UNDELIVERED', REJECTD: 'UNDELIVERED', DELETED: 'UNDELIVERED', UNKNOWN: 'UNDELIVERED', ACCEPTD: 'PENDING', ENROUTE: 'PENDING' };
    for (const how of ['textOnly', 'tlvOnly'] as const) {
      const results = await submit(h, stats.map(() => message('Hello')));
      const ids = results.map(accepted);
      const session = smsc.sessions[0]!;
      const answers = await Promise.all(stats.map((stat, i) => smsc.sendReceipt(session, ids[i]!, stat, { [how]: true, err: '042' })));
      expect(answers).toEqual(stats.map(() => 0));
      await eventually(async () => h.receipts.length, (n) => n >= stats.length, 5000, 20);
      const got = h.receipts.splice(0);
      expect(Object.fromEntries(got.map((r) => [r.providerMessageId, r.status]))).toEqual(Object.fromEntries(ids.map((id, i) => [id, expected[stats[i]!]])));
      if (how === 'textOnly') expect(got.find((r) => r.providerMessageId === ids[1])!.description).toBe('stat:UNDELIV err:042');
    }
  });

  it('receipts out of order: DELIVRD then ENROUTE stays DELIVERED', async () => {
    const smsc = await peer();
    const h = client(smsc.port);
    await h.client.start();
    const id = accepted((await submit(h, [message('Hello')]))[0]!);
    await smsc.sendReceipt(smsc.sessions[0]!, id, 'DELIVRD');
    await smsc.sendReceipt(smsc.sessions[0]!, id, 'ENROUTE');
    await new Promise((r) => setTimeout(r, 100));
    expect(h.receipts).toEqual([{ providerMessageId: id, status: 'DELIVERED', description: 'stat:DELIVRD err:000' }]);
  });

  it('a receipt sent before its submit_sm_resp is applied once the answer names the message', async () => {
    const smsc = await peer({ decide: () => ({ receiptBefore: 'DELIVRD' }) });
    const h = client(smsc.port);
    await h.client.start();
    const [result] = await submit(h, [message('Hello')]);
    const id = accepted(result!);
    expect(smsc.receiptsAnswered).toBe(1);
    await eventually(async () => h.receipts.length, (n) => n === 1, 5000, 20);
    expect(h.receipts).toEqual([{ providerMessageId: id, status: 'DELIVERED', description: 'stat:DELIVRD err:000' }]);
  });

  it('a multi-part message is DELIVERED when all its parts are, UNDELIVERED when one is not, also after a restart', async () => {
    const smsc = await peer();
    const name = `smsc-${randomUUID().slice(0, 8)}`;
    const h = client(smsc.port, {}, name);
    await h.client.start();
    const results = await submit(h, [message('x'.repeat(400)), message('y'.repeat(400))]);
    const firsts = results.map(accepted);
    const partIds = (letter: string) =>
      smsc.submits
        .filter((s) => s.text.startsWith(letter))
        .sort((a, b) => a.udh![4]! - b.udh![4]!)
        .map((s) => s.messageId!);
    const [x1, x2, x3] = partIds('x');
    const [y1, y2, y3] = partIds('y');
    expect([x1, y1]).toEqual(firsts);
    const session = () => smsc.sessions.at(-1)!;

    await smsc.sendReceipt(session(), x2!, 'DELIVRD');
    await smsc.sendReceipt(session(), x3!, 'DELIVRD');
    await smsc.sendReceipt(session(), y1!, 'DELIVRD');
    await smsc.sendReceipt(session(), y2!, 'UNDELIV');
    await new Promise((r) => setTimeout(r, 100));
    expect(h.receipts.filter((r) => r.status !== 'PENDING')).toEqual([]);

    await smsc.sendReceipt(session(), x1!, 'DELIVRD');
    await eventually(async () => h.receipts.length, (n) => n === 1, 5000, 20);
    expect(h.receipts).toEqual([{ providerMessageId: x1, status: 'DELIVERED', description: '3 parts: stat:DELIVRD err:000, stat:DELIVRD err:000, stat:DELIVRD err:000' }]);

    // A worker restart: a new client (and bind) of the same provider gets the last part's receipt.
    await h.client.stop();
    const restarted = client(smsc.port, {}, name);
    await restarted.client.start();
    await smsc.sendReceipt(session(), y3!, 'DELIVRD');
    await eventually(async () => restarted.receipts.length, (n) => n === 1, 5000, 20);
    expect(restarted.receipts).toEqual([{ providerMessageId: y1, status: 'UNDELIVERED', description: '3 parts: stat:DELIVRD err:000, stat:UNDELIV err:000, stat:DELIVRD err:000' }]);
  });

  it('sends enquire_link on its timer', async () => {
    const smsc = await peer();
    const h = client(smsc.port, { enquireLinkSeconds: 0.05 });
    await h.client.start();
    await eventually(async () => smsc.enquireLinks, (n) => n >= 3, 5000, 20);
  });

  it('a connection dropped mid-window: unanswered submits are transient, resent after the rebind, nothing lost or sent twice', async () => {
    let dropAt = Infinity;
    const smsc = await peer({
      decide: (_s, index) => {
        if (index < 6) return { delayMs: 5 };
        if (index === dropAt) setTimeout(() => smsc.dropConnections(), 20);
        return { hold: true };
      },
    });
    dropAt = 9;
    const h = client(smsc.port, { windowSize: 4 });
    await h.client.start();
    const batch = Array.from({ length: 12 }, (_, i) => message(`Message ${i}`));
    const first = await submit(h, batch);
    const acceptedFirst = first.filter((r) => r.outcome === 'accepted').length;
    expect(acceptedFirst).toBe(6);
    expect(first.filter((r) => r.outcome === 'transient').every((r) => r.outcome === 'transient' && /connection to the SMSC lost|not bound/.test(r.reason))).toBe(true);
    expect(smsc.accepted.size).toBe(6);

    // The SMSC is back to answering everything: the engine resubmits the whole batch.
    await eventually(async () => h.client.bound, (b) => b, 5000, 20);
    dropAt = -1;
    smsc.options.decide = () => ({});
    const second = await submit(h, batch);
    expect(second.map((r) => r.outcome)).toEqual(batch.map(() => 'accepted'));
    expect(second.slice(0, 12).filter((_r, i) => first[i]!.outcome === 'accepted').map(accepted)).toEqual(first.filter((r) => r.outcome === 'accepted').map(accepted));
    expect(smsc.accepted.size).toBe(12);
    expect([...smsc.accepted.values()].every((n) => n === 1)).toBe(true);
  });

  it('a submit_sm_resp that comes after the timeout still counts: the resubmission is not sent again', async () => {
    const smsc = await peer({ decide: (_s, index) => (index === 0 ? { delayMs: 400 } : {}) });
    const h = client(smsc.port, { submitTimeoutMs: 100 });
    await h.client.start();
    const m = message('Hello');
    const [first] = await submit(h, [m]);
    expect(first).toMatchObject({ outcome: 'transient', reason: 'no submit_sm_resp within 100 ms' });
    await new Promise((r) => setTimeout(r, 500));
    const [second] = await submit(h, [m]);
    expect(second!.outcome).toBe('accepted');
    expect(smsc.submits).toHaveLength(1);
  });
});

describe('SMPP through the real stack', () => {
  it('API sends of an SMS template reach DELIVERED through the SMSC (one receipt overtaking its submit_sm_resp), the event log showing submit_sm', async () => {
    // Recipient ...08: the SMSC sends the receipt before it answers the submit_sm.
    const smsc = await peer({ decide: (s) => (s.destination.endsWith('08') ? { receiptBefore: 'DELIVRD' } : { receiptAfter: 'DELIVRD', delayMs: 10 }) });
    const stack = await startStack({
      worker: true,
      env: { PROVIDERS: JSON.stringify([{ name: 'smsc-e2e', type: 'smpp', channels: ['sms'], default: true, settings: { host: '127.0.0.1', port: smsc.port, ...CREDENTIALS } }]) },
    });
    cleanups.push(() => stack.close());
    const templateId = await smsTemplate(stack);
    const send = async (phone: string) =>
      (await stack.admin().post('/api/v1/notifications').send({ templateId, variables: { name: 'Ann', order: 'A-1' }, recipients: [{ phone }] }).expect(202)).body.messages[0].id as string;
    const ids = [await send('+79990000007'), await send('+79990000008')];
    for (const messageId of ids) {
      const message = await eventually(async () => (await stack.admin().get(`/api/v1/messages/${messageId}`).expect(200)).body, (m) => m.status === 'DELIVERED');
      expect(message.provider).toBe('smsc-e2e');
      expect(message.events.map((e: { status: string }) => e.status)).toEqual(['CREATED', 'QUEUED', 'SENT', 'DELIVERED']);
      const sentEvent = message.events.find((e: { status: string }) => e.status === 'SENT');
      expect(sentEvent.description).toBe(`submit_sm 1 part GSM-7 → message_id=${message.providerMessageId}`);
      expect(message.events.at(-1)).toMatchObject({ status: 'DELIVERED', description: 'stat:DELIVRD err:000', source: 'provider:smsc-e2e' });
    }
    // Each once; the two sends may share a page, in either order.
    expect(smsc.submits.map((s) => [s.destination, s.text]).sort()).toEqual([
      ['79990000007', 'Hi Ann, order A-1 is ready'],
      ['79990000008', 'Hi Ann, order A-1 is ready'],
    ]);
  });
});
