import { simpleParser } from 'mailparser';
import { composeEmail, type EmailContent } from '../../activities/channels/email-mime';
import { classifySmtpError, htmlToText, messageIdFor } from '../../activities/channels/smtp';

describe('SMTP adapter: text alternative, Message-ID, error classes', () => {
  it('writes links as label (url), drops head, style, comments and the pixel, keeps paragraphs and list items apart', () => {
    const html =
      '<html><head><title>T</title><style>p{color:red}</style></head><body><!-- hidden --><h1>Order&nbsp;A&amp;B</h1>' +
      '<p>Hi <b>Ann</b>,<br>your order:</p><ul><li>one</li><li>two</li></ul>' +
      '<p><a href="https://n.example/l/AAAA">Track</a> or <a href=\'https://n.example/l/BBBB\'>https://n.example/l/BBBB</a></p>' +
      '<img src="https://n.example/o/1.gif" width="1" height="1" alt=""></body></html>';
    expect(htmlToText(html)).toBe('Order A&B\n\nHi Ann,\nyour order:\n\n- one\n- two\n\nTrack (https://n.example/l/AAAA) or https://n.example/l/BBBB');
  });

  it('derives the Message-ID from the send id alone; an unusual send id is hashed', () => {
    expect(messageIdFor('6f1c2b7e-0000-4000-8000-000000000001:12:email', 'acme.com')).toBe('<6f1c2b7e-0000-4000-8000-000000000001.12.email@acme.com>');
    const odd = messageIdFor('row 1/<x>', 'acme.com');
    expect(odd).toMatch(/^<[0-9a-f]{40}@acme\.com>$/);
    expect(messageIdFor('row 1/<x>', 'acme.com')).toBe(odd);
  });

  it('5xx refused, 4xx and 503 try later, a failed login tries later, an envelope the mailer cannot write is refused', () => {
    const reply = (responseCode: number, response: string, extra: object = {}) => Object.assign(new Error(response), { responseCode, response, command: 'RCPT TO:<a@b>', ...extra });
    expect(classifySmtpError('m', reply(550, '550 5.1.1 unknown'))).toEqual({ messageId: 'm', outcome: 'rejected', reason: 'SMTP 550 5.1.1 unknown', detail: 'RCPT → 550 5.1.1 unknown' });
    expect(classifySmtpError('m', reply(451, '451 4.3.0 later')).outcome).toBe('transient');
    expect(classifySmtpError('m', reply(503, '503 5.5.1 bad sequence', { permanent: false })).outcome).toBe('transient');
    expect(classifySmtpError('m', reply(535, '535 5.7.8 bad credentials', { code: 'EAUTH' })).outcome).toBe('transient');
    expect(classifySmtpError('m', Object.assign(new Error('No recipients defined'), { code: 'EENVELOPE' })).outcome).toBe('rejected');
    expect(classifySmtpError('m', Object.assign(new Error('Greeting never received'), { code: 'ETIMEDOUT' }))).toEqual({ messageId: 'm', outcome: 'transient', reason: 'SMTP ETIMEDOUT: Greeting never received' });
  });
});

describe('the email as the relay receives it (composeEmail), read back by a mail client parser', () => {
  const base: EmailContent = {
    from: 'ACME News <news@acme.test>',
    to: 'ann@mx.example',
    subject: 'Your order',
    text: 'Hi Ann',
    messageId: '<t1.42.email@acme.test>',
    date: new Date('2026-11-27T10:00:00Z'),
  };
  const linesOf = (raw: string) => raw.split('\r\n');

  it('From, To, Subject, Message-ID, Date and an HTML body with its text alternative; CRLF lines of at most 78 characters', async () => {
    const html = '<p>Hi <b>Ann &amp; Bob</b>,</p><p><a href="https://n.example/l/AAAA">Track</a></p>';
    const { raw, envelope } = composeEmail({ ...base, html, text: 'Hi Ann & Bob,\n\nTrack (https://n.example/l/AAAA)' });
    expect(envelope).toEqual({ from: 'news@acme.test', to: ['ann@mx.example'] });
    expect(raw).not.toMatch(/[^\r]\n/);
    // Folded headers; a 7bit body may keep its lines up to SMTP's 998.
    for (const line of linesOf(raw.slice(0, raw.indexOf('\r\n\r\n')))) expect(line.length).toBeLessThanOrEqual(78);
    for (const line of linesOf(raw)) expect(line.length).toBeLessThanOrEqual(998);
    const parsed = await simpleParser(raw);
    expect(parsed.from?.value).toEqual([{ name: 'ACME News', address: 'news@acme.test' }]);
    expect(parsed.to).toMatchObject({ value: [{ address: 'ann@mx.example', name: '' }] });
    expect(parsed.subject).toBe('Your order');
    expect(parsed.messageId).toBe('<t1.42.email@acme.test>');
    expect(parsed.date?.toISOString()).toBe('2026-11-27T10:00:00.000Z');
    expect(parsed.html).toBe(html);
    expect(parsed.text).toBe('Hi Ann & Bob,\n\nTrack (https://n.example/l/AAAA)');
    expect(parsed.headers.get('mime-version')).toBe('1.0');
  });

  it('Cyrillic subject, sender name and body; a long subject is folded and reads back whole', async () => {
    const subject = 'Ваш заказ А-1 готов к выдаче в пункте самовывоза на Тверской улице, дом 7, до 21:00 — ждём вас!';
    const text = 'Здравствуйте, Анна!\nВаш заказ готов.\n' + 'Очень длинная строка без переносов '.repeat(60);
    const { raw } = composeEmail({ ...base, from: 'Магазин «Ромашка» <shop@acme.test>', subject, text });
    for (const line of linesOf(raw)) expect(line.length).toBeLessThanOrEqual(78);
    expect(raw).toContain('Content-Transfer-Encoding: base64');
    const parsed = await simpleParser(raw);
    expect(parsed.subject).toBe(subject);
    expect(parsed.from?.value).toEqual([{ name: 'Магазин «Ромашка»', address: 'shop@acme.test' }]);
    expect(parsed.text).toBe(text);
  });

  it('mostly Latin text with a few accents, and an ASCII line longer than SMTP allows, go quoted-printable and read back exactly', async () => {
    const text = `Café crème, déjà vu.\n${'x'.repeat(2000)}\n.a line that starts with a dot\n`;
    const { raw } = composeEmail({ ...base, text });
    expect(raw).toContain('Content-Transfer-Encoding: quoted-printable');
    for (const line of linesOf(raw)) expect(line.length).toBeLessThanOrEqual(78);
    // A final line break reads back as one, as with nodemailer's composer.
    expect((await simpleParser(raw)).text).toBe(text);
    expect((await simpleParser(composeEmail({ ...base, text: 'Café\nno final break' }).raw)).text).toBe('Café\nno final break\n');
    const ascii = composeEmail({ ...base, text: 'plain ascii\nsecond line' }).raw;
    expect(ascii).toContain('Content-Transfer-Encoding: 7bit');
    expect((await simpleParser(ascii)).text).toBe('plain ascii\nsecond line\n');
  });

  it('a line break in a subject or name cannot add a header; a name with specials is quoted', async () => {
    const { raw } = composeEmail({ ...base, from: '"Shop, \\"Best\\" Ltd" <shop@acme.test>', subject: 'Hello\r\nBcc: victim@evil.example' });
    const parsed = await simpleParser(raw);
    expect(parsed.headers.has('bcc')).toBe(false);
    expect(parsed.subject).toBe('Hello Bcc: victim@evil.example');
    expect(parsed.from?.value).toEqual([{ name: 'Shop, "Best" Ltd', address: 'shop@acme.test' }]);
  });

  it('an international domain goes in its ASCII form; the return path is the envelope sender', () => {
    const { envelope, raw } = composeEmail({ ...base, to: 'anna@почта.рф' }, 'bounces@acme.test');
    expect(envelope).toEqual({ from: 'bounces@acme.test', to: ['anna@xn--80a1acny.xn--p1ai'] });
    expect(raw).toContain('To: anna@xn--80a1acny.xn--p1ai\r\n');
  });
});
