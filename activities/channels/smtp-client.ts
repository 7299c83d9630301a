import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';

/**
 * A pool of SMTP connections (RFC 5321) to one relay, written for throughput: each connection
 * sends one message per round trip. With PIPELINING (RFC 2920) the data of a message, its final
 * dot and the next message's MAIL, RCPT and DATA leave in one write, and the replies are read in
 * order — the message content is allowed to be the first "command" of a group. Without PIPELINING
 * each command waits for its reply. Connections log in once (STARTTLS when offered or required,
 * AUTH PLAIN or LOGIN) and send up to `maxMessagesPerConnection` messages each.
 *
 * nodemailer's pooled transport, used before, spent ≈ 250 µs of CPU per message in per-message
 * objects and stream plumbing and took two round trips (commands, then data); scripts/bench
 * (`--smtp`) measures both.
 */
export interface SmtpClientOptions {
  host: string;
  port: number;
  /** TLS from the first byte (port 465). */
  secure: boolean;
  /** Refuse to send unless the relay upgrades the connection with STARTTLS. */
  requireTLS: boolean;
  rejectUnauthorized: boolean;
  auth?: { user: string; pass: string };
  maxConnections: number;
  maxMessagesPerConnection: number;
  connectionTimeoutMs: number;
  greetingTimeoutMs: number;
  /** Silence while a reply is awaited fails the connection; an idle connection closes after it. */
  socketTimeoutMs: number;
}

export interface SmtpEnvelope {
  from: string;
  to: string;
}

/** A failure as the adapter classifies it: a reply (`responseCode`, `response`, the `command` it
 * answered) or a connection problem (`code`: ECONNECTION, ETIMEDOUT, ETLS, EAUTH, EENVELOPE,
 * ECONNREFUSED …). */
export class SmtpError extends Error {
  /** false: the session failed, not the message (a refused greeting, EHLO, STARTTLS or RSET), so
   * even a 5xx reply means "try later". Undefined: the reply decides. */
  permanent?: boolean;

  constructor(
    message: string,
    readonly code: string,
    readonly reply?: SmtpReply,
    readonly command?: string,
  ) {
    super(message);
  }
  get responseCode(): number | undefined {
    return this.reply?.code;
  }
  get response(): string | undefined {
    return this.reply?.text;
  }
}

export interface SmtpReply {
  code: number;
  /** The reply as the relay wrote it, code included; the lines of a multi-line reply joined by "\n". */
  text: string;
}

interface Job {
  from: string;
  to: string;
  /** MAIL FROM's parameters (" SMTPUTF8"). */
  mailParams: string;
  /** The dot-stuffed message and its terminating ".\r\n". */
  data: string;
  resolve(reply: SmtpReply): void;
  reject(error: SmtpError): void;
  /** Taken by a connection: its commands may be on the wire, so an abort no longer withdraws it. */
  taken: boolean;
}

const CLOSED = 'Connection closed unexpectedly';
/** Nothing in an envelope address may end the command line or the angle brackets early. */
const ENVELOPE_UNSAFE = /[\s<>]/;

/** A socket's error as an SmtpError; a reset is the relay hanging up on unread pipelined commands,
 * the same as a close. */
function socketError(error: NodeJS.ErrnoException): SmtpError {
  return error.code === 'ECONNRESET' || error.code === 'EPIPE' ? new SmtpError(CLOSED, 'ECONNECTION') : new SmtpError(error.message, error.code ?? 'ECONNECTION');
}

/** "host.example.com", or an address literal when the machine's name is not a domain (RFC 5321 4.1.4). */
function clientName(socket: net.Socket): string {
  const name = os.hostname();
  if (name.includes('.')) return name;
  const address = socket.localAddress ?? '127.0.0.1';
  return net.isIPv6(address) ? `[IPv6:${address}]` : `[${address}]`;
}

/** Lines starting with a dot get a second one; the message ends with CRLF "." CRLF. */
function dataOf(raw: string): string {
  let data = raw.includes('\n.') ? raw.replace(/\n\./g, '\n..') : raw;
  if (data.startsWith('.')) data = `.${data}`;
  return data.endsWith('\r\n') ? `${data}.\r\n` : `${data}\r\n.\r\n`;
}

export class SmtpPool {
  private readonly queue: Job[] = [];
  private readonly connections = new Set<SmtpConnection>();
  private readonly idle: SmtpConnection[] = [];
  private readonly withdrawable = new WeakMap<AbortSignal, Set<Job>>();
  private opening = 0;
  private closed = false;

  constructor(private readonly options: SmtpClientOptions) {}

  /** Sends one message; resolves with the relay's reply to its data, rejects with an SmtpError.
   * An abort withdraws it while no connection has taken it yet. */
  send(envelope: SmtpEnvelope, raw: string, signal?: AbortSignal): Promise<SmtpReply> {
    for (const address of [envelope.from, envelope.to]) {
      if (ENVELOPE_UNSAFE.test(address) || !address.includes('@')) {
        return Promise.reject(new SmtpError(`the address ${JSON.stringify(address)} cannot be written into an envelope`, 'EENVELOPE'));
      }
    }
    if (this.closed) return Promise.reject(new SmtpError('the SMTP client is closed', 'ECONNECTION'));
    // eslint-disable-next-line no-control-regex
    const international = /[^\x00-\x7f]/.test(envelope.from + envelope.to);
    return new Promise<SmtpReply>((resolve, reject) => {
      const job: Job = { from: envelope.from, to: envelope.to, mailParams: international ? ' SMTPUTF8' : '', data: dataOf(raw), resolve, reject, taken: false };
      if (signal) {
        if (signal.aborted) return reject(new SmtpError('aborted', 'EABORT'));
        // One listener per signal (a batch's), not per message.
        let jobs = this.withdrawable.get(signal);
        if (!jobs) {
          const ofSignal = new Set<Job>();
          signal.addEventListener('abort', () => this.withdraw(ofSignal), { once: true });
          this.withdrawable.set(signal, (jobs = ofSignal));
        }
        const waiting = jobs.add(job);
        job.resolve = (reply) => (waiting.delete(job), resolve(reply));
        job.reject = (error) => (waiting.delete(job), reject(error));
      }
      this.queue.push(job);
      this.pump();
    });
  }

  /** An aborted batch's messages that no connection has taken yet leave the queue unsent. */
  private withdraw(jobs: Set<Job>): void {
    for (const job of [...jobs]) {
      if (job.taken) continue;
      const at = this.queue.indexOf(job);
      if (at >= 0) this.queue.splice(at, 1);
      job.reject(new SmtpError('aborted', 'EABORT'));
    }
  }

  /** Connects and logs in once (the worker's start check). */
  async verify(): Promise<void> {
    const connection = new SmtpConnection(this.options, this);
    await connection.open();
    connection.quit();
  }

  close(): void {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new SmtpError('the SMTP client is closed', 'ECONNECTION'));
    for (const connection of this.connections) connection.quit();
  }

  /** The next message for a connection, or undefined when none waits. */
  take(): Job | undefined {
    const job = this.queue.shift();
    if (job) job.taken = true;
    return job;
  }

  /** Resolves true when work arrives, false when the connection should close instead. */
  waitForWork(connection: SmtpConnection): Promise<boolean> {
    this.idle.push(connection);
    return connection.parked();
  }

  private pump(): void {
    while (this.queue.length > 0 && this.idle.length > 0) this.idle.pop()!.wake(true);
    while (!this.closed && this.queue.length > this.opening && this.connections.size < this.options.maxConnections) this.openConnection();
  }

  private openConnection(): void {
    const connection = new SmtpConnection(this.options, this);
    this.connections.add(connection);
    this.opening += 1;
    connection.open().then(
      () => {
        this.opening -= 1;
        void connection.serve().finally(() => this.release(connection));
      },
      (error: SmtpError) => {
        this.opening -= 1;
        this.connections.delete(connection);
        // No connection to the relay: what waits would fail the same way (a refused login, a relay
        // that is down), so it is answered now and tried again by the engine's backoff. With another
        // connection serving, the queue is left to it.
        if (this.connections.size === 0) for (const job of this.queue.splice(0)) job.reject(error);
      },
    );
  }

  private release(connection: SmtpConnection): void {
    this.connections.delete(connection);
    const at = this.idle.indexOf(connection);
    if (at >= 0) this.idle.splice(at, 1);
    this.pump();
  }
}

class SmtpConnection {
  private socket!: net.Socket;
  private buffered = '';
  private replyLines: string[] = [];
  private readonly replies: SmtpReply[] = [];
  private waiter: { resolve(reply: SmtpReply): void; reject(error: SmtpError): void } | undefined;
  private failure: SmtpError | undefined;
  private pipelining = false;
  private capabilities = new Set<string>();
  private authMethods: string[] = [];
  private wakeUp: ((work: boolean) => void) | undefined;
  private quitting = false;

  constructor(
    private readonly options: SmtpClientOptions,
    private readonly pool: SmtpPool,
  ) {}

  /** Connects, reads the greeting, says EHLO, upgrades with STARTTLS and logs in. */
  async open(): Promise<void> {
    const { host, port, secure } = this.options;
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const onConnected = () => {
        clearTimeout(timer);
        resolve(s);
      };
      const s = secure ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: this.options.rejectUnauthorized }, onConnected) : net.connect({ host, port }, onConnected);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new SmtpError(`connection to ${host}:${port} timed out`, 'ETIMEDOUT'));
      }, this.options.connectionTimeoutMs);
      s.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(socketError(error));
      });
    });
    this.attach(socket);
    try {
      const greeting = await this.reply(this.options.greetingTimeoutMs);
      if (greeting.code !== 220) throw this.replyError(greeting, 'CONN', 'EPROTOCOL');
      await this.hello();
      if (!secure && (this.capabilities.has('STARTTLS') || this.options.requireTLS)) {
        if (!this.capabilities.has('STARTTLS')) throw new SmtpError('the relay does not offer STARTTLS and requireTLS is set', 'ETLS');
        const answer = await this.command('STARTTLS');
        if (answer.code !== 220) throw this.replyError(answer, 'STARTTLS', 'ETLS');
        await this.upgrade();
        await this.hello();
      }
      if (this.options.auth) await this.login(this.options.auth);
    } catch (error) {
      this.socket.destroy();
      const failure = error instanceof SmtpError ? error : new SmtpError(String(error), 'ECONNECTION');
      failure.permanent = false;
      throw failure;
    }
  }

  /** Sends messages from the pool's queue until none waits for the idle time, or the connection
   * has sent its share, or it fails (its messages in flight then fail with it). */
  async serve(): Promise<void> {
    let sent = 0;
    let previous: Job | undefined; // its data goes out with the next message's commands
    let needsReset = false;
    let current: Job | undefined;
    let currentError: SmtpError | undefined;
    try {
      for (;;) {
        const job = sent < this.options.maxMessagesPerConnection ? this.pool.take() : undefined;
        if (!job) {
          if (previous) {
            this.write(previous.data);
            this.settle(previous, await this.reply(), 'DATA');
            previous = undefined;
            continue;
          }
          if (sent >= this.options.maxMessagesPerConnection || !(await this.pool.waitForWork(this))) break;
          continue;
        }
        sent += 1;
        current = job;
        currentError = undefined;
        const commands = [...(needsReset ? ['RSET'] : []), `MAIL FROM:<${job.from}>${job.mailParams}`, `RCPT TO:<${job.to}>`, 'DATA'];
        if (this.pipelining) this.write(`${previous ? previous.data : ''}${commands.join('\r\n')}\r\n`);
        else if (previous) this.write(previous.data);
        if (previous) {
          // Cleared only once answered: a connection lost while waiting fails it with the rest.
          this.settle(previous, await this.reply(), 'DATA');
          previous = undefined;
        }
        let dataAccepted = false;
        for (const command of commands) {
          if (!this.pipelining) {
            if (currentError) break;
            this.write(`${command}\r\n`);
          }
          const answer = await this.reply();
          if (command === 'RSET') {
            if (answer.code !== 250) throw Object.assign(this.replyError(answer, 'RSET', 'EPROTOCOL'), { permanent: false });
          } else if (command === 'DATA') {
            dataAccepted = answer.code === 354;
            if (!dataAccepted) currentError ??= this.replyError(answer, 'DATA', 'EMESSAGE');
          } else if (answer.code < 200 || answer.code >= 300) {
            currentError ??= this.replyError(answer, command.startsWith('MAIL') ? 'MAIL FROM' : 'RCPT TO', 'EENVELOPE');
          }
        }
        if (!currentError) {
          current = undefined;
          previous = job;
          needsReset = false;
          continue;
        }
        // A relay that answers DATA with 354 although a recipient was refused gets an empty message.
        if (dataAccepted) {
          this.write('.\r\n');
          await this.reply();
        }
        current = undefined;
        job.reject(currentError);
        needsReset = true;
      }
      this.quit();
    } catch (error) {
      const failure = error instanceof SmtpError ? error : new SmtpError(String(error), 'ECONNECTION');
      previous?.reject(failure);
      // A refusal already read (a 421 before the relay hung up) says more than the hang-up.
      current?.reject(currentError ?? failure);
      this.socket.destroy();
    }
  }

  parked(): Promise<boolean> {
    return new Promise<boolean>((resolve) => (this.wakeUp = resolve));
  }

  wake(work: boolean): void {
    const wake = this.wakeUp;
    this.wakeUp = undefined;
    wake?.(work);
  }

  quit(): void {
    if (this.quitting) return;
    this.quitting = true;
    this.wake(false);
    if (!this.socket || this.socket.destroyed) return;
    this.socket.end('QUIT\r\n');
    // The relay's 221 is not waited for.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private settle(job: Job, answer: SmtpReply, command: string): void {
    if (answer.code >= 200 && answer.code < 300) job.resolve(answer);
    else job.reject(this.replyError(answer, command, 'EMESSAGE'));
  }

  private replyError(answer: SmtpReply, command: string, code: string): SmtpError {
    return new SmtpError(`${command} → ${answer.text}`, code, answer, command);
  }

  private attach(socket: net.Socket): void {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    socket.setTimeout(this.options.socketTimeoutMs);
    socket.on('data', (chunk: string) => this.read(chunk));
    socket.on('timeout', () => {
      if (this.waiter) this.fail(new SmtpError(`no answer from the relay for ${this.options.socketTimeoutMs} ms`, 'ETIMEDOUT'));
      else this.quit();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => this.fail(socketError(error)));
    socket.on('close', () => {
      this.fail(new SmtpError(CLOSED, 'ECONNECTION'));
      this.wake(false);
    });
  }

  private async upgrade(): Promise<void> {
    const plain = this.socket;
    plain.setTimeout(0);
    plain.removeAllListeners('data').removeAllListeners('timeout').removeAllListeners('error').removeAllListeners('close');
    const secured = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const host = this.options.host;
      const s = tls.connect({ socket: plain, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: this.options.rejectUnauthorized }, () => resolve(s));
      s.once('error', (error) => reject(new SmtpError(`TLS: ${error.message}`, 'ETLS')));
    });
    this.attach(secured);
  }

  private async hello(): Promise<void> {
    const name = clientName(this.socket);
    let answer = await this.command(`EHLO ${name}`);
    if (answer.code !== 250) {
      answer = await this.command(`HELO ${name}`);
      if (answer.code !== 250) throw this.replyError(answer, 'HELO', 'EPROTOCOL');
      this.capabilities = new Set();
      this.authMethods = [];
      this.pipelining = false;
      return;
    }
    const lines = answer.text.split('\n').slice(1).map((line) => line.slice(4).trim().toUpperCase());
    this.capabilities = new Set(lines.map((line) => line.split(/[\s=]/)[0]!));
    this.authMethods = lines.filter((line) => /^AUTH[\s=]/.test(line)).flatMap((line) => line.slice(5).split(/\s+/));
    this.pipelining = this.capabilities.has('PIPELINING');
  }

  private async login(auth: { user: string; pass: string }): Promise<void> {
    const refused = (answer: SmtpReply, command: string) => new SmtpError(`Invalid login: ${answer.text}`, 'EAUTH', answer, command);
    if (this.authMethods.includes('LOGIN') && !this.authMethods.includes('PLAIN')) {
      let answer = await this.command('AUTH LOGIN');
      if (answer.code !== 334) throw refused(answer, 'AUTH LOGIN');
      answer = await this.command(Buffer.from(auth.user, 'utf8').toString('base64'));
      if (answer.code !== 334) throw refused(answer, 'AUTH LOGIN');
      answer = await this.command(Buffer.from(auth.pass, 'utf8').toString('base64'));
      if (answer.code !== 235) throw refused(answer, 'AUTH LOGIN');
      return;
    }
    const answer = await this.command(`AUTH PLAIN ${Buffer.from(`\0${auth.user}\0${auth.pass}`, 'utf8').toString('base64')}`);
    if (answer.code !== 235) throw refused(answer, 'AUTH PLAIN');
  }

  private command(line: string): Promise<SmtpReply> {
    this.write(`${line}\r\n`);
    return this.reply();
  }

  private write(text: string): void {
    this.socket.write(text);
  }

  /** The next reply, in order; one already read is returned at once. */
  private reply(timeoutMs?: number): Promise<SmtpReply> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<SmtpReply>((resolve, reject) => {
      if (timeoutMs === undefined) {
        this.waiter = { resolve, reject };
        return;
      }
      const timer = setTimeout(() => this.fail(new SmtpError(`no greeting from the relay within ${timeoutMs} ms`, 'ETIMEDOUT')), timeoutMs);
      this.waiter = {
        resolve: (reply) => (clearTimeout(timer), resolve(reply)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      };
    });
  }

  private read(chunk: string): void {
    let text = this.buffered + chunk;
    let start = 0;
    for (;;) {
      const end = text.indexOf('\n', start);
      if (end < 0) break;
      const line = text.charCodeAt(end - 1) === 13 ? text.slice(start, end - 1) : text.slice(start, end);
      start = end + 1;
      // "250-…" continues a reply, "250 …" (or a bare "250") ends it.
      if (line.charCodeAt(3) === 45 /* - */) {
        this.replyLines.push(line);
        continue;
      }
      let replyText = line;
      if (this.replyLines.length > 0) {
        this.replyLines.push(line);
        replyText = this.replyLines.join('\n');
        this.replyLines = [];
      }
      const answer: SmtpReply = { code: Number(line.slice(0, 3)) || 0, text: replyText };
      const waiter = this.waiter;
      if (waiter) {
        this.waiter = undefined;
        waiter.resolve(answer);
      } else this.replies.push(answer);
    }
    text = start === 0 ? text : text.slice(start);
    this.buffered = text;
  }

  private fail(error: SmtpError): void {
    this.failure ??= error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(this.failure);
    this.socket?.destroy();
  }
}
