import { EventEmitter } from 'node:events';
import { Client } from 'pg';
import type { Queryable } from './messages';

/**
 * PostgreSQL LISTEN/NOTIFY channel on which "rows are ready to dispatch on <channel>" is announced
 * (payload: the message channel, e.g. `sms`). Sent by the statements that make rows claimable —
 * new sends, a resume, a released fallback, a returned claim — and delivered when they commit,
 * so an idle dispatcher wakes at once instead of polling.
 */
export const DISPATCH_READY = 'dispatch_ready';

/** Event for a notification on any channel (the sweep waits on it). */
export const ANY_CHANNEL = '*';
/** Wakes every waiter: the listener (re)connected, or is stopping. */
const EVERYONE = 'everyone';

/** Announces rows ready on these message channels (delivered on commit). */
export async function notifyDispatchReady(db: Queryable, channels: readonly string[]): Promise<void> {
  if (channels.length === 0) return;
  await db.query(`select pg_notify('${DISPATCH_READY}', c) from unnest($1::text[]) as c`, [[...new Set(channels)]]);
}

/**
 * One LISTEN connection per process, shared by its dispatchers. It reconnects by itself; while it
 * is down, waiters fall back on their own timeouts (the slow poll every dispatcher keeps as a
 * safety net), so a lost notification costs latency, never a message.
 */
export class DispatchWakeups {
  private readonly events = new EventEmitter();
  /** How many times each event was announced: a waiter that marked the count before its claim
   * returns at once if a notification came in between (it was emitted while nobody listened). */
  private readonly announced = new Map<string, number>();
  private client?: Client;
  private stopped = false;
  private retryTimer?: NodeJS.Timeout;

  constructor(private readonly databaseUrl: string) {
    this.events.setMaxListeners(0);
  }

  async start(): Promise<void> {
    await this.connect().catch(() => this.scheduleReconnect());
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.databaseUrl });
    client.on('error', () => undefined);
    client.on('end', () => {
      if (this.client === client) this.client = undefined;
      if (!this.stopped) this.scheduleReconnect();
    });
    client.on('notification', (message) => {
      if (message.channel !== DISPATCH_READY) return;
      if (message.payload) this.announce(message.payload);
      this.announce(ANY_CHANNEL);
    });
    await client.connect();
    await client.query(`listen ${DISPATCH_READY}`);
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    // Rows may have become ready while we were not listening.
    this.announce(EVERYONE);
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect().catch(() => this.scheduleReconnect());
    }, 1000);
    this.retryTimer.unref();
  }

  private announce(event: string): void {
    this.announced.set(event, (this.announced.get(event) ?? 0) + 1);
    this.events.emit(event);
  }

  /**
   * A position in the announcements on `channel` (or any channel, for `'*'`). Take it before
   * looking for rows and pass it to `wait`: a notification that arrives while the claim runs — its
   * snapshot taken before the rows committed — then ends the wait at once instead of being lost.
   */
  mark(channel: string): number {
    return (this.announced.get(channel) ?? 0) + (this.announced.get(EVERYONE) ?? 0);
  }

  /**
   * Resolves when rows are announced on `channel` (or on any channel, for `'*'`) — since `mark`,
   * when given — after `timeoutMs`, or when `signal` aborts, whichever comes first.
   */
  wait(channel: string, timeoutMs: number, signal?: AbortSignal, since?: number): Promise<void> {
    if (since !== undefined && this.mark(channel) !== since) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.events.off(channel, done);
        this.events.off(EVERYONE, done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.events.once(channel, done);
      this.events.once(EVERYONE, done);
      signal?.addEventListener('abort', done, { once: true });
      if (signal?.aborted) done();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.announce(EVERYONE);
    await this.client?.end().catch(() => undefined);
  }
}
