import { createHash } from 'node:crypto';
import * as smpp from 'smpp';
import { z } from 'zod';
import type { Channel } from '../../core/config';
import type { MessageStatus } from '../../core/status';
import { isGsm7, splitSms } from '../../core/sms';
import { defineAdapter, type OutgoingMessage, type ProviderContext, type ProviderReceipt, type SubmitResult } from './types';

/**
 * SMS over SMPP 3.4 (docs/providers/smpp.md): one transceiver bind per provider, kept open with
 * enquire_link and re-bound with backoff after a drop; submit_sm PDUs go out concurrently up to a
 * window; receipts come back as deliver_sm on the same bind. Parts accepted by the SMSC and their
 * receipt states live in `smpp_parts`, so receipts map to messages after a restart and a
 * resubmitted send does not send its accepted parts again.
 */

const ton = z.number().int().min(0).max(6);
const npi = z.number().int().min(0).max(18);

export const smppSettings = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(2775),
    systemId: z.string().min(1).max(15),
    password: z.string().max(8),
    systemType: z.string().max(12).default(''),
    /** source_addr when a message has no sender. */
    defaultSource: z.string().max(20).default(''),
    /** TON/NPI of numeric senders (alphanumeric ones are always TON 5, NPI 0). */
    sourceTon: ton.default(1),
    sourceNpi: npi.default(1),
    destinationTon: ton.default(1),
    destinationNpi: npi.default(1),
    /** submit_sm PDUs awaiting their submit_sm_resp at once. */
    windowSize: z.number().int().min(1).max(1000).default(10),
    enquireLinkSeconds: z.number().positive().default(30),
    /** First wait before re-binding after a drop; doubles up to reconnectMaxDelayMs. */
    reconnectDelayMs: z.number().int().min(10).default(1000),
    reconnectMaxDelayMs: z.number().int().min(10).default(30_000),
    /** The longest a submit_sm (or bind, enquire_link) waits for its answer. */
    submitTimeoutMs: z.number().int().min(10).default(10_000),
    /** Retry-after for ESME_RTHROTTLED / ESME_RMSGQFUL. */
    throttledRetryMs: z.number().int().min(0).default(1000),
  })
  .strict();

export type SmppSettings = z.infer<typeof smppSettings>;

const ESME_ROK = 0;
const ESME_RMSGQFUL = 0x14;
const ESME_RTHROTTLED = 0x58;
/** deliver_sm_resp when a receipt could not be stored: the SMSC retries it later. */
const ESME_RX_T_APPDN = 0x64;
/** A bind refused for these is a configuration error: start() fails instead of retrying. */
const BIND_CREDENTIAL_ERRORS = new Set([0x0e /* ESME_RINVPASWD */, 0x0f /* ESME_RINVSYSID */, 0x0d /* ESME_RBINDFAIL */]);

const STATUS_NAMES = new Map<number, string>();
for (const [name, code] of Object.entries(smpp.errors)) if (!STATUS_NAMES.has(code)) STATUS_NAMES.set(code, name);

export function commandStatusName(status: number): string {
  return `${STATUS_NAMES.get(status) ?? 'ESME_UNKNOWN'} (0x${status.toString(16).padStart(2, '0')})`;
}

// ---------------------------------------------------------------------------------------------
// Encoding (pure)

const GSM7_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM7_EXTENSION: Record<string, number> = { '\f': 0x0a, '^': 0x14, '{': 0x28, '}': 0x29, '\\': 0x2f, '[': 0x3c, '~': 0x3d, ']': 0x3e, '|': 0x40, '€': 0x65 };

/** GSM 03.38 default alphabet, one septet per octet (unpacked, as SMPP data_coding 0 carries it). */
export function encodeGsm7(text: string): Buffer {
  const out: number[] = [];
  for (const char of text) {
    const basic = GSM7_BASIC.indexOf(char);
    if (basic >= 0) out.push(basic);
    else if (char in GSM7_EXTENSION) out.push(0x1b, GSM7_EXTENSION[char]!);
    else throw new Error(`not in the GSM-7 alphabet: ${JSON.stringify(char)}`);
  }
  return Buffer.from(out);
}

export function encodeUcs2(text: string): Buffer {
  return Buffer.from(text, 'utf16le').swap16();
}

/** `YYMMDDhhmmss000R`: SMPP 3.4 relative time (§7.1.1), for validity_period. */
export function relativeValidity(seconds: number): string {
  let rest = Math.max(1, Math.ceil(seconds));
  const s = rest % 60;
  rest = Math.floor(rest / 60);
  const m = rest % 60;
  rest = Math.floor(rest / 60);
  const h = rest % 24;
  let days = Math.floor(rest / 24);
  const years = Math.min(99, Math.floor(days / 365));
  days -= years * 365;
  const months = Math.floor(days / 30);
  days -= months * 30;
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(years)}${two(months)}${two(days)}${two(h)}${two(m)}${two(s)}000R`;
}

/** Concatenation reference: the same for every attempt of a send, so a part sent again joins its siblings. */
function concatReference(sendId: string): number {
  return createHash('sha1').update(sendId).digest()[0]!;
}

export interface SubmitPart {
  index: number;
  total: number;
  options: Record<string, unknown>;
}

/** The submit_sm PDUs of a message: parts as core/sms.ts counts them, UDH (IEI 0x00) when split. */
export function submitParts(message: OutgoingMessage, settings: SmppSettings, now = Date.now()): { encoding: 'GSM-7' | 'UCS-2'; parts: SubmitPart[] } {
  const text = message.text ?? '';
  const gsm = isGsm7(text);
  const texts = splitSms(text);
  const sender = message.sender ?? settings.defaultSource;
  const alphanumeric = !/^\+?\d+$/.test(sender);
  const reference = concatReference(message.sendId);
  const common = {
    source_addr_ton: alphanumeric ? 5 : settings.sourceTon,
    source_addr_npi: alphanumeric ? 0 : settings.sourceNpi,
    source_addr: alphanumeric ? sender : sender.replace(/^\+/, ''),
    dest_addr_ton: settings.destinationTon,
    dest_addr_npi: settings.destinationNpi,
    destination_addr: message.recipient.replace(/^\+/, ''),
    validity_period: relativeValidity((message.deliveryEndAt.getTime() - now) / 1000),
    registered_delivery: 1,
    data_coding: gsm ? 0 : 8,
  };
  const parts = texts.map((part, i): SubmitPart => {
    const body = gsm ? encodeGsm7(part) : encodeUcs2(part);
    const udh = texts.length > 1 ? Buffer.from([0x05, 0x00, 0x03, reference, texts.length, i + 1]) : undefined;
    return {
      index: i + 1,
      total: texts.length,
      options: { ...common, esm_class: udh ? 0x40 : 0x00, short_message: udh ? Buffer.concat([udh, body]) : body },
    };
  });
  return { encoding: gsm ? 'GSM-7' : 'UCS-2', parts };
}

// ---------------------------------------------------------------------------------------------
// Receipts (pure)

export interface ParsedReceipt {
  partId: string;
  /** The SMSC's state: DELIVRD, UNDELIV, EXPIRED, ... */
  stat: string;
  err: string | null;
}

const MESSAGE_STATES: Record<number, string> = { 1: 'ENROUTE', 2: 'DELIVRD', 3: 'EXPIRED', 4: 'DELETED', 5: 'UNDELIV', 6: 'ACCEPTD', 7: 'UNKNOWN', 8: 'REJECTD' };

/** A delivery receipt's part id and state from the `receipted_message_id`/`message_state` TLVs, else its text. */
export function parseReceipt(text: string, tlvs: { receiptedMessageId?: string; messageState?: number }): ParsedReceipt | null {
  const id = tlvs.receiptedMessageId || /(?:^|\s)id:(\S+)/i.exec(text)?.[1];
  const stat = (tlvs.messageState !== undefined ? MESSAGE_STATES[tlvs.messageState] : undefined) ?? /\bstat:(\w+)/i.exec(text)?.[1]?.toUpperCase();
  if (!id || !stat) return null;
  return { partId: id, stat, err: /\berr:(\w+)/i.exec(text)?.[1] ?? null };
}

export function receiptStatus(stat: string): MessageStatus {
  switch (stat) {
    case 'DELIVRD':
      return 'DELIVERED';
    case 'ACCEPTD':
    case 'ENROUTE':
      return 'PENDING';
    default:
      // UNDELIV, EXPIRED, REJECTD, DELETED, UNKNOWN and anything else the SMSC calls final.
      return 'UNDELIVERED';
  }
}

const FINAL = new Set<MessageStatus>(['DELIVERED', 'UNDELIVERED']);

// ---------------------------------------------------------------------------------------------
// The bind

type PduOutcome = { kind: 'resp'; status: number; messageId: string } | { kind: 'dropped' | 'timeout' | 'aborted' };

/** One TCP connection and its bind; everything outstanding on it fails with it. */
interface Link {
  session: smpp.Session;
  bound: boolean;
  closed: boolean;
  inFlight: number;
  waiters: ((ok: boolean) => void)[];
  outstanding: Map<number, (outcome: PduOutcome) => void>;
  enquireTimer?: NodeJS.Timeout;
}

/** A batch's abort signal, shared by its PDUs without a listener each. */
interface Abort {
  aborted: boolean;
  listeners: Set<() => void>;
}

interface AcceptedPart {
  sendId: string;
  index: number;
  total: number;
  partId: string;
}

interface PendingReceipt extends ParsedReceipt {
  status: MessageStatus;
  answer(commandStatus: number): void;
}

const RECEIPT_BATCH = 500;
/** Receipts wait this long for others to be stored with (a few statements per batch, not per receipt). */
const RECEIPT_FLUSH_MS = 25;

export class SmppClient {
  readonly maxBatchSize: number;
  private link?: Link;
  private stopped = false;
  private reconnectTimer?: NodeJS.Timeout;
  private reconnectDelay: number;
  /** Sends in progress, so a resubmission waits for the first attempt instead of sending again. */
  private readonly inflight = new Map<string, Promise<MessageOutcome>>();
  /** smpp_parts work in progress, waited for by stop(). */
  private readonly pendingWork = new Set<Promise<unknown>>();
  private receiptQueue: PendingReceipt[] = [];
  private receiptFlush?: NodeJS.Timeout;
  private readonly channel: Channel;

  constructor(
    private readonly settings: SmppSettings,
    private readonly ctx: ProviderContext,
  ) {
    this.reconnectDelay = settings.reconnectDelayMs;
    this.maxBatchSize = Math.max(settings.windowSize * 4, 50);
    this.channel = ctx.config.channels.includes('sms') ? 'sms' : ctx.config.channels[0]!;
  }

  get bound(): boolean {
    return !!this.link?.bound;
  }

  /** Binds once; an unreachable SMSC is retried in the background, refused credentials fail. */
  async start(): Promise<void> {
    this.stopped = false;
    const result = await this.connect();
    if (result.refused) {
      this.stopped = true;
      throw new Error(result.refused);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    const link = this.link;
    if (link && !link.closed) {
      if (link.bound) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1000);
          const sent = link.session.send(new smpp.PDU('unbind'), () => {
            clearTimeout(timer);
            resolve();
          });
          if (!sent) resolve();
        });
      }
      await new Promise<void>((resolve) => {
        if (link.closed) return resolve();
        link.session.destroy(() => resolve());
        setTimeout(resolve, 1000);
      });
    }
    await Promise.allSettled([...this.pendingWork]);
  }

  private connect(): Promise<{ refused?: string }> {
    return new Promise((resolve) => {
      let settled = false;
      const done = (result: { refused?: string }) => {
        if (settled) return;
        settled = true;
        resolve(result);
      };
      const session = smpp.connect({ host: this.settings.host, port: this.settings.port });
      // PDUs are small writes: without this, Nagle holds each behind the previous one's ACK.
      session.socket.setNoDelay(true);
      const link: Link = { session, bound: false, closed: false, inFlight: 0, waiters: [], outstanding: new Map() };
      this.link = link;
      const bindTimer = setTimeout(() => {
        this.ctx.logger.warn('SMPP bind: no answer in time');
        session.destroy();
      }, this.settings.submitTimeoutMs);
      session.on('connect', () => {
        const bind = new smpp.PDU('bind_transceiver', {
          system_id: this.settings.systemId,
          password: this.settings.password,
          system_type: this.settings.systemType,
          interface_version: 0x34,
        });
        session.send(bind, (resp) => {
          clearTimeout(bindTimer);
          if (resp.command_status !== ESME_ROK) {
            const reason = `bind_transceiver refused: ${commandStatusName(resp.command_status)}`;
            this.ctx.logger.error({ reason }, 'SMPP bind refused');
            if (BIND_CREDENTIAL_ERRORS.has(resp.command_status)) done({ refused: reason });
            else done({});
            session.destroy();
            return;
          }
          link.bound = true;
          this.reconnectDelay = this.settings.reconnectDelayMs;
          this.ctx.logger.info('SMPP bound');
          this.startEnquireLink(link);
          done({});
        });
      });
      session.on('error', (error: Error) => this.ctx.logger.warn({ err: error.message }, 'SMPP connection error'));
      session.on('close', () => {
        clearTimeout(bindTimer);
        this.dropLink(link);
        done({});
      });
      session.on('enquire_link', (pdu: smpp.PDU) => session.send(pdu.response()));
      session.on('unbind', (pdu: smpp.PDU) => {
        session.send(pdu.response());
        session.close();
      });
      session.on('deliver_sm', (pdu: smpp.PDU) => this.onDeliverSm(session, pdu));
    });
  }

  private startEnquireLink(link: Link): void {
    link.enquireTimer = setInterval(() => {
      if (link.closed) return;
      const timer = setTimeout(() => {
        this.ctx.logger.warn('SMPP enquire_link unanswered: reconnecting');
        link.session.destroy();
      }, this.settings.submitTimeoutMs);
      if (!link.session.send(new smpp.PDU('enquire_link'), () => clearTimeout(timer))) clearTimeout(timer);
    }, this.settings.enquireLinkSeconds * 1000);
  }

  /** The connection is gone: whatever awaited an answer on it is "not sent", and we bind again. */
  private dropLink(link: Link): void {
    if (link.closed) return;
    link.closed = true;
    link.bound = false;
    clearInterval(link.enquireTimer);
    for (const settle of link.outstanding.values()) settle({ kind: 'dropped' });
    link.outstanding.clear();
    for (const waiter of link.waiters.splice(0)) waiter(false);
    if (this.stopped || this.link !== link) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(this.settings.reconnectMaxDelayMs, this.reconnectDelay * 2);
    this.ctx.logger.warn({ delayMs: delay }, 'SMPP connection lost: binding again');
    this.reconnectTimer = setTimeout(() => {
      if (!this.stopped) void this.connect();
    }, delay);
  }

  private acquire(link: Link, signal: Abort): Promise<boolean> {
    if (link.closed) return Promise.resolve(false);
    if (link.inFlight < this.settings.windowSize) {
      link.inFlight++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const waiter = (ok: boolean) => {
        signal.listeners.delete(onAbort);
        resolve(ok);
      };
      const onAbort = () => {
        link.waiters.splice(link.waiters.indexOf(waiter), 1);
        resolve(false);
      };
      signal.listeners.add(onAbort);
      link.waiters.push(waiter);
    });
  }

  private release(link: Link): void {
    const next = link.closed ? undefined : link.waiters.shift();
    if (next) next(true);
    else link.inFlight--;
  }

  /** One submit_sm through the window. A late answer (after a timeout or abort) still records an accepted part. */
  private async sendPdu(link: Link, options: Record<string, unknown>, signal: Abort, onLateAccept: (messageId: string) => void): Promise<PduOutcome> {
    if (signal.aborted) return { kind: 'aborted' };
    if (!(await this.acquire(link, signal))) return { kind: signal.aborted ? 'aborted' : 'dropped' };
    return new Promise<PduOutcome>((resolve) => {
      let settled = false;
      const pdu = new smpp.PDU('submit_sm', options);
      const settle = (outcome: PduOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.listeners.delete(onAbort);
        link.outstanding.delete(pdu.sequence_number);
        this.release(link);
        resolve(outcome);
      };
      const onAbort = () => settle({ kind: 'aborted' });
      const timer = setTimeout(() => settle({ kind: 'timeout' }), this.settings.submitTimeoutMs);
      signal.listeners.add(onAbort);
      const sent = link.session.send(pdu, (resp) => {
        const outcome: PduOutcome = { kind: 'resp', status: resp.command_status, messageId: String(resp.message_id ?? '') };
        if (settled) {
          if (outcome.status === ESME_ROK && outcome.messageId) onLateAccept(outcome.messageId);
          return;
        }
        settle(outcome);
      });
      if (!sent) settle({ kind: 'dropped' });
      else link.outstanding.set(pdu.sequence_number, settle);
    });
  }

  async submit(batch: readonly OutgoingMessage[], signal: AbortSignal): Promise<SubmitResult[]> {
    const link = this.link;
    if (!link?.bound) {
      return batch.map((m) => ({ messageId: m.messageId, outcome: 'transient', reason: 'not bound to the SMSC (reconnecting)', retryAfterMs: this.reconnectDelay }));
    }
    const known = await this.acceptedParts(batch.map((m) => m.sendId));
    // One listener for the whole batch, however many PDUs wait on it.
    const abort: Abort = { aborted: signal.aborted, listeners: new Set() };
    const onAbort = () => {
      abort.aborted = true;
      for (const listener of [...abort.listeners]) listener();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const outcomes = await Promise.all(
      batch.map(async (message) => {
        const earlier = this.inflight.get(message.sendId);
        if (earlier) await earlier.catch(() => undefined);
        const sending = earlier ? this.acceptedParts([message.sendId]).then((parts) => this.sendMessage(link, message, parts.get(message.sendId), abort)) : this.sendMessage(link, message, known.get(message.sendId), abort);
        this.inflight.set(message.sendId, sending);
        try {
          return await sending;
        } finally {
          if (this.inflight.get(message.sendId) === sending) this.inflight.delete(message.sendId);
        }
      }),
    );
    signal.removeEventListener('abort', onAbort);
    const accepted = outcomes.flatMap((o) => o.newParts);
    if (accepted.length > 0) await this.recordParts(accepted);
    return outcomes.map((o) => o.result);
  }

  private async sendMessage(link: Link, message: OutgoingMessage, known: Map<number, string> | undefined, signal: Abort): Promise<MessageOutcome> {
    const { encoding, parts } = submitParts(message, this.settings);
    const request = `submit_sm ${parts.length === 1 ? '1 part' : `${parts.length} parts`} ${encoding}`;
    const outcomes = await Promise.all(
      parts.map(async (part): Promise<PduOutcome> => {
        const already = known?.get(part.index);
        if (already) return { kind: 'resp', status: ESME_ROK, messageId: already };
        return this.sendPdu(link, part.options, signal, (partId) => {
          void this.recordParts([{ sendId: message.sendId, index: part.index, total: part.total, partId }]).catch((error: Error) =>
            this.ctx.logger.error({ err: error.message }, 'SMPP: recording a late submit_sm_resp failed'),
          );
        });
      }),
    );
    const newParts: AcceptedPart[] = [];
    outcomes.forEach((o, i) => {
      if (o.kind === 'resp' && o.status === ESME_ROK && !known?.get(i + 1)) newParts.push({ sendId: message.sendId, index: i + 1, total: parts.length, partId: o.messageId });
    });
    const answers = outcomes.map((o) => (o.kind === 'resp' ? (o.status === ESME_ROK ? `message_id=${o.messageId}` : commandStatusName(o.status)) : `no answer (${o.kind === 'dropped' ? 'connection lost' : o.kind})`));
    const detail = `${request} → ${answers.join(', ')}`;
    const base = { messageId: message.messageId, detail };
    const permanent = outcomes.find((o) => o.kind === 'resp' && o.status !== ESME_ROK && o.status !== ESME_RTHROTTLED && o.status !== ESME_RMSGQFUL);
    if (permanent && permanent.kind === 'resp') return { newParts, result: { ...base, outcome: 'rejected', reason: `SMSC refused submit_sm: ${commandStatusName(permanent.status)}` } };
    const throttled = outcomes.find((o) => o.kind === 'resp' && (o.status === ESME_RTHROTTLED || o.status === ESME_RMSGQFUL));
    if (throttled && throttled.kind === 'resp') {
      return { newParts, result: { ...base, outcome: 'transient', reason: `SMSC busy: ${commandStatusName(throttled.status)}`, retryAfterMs: this.settings.throttledRetryMs } };
    }
    const unanswered = outcomes.find((o) => o.kind !== 'resp');
    if (unanswered) {
      const why = unanswered.kind === 'dropped' ? 'connection to the SMSC lost before its answer' : unanswered.kind === 'timeout' ? `no submit_sm_resp within ${this.settings.submitTimeoutMs} ms` : 'submit aborted';
      return { newParts, result: { ...base, outcome: 'transient', reason: why, retryAfterMs: unanswered.kind === 'dropped' ? this.reconnectDelay : undefined } };
    }
    const first = outcomes[0] as { messageId: string };
    return { newParts, result: { ...base, outcome: 'accepted', providerMessageId: first.messageId } };
  }

  /** Parts of these sends the SMSC already accepted (by an earlier attempt), by part index. */
  private async acceptedParts(sendIds: readonly string[]): Promise<Map<string, Map<number, string>>> {
    const { rows } = await this.ctx.pool.query<{ send_id: string; part_index: number; part_id: string }>(
      'select send_id, part_index, part_id from smpp_parts where provider = $1 and send_id = any($2::text[])',
      [this.ctx.config.name, sendIds],
    );
    const byS = new Map<string, Map<number, string>>();
    for (const r of rows) {
      if (!byS.has(r.send_id)) byS.set(r.send_id, new Map());
      byS.get(r.send_id)!.set(r.part_index, r.part_id);
    }
    return byS;
  }

  /**
   * Runs smpp_parts work, concurrently with other work: a part's row is written by one statement
   * at a time (row lock), each write is followed by a claim of what it may complete, and the last
   * of two racing claims sees both writes. Rows are written in part id order (no deadlock).
   */
  private tracked<T>(work: () => Promise<T>): Promise<T> {
    const running = work();
    this.pendingWork.add(running);
    void running.finally(() => this.pendingWork.delete(running)).catch(() => undefined);
    return running;
  }

  /** Stores accepted parts; receipts that came before their submit_sm_resp are reported now. */
  private async recordParts(parts: AcceptedPart[]): Promise<void> {
    parts = [...parts].sort((a, b) => (a.partId < b.partId ? -1 : a.partId > b.partId ? 1 : 0));
    const early = await this.tracked(async () => {
      const { rows } = await this.ctx.pool.query<{ send_id: string; state: string | null }>(
        `insert into smpp_parts (provider, part_id, send_id, part_index, parts_total)
         select $1, * from unnest($2::text[], $3::text[], $4::int[], $5::int[])
         on conflict (provider, part_id) do update set send_id = excluded.send_id, part_index = excluded.part_index,
           parts_total = excluded.parts_total, updated_at = now()
         returning send_id, state`,
        [this.ctx.config.name, parts.map((p) => p.partId), parts.map((p) => p.sendId), parts.map((p) => p.index), parts.map((p) => p.total)],
      );
      const sends = [...new Set(rows.filter((r) => r.state !== null).map((r) => r.send_id))];
      return sends.length > 0 ? this.claimFinal(sends) : [];
    });
    await this.deliverFinal(early);
  }

  private onDeliverSm(session: smpp.Session, pdu: smpp.PDU): void {
    const esmClass = Number(pdu.esm_class ?? 0);
    const message = (pdu.message_payload ?? pdu.short_message) as { message?: unknown } | undefined;
    const text = typeof message?.message === 'string' ? message.message : Buffer.isBuffer(message?.message) ? message.message.toString('latin1') : '';
    const answer = (commandStatus: number) => session.send(pdu.response(commandStatus === ESME_ROK ? {} : { command_status: commandStatus }));
    if ((esmClass & 0x3c) !== 0x04) {
      // A mobile-originated message: not ours to handle, acknowledged so the SMSC does not retry it.
      answer(ESME_ROK);
      return;
    }
    const parsed = parseReceipt(text, {
      receiptedMessageId: typeof pdu.receipted_message_id === 'string' ? pdu.receipted_message_id : undefined,
      messageState: typeof pdu.message_state === 'number' ? pdu.message_state : undefined,
    });
    if (!parsed) {
      this.ctx.logger.warn({ text }, 'SMPP: a receipt without id or stat, ignored');
      answer(ESME_ROK);
      return;
    }
    this.receiptQueue.push({ ...parsed, status: receiptStatus(parsed.stat), answer });
    if (this.receiptQueue.length >= RECEIPT_BATCH) this.flushReceipts();
    else this.receiptFlush ??= setTimeout(() => this.flushReceipts(), RECEIPT_FLUSH_MS);
  }

  /** Stores a batch of part receipts, reports what they complete, then acknowledges them (a failure: the SMSC sends them again). */
  private flushReceipts(): void {
    clearTimeout(this.receiptFlush);
    this.receiptFlush = undefined;
    const batch = this.receiptQueue.splice(0);
    if (batch.length === 0) return;
    void this.tracked(async () => {
      // One row per part in a statement: a final state wins over a pending one, whatever the order.
      const byPart = new Map<string, PendingReceipt>();
      for (const r of batch) {
        const seen = byPart.get(r.partId);
        if (!seen || !FINAL.has(seen.status)) byPart.set(r.partId, r);
      }
      const merged = [...byPart.values()].sort((a, b) => (a.partId < b.partId ? -1 : a.partId > b.partId ? 1 : 0));
      const { rows } = await this.ctx.pool.query<{ part_id: string; send_id: string | null; state: string; first_id: string | null; parts_total: number | null }>(
        `with upserted as (
           insert into smpp_parts (provider, part_id, state, stat)
           select $1, * from unnest($2::text[], $3::text[], $4::text[])
           on conflict (provider, part_id) do update set
             state = case when smpp_parts.state in ('DELIVERED', 'UNDELIVERED') then smpp_parts.state else excluded.state end,
             stat = case when smpp_parts.state in ('DELIVERED', 'UNDELIVERED') then smpp_parts.stat else excluded.stat end,
             updated_at = now()
           returning part_id, send_id, state, parts_total)
         select u.part_id, u.send_id, u.state, u.parts_total,
           (select p.part_id from smpp_parts p where p.provider = $1 and p.send_id = u.send_id and p.part_index = 1) as first_id
         from upserted u`,
        [this.ctx.config.name, merged.map((r) => r.partId), merged.map((r) => r.status), merged.map((r) => r.stat + (r.err ? ` err:${r.err}` : ''))],
      );
      // A pending state passes straight through (the engine never regresses a final status).
      const pending: ProviderReceipt[] = rows
        .filter((r) => r.state === 'PENDING' && r.first_id)
        .map((r) => ({ providerMessageId: r.first_id!, status: 'PENDING', description: `stat:${byPart.get(r.part_id)!.stat}` }));
      const groups = [...new Set(rows.filter((r) => r.send_id && FINAL.has(r.state as MessageStatus)).map((r) => r.send_id!))];
      return { pending, final: groups.length > 0 ? await this.claimFinal(groups) : [] };
    })
      .then(async ({ pending, final }) => {
        if (pending.length > 0) await this.ctx.applyReceipts(this.channel, pending);
        await this.deliverFinal(final);
      })
      .then(
        () => batch.forEach((r) => r.answer(ESME_ROK)),
        (error: Error) => {
          this.ctx.logger.error({ err: error.message }, 'SMPP: storing receipts failed; the SMSC will send them again');
          batch.forEach((r) => r.answer(ESME_RX_T_APPDN));
        },
      );
  }

  /** Claims the sends among these whose parts all have a final state and that were not reported yet:
   * DELIVERED when every part was delivered, else UNDELIVERED. Of two racing claims, the second
   * finds `reported` set once the first commits, and claims nothing. */
  private async claimFinal(sendIds: readonly string[]): Promise<ProviderReceipt[]> {
    const { rows } = await this.ctx.pool.query<{ first_id: string; state: MessageStatus; stats: string; parts_total: number }>(
      `with complete as (
         select max(part_id) filter (where part_index = 1) as first_id,
           case when count(*) filter (where state = 'DELIVERED') = count(*) then 'DELIVERED' else 'UNDELIVERED' end as state,
           string_agg('stat:' || stat, ', ' order by part_index) as stats, max(parts_total) as parts_total
         from smpp_parts where provider = $1 and send_id = any($2::text[])
         group by send_id
         having count(*) = max(parts_total) and count(*) filter (where state in ('DELIVERED', 'UNDELIVERED')) = count(*) and not bool_or(reported))
       update smpp_parts p set reported = true from complete c
       where p.provider = $1 and p.part_id = c.first_id and not p.reported
       returning c.first_id, c.state, c.stats, c.parts_total`,
      [this.ctx.config.name, sendIds],
    );
    return rows.map((r) => ({ providerMessageId: r.first_id, status: r.state, description: r.parts_total > 1 ? `${r.parts_total} parts: ${r.stats}` : r.stats }));
  }

  /** Applies claimed final receipts; if that fails they are unclaimed, for the SMSC's resent receipt. */
  private async deliverFinal(receipts: readonly ProviderReceipt[]): Promise<void> {
    if (receipts.length === 0) return;
    try {
      await this.ctx.applyReceipts(this.channel, receipts);
    } catch (error) {
      await this.ctx.pool
        .query('update smpp_parts set reported = false where provider = $1 and part_id = any($2::text[])', [this.ctx.config.name, receipts.map((r) => r.providerMessageId)])
        .catch(() => undefined);
      throw error;
    }
  }
}

interface MessageOutcome {
  result: SubmitResult;
  newParts: AcceptedPart[];
}

export const smppAdapter = defineAdapter({
  type: 'smpp',
  settings: smppSettings,
  createClient(settings, ctx) {
    return new SmppClient(settings, ctx);
  },
});
