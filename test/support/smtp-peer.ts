import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';

/** What the peer does with one recipient (by its address): a reply code, a dropped connection, silence. */
export type RecipientBehaviour = { reply: number; message: string } | 'drop' | 'drop-once' | 'stall';

export interface ReceivedMail {
  envelope: { from: string; to: string[] };
  user: string | undefined;
  sessionId: string;
  /** Whether the session was encrypted (implicit TLS or STARTTLS). */
  secure: boolean;
  parsed: ParsedMail;
}

/**
 * A real SMTP server (smtp-server) on 127.0.0.1 and a free port that requires AUTH PLAIN/LOGIN
 * with the credentials given, parses each message it takes with mailparser, and refuses, drops or
 * stalls the recipients `behaviour` picks. Plain SMTP with PIPELINING unless `server` says
 * otherwise (STARTTLS or implicit TLS with smtp-server's own self-signed certificate, only LOGIN,
 * no PIPELINING).
 */
export interface SmtpPeer {
  port: number;
  received: ReceivedMail[];
  /** Connections opened so far, and the most that were in DATA at the same time. */
  connections: number;
  maxConcurrentData: number;
  failedLogins: number;
  behaviour: (recipient: string) => RecipientBehaviour | undefined;
  /** Delay before the peer answers each DATA (to see messages overlap). */
  dataDelayMs: number;
  close(): Promise<void>;
}

export async function startSmtpPeer(credentials: { user: string; password: string }, server: Partial<SMTPServerOptions> = {}): Promise<SmtpPeer> {
  const dropped = new Set<string>();
  let inData = 0;
  let queued = 0;
  const peer: SmtpPeer = {
    port: 0,
    received: [],
    connections: 0,
    maxConcurrentData: 0,
    failedLogins: 0,
    behaviour: () => undefined,
    dataDelayMs: 0,
    close: async () => undefined,
  };
  const dropConnection = (session: SMTPServerSession) => {
    for (const connection of smtp.connections) if (connection.id === session.id) connection._socket.destroy();
  };
  const smtp = new SMTPServer({
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 100,
    disableReverseLookup: true,
    ...server,
    onConnect(_session, callback) {
      peer.connections += 1;
      callback();
    },
    onAuth(auth, _session, callback) {
      if (auth.username === credentials.user && auth.password === credentials.password) return callback(null, { user: auth.username });
      peer.failedLogins += 1;
      callback(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }));
    },
    onRcptTo(address, session, callback) {
      const behaviour = peer.behaviour(address.address);
      if (behaviour === 'stall') return; // never answers
      if (behaviour === 'drop' || (behaviour === 'drop-once' && !dropped.has(address.address))) {
        dropped.add(address.address);
        return dropConnection(session);
      }
      if (behaviour && typeof behaviour === 'object') return callback(Object.assign(new Error(behaviour.message), { responseCode: behaviour.reply }));
      callback();
    },
    onData(stream, session, callback) {
      inData += 1;
      peer.maxConcurrentData = Math.max(peer.maxConcurrentData, inData);
      simpleParser(stream).then(
        async (parsed) => {
          await new Promise((r) => setTimeout(r, peer.dataDelayMs));
          inData -= 1;
          peer.received.push({
            envelope: { from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address) },
            user: session.user as string | undefined,
            sessionId: session.id,
            secure: session.secure,
            parsed,
          });
          queued += 1;
          callback(null, `2.0.0 Ok: queued as Q${queued}`);
        },
        (error: Error) => {
          inData -= 1;
          callback(error);
        },
      );
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  peer.port = (smtp.server.address() as AddressInfo).port;
  peer.close = () =>
    new Promise<void>((resolve) => {
      for (const connection of smtp.connections) connection._socket.destroy();
      smtp.close(() => resolve());
    });
  return peer;
}
