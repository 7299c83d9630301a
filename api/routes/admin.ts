import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { CHANNELS } from '../../core/config';
import { ChannelSettingSchema, SenderSchema, type Sender } from '../../db/entities';
import { createApiKey } from '../auth';
import type { ApiDeps } from '../deps';
import { conflict, notFound } from '../errors';
import { errorSchema, type ApiRegistry } from '../routing';
import { channelSchema } from '../schemas';

const senderSchema = z.object({ id: z.uuid(), name: z.string(), channel: channelSchema, status: z.enum(['pending', 'approved', 'rejected']), createdAt: z.string() });
const presentSender = (s: Sender) => ({ id: s.id, name: s.name, channel: s.channel, status: s.status, createdAt: s.createdAt.toISOString() });

/** API keys, channels and senders: the account's setup. */
export function registerAdminRoutes(api: ApiRegistry, deps: ApiDeps): void {
  api.route(
    {
      method: 'post',
      path: '/api/v1/api-keys',
      summary: 'Create an API key (the key is shown once; only its hash is stored)',
      tag: 'Access',
      auth: 'admin',
      body: z.strictObject({ name: z.string().trim().min(1).max(200), role: z.enum(['admin', 'operator']).default('operator') }),
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
      path: '/api/v1/channels',
      summary: 'List channels and whether each is enabled',
      tag: 'Channels',
      auth: 'operator',
      responses: { 200: { description: 'Channels', schema: z.array(z.object({ channel: channelSchema, enabled: z.boolean() })) } },
    },
    async ({ res }) => {
      const settings = await deps.orm.em.fork().find(ChannelSettingSchema, {});
      const enabled = new Map(settings.map((s) => [s.channel, s.enabled]));
      res.json(CHANNELS.map((channel) => ({ channel, enabled: enabled.get(channel) ?? false })));
    },
  );

  api.route(
    {
      method: 'post',
      path: '/api/v1/channels/:channel/enable',
      summary: 'Enable a channel (email and push start disabled)',
      tag: 'Channels',
      auth: 'admin',
      responses: { 200: { description: 'Enabled', schema: z.object({ channel: channelSchema, enabled: z.boolean() }) }, 404: { description: 'Unknown channel', schema: errorSchema } },
    },
    async ({ res, params }) => {
      const channel = channelSchema.safeParse(params.channel);
      if (!channel.success) throw notFound(`channel "${params.channel}"`);
      await deps.pool.query('update channel_settings set enabled = true, updated_at = now() where channel = $1', [channel.data]);
      res.json({ channel: channel.data, enabled: true });
    },
  );

  api.route(
    {
      method: 'post',
      path: '/api/v1/senders',
      summary: 'Request a sender name for a channel (pending until an admin approves it)',
      tag: 'Senders',
      auth: 'operator',
      body: z.strictObject({ name: z.string().trim().min(1).max(320), channel: channelSchema }),
      responses: { 201: { description: 'Requested', schema: senderSchema }, 409: { description: 'Already registered', schema: errorSchema } },
    },
    async ({ res, body }) => {
      const em = deps.orm.em.fork();
      if (await em.findOne(SenderSchema, { name: body.name, channel: body.channel })) {
        throw conflict(`sender "${body.name}" is already registered for ${body.channel}`);
      }
      const sender = em.create(SenderSchema, { id: randomUUID(), name: body.name, channel: body.channel, status: 'pending', createdAt: new Date() });
      await em.flush();
      res.status(201).json(presentSender(sender));
    },
  );

  api.route(
    {
      method: 'get',
      path: '/api/v1/senders',
      summary: 'List senders',
      tag: 'Senders',
      auth: 'operator',
      query: z.object({ channel: channelSchema.optional(), status: z.enum(['pending', 'approved', 'rejected']).optional() }),
      responses: { 200: { description: 'Senders', schema: z.array(senderSchema) } },
    },
    async ({ res, query }) => {
      const where: Record<string, string> = {};
      if (query.channel) where.channel = query.channel;
      if (query.status) where.status = query.status;
      const senders = await deps.orm.em.fork().find(SenderSchema, where, { orderBy: { createdAt: 'asc' } });
      res.json(senders.map(presentSender));
    },
  );

  api.route(
    {
      method: 'post',
      path: '/api/v1/senders/:id/approve',
      summary: 'Approve a sender',
      tag: 'Senders',
      auth: 'admin',
      responses: { 200: { description: 'Approved', schema: senderSchema }, 404: { description: 'Unknown sender', schema: errorSchema } },
    },
    async ({ res, params }) => {
      const em = deps.orm.em.fork();
      const sender = z.uuid().safeParse(params.id).success ? await em.findOne(SenderSchema, { id: params.id! }) : null;
      if (!sender) throw notFound(`sender ${params.id}`);
      sender.status = 'approved';
      sender.approvedAt ??= new Date();
      await em.flush();
      res.json(presentSender(sender));
    },
  );
}
