import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { CHANNELS } from '../../core/config';
import { senderNameProblem } from '../../core/senders';
import { ApiKeySchema, ChannelSettingSchema, SenderSchema, type ApiKey, type Sender } from '../../db/entities';
import { createApiKey, type ApiKeyAuthenticator } from '../auth';
import type { ApiDeps } from '../deps';
import { conflict, notFound } from '../errors';
import { errorSchema, listPage, listResponse, paginationQuery, type ApiRegistry } from '../routing';
import { channelSchema, closedObject } from '../schemas';

const senderStatusSchema = z.enum(['pending', 'approved', 'rejected']);
const senderSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  channel: channelSchema,
  status: senderStatusSchema,
  createdAt: z.string(),
  approvedAt: z.string().nullable(),
});
const presentSender = (s: Sender) => ({
  id: s.id,
  name: s.name,
  channel: s.channel,
  status: s.status,
  createdAt: s.createdAt.toISOString(),
  approvedAt: s.approvedAt ? s.approvedAt.toISOString() : null,
});
/** An API key as listed: never its secret or hash; `keyPrefix` tells keys apart. */
const apiKeySchema = z.object({
  id: z.uuid(),
  name: z.string(),
  role: z.enum(['admin', 'operator']),
  keyPrefix: z.string(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});
const presentApiKey = (k: ApiKey) => ({
  id: k.id,
  name: k.name,
  role: k.role,
  keyPrefix: k.keyPrefix,
  createdAt: k.createdAt.toISOString(),
  revokedAt: k.revokedAt ? k.revokedAt.toISOString() : null,
});
const channelStateSchema = z.object({ channel: channelSchema, enabled: z.boolean() });

/** A sender request: the name must be usable on its channel (an SMS sender id, an email From…). */
const senderRequestSchema = closedObject({ name: z.string().trim().min(1, 'must not be empty').max(320), channel: channelSchema }).superRefine(
  (body, ctx) => {
    const problem = senderNameProblem(body.channel, body.name);
    if (problem) ctx.addIssue({ code: 'custom', path: ['name'], message: problem });
  },
  // Only for a well-formed name and channel (an empty name is already reported once).
  { when: (payload) => !payload.issues.some((issue) => issue.path?.[0] === 'name' || issue.path?.[0] === 'channel') },
);

/** API keys, channels and senders: the account's setup. */
export function registerAdminRoutes(api: ApiRegistry, deps: ApiDeps, apiKeys: ApiKeyAuthenticator): void {
  api.route(
    {
      method: 'post',
      path: '/api/v1/api-keys',
      summary: 'Create an API key (the key is shown once; only its hash is stored)',
      tag: 'Access',
      auth: 'admin',
      body: closedObject({ name: z.string().trim().min(1, 'must not be empty').max(200), role: z.enum(['admin', 'operator']).default('operator') }),
      responses: {
        201: { description: 'Created', schema: z.object({ id: z.uuid(), name: z.string(), role: z.string(), key: z.string(), createdAt: z.string() }) },
        403: { description: 'Not an admin key', schema: errorSchema },
      },
    },
    async ({ res, body }) => {
      const key = await createApiKey(deps.pool, body.name, body.role);
      res.status(201).json({ ...key, createdAt: key.createdAt.toISOString() });
    },
  );

  api.route(
    {
      method: 'get',
      path: '/api/v1/api-keys',
      summary: 'List API keys, oldest first, revoked ones included (never the key itself)',
      tag: 'Access',
      auth: 'admin',
      query: z.object(paginationQuery),
      responses: {
        200: { description: 'API keys', schema: listResponse(apiKeySchema) },
        403: { description: 'Not an admin key', schema: errorSchema },
      },
    },
    async ({ res, query }) => {
      res.json(await listPage(deps.orm.em.fork(), ApiKeySchema, {}, { createdAt: 'asc', id: 'asc' }, query, presentApiKey));
    },
  );

  api.route(
    {
      method: 'delete',
      path: '/api/v1/api-keys/:id',
      summary: 'Revoke an API key: refused from the next request on (revoking again changes nothing)',
      tag: 'Access',
      auth: 'admin',
      responses: {
        200: { description: 'The revoked key', schema: apiKeySchema },
        403: { description: 'Not an admin key', schema: errorSchema },
        404: { description: 'Unknown API key', schema: errorSchema },
      },
    },
    async ({ res, params }) => {
      const em = deps.orm.em.fork();
      const key = z.uuid().safeParse(params.id).success ? await em.findOne(ApiKeySchema, { id: params.id! }) : null;
      if (!key) throw notFound(`API key ${params.id}`);
      if (!key.revokedAt) {
        key.revokedAt = new Date();
        await em.flush();
      }
      apiKeys.forget(key.keyHash);
      res.json(presentApiKey(key));
    },
  );

  api.route(
    {
      method: 'get',
      path: '/api/v1/channels',
      summary: 'List channels and whether each is enabled',
      tag: 'Channels',
      auth: 'operator',
      responses: { 200: { description: 'Channels in their fixed order', schema: z.array(channelStateSchema) } },
    },
    async ({ res }) => {
      const settings = await deps.orm.em.fork().find(ChannelSettingSchema, {});
      const enabled = new Map(settings.map((s) => [s.channel, s.enabled]));
      res.json(CHANNELS.map((channel) => ({ channel, enabled: enabled.get(channel) ?? false })));
    },
  );

  for (const [action, enabled] of [['enable', true], ['disable', false]] as const) {
    api.route(
      {
        method: 'post',
        path: `/api/v1/channels/:channel/${action}`,
        summary: enabled
          ? 'Enable a channel (email and push start disabled)'
          : 'Disable a channel: templates and sends that use it get 422 until it is enabled again',
        tag: 'Channels',
        auth: 'admin',
        responses: {
          200: { description: enabled ? 'Enabled' : 'Disabled', schema: channelStateSchema },
          403: { description: 'Not an admin key', schema: errorSchema },
          404: { description: 'Unknown channel', schema: errorSchema },
        },
      },
      async ({ res, params }) => {
        const channel = channelSchema.safeParse(params.channel);
        if (!channel.success) throw notFound(`channel "${params.channel}"`);
        await deps.pool.query(
          `insert into channel_settings (channel, enabled) values ($1, $2)
           on conflict (channel) do update set enabled = excluded.enabled, updated_at = now()`,
          [channel.data, enabled],
        );
        res.json({ channel: channel.data, enabled });
      },
    );
  }

  api.route(
    {
      method: 'post',
      path: '/api/v1/senders',
      summary: 'Request a sender name for a channel (pending until an admin approves it)',
      tag: 'Senders',
      auth: 'operator',
      body: senderRequestSchema,
      responses: {
        201: { description: 'Requested: status "pending"', schema: senderSchema },
        400: { description: 'Malformed, or not a valid sender name on that channel', schema: errorSchema },
        409: { description: 'Already registered for that channel', schema: errorSchema },
      },
    },
    async ({ res, body }) => {
      const em = deps.orm.em.fork();
      const taken = () => conflict(`sender "${body.name}" is already registered for ${body.channel}`);
      if (await em.findOne(SenderSchema, { name: body.name, channel: body.channel })) throw taken();
      const sender = em.create(SenderSchema, { id: randomUUID(), name: body.name, channel: body.channel, status: 'pending', createdAt: new Date() });
      try {
        await em.flush();
      } catch (error) {
        // Two identical requests at once: the unique (channel, name) index lets one through.
        if (error instanceof UniqueConstraintViolationException) throw taken();
        throw error;
      }
      res.status(201).json(presentSender(sender));
    },
  );

  api.route(
    {
      method: 'get',
      path: '/api/v1/senders',
      summary: 'List senders, oldest first, optionally by channel and status',
      tag: 'Senders',
      auth: 'operator',
      query: z.object({ channel: channelSchema.optional(), status: senderStatusSchema.optional(), ...paginationQuery }),
      responses: { 200: { description: 'Senders', schema: listResponse(senderSchema) }, 400: { description: 'Bad filter', schema: errorSchema } },
    },
    async ({ res, query }) => {
      const where: Record<string, string> = {};
      if (query.channel) where.channel = query.channel;
      if (query.status) where.status = query.status;
      res.json(await listPage(deps.orm.em.fork(), SenderSchema, where, { createdAt: 'asc', id: 'asc' }, query, presentSender));
    },
  );

  for (const [action, status] of [['approve', 'approved'], ['reject', 'rejected']] as const) {
    api.route(
      {
        method: 'post',
        path: `/api/v1/senders/:id/${action}`,
        summary:
          status === 'approved'
            ? 'Approve a sender: templates and sends may use it on its channel'
            : 'Reject (or revoke) a sender: templates and sends that use it get 422',
        tag: 'Senders',
        auth: 'admin',
        responses: {
          200: { description: status === 'approved' ? 'Approved' : 'Rejected', schema: senderSchema },
          403: { description: 'Not an admin key', schema: errorSchema },
          404: { description: 'Unknown sender', schema: errorSchema },
        },
      },
      async ({ res, params }) => {
        const em = deps.orm.em.fork();
        const sender = z.uuid().safeParse(params.id).success ? await em.findOne(SenderSchema, { id: params.id! }) : null;
        if (!sender) throw notFound(`sender ${params.id}`);
        sender.status = status;
        sender.approvedAt = status === 'approved' ? (sender.approvedAt ?? new Date()) : null;
        await em.flush();
        res.json(presentSender(sender));
      },
    );
  }
}
