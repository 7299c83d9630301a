import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request as the peer received it. */
export interface PeerRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** `body` as a string goes out byte for byte (a 64-bit integer unquoted), anything else as JSON.
 * `hang`: never answered (the client's timeout decides). */
export type PeerReply = { status: number; headers?: Record<string, string>; body?: unknown } | 'hang';

/**
 * A provider's HTTP API on 127.0.0.1 and a free port, answering with `answer` (set by each test).
 * It keeps every request it got, so tests check what reached the provider.
 */
export class JsonPeer {
  readonly requests: PeerRequest[] = [];
  answer: (req: PeerRequest) => PeerReply | Promise<PeerReply> = () => ({ status: 500, body: { error: 'no answer set' } });
  private server?: Server;
  private readonly hanging = new Set<ServerResponse>();

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', async () => {
        const request: PeerRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        this.requests.push(request);
        let reply: PeerReply;
        try {
          reply = await this.answer(request);
        } catch (error) {
          reply = { status: 500, body: { error: String(error) } };
        }
        if (reply === 'hang') {
          this.hanging.add(res);
          return;
        }
        const body = typeof reply.body === 'string' ? reply.body : reply.body === undefined ? '' : JSON.stringify(reply.body);
        res.writeHead(reply.status, { 'Content-Type': 'application/json', ...reply.headers });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  /** Requests received since `from` (an index into `requests`). */
  since(from: number): PeerRequest[] {
    return this.requests.slice(from);
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** A deferred answer: a test releases it when it wants the provider's answer to arrive. */
export function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}
