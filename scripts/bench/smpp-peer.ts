import type { AddressInfo } from 'node:net';
import * as smpp from 'smpp';

/**
 * An SMSC for tests and the benchmark, speaking SMPP 3.4 with the same `smpp` package: it checks
 * bind credentials, records every submit_sm, answers each as `decide` says (by default: accepted,
 * a hex message id), can send delivery receipts, and counts what it accepted per message (a PDU
 * left unanswered when the connection drops is not counted: the client never learnt of it).
 */
export interface ReceivedSubmit {
  pdu: smpp.PDU;
  session: smpp.Session;
  destination: string;
  source: string;
  dataCoding: number;
  esmClass: number;
  /** The UDH octets of a concatenated part, or null. */
  udh: number[] | null;
  text: string;
  validityPeriod: unknown;
  registeredDelivery: number;
  receivedAt: number;
  /** The id it was accepted with, once answered. */
  messageId?: string;
}

export interface SubmitAnswer {
  /** command_status of the answer (default 0, accepted). */
  status?: number;
  /** Wait before answering (the window lets others through meanwhile). */
  delayMs?: number;
  /** Never answer (until the connection drops). */
  hold?: boolean;
  /** A receipt sent before the submit_sm_resp (after its deliver_sm_resp came back). */
  receiptBefore?: string;
  /** A receipt sent after the answer (`receiptDelayMs` later). */
  receiptAfter?: string;
  receiptDelayMs?: number;
}

export interface SmppPeerOptions {
  systemId: string;
  password: string;
  decide?: (submit: ReceivedSubmit, index: number) => SubmitAnswer;
  port?: number;
  /** Keep every submit_sm in `submits` (default); off for a benchmark of many. */
  keepPdus?: boolean;
}

export class SmppPeer {
  readonly submits: ReceivedSubmit[] = [];
  /** Accepted submit_sm per `destination|udh|text`: one each means nothing was sent twice. */
  readonly accepted = new Map<string, number>();
  readonly binds: { systemId: string; password: string; ok: boolean }[] = [];
  submitCount = 0;
  acceptedCount = 0;
  enquireLinks = 0;
  outstanding = 0;
  maxOutstanding = 0;
  receiptsAnswered = 0;
  private nextId = 0x1000;
  private readonly server: smpp.Server;
  private readonly held: (() => void)[] = [];

  private constructor(readonly options: SmppPeerOptions) {
    this.server = smpp.createServer({}, (session) => this.onSession(session));
  }

  static async start(options: SmppPeerOptions): Promise<SmppPeer> {
    const peer = new SmppPeer(options);
    await new Promise<void>((resolve, reject) => {
      peer.server.once('error', reject);
      peer.server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    return peer;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get sessions(): smpp.Session[] {
    return this.server.sessions;
  }

  private onSession(session: smpp.Session): void {
    let bound = false;
    let unanswered = 0;
    session.socket.setNoDelay(true);
    session.on('error', () => undefined);
    session.on('bind_transceiver', (pdu: smpp.PDU) => {
      const ok = pdu.system_id === this.options.systemId && pdu.password === this.options.password;
      this.binds.push({ systemId: String(pdu.system_id), password: String(pdu.password), ok });
      bound = ok;
      session.send(pdu.response(ok ? { system_id: 'test-smsc' } : { command_status: smpp.errors.ESME_RINVPASWD }));
    });
    session.on('enquire_link', (pdu: smpp.PDU) => {
      this.enquireLinks++;
      session.send(pdu.response());
    });
    session.on('unbind', (pdu: smpp.PDU) => {
      session.send(pdu.response());
      session.close();
    });
    session.on('submit_sm', (pdu: smpp.PDU) => {
      if (!bound) {
        session.send(pdu.response({ command_status: smpp.errors.ESME_RINVBNDSTS }));
        return;
      }
      const message = pdu.short_message as { udh?: Buffer[]; message: string };
      const udh = message.udh && message.udh.length > 0 ? [...message.udh[0]!] : null;
      const submit: ReceivedSubmit = {
        pdu,
        session,
        destination: String(pdu.destination_addr),
        source: String(pdu.source_addr),
        dataCoding: Number(pdu.data_coding),
        esmClass: Number(pdu.esm_class),
        udh,
        text: message.message,
        validityPeriod: pdu.validity_period,
        registeredDelivery: Number(pdu.registered_delivery),
        receivedAt: Date.now(),
      };
      const index = this.submitCount++;
      if (this.options.keepPdus !== false) this.submits.push(submit);
      this.outstanding++;
      unanswered++;
      this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding);
      const answer = this.options.decide?.(submit, index) ?? {};
      const closed = () => session.socket.destroyed;
      const respond = async () => {
        if (closed()) return;
        const status = answer.status ?? 0;
        const messageId = (this.nextId++).toString(16);
        if (status === 0 && answer.receiptBefore) await this.sendReceipt(session, messageId, answer.receiptBefore);
        if (closed()) return;
        this.outstanding--;
        unanswered--;
        if (status === 0) {
          submit.messageId = messageId;
          this.acceptedCount++;
          const key = `${submit.destination}|${udh?.join('.') ?? ''}|${submit.text}`;
          this.accepted.set(key, (this.accepted.get(key) ?? 0) + 1);
        }
        session.send(pdu.response(status === 0 ? { message_id: messageId } : { command_status: status }));
        if (status === 0 && answer.receiptAfter) {
          const stat = answer.receiptAfter;
          if (answer.receiptDelayMs) setTimeout(() => void this.sendReceipt(session, messageId, stat), answer.receiptDelayMs);
          else void this.sendReceipt(session, messageId, stat);
        }
      };
      if (answer.hold) {
        this.held.push(() => void respond());
        return;
      }
      if (answer.delayMs) setTimeout(() => void respond(), answer.delayMs);
      else void respond();
    });
    session.on('close', () => {
      // What was never answered was never accepted.
      this.outstanding -= unanswered;
      unanswered = 0;
    });
  }

  /** Answers the submits held so far. */
  releaseHeld(): void {
    for (const respond of this.held.splice(0)) respond();
  }

  /** A delivery receipt (esm_class 0x04) for `messageId`; resolves with the client's deliver_sm_resp status. */
  sendReceipt(
    session: smpp.Session,
    messageId: string,
    stat: string,
    options: { textOnly?: boolean; tlvOnly?: boolean; err?: string } = {},
  ): Promise<number> {
    const states: Record<string, number> = { ENROUTE: 1, DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8 };
    const now = new Date().toISOString().replace(/[-T:]/g, '').slice(2, 12);
    const fields: Record<string, unknown> = {
      source_addr: '79990000000',
      destination_addr: 'ACME',
      esm_class: 0x04,
      short_message: options.tlvOnly
        ? ''
        : `id:${messageId} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} submit date:${now} done date:${now} stat:${stat} err:${options.err ?? '000'} text:`,
    };
    if (!options.textOnly) {
      fields.receipted_message_id = messageId;
      fields.message_state = states[stat] ?? 7;
    }
    return new Promise((resolve) => {
      const sent = session.send(new smpp.PDU('deliver_sm', fields), (resp) => {
        this.receiptsAnswered++;
        resolve(resp.command_status);
      });
      if (!sent) resolve(-1);
    });
  }

  /** Drops every connection (as an SMSC restart or a network cut does). */
  dropConnections(): void {
    for (const session of [...this.server.sessions]) session.destroy();
  }

  async close(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
