/**
 * A counting SMTP sink for the email benchmark, run as a process of its own (so its CPU is not the
 * worker's): takes every message, reads it to the end, answers `250 … queued as <n>`, and counts.
 * Tells its parent (IPC) its port once listening and, when asked, how many messages and connections it saw.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

let messages = 0;
let connections = 0;
let bytes = 0;
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  maxClients: 1000,
  disableReverseLookup: true,
  onConnect(_session, callback) {
    connections += 1;
    callback();
  },
  onData(stream, _session, callback) {
    stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
    stream.on('end', () => {
      messages += 1;
      callback(null, `2.0.0 Ok: queued as S${messages}`);
    });
  },
});

server.listen(0, '127.0.0.1', () => {
  process.send!({ port: (server.server.address() as AddressInfo).port });
});
process.on('message', (request: string) => {
  if (request === 'count') process.send!({ messages, connections, bytes });
  if (request === 'stop') server.close(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
