import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HLR_LOOKUP_PATH, hlrLookupSignature } from '../../api/services/hlr/http';

/** What the stub received for one lookup. */
export interface StubRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  msisdn: string;
}

/** How the stub answers a lookup: status and JSON (or text) body, or `hang` to never answer,
 * or `stall` to send the headers and then nothing. */
export type StubAnswer = { status: number; json?: unknown; text?: string; delayMs?: number } | 'hang' | 'stall';

/**
 * A local HLR provider speaking the hlr-lookups.com v2 shape (api/services/hlr/http.ts): it checks
 * the key and the HMAC signature like the real one (401 with `{"errors": [...]}` otherwise) and
 * answers each lookup as `answer(msisdn)` says.
 */
export async function startHlrStub(credentials: { key: string; secret: string }, answer: (msisdn: string) => StubAnswer) {
  const requests: StubRequest[] = [];
  const load = { inFlight: 0, maxInFlight: 0 };
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const msisdn = (() => {
        try {
          return String(JSON.parse(body).msisdn ?? '');
        } catch {
          return '';
        }
      })();
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, msisdn });
      const send = (status: number, json: unknown) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(json));
      if (req.method !== 'POST' || req.url !== HLR_LOOKUP_PATH) return send(404, { errors: ['no such endpoint'] });
      const timestamp = Number(req.headers['x-digest-timestamp']);
      const expected = hlrLookupSignature(credentials.secret, HLR_LOOKUP_PATH, timestamp, 'POST', body);
      if (req.headers['x-digest-key'] !== credentials.key || req.headers['x-digest-signature'] !== expected) {
        return send(401, { errors: ['Unauthorized: invalid API key or signature'] });
      }
      // In flight until the answer is sent or the caller hangs up (a timed-out lookup).
      load.maxInFlight = Math.max(load.maxInFlight, ++load.inFlight);
      res.on('close', () => load.inFlight--);
      const reply = answer(msisdn);
      if (reply === 'hang') return;
      if (reply === 'stall') return res.writeHead(200, { 'Content-Type': 'application/json' }).flushHeaders();
      setTimeout(() => {
        if (reply.text !== undefined) res.writeHead(reply.status, { 'Content-Type': 'text/plain' }).end(reply.text);
        else send(reply.status, reply.json);
      }, reply.delayMs ?? 0);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    /** Lookups being answered at once, and the most there were. */
    load,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A completed lookup as hlr-lookups.com answers it (its documented example, adjusted). */
export function lookupAnswer(msisdn: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'f94ef092cb53',
    msisdn,
    connectivity_status: 'CONNECTED',
    mccmnc: '25001',
    mcc: '250',
    mnc: '01',
    imsi: '***************',
    original_network_name: 'MTS',
    original_country_name: 'Russia',
    original_country_code: 'RU',
    original_country_prefix: '+7',
    is_ported: false,
    ported_network_name: null,
    ported_country_name: null,
    ported_country_code: null,
    is_roaming: false,
    roaming_network_name: null,
    roaming_country_name: null,
    cost: '0.0100',
    timestamp: '2026-11-28 10:00:00.000+0000',
    storage: 'SYNC-API-2026-11',
    route: 'IP1',
    processing_status: 'COMPLETED',
    error_code: null,
    data_source: 'LIVE_HLR',
    ...fields,
  };
}
