/**
 * Short links and email tracking: which URLs of a rendered message are tracked and what they
 * become. Pure (codes come from the caller), so a preview renders exactly what a send stores.
 *
 * - Plain text (SMS, push, Viber, chat, an email body without tags): every http(s) URL becomes
 *   `<PUBLIC_URL>/l/<code>`; punctuation that ends a sentence and an unbalanced closing bracket are
 *   left outside the link, as messengers and mail clients do when they make a URL clickable.
 * - An HTML email body: the `href` of each `<a>` and `<area>` (images and stylesheets are not
 *   clicks), and an open pixel `<img src="<PUBLIC_URL>/o/<messageId>.gif">` before `</body>`.
 * One code per message and URL: the same URL twice in a message is one link.
 */
import { escapeHtml } from './render';

/** Base62: URL-safe, and no `-` or `_` that a mail client might leave out of a link at its end. */
export const SHORT_CODE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** 10 base62 characters: log2(62^10) ≈ 59.5 bits, so a guess finds one of a billion stored links
 * with a probability of about 1 in 800 million. */
export const SHORT_CODE_LENGTH = 10;
export const SHORT_CODE_PATTERN = new RegExp(`^[${SHORT_CODE_ALPHABET}]{${SHORT_CODE_LENGTH}}$`);
/** What a preview shows in place of a code: a real code's length, so SMS parts come out the same. */
export const PREVIEW_SHORT_CODE = 'X'.repeat(SHORT_CODE_LENGTH);

export interface ShortLinkTarget {
  code: string;
  /** The original URL, as the redirect sends the browser to it. */
  url: string;
}

/** Where a message's short links and open pixel point, and how a new code is made. */
export interface LinkTracking {
  /** PUBLIC_URL, without a trailing slash. */
  publicUrl: string;
  messageId: string;
  newCode: () => string;
}

export function shortLinkUrl(publicUrl: string, code: string): string {
  return `${publicUrl}/l/${code}`;
}

export function openPixelUrl(publicUrl: string, messageId: string): string {
  return `${publicUrl}/o/${messageId}.gif`;
}

/** A URL in running text: up to whitespace, quotes or angle brackets, not glued to a word before it. */
const URL_IN_TEXT = /(?<![\w@.+-])https?:\/\/[^\s<>"'`]+/gi;
const TRAILING_PUNCTUATION = /[.,;:!?]$/;
const BRACKETS: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
const HAS_HOST = /^https?:\/\/[^/?#\s]+/i;

/** The URL a match really is: sentence punctuation and unbalanced closing brackets dropped. */
function trimUrl(match: string): string {
  let url = match;
  for (;;) {
    const last = url.at(-1)!;
    const opening = BRACKETS[last];
    if (TRAILING_PUNCTUATION.test(url)) url = url.slice(0, -1);
    else if (opening && url.split(opening).length < url.split(last).length) url = url.slice(0, -1);
    else return url;
  }
}

/** Replaces every http(s) URL of plain text by what `replace` gives (`undefined`: left as it is). */
export function replaceUrls(text: string, replace: (url: string) => string | undefined): string {
  return text.replace(URL_IN_TEXT, (match) => {
    const url = trimUrl(match);
    if (!HAS_HOST.test(url)) return match;
    const replaced = replace(url);
    return replaced === undefined ? match : replaced + match.slice(url.length);
  });
}

/** An `<a>` or `<area>` start tag; quoted attribute values may hold `>`. */
const LINK_TAG = /<(?:a|area)\b(?:[^>"']|"[^"]*"|'[^']*')*>/gi;
const HREF_ATTRIBUTE = /(\shref\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))/i;

/** Replaces the http(s) `href` of every link in HTML by what `replace` gives for its decoded URL. */
export function replaceHrefs(html: string, replace: (url: string) => string | undefined): string {
  return html.replace(LINK_TAG, (tag) =>
    tag.replace(HREF_ATTRIBUTE, (attribute, prefix: string, double?: string, single?: string, bare?: string) => {
      const url = decodeHtmlEntities((double ?? single ?? bare ?? '').trim());
      if (!HAS_HOST.test(url)) return attribute;
      const replaced = replace(url);
      return replaced === undefined ? attribute : `${prefix}"${escapeHtml(replaced)}"`;
    }),
  );
}

const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/** `&amp;`, `&#38;`, `&#x26;` … → the character: an href is written HTML-escaped (and so are the
 * variable values rendered into an email), the browser follows it decoded. */
export function decodeHtmlEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, entity: string) => {
    if (entity[0] === '#') {
      const code = entity[1] === 'x' || entity[1] === 'X' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[entity.toLowerCase()] ?? whole;
  });
}

/** True when the text has markup (a start or end tag), so an email body is treated as HTML. */
export function isHtml(text: string): boolean {
  return /<\/?[a-z][a-z0-9-]*(?:\s[^<>]*)?\/?>/i.test(text);
}

/** Adds the open pixel before the last `</body>`, or at the end when there is none. */
export function withOpenPixel(html: string, pixelUrl: string): string {
  const pixel = `<img src="${escapeHtml(pixelUrl)}" width="1" height="1" alt="">`;
  const ends = [...html.matchAll(/<\/body\s*>/gi)];
  const at = ends.at(-1)?.index ?? html.length;
  return html.slice(0, at) + pixel + html.slice(at);
}

export interface TrackedText {
  text: string;
  links: ShortLinkTarget[];
}

/**
 * A rendered message text with its links shortened (and, for an HTML email, the open pixel), and
 * the short links to store with the message. `channel` decides how the text is read: an email body
 * is HTML (its variable values are escaped), with or without tags.
 */
export function trackLinks(channel: string, text: string, tracking: LinkTracking): TrackedText {
  const links: ShortLinkTarget[] = [];
  const codes = new Map<string, string>();
  const ours = `${tracking.publicUrl}/`;
  const shorten = (url: string): string | undefined => {
    if (url.startsWith(`${ours}l/`) || url.startsWith(`${ours}o/`)) return undefined; // already tracked
    let code = codes.get(url);
    if (code === undefined) {
      code = tracking.newCode();
      codes.set(url, code);
      links.push({ code, url });
    }
    return shortLinkUrl(tracking.publicUrl, code);
  };
  if (channel !== 'email') return { text: replaceUrls(text, shorten), links };
  if (!isHtml(text)) return { text: replaceUrls(text, (url) => shorten(decodeHtmlEntities(url))), links };
  const html = withOpenPixel(replaceHrefs(text, shorten), openPixelUrl(tracking.publicUrl, tracking.messageId));
  return { text: html, links };
}
