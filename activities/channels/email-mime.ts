import { domainToASCII } from 'node:url';
import addressparser from 'nodemailer/lib/addressparser';
import * as base64 from 'nodemailer/lib/base64';
import * as mimeFuncs from 'nodemailer/lib/mime-funcs';
import * as qp from 'nodemailer/lib/qp';

/**
 * An email as the relay receives it (RFC 5322 with MIME), written in one pass of string work with
 * nodemailer's own encoders (encoded words, quoted-printable, base64, line folding). nodemailer's
 * composer builds a tree of streams per message: sending through the same pooled connections, the
 * composed path cost 684 µs of CPU per message and this one 258 (scripts/bench: `--smtp`).
 */
export interface EmailContent {
  /** The From field as the sender was approved: `address` or `Name <address>`. */
  from: string;
  to: string;
  subject: string;
  /** The plain-text body, or the alternative of `html`. */
  text: string;
  html?: string;
  /** `<id@domain>` */
  messageId: string;
  date: Date;
}

export interface ComposedEmail {
  /** MAIL FROM / RCPT TO: the bare addresses (international domains in their ASCII form). */
  envelope: { from: string; to: string[] };
  raw: string;
}

/** The parts' boundary: "=_" appears in neither quoted-printable nor base64 output. */
const BOUNDARY_PREFIX = `----=_Part_${process.pid.toString(36)}_${Date.now().toString(36)}_`;
let boundaryCount = 0;

/** Line length of encoded bodies and folded headers (RFC 2045 and 5322 recommend 76 and 78). */
const LINE = 76;

export function composeEmail(email: EmailContent, envelopeFrom?: string): ComposedEmail {
  const from = parseAddress(email.from);
  const to = parseAddress(email.to);
  const headers = [
    header('From', formatAddress(from)),
    header('To', formatAddress(to)),
    header('Subject', encodeHeaderText(email.subject)),
    header('Message-ID', oneLine(email.messageId)),
    header('Date', email.date.toUTCString().replace(/GMT$/, '+0000')),
    'MIME-Version: 1.0',
  ];
  let body: string;
  if (email.html === undefined) {
    body = bodyPart('text/plain', email.text);
  } else {
    const boundary = `${BOUNDARY_PREFIX}${(boundaryCount++).toString(36)}`;
    body =
      `Content-Type: multipart/alternative;\r\n boundary="${boundary}"\r\n\r\n` +
      `--${boundary}\r\n${bodyPart('text/plain', email.text)}\r\n` +
      `--${boundary}\r\n${bodyPart('text/html', email.html)}\r\n` +
      `--${boundary}--`;
  }
  return {
    envelope: { from: envelopeFrom === undefined ? from.address : parseAddress(envelopeFrom).address, to: [to.address] },
    // The message ends with a line break (the SMTP terminator starts after one), but only one.
    raw: `${headers.join('\r\n')}\r\n${body}${body.endsWith('\r\n') ? '' : '\r\n'}`,
  };
}

/** Content-Type, transfer encoding and the encoded body of one text part. */
function bodyPart(type: 'text/plain' | 'text/html', content: string): string {
  const text = content.replace(/\r\n|\r|\n/g, '\r\n');
  let encoding: '7bit' | 'quoted-printable' | 'base64';
  let encoded: string;
  const nonAscii = text.match(/[^\x20-\x7e\r\n\t]/g)?.length ?? 0;
  if (nonAscii === 0 && !hasLongerLines(text, 998)) {
    encoding = '7bit';
    encoded = text;
  } else if (nonAscii < text.length / 4) {
    // Mostly Latin: quoted-printable keeps it readable and short.
    encoding = 'quoted-printable';
    encoded = qp.wrap(qp.encode(text), LINE);
  } else {
    // Cyrillic and the like: base64 is shorter than quoted-printable.
    encoding = 'base64';
    encoded = base64.wrap(base64.encode(Buffer.from(text, 'utf8')), LINE);
  }
  return `Content-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: ${encoding}\r\n\r\n${encoded}`;
}

/** Whether a line is longer than `limit` (nodemailer's test is a multiline regular expression
 * over the whole text: 2 % of the worker's CPU in the email bench). */
function hasLongerLines(text: string, limit: number): boolean {
  if (text.length <= limit) return false;
  let start = 0;
  for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
    if (end - start - (text.charCodeAt(end - 1) === 13 ? 1 : 0) > limit) return true;
    start = end + 1;
  }
  return text.length - start > limit;
}

/** A header line folded at whitespace; a line break in the value cannot start a header of its own. */
function header(name: string, value: string): string {
  return mimeFuncs.foldLines(`${name}: ${oneLine(value)}`, LINE).replace(/\r\n$/, '');
}

const oneLine = (value: string) => value.replace(/[\r\n]+/g, ' ');

/** Non-ASCII text as MIME encoded words (RFC 2047); ASCII as it is. */
function encodeHeaderText(value: string): string {
  const text = oneLine(value);
  return mimeFuncs.isPlainText(text) ? text : mimeFuncs.encodeWords(text, 'Q', 52);
}

interface Address {
  name: string;
  address: string;
}

/** A bare ASCII address, the usual recipient: nothing for addressparser to do. */
const BARE_ADDRESS = /^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$/;

/** Parsed named addresses (a campaign's sender: the same field for every message). */
const namedAddresses = new Map<string, Address>();

/** The first address of a field; an international domain in its ASCII (punycode) form. */
function parseAddress(field: string): Address {
  if (BARE_ADDRESS.test(field)) return { name: '', address: field };
  const known = namedAddresses.get(field);
  if (known) return known;
  if (namedAddresses.size >= 1000) namedAddresses.clear();
  const parsed = parseNamedAddress(field);
  namedAddresses.set(field, parsed);
  return parsed;
}

function parseNamedAddress(field: string): Address {
  const [first] = addressparser(oneLine(field), { flatten: true });
  const parsed = first ?? { name: '', address: field.trim() };
  const at = parsed.address.lastIndexOf('@');
  if (at < 0 || mimeFuncs.isPlainText(parsed.address)) return parsed;
  const domain = domainToASCII(parsed.address.slice(at + 1)) || parsed.address.slice(at + 1);
  return { name: parsed.name, address: `${parsed.address.slice(0, at)}@${domain}` };
}

/** `Name <address>`: a name in encoded words when not ASCII, quoted when it holds specials. */
function formatAddress({ name, address }: Address): string {
  if (!name) return address;
  const shown = !mimeFuncs.isPlainText(name)
    ? mimeFuncs.encodeWords(name, 'Q', 52)
    : /^[\w !#$%&'*+\-/=?^`{|}~]*$/.test(name)
      ? name
      : `"${name.replace(/([\\"])/g, '\\$1')}"`;
  return `${shown} <${address}>`;
}
