import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Pool } from 'pg';
import pino from 'pino';
import { createProviders } from '../../activities/channels/registry';
import type { ChannelProvider, OutgoingMessage } from '../../activities/channels/types';
import type { Channel } from '../../core/config';
import { parseProvidersConfig } from '../../core/providers';

export interface PeerRequest {
  method: string;
  /** Path and query as received. */
  url: string;
  headers: IncomingHttpHeaders;
  raw: string;
  /** The body parsed as JSON (undefined when it is not). */
  json: any;
}

export type PeerHandler = (req: PeerRequest, res: ServerResponse) => void | Promise<void>;

/**
 * A provider's HTTP API on 127.0.0.1 (a free port) for tests: records every request and answers
 * with `handler`; a handler that never ends the response is a provider that never answers.
 */
export class HttpPeer {
  readonly requests: PeerRequest[] = [];
  handler: PeerHandler = (_req, res) => reply(res, 404, { error: 'no handler' });

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(handler?: PeerHandler): Promise<HttpPeer> {
    let peer!: HttpPeer;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = raw ? JSON.parse(raw) : undefined;
        } catch {
          json = undefined;
        }
        const request: PeerRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, raw, json };
        peer.requests.push(request);
        Promise.resolve(peer.handler(request, res)).catch((error: Error) => reply(res, 500, { error: `peer handler failed: ${error.message}` }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    peer = new HttpPeer(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    if (handler) peer.handler = handler;
    return peer;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

/** A port nothing listens on (a provider that is down). */
export async function closedPortUrl(): Promise<string> {
  const peer = await HttpPeer.start();
  const url = peer.url;
  await peer.close();
  return url;
}

/**
 * One provider as the worker runs it (registry.ts: the adapter's client behind the provider's
 * timeout, rate limit and secret redaction), from a PROVIDERS entry.
 */
export function configuredProvider(pool: Pool, entry: Record<string, unknown>, channel: Channel): ChannelProvider {
  const configs = parseProvidersConfig(JSON.stringify([entry]), 'test');
  const running = createProviders({ configs, pool, logger: pino({ level: 'silent' }), publicUrl: 'http://orchestrator.test', sandboxLatencyMs: 0 });
  return running.registry[channel] as ChannelProvider;
}

export function outgoing(channel: Channel, fields: Partial<OutgoingMessage> = {}): OutgoingMessage {
  const messageId = randomUUID();
  return {
    messageId,
    sendId: `${randomUUID()}:1:${channel}`,
    channel,
    recipient: '+79990000001',
    sender: 'ACME',
    text: 'Hello',
    payload: {},
    deliveryEndAt: new Date(Date.now() + 3600_000),
    ...fields,
  };
}
