import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { SHORT_CODE_PATTERN } from '../../core/links';
import { smsInfo } from '../../core/sms';
import { approvedSender, startStack, type TestStack } from '../support/harness';
import { downloadTaskFile, fillTaskFile, uploadTask } from '../support/task-files';

/**
 * Short links and email tracking (shared/API.md, "Links and tracking"), as a recipient and an
 * operator see them: the text sent, the redirect, the counters on the message.
 */
const PUBLIC_URL = 'https://go.acme.test';
const SHORT = new RegExp(`${PUBLIC_URL.replace(/[.]/g, '\\.')}/l/([A-Za-z0-9]+)`, 'g');

let stack: TestStack;
const senders = { sms: '', email: '' };
beforeAll(async () => {
  stack = await startStack({ env: { PUBLIC_URL: `${PUBLIC_URL}/` } });
  senders.sms = await approvedSender(stack, 'sms');
  senders.email = await approvedSender(stack, 'email', `news-${randomUUID().slice(0, 6)}@acme.test`);
});
afterAll(async () => {
  await stack.close();
});

async function template(channels: Record<string, unknown>[]): Promise<string> {
  const res = await stack.admin().post('/api/v1/templates').send({ name: `Links ${randomUUID().slice(0, 6)}`, channels });
  if (res.status !== 201) throw new Error(`template: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}
const message = async (id: string) => (await stack.admin().get(`/api/v1/messages/${id}`).expect(200)).body;
const codesIn = (text: string) => [...text.matchAll(SHORT)].map((m) => m[1]!);
/** A recipient following a link: no API key, a browser's User-Agent. */
const click = (path: string) => request(stack.app).get(path).set('User-Agent', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148');

const ORDER_URL = 'https://shop.example/orders/{order}?utm_source=sms&utm_medium=notification&utm_campaign=order_ready_autumn_2026';
const SMS_TEXT = `Hi {name}, your order {order} is ready for pickup at the store on Main Street. Details: ${ORDER_URL} Help: https://help.example/faq.`;

describe('SMS with shortenLinks', () => {
  let templateId: string;
  let sent: { id: string }[];
  beforeAll(async () => {
    templateId = await template([{ channel: 'sms', sender: senders.sms, text: SMS_TEXT, shortenLinks: true }]);
    const res = await stack
      .admin()
      .post('/api/v1/notifications')
      .send({ templateId, recipients: [{ phone: '+79990001001', variables: { name: 'Ann', order: 'A-1' } }, { phone: '+79990001002', variables: { name: 'Bob', order: 'B-2' } }] })
      .expect(202);
    sent = res.body.messages;
  });

  it('sends each URL as <PUBLIC_URL>/l/<code>, a code per message and URL; parts and cost are those of the short text', async () => {
    const ann = await message(sent[0]!.id);
    const codes = codesIn(ann.text);
    expect(codes).toHaveLength(2);
    codes.forEach((code) => expect(code).toMatch(SHORT_CODE_PATTERN));
    expect(ann.text).toBe(
      `Hi Ann, your order A-1 is ready for pickup at the store on Main Street. Details: ${PUBLIC_URL}/l/${codes[0]} Help: ${PUBLIC_URL}/l/${codes[1]}.`,
    );
    expect(ann.shortLink).toBe(`${PUBLIC_URL}/l/${codes[0]}`);
    expect(ann.shortLinks).toEqual([
      { code: codes[0], url: 'https://shop.example/orders/A-1?utm_source=sms&utm_medium=notification&utm_campaign=order_ready_autumn_2026', clicks: 0, lastClickAt: null },
      { code: codes[1], url: 'https://help.example/faq', clicks: 0, lastClickAt: null },
    ]);
    // The long text would take two parts; the one sent takes one, and is billed as one.
    const long = SMS_TEXT.replace(/\{name\}/g, 'Ann').replace(/\{order\}/g, 'A-1');
    expect(smsInfo(long).parts).toBe(2);
    expect(smsInfo(ann.text).parts).toBe(1);
    expect(ann.parts).toBe(1);
    expect(ann.cost).toBe(0.05);

    const bob = await message(sent[1]!.id);
    const bobCodes = codesIn(bob.text);
    expect(bobCodes).toHaveLength(2);
    expect(bobCodes.some((c) => codes.includes(c))).toBe(false); // the same help URL, another message: another code
    expect(bob.shortLinks[0].url).toBe('https://shop.example/orders/B-2?utm_source=sms&utm_medium=notification&utm_campaign=order_ready_autumn_2026');
  });

  it('GET /l/:code answers 302 to the original URL and counts each click on the link and its message', async () => {
    const ann = await message(sent[0]!.id);
    const [orderCode, helpCode] = codesIn(ann.text);
    const first = await click(`/l/${orderCode}`).expect(302);
    expect(first.headers.location).toBe(ann.shortLinks[0].url);
    expect(first.headers['cache-control']).toContain('no-store');
    await click(`/l/${orderCode}`).expect(302);
    await click(`/l/${helpCode}`).expect(302).expect('Location', 'https://help.example/faq');
    const after = await message(sent[0]!.id);
    expect(after.linkClicks).toBe(3);
    expect(after.emailClicks).toBe(0);
    expect(after.shortLinks.map((l: { clicks: number }) => l.clicks)).toEqual([2, 1]);
    expect(Date.now() - Date.parse(after.shortLinks[0].lastClickAt)).toBeLessThan(60_000);
    expect((await message(sent[1]!.id)).linkClicks).toBe(0);
  });

  it('HEAD requests and link-preview fetchers are redirected but not counted', async () => {
    const bob = await message(sent[1]!.id);
    const [code] = codesIn(bob.text);
    await request(stack.app).head(`/l/${code}`).expect(302).expect('Location', bob.shortLinks[0].url);
    await request(stack.app).get(`/l/${code}`).set('User-Agent', 'WhatsApp/2.23.20.0 A').expect(302);
    await request(stack.app).get(`/l/${code}`).set('User-Agent', 'TelegramBot (like TwitterBot)').expect(302);
    await request(stack.app).get(`/l/${code}`).set('User-Agent', 'facebookexternalhit/1.1 Facebot Twitterbot/1.0').expect(302);
    const after = await message(sent[1]!.id);
    expect(after.linkClicks).toBe(0);
    expect(after.shortLinks[0].clicks).toBe(0);
  });

  it('an unknown or malformed code gets a small HTML 404 page, and needs no API key', async () => {
    for (const path of ['/l/AAAAAAAAAA', '/l/short', "/l/'%3Cscript%3E", `/l/${'A'.repeat(500)}`]) {
      const res = await click(path).expect(404);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toContain('Link not found');
      expect(res.text.length).toBeLessThan(1000);
    }
  });

  it('a template without shortenLinks sends its URLs as written', async () => {
    const plain = await template([{ channel: 'sms', sender: senders.sms, text: 'See https://shop.example/x' }]);
    const res = await stack.admin().post('/api/v1/notifications').send({ templateId: plain, recipients: [{ phone: '+79990001003' }] }).expect(202);
    const m = await message(res.body.messages[0].id);
    expect(m).toMatchObject({ text: 'See https://shop.example/x', shortLink: null, shortLinks: [] });
  });

  it('a send of 1,500 recipients (two bulk statements in one transaction) stores every link with its message', async () => {
    const recipients = Array.from({ length: 1500 }, (_, i) => ({ phone: `+7999100${String(i).padStart(4, '0')}`, variables: { name: `R${i}`, order: `O-${i}` } }));
    const res = await stack.admin().post('/api/v1/notifications').send({ templateId, recipients }).expect(202);
    const { rows } = await stack.deps.pool.query(
      `select count(*)::int as messages, count(*) filter (where (select count(*) from short_links l where l.message_id = m.id) = 2)::int as linked,
         count(*) filter (where m.short_link = $2 || '/l/' || (select l.code from short_links l where l.message_id = m.id and l.url like '%/orders/%'))::int as first
       from messages m where m.task_id = $1`,
      [res.body.taskId, PUBLIC_URL],
    );
    expect(rows[0]).toEqual({ messages: 1500, linked: 1500, first: 1500 });
  });
});

describe('email with shortenLinks', () => {
  let messageId: string;
  let text: string;
  beforeAll(async () => {
    const templateId = await template([
      {
        channel: 'email',
        sender: senders.email,
        subject: 'Your order {order}',
        text: '<html><body><p>Hi {name}, <a href="https://shop.example/o?id={order}&amp;src=mail">track your order</a>.</p><img src="https://cdn.example/logo.png"></body></html>',
        shortenLinks: true,
      },
    ]);
    const res = await stack.admin().post('/api/v1/notifications').send({ templateId, recipients: [{ email: 'ann@example.com', variables: { name: 'Ann', order: 'A&1' } }] }).expect(202);
    messageId = res.body.messages[0].id;
    text = (await message(messageId)).text;
  });

  it('its HTML has the open pixel before </body>, its link through /l/, its images untouched', async () => {
    const [code] = codesIn(text);
    expect(text).toBe(
      `<html><body><p>Hi Ann, <a href="${PUBLIC_URL}/l/${code}">track your order</a>.</p><img src="https://cdn.example/logo.png">` +
        `<img src="${PUBLIC_URL}/o/${messageId}.gif" width="1" height="1" alt=""></body></html>`,
    );
    // The variable value was HTML-escaped into the href; the redirect goes to the decoded URL.
    expect((await message(messageId)).shortLinks).toEqual([{ code, url: 'https://shop.example/o?id=A&1&src=mail', clicks: 0, lastClickAt: null }]);
  });

  it('GET /o/:id.gif answers a 1×1 transparent GIF, not cached, and counts a view (HEAD does not)', async () => {
    const res = await click(`/o/${messageId}.gif`).expect(200);
    expect(res.headers['content-type']).toBe('image/gif');
    expect(res.headers['cache-control']).toContain('no-store');
    expect(res.headers['cache-control']).toContain('no-cache');
    const gif = res.body as Buffer;
    expect(gif.subarray(0, 6).toString('latin1')).toBe('GIF89a');
    expect([gif.readUInt16LE(6), gif.readUInt16LE(8)]).toEqual([1, 1]);
    expect(gif.length).toBe(43);
    await click(`/o/${messageId}.gif`).expect(200);
    await request(stack.app).head(`/o/${messageId}.gif`).expect(200);
    const m = await message(messageId);
    expect(m.emailViews).toBe(2);
  });

  it('an unknown or malformed id still gets the GIF, and nothing is counted', async () => {
    const before = await stack.deps.pool.query('select coalesce(sum(email_views), 0)::int as views from messages');
    for (const path of [`/o/${randomUUID()}.gif`, '/o/not-a-message.gif']) {
      const res = await click(path).expect(200);
      expect(res.headers['content-type']).toBe('image/gif');
      expect((res.body as Buffer).length).toBe(43);
    }
    const after = await stack.deps.pool.query('select coalesce(sum(email_views), 0)::int as views from messages');
    expect(after.rows[0].views).toBe(before.rows[0].views);
  });

  it('a click on an email link counts an email click, not a link click', async () => {
    const [code] = codesIn(text);
    await click(`/l/${code}`).expect(302).expect('Location', 'https://shop.example/o?id=A&1&src=mail');
    const m = await message(messageId);
    expect(m).toMatchObject({ emailClicks: 1, linkClicks: 0 });
    expect(m.shortLinks[0].clicks).toBe(1);
  });

  it('an email without shortenLinks is sent as written: no pixel, no short links', async () => {
    const templateId = await template([{ channel: 'email', sender: senders.email, subject: 'Hi', text: '<p><a href="https://shop.example/">shop</a></p>' }]);
    const res = await stack.admin().post('/api/v1/notifications').send({ templateId, recipients: [{ email: 'bob@example.com' }] }).expect(202);
    expect(await message(res.body.messages[0].id)).toMatchObject({ text: '<p><a href="https://shop.example/">shop</a></p>', shortLinks: [] });
  });
});

describe('a campaign from an Excel file', () => {
  it('stores the short links of every row in the import transaction; a replaced file takes its links along', async () => {
    const pages = ['o', 'help', 'faq', 'track', 'return', 'review', 'shop', 'app'];
    const text = `Order {order}: ${pages.map((p) => `https://shop.example/${p}/{order}`).join(' ')}`;
    const templateId = await template([{ channel: 'sms', sender: senders.sms, text, shortenLinks: true }]);
    const rowCount = 2600; // 20,800 links: more than one insert of links between the COPYs (20,000 each)
    const rows = Array.from({ length: rowCount }, (_, i) => ({ phone: `+7999200${String(i).padStart(4, '0')}`, 'var:order': `X-${i}` }));
    const file = await fillTaskFile(await downloadTaskFile(stack, 'universal', templateId), rows);
    const created = await uploadTask(stack, file, { name: `links ${randomUUID().slice(0, 6)}`, type: 'universal', templateId }).expect(201);
    expect(created.body).toMatchObject({ total: rowCount, rejected: 0 });
    const taskId = created.body.id;
    /** Each message's text with its short links put back, beside the text the template gives. */
    const stored = async () => {
      const { rows: messages } = await stack.deps.pool.query(
        `select m.text, m.short_link, m.variables ->> 'order' as order, array_agg(l.code order by strpos(m.text, l.code)) as codes,
           array_agg(l.url order by strpos(m.text, l.code)) as urls
         from messages m join short_links l on l.message_id = m.id where m.task_id = $1 group by m.id`,
        [taskId],
      );
      return messages.map((m) => ({
        expanded: m.codes.reduce((t: string, code: string, i: number) => t.replace(`${PUBLIC_URL}/l/${code}`, m.urls[i]), m.text),
        expected: text.replace(/\{order\}/g, m.order),
        links: m.codes.length,
        firstIsShortLink: m.short_link === `${PUBLIC_URL}/l/${m.codes[0]}`,
      }));
    };
    const imported = await stored();
    expect(imported).toHaveLength(rowCount);
    for (const m of imported) expect(m).toEqual({ expanded: m.expected, expected: m.expected, links: pages.length, firstIsShortLink: true });

    // A row's link works before the campaign starts (the recipient may forward an earlier text).
    const { rows: one } = await stack.deps.pool.query(`select l.code, l.url from short_links l join messages m on m.id = l.message_id where m.task_id = $1 limit 1`, [taskId]);
    await click(`/l/${one[0].code}`).expect(302).expect('Location', one[0].url);

    const replacement = await fillTaskFile(await downloadTaskFile(stack, 'universal', templateId), [{ phone: '+79993000001', 'var:order': 'NEW' }]);
    await stack.admin().patch(`/api/v1/tasks/${taskId}`).attach('file', replacement, 'recipients.xlsx').expect(200);
    const replaced = await stored();
    expect(replaced).toEqual([{ expanded: text.replace(/\{order\}/g, 'NEW'), expected: text.replace(/\{order\}/g, 'NEW'), links: pages.length, firstIsShortLink: true }]);
    await click(`/l/${one[0].code}`).expect(404);
  }, 120_000);

  it('an SMS file uploaded with shortenLinks=true sends its rows\' URLs as counted short links; without, as written', async () => {
    const text = 'Your parcel: https://track.example/p/77 - reply STOP to opt out';
    const rows = [{ phone: '+79994000001', text, sender: senders.sms }];
    const file = await fillTaskFile(await downloadTaskFile(stack, 'sms'), rows);
    const shortened = await uploadTask(stack, file, { name: `sms links ${randomUUID().slice(0, 6)}`, type: 'sms', shortenLinks: 'true' }).expect(201);
    const plain = await uploadTask(stack, file, { name: `sms plain ${randomUUID().slice(0, 6)}`, type: 'sms' }).expect(201);
    const messageOf = async (taskId: string) => {
      const { rows: ids } = await stack.deps.pool.query('select id from messages where task_id = $1', [taskId]);
      return message(ids[0].id);
    };
    const withLinks = await messageOf(shortened.body.id);
    const [code] = codesIn(withLinks.text);
    expect(withLinks.text).toBe(`Your parcel: ${PUBLIC_URL}/l/${code} - reply STOP to opt out`);
    expect(withLinks.shortLinks).toEqual([{ code, url: 'https://track.example/p/77', clicks: 0, lastClickAt: null }]);
    await click(`/l/${code}`).expect(302).expect('Location', 'https://track.example/p/77');
    expect((await messageOf(shortened.body.id)).linkClicks).toBe(1);
    expect((await messageOf(plain.body.id)).text).toBe(text);
    await uploadTask(stack, file, { name: 'x', type: 'sms', shortenLinks: 'yes' })
      .expect(400)
      .expect((res) => expect(res.body.error.details).toEqual([{ path: 'shortenLinks', message: 'true or false' }]));
  });
});
