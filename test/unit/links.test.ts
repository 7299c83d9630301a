import { newShortCode } from '../../api/services/links';
import {
  decodeHtmlEntities,
  isHtml,
  replaceUrls,
  SHORT_CODE_ALPHABET,
  SHORT_CODE_LENGTH,
  SHORT_CODE_PATTERN,
  trackLinks,
  type LinkTracking,
} from '../../core/links';

/** Codes c1, c2, … in order, so the texts below can be written out. */
function tracking(messageId = '7f1c0000-0000-4000-8000-000000000001'): LinkTracking {
  let n = 0;
  return { publicUrl: 'https://go.acme.test', messageId, newCode: () => `c${++n}` };
}

describe('short links in plain text', () => {
  it('replaces each http(s) URL, one code per distinct URL, leaving sentence punctuation outside', () => {
    const text = 'See https://shop.example/a?x=1&y=2. Or (http://b.example/path_(1)), https://shop.example/a?x=1&y=2!';
    const tracked = trackLinks('sms', text, tracking());
    expect(tracked.text).toBe('See https://go.acme.test/l/c1. Or (https://go.acme.test/l/c2), https://go.acme.test/l/c1!');
    expect(tracked.links).toEqual([
      { code: 'c1', url: 'https://shop.example/a?x=1&y=2' },
      { code: 'c2', url: 'http://b.example/path_(1)' },
    ]);
  });

  it('leaves text without links, a scheme without a host, other schemes and our own links as they are', () => {
    const text = 'Call us: tel:+100, ftp://files.example, https:// or mailto:a@b.c; already https://go.acme.test/l/abcdefghij';
    expect(trackLinks('sms', text, tracking())).toEqual({ text, links: [] });
  });

  it('stops a URL at whitespace, quotes and angle brackets', () => {
    const found: string[] = [];
    replaceUrls('a "https://x.example/q" <https://y.example/z>\nhttps://z.example/1\thttps://w.example', (url) => (found.push(url), undefined));
    expect(found).toEqual(['https://x.example/q', 'https://y.example/z', 'https://z.example/1', 'https://w.example']);
  });
});

describe('email', () => {
  it('an HTML body: hrefs of links are tracked (entity-decoded), images are not, and the pixel goes before </body>', () => {
    const html =
      '<html><body><p>Hi <a class="x" title="a>b" href="https://shop.example/?a=1&amp;b=2">shop</a> ' +
      "<a href='http://docs.example/x'>docs</a> <a href=\"mailto:help@acme.test\">mail</a> <img src=\"https://cdn.example/i.png\"> " +
      'https://plain.example/visible</p></body></html>';
    const tracked = trackLinks('email', html, tracking('7f1c0000-0000-4000-8000-00000000abcd'));
    expect(tracked.text).toBe(
      '<html><body><p>Hi <a class="x" title="a>b" href="https://go.acme.test/l/c1">shop</a> ' +
        '<a href="https://go.acme.test/l/c2">docs</a> <a href="mailto:help@acme.test">mail</a> <img src="https://cdn.example/i.png"> ' +
        'https://plain.example/visible</p>' +
        '<img src="https://go.acme.test/o/7f1c0000-0000-4000-8000-00000000abcd.gif" width="1" height="1" alt="">' +
        '</body></html>',
    );
    expect(tracked.links).toEqual([
      { code: 'c1', url: 'https://shop.example/?a=1&b=2' },
      { code: 'c2', url: 'http://docs.example/x' },
    ]);
  });

  it('an HTML fragment without </body> gets the pixel at its end', () => {
    const tracked = trackLinks('email', '<p>Hello</p>', tracking());
    expect(tracked.text).toBe('<p>Hello</p><img src="https://go.acme.test/o/7f1c0000-0000-4000-8000-000000000001.gif" width="1" height="1" alt="">');
    expect(tracked.links).toEqual([]);
  });

  it('a body without tags is text: its URLs are tracked (decoded), no pixel', () => {
    const tracked = trackLinks('email', 'Track it: https://t.example/?id=1&amp;k=2', tracking());
    expect(tracked).toEqual({ text: 'Track it: https://go.acme.test/l/c1', links: [{ code: 'c1', url: 'https://t.example/?id=1&k=2' }] });
  });

  it('tells markup from text, and decodes entities', () => {
    expect(isHtml('<p>x</p>')).toBe(true);
    expect(isHtml('a <br/> b')).toBe(true);
    expect(isHtml('1 < 2 and 3 > 2')).toBe(false);
    expect(decodeHtmlEntities('&amp;&#38;&#x26;&quot;&#39;&lt;&gt;&unknown;&#0;')).toBe('&&&"\'<>&unknown;&#0;');
  });
});

describe('codes', () => {
  it(`are ${SHORT_CODE_LENGTH} characters of the URL-safe alphabet, spread evenly, never repeated in 100,000`, () => {
    const codes = Array.from({ length: 100_000 }, newShortCode);
    expect(codes.every((c) => SHORT_CODE_PATTERN.test(c))).toBe(true);
    expect(new Set(codes).size).toBe(codes.length);
    // Each of the 62 characters should appear ≈ 1,000,000 / 62 ≈ 16,129 times; a modulo bias
    // (256 % 62 = 8 characters favoured) would put those 8 about 25% above the rest.
    const counts = new Map<string, number>();
    for (const c of codes) for (const ch of c) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect(counts.size).toBe(SHORT_CODE_ALPHABET.length);
    const expected = (codes.length * SHORT_CODE_LENGTH) / SHORT_CODE_ALPHABET.length;
    for (const n of counts.values()) expect(Math.abs(n - expected) / expected).toBeLessThan(0.05);
  });
});
