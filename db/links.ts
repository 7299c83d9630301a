import type { Queryable } from './messages';

/**
 * A click on a short link, counted in one statement: the link's clicks and time, and the message's
 * counter — `email_clicks` for an email (its link clicks are the export's "Email clicks"),
 * `link_clicks` for every other channel. Returns the URL to send the browser to.
 */
const COUNT_CLICK = `
  with clicked as (
    update short_links set clicks = clicks + 1, last_click_at = now() where code = $1
    returning message_id, url),
  counted as (
    update messages m set
      email_clicks = m.email_clicks + (m.channel = 'email')::int,
      link_clicks = m.link_clicks + (m.channel <> 'email')::int
    from clicked c where m.id = c.message_id)
  select url from clicked`;

/** The original URL of a short link (undefined: no such code); with `count`, the click is counted. */
export async function followShortLink(db: Queryable, code: string, count: boolean): Promise<string | undefined> {
  const { rows } = await db.query<{ url: string }>(count ? COUNT_CLICK : 'select url from short_links where code = $1', [code]);
  return rows[0]?.url;
}

/** An email's open pixel was loaded: one more view. False when no email has this id. */
export async function countEmailView(db: Queryable, messageId: string): Promise<boolean> {
  const { rowCount } = await db.query(`update messages set email_views = email_views + 1 where id = $1 and channel = 'email'`, [messageId]);
  return rowCount === 1;
}
