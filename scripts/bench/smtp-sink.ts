/**
 * A lean counting SMTP sink for the email benchmark, run as a process of its own (so its CPU is not
 * the worker's). It speaks just enough SMTP (RFC 5321) for a client to deliver: EHLO/HELO (with
 * PIPELINING and 8BITMIME), MAIL, RCPT, DATA up to the lone dot, RSET, NOOP, QUIT — and counts the
 * messages. `smtp-server` costs more CPU per message than the sender itself, which would measure the
 * sink rather than the product. Tells its parent (IPC) its port once listening and, when asked, how
 * many messages and connections it saw.
 */
import net, { type AddressInfo } from 'node:net';

let messages = 0;
let connections = 0;
let bytes = 0;

const END_OF_DATA = Buffer.from('\r\n.\r\n');

const server = net.createServer((socket) => {
  connections += 1;
  socket.setNoDelay(true);
  let inData = false;
  let pending: Buffer = Buffer.alloc(0);
  socket.write('220 sink.bench ESMTP\r\n');
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let replies = '';
    for (;;) {
      if (inData) {
        // The end of the message may sit right after the DATA line ("\r\n" of the previous line
        // is then the data's start): look for "\r\n.\r\n", or a message that is only ".\r\n".
        const end = pending.indexOf(END_OF_DATA);
        const emptyMessage = pending.length >= 3 && pending[0] === 0x2e && pending[1] === 0x0d && pending[2] === 0x0a;
        if (end < 0 && !emptyMessage) break;
        const consumed = emptyMessage && (end < 0 || end > 0) ? 3 : end + END_OF_DATA.length;
        bytes += consumed;
        pending = pending.subarray(consumed);
        inData = false;
        messages += 1;
        replies += `250 2.0.0 Ok: queued as S${messages}\r\n`;
        continue;
      }
      const lineEnd = pending.indexOf('\r\n');
      if (lineEnd < 0) break;
      const line = pending.subarray(0, lineEnd).toString('latin1');
      pending = pending.subarray(lineEnd + 2);
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') replies += '250-sink.bench\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 52428800\r\n250 SMTPUTF8\r\n';
      else if (verb === 'HELO') replies += '250 sink.bench\r\n';
      else if (verb === 'MAIL' || verb === 'RCPT' || verb === 'RSET' || verb === 'NOOP') replies += '250 2.0.0 Ok\r\n';
      else if (verb === 'DATA') {
        replies += '354 End data with <CR><LF>.<CR><LF>\r\n';
        inData = true;
      } else if (verb === 'QUIT') {
        socket.end(`${replies}221 2.0.0 Bye\r\n`);
        return;
      } else replies += '502 5.5.2 Command not recognized\r\n';
    }
    if (replies) socket.write(replies);
  });
  socket.on('error', () => undefined);
});

server.listen(0, '127.0.0.1', () => {
  process.send!({ port: (server.address() as AddressInfo).port });
});
process.on('message', (request: string) => {
  if (request === 'count') process.send!({ messages, connections, bytes });
  if (request === 'stop') server.close(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
