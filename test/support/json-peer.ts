import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { HttpPeer, reply } from './http-peer';

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
 * A provider's HTTP API (test/support/http-peer.ts) answering with `answer`, a function of the
 * request that returns the reply (set by each test), instead of writing the response itself.
 */
export class JsonPeer {
  answer: (req: PeerRequest) => PeerReply | Promise<PeerReply> = () => ({ status: 500, body: { error: 'no answer set' } });
  private peer?: HttpPeer;
  private readonly hanging = new Set<ServerResponse>();

  async start(): Promise<string> {
    this.peer = await HttpPeer.start(async (req, res) => {
      const answer = await this.answer({ method: req.method, url: req.url, headers: req.headers, body: req.raw });
      if (answer === 'hang') this.hanging.add(res);
      else reply(res, answer.status, answer.body ?? '', answer.headers);
    });
    return this.url;
  }

  get url(): string {
    return this.peer!.url;
  }

  /** Every request received so far. */
  get requests(): PeerRequest[] {
    return (this.peer?.requests ?? []).map((r) => ({ method: r.method, url: r.url, headers: r.headers, body: r.raw }));
  }

  /** Requests received since `from` (an index into `requests`). */
  since(from: number): PeerRequest[] {
    return this.requests.slice(from);
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    await this.peer?.close();
  }
}

/** A deferred answer: a test releases it when it wants the provider's answer to arrive. */
export function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}
