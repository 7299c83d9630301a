import { EntitySchema } from '@mikro-orm/core';
import type { Channel } from '../core/config';
import type { TaskStatus } from '../core/status';

/** Configuration-like records edited through the API go through MikroORM's unit of work.
 * Message rows do not: they move in bulk through plain SQL in db/messages.ts. */

export interface ApiKey {
  id: string;
  name: string;
  role: 'admin' | 'operator';
  keyHash: string;
  keyPrefix: string;
  createdAt: Date;
  revokedAt?: Date | null;
}
export const ApiKeySchema = new EntitySchema<ApiKey>({
  name: 'ApiKey',
  tableName: 'api_keys',
  properties: {
    id: { type: 'uuid', primary: true },
    name: { type: 'text' },
    role: { type: 'text' },
    keyHash: { type: 'text' },
    keyPrefix: { type: 'text' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
    revokedAt: { type: 'Date', nullable: true },
  },
});

export interface ChannelSetting {
  channel: Channel;
  enabled: boolean;
  updatedAt: Date;
}
export const ChannelSettingSchema = new EntitySchema<ChannelSetting>({
  name: 'ChannelSetting',
  tableName: 'channel_settings',
  properties: {
    channel: { type: 'text', primary: true },
    enabled: { type: 'boolean' },
    updatedAt: { type: 'Date', onCreate: () => new Date(), onUpdate: () => new Date() },
  },
});

export interface Sender {
  id: string;
  name: string;
  channel: Channel;
  status: 'pending' | 'approved' | 'rejected';
  createdAt: Date;
  approvedAt?: Date | null;
}
export const SenderSchema = new EntitySchema<Sender>({
  name: 'Sender',
  tableName: 'senders',
  properties: {
    id: { type: 'uuid', primary: true },
    name: { type: 'text' },
    channel: { type: 'text' },
    status: { type: 'text' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
    approvedAt: { type: 'Date', nullable: true },
  },
});

export interface TemplateRecord {
  id: string;
  name: string;
  timezone: string;
  sendWindows: { from: string; to: string }[];
  channels: Record<string, unknown>[];
  variables: string[];
  createdAt: Date;
  updatedAt: Date;
}
export const TemplateSchema = new EntitySchema<TemplateRecord>({
  name: 'Template',
  tableName: 'templates',
  properties: {
    id: { type: 'uuid', primary: true },
    name: { type: 'text' },
    timezone: { type: 'text' },
    sendWindows: { type: 'json' },
    channels: { type: 'json' },
    variables: { type: 'string[]', columnType: 'text[]' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
    updatedAt: { type: 'Date', onCreate: () => new Date(), onUpdate: () => new Date() },
  },
});

export interface TaskRecord {
  id: string;
  name: string;
  type: string;
  status: TaskStatus;
  templateId?: string | null;
  timezone: string;
  sendWindows: { from: string; to: string }[];
  startAt?: Date | null;
  total: number;
  rejected: number;
  workflowId: string;
  createdBy?: string | null;
  createdAt: Date;
  startedAt?: Date | null;
  finishedAt?: Date | null;
}
export const TaskSchema = new EntitySchema<TaskRecord>({
  name: 'Task',
  tableName: 'tasks',
  properties: {
    id: { type: 'uuid', primary: true },
    name: { type: 'text' },
    type: { type: 'text' },
    status: { type: 'text' },
    templateId: { type: 'uuid', nullable: true },
    timezone: { type: 'text' },
    sendWindows: { type: 'json' },
    startAt: { type: 'Date', nullable: true },
    total: { type: 'integer' },
    rejected: { type: 'integer' },
    workflowId: { type: 'text' },
    createdBy: { type: 'uuid', nullable: true },
    createdAt: { type: 'Date', onCreate: () => new Date() },
    startedAt: { type: 'Date', nullable: true },
    finishedAt: { type: 'Date', nullable: true },
  },
});

export const ENTITIES = [ApiKeySchema, ChannelSettingSchema, SenderSchema, TemplateSchema, TaskSchema];
