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
