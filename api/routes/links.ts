import type { Request, Response } from 'express';
import { z } from 'zod';
import { SHORT_CODE_PATTERN } from '../../core/links';
import { countEmailView, followShortLink } from '../../db/links';
import type { ApiDeps } from '../deps';
import type { ApiRegistry } from '../routing';

/** A 1×1 GIF89a whose one pixel is the transparent colour (43 bytes). */
const TRANSPARENT_GIF = Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');

const NOT_FOUND_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Link not found</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto; padding: 0 1rem; color: #333">
<h1 style="font-size: 1.4rem">Link not found</h1>
<p>This link does not exist or is no longer available. Please check that it was copied in full.</p>
</body></html>
`;

/**
 * Fetchers that open a link to build a preview or index it, not a person clicking: they follow the
 * redirect but are not counted. Messengers fetch every link of a message they receive, so counting
 * them would count a click per delivered message.
 */
const LINK_PREVIEW_AGENTS =
  /facebookexternalhit|facebot|twitterbot|slackbot|slack-imgproxy|telegrambot|discordbot|whatsapp\/|skypeuripreview|linkedinbot|pinterestbot|redditbot|embedly|iframely|vkshare|google-pagerenderer|googlebot|bingbot|applebot|yandexbot|duckduckbot|baiduspider|bitlybot|crawler|spider/i;

/** A click to count: a GET (a HEAD only checks the link) by something other than a preview fetcher. */
function isCountedVisit(req: Request): boolean {
  return req.method === 'GET' && !LINK_PREVIEW_AGENTS.test(req.get('user-agent') ?? '');
}

/** Every visit must reach us to be counted: no browser or proxy may answer from a cache. */
function noCache(res: Response): void {
  res.set({ 'Cache-Control': 'no-store, no-cache, must-revalidate, private, max-age=0', Pragma: 'no-cache', Expires: '0' });
}

const isUuid = (value: string) => z.uuid().safeParse(value).success;

/** The public side of short links and email tracking (shared/API.md, "Links and tracking"). */
export function registerLinkRoutes(api: ApiRegistry, deps: ApiDeps): void {
  api.route(
    {
      method: 'get',
      path: '/l/:code',
      summary:
        'A short link: 302 to its original URL, counting a click on its message (email: emailClicks; other channels: linkClicks). ' +
        'HEAD requests and link-preview fetchers (messenger and social previews, search crawlers) are redirected but not counted',
      tag: 'Links and tracking',
      auth: 'public',
      responses: {
        302: { description: 'To the original URL (Location)' },
        404: { description: 'Unknown or malformed code: a small HTML page', contentType: 'text/html' },
      },
    },
    async ({ req, res, params }) => {
      const code = params.code!;
      const url = SHORT_CODE_PATTERN.test(code) ? await followShortLink(deps.pool, code, isCountedVisit(req)) : undefined;
      noCache(res);
      if (url === undefined) {
        res.status(404).set({ 'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'", 'X-Content-Type-Options': 'nosniff' });
        res.type('html').send(NOT_FOUND_PAGE);
        return;
      }
      res.redirect(302, url);
    },
  );

  api.route(
    {
      method: 'get',
      path: '/o/:id.gif',
      summary:
        "An email's open pixel: a 1×1 transparent GIF that counts a view of the message (emailViews). Any id gets the GIF " +
        '(nothing tells whether the message exists); only an email message is counted, and a HEAD request is not',
      tag: 'Links and tracking',
      auth: 'public',
      responses: { 200: { description: 'The GIF, not to be cached', contentType: 'image/gif' } },
    },
    async ({ req, res, params }) => {
      const id = params.id!;
      if (req.method === 'GET' && isUuid(id)) {
        // The image is answered whatever happens: a view that cannot be counted is logged, not shown.
        await countEmailView(deps.pool, id).catch((error: unknown) => req.log.error({ err: error, messageId: id }, 'email view not counted'));
      }
      noCache(res);
      res.type('gif').send(TRANSPARENT_GIF);
    },
  );
}
