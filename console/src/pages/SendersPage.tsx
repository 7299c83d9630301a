/** Senders and channels: request a sender; an admin approves or rejects senders and enables or
 * disables channels (hidden from operators); each channel's limits explained. */
import { Alert, Badge, Button, Group, List, Pagination, Paper, Select, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useState } from 'react';
import { ApiError } from '../api';
import { useApp, usePolling } from '../context';
import type { MessageKey } from '../i18n';
import { CHANNELS, formatDateTime, may, pageCount, toQuery, type Channel } from '../logic';

interface ChannelState {
  channel: Channel;
  enabled: boolean;
}
interface Sender {
  id: string;
  name: string;
  channel: Channel;
  status: 'pending' | 'approved' | 'rejected';
  createdAt: string;
  approvedAt: string | null;
}

const PAGE_SIZE = 20;
const senderColor = (status: string) => (status === 'approved' ? 'green' : status === 'rejected' ? 'red' : 'yellow');

export function SendersPage() {
  const { api, t, lang, session } = useApp();
  const [channels, setChannels] = useState<ChannelState[] | null>(null);
  const [senders, setSenders] = useState<{ items: Sender[]; total: number } | null>(null);
  const [page, setPage] = useState(1);
  const [channelFilter, setChannelFilter] = useState<string | null>(null);
  const [statusFilter, setStatusFilter] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [channel, setChannel] = useState<string | null>('sms');
  const [error, setError] = useState<string[] | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const admin = may(session.role, 'approveSender');

  const fail = (e: unknown) => setError(e instanceof ApiError ? e.lines : [String(e)]);
  const load = async () => {
    try {
      const [c, s] = await Promise.all([
        api.get<ChannelState[]>('/api/v1/channels'),
        api.get<{ items: Sender[]; total: number }>(`/api/v1/senders${toQuery({ channel: channelFilter, status: statusFilter, page, pageSize: PAGE_SIZE })}`),
      ]);
      setChannels(c);
      setSenders(s);
    } catch (e) {
      fail(e);
    }
  };
  usePolling(load, [page, channelFilter, statusFilter], 0, false);

  const act = async (label: string, path: string, done: string) => {
    setBusy(label);
    setError(null);
    try {
      await api.request('POST', path);
      setNotice(done);
      await load();
    } catch (e) {
      fail(e);
    } finally {
      setBusy(null);
    }
  };

  const request = async () => {
    if (!channel) return;
    setBusy('request');
    setError(null);
    try {
      const sender = await api.request<Sender>('POST', '/api/v1/senders', { name: name.trim(), channel });
      setNotice(t('senders.requested', { name: sender.name, channel: sender.channel }));
      setName('');
      // Senders are listed oldest first: show the last page, where the new one is.
      const last = pageCount((senders?.total ?? 0) + 1, PAGE_SIZE);
      setChannelFilter(null);
      setStatusFilter(null);
      if (last !== page || channelFilter || statusFilter) setPage(last);
      else await load();
    } catch (e) {
      fail(e);
    } finally {
      setBusy(null);
    }
  };

  return (
    <Stack>
      <Title order={2}>{t('senders.title')}</Title>
      {error && (
        <Alert color="red" role="alert" withCloseButton onClose={() => setError(null)}>
          {error.map((line, i) => (
            <Text key={i} size="sm">
              {line}
            </Text>
          ))}
        </Alert>
      )}
      {notice && (
        <Alert color="green" data-testid="notice" withCloseButton onClose={() => setNotice(null)}>
          {notice}
        </Alert>
      )}
      <Title order={4}>{t('senders.channels')}</Title>
      <Text size="sm" c="dimmed">
        {t('senders.channelsHint')}
      </Text>
      {channels && (
        <Table data-testid="channels" verticalSpacing="xs">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('senders.col.channel')}</Table.Th>
              <Table.Th>{t('senders.col.state')}</Table.Th>
              <Table.Th>{t('senders.col.limits')}</Table.Th>
              {admin && <Table.Th>{t('tasks.col.actions')}</Table.Th>}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {channels.map((c) => (
              <Table.Tr key={c.channel} data-channel={c.channel} data-enabled={String(c.enabled)}>
                <Table.Td fw={600}>{c.channel}</Table.Td>
                <Table.Td style={{ width: 130, minWidth: 130 }}>
                  <Badge color={c.enabled ? 'green' : 'gray'} variant="light">
                    {c.enabled ? t('senders.enabled') : t('senders.disabled')}
                  </Badge>
                </Table.Td>
                <Table.Td>
                  <Text size="xs">{t(`limits.${c.channel}` as MessageKey)}</Text>
                </Table.Td>
                {admin && (
                  <Table.Td>
                    {c.enabled ? (
                      <Button size="compact-xs" variant="light" color="orange" loading={busy === `disable-${c.channel}`} onClick={() => void act(`disable-${c.channel}`, `/api/v1/channels/${c.channel}/disable`, t('senders.channelDisabled', { channel: c.channel }))}>
                        {t('senders.disable')}
                      </Button>
                    ) : (
                      <Button size="compact-xs" variant="light" color="green" loading={busy === `enable-${c.channel}`} onClick={() => void act(`enable-${c.channel}`, `/api/v1/channels/${c.channel}/enable`, t('senders.channelEnabled', { channel: c.channel }))}>
                        {t('senders.enable')}
                      </Button>
                    )}
                  </Table.Td>
                )}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {!admin && (
        <Text size="sm" c="dimmed" data-testid="operator-note">
          {t('senders.operatorNote')}
        </Text>
      )}
      <Paper withBorder p="sm" maw={720}>
        <Stack gap="xs">
          <Title order={4}>{t('senders.request')}</Title>
          <Text size="xs" c="dimmed">
            {t('senders.requestHint')}
          </Text>
          <Group align="end">
            <TextInput label={t('senders.name')} value={name} onChange={(e) => setName(e.currentTarget.value)} w={280} />
            <Select label={t('senders.col.channel')} data={[...CHANNELS]} value={channel} onChange={setChannel} allowDeselect={false} w={150} />
            <Button onClick={() => void request()} loading={busy === 'request'} disabled={!name.trim() || !channel}>
              {t('senders.requestSubmit')}
            </Button>
          </Group>
        </Stack>
      </Paper>
      <Title order={4}>{t('senders.list')}</Title>
      <Group align="end">
        <Select label={t('senders.col.channel')} data={[...CHANNELS]} value={channelFilter} onChange={(v) => { setChannelFilter(v); setPage(1); }} clearable w={150} placeholder={t('common.any')} />
        <Select
          label={t('senders.col.status')}
          data={['pending', 'approved', 'rejected'].map((s) => ({ value: s, label: t(`senders.status.${s}` as MessageKey) }))}
          value={statusFilter}
          onChange={(v) => { setStatusFilter(v); setPage(1); }}
          clearable
          w={170}
          placeholder={t('common.any')}
        />
      </Group>
      {senders && (
        <Table striped data-testid="senders">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('senders.name')}</Table.Th>
              <Table.Th>{t('senders.col.channel')}</Table.Th>
              <Table.Th>{t('senders.col.status')}</Table.Th>
              <Table.Th>{t('senders.col.requested')}</Table.Th>
              <Table.Th>{t('senders.col.approved')}</Table.Th>
              {admin && <Table.Th>{t('tasks.col.actions')}</Table.Th>}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {senders.items.map((s) => (
              <Table.Tr key={s.id} data-sender={`${s.channel}:${s.name}`} data-status={s.status}>
                <Table.Td>{s.name}</Table.Td>
                <Table.Td>{s.channel}</Table.Td>
                <Table.Td>
                  <Badge color={senderColor(s.status)} variant="light">
                    {t(`senders.status.${s.status}` as MessageKey)}
                  </Badge>
                </Table.Td>
                <Table.Td>{formatDateTime(s.createdAt, lang)}</Table.Td>
                <Table.Td>{formatDateTime(s.approvedAt, lang)}</Table.Td>
                {admin && (
                  <Table.Td>
                    <Group gap={4}>
                      {s.status !== 'approved' && (
                        <Button size="compact-xs" color="green" variant="light" loading={busy === `approve-${s.id}`} onClick={() => void act(`approve-${s.id}`, `/api/v1/senders/${s.id}/approve`, t('senders.approved', { name: s.name }))}>
                          {t('senders.approve')}
                        </Button>
                      )}
                      {s.status !== 'rejected' && (
                        <Button size="compact-xs" color="red" variant="light" loading={busy === `reject-${s.id}`} onClick={() => void act(`reject-${s.id}`, `/api/v1/senders/${s.id}/reject`, t('senders.rejected', { name: s.name }))}>
                          {s.status === 'approved' ? t('senders.revoke') : t('senders.reject')}
                        </Button>
                      )}
                    </Group>
                  </Table.Td>
                )}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {senders && (
        <Group>
          <Text size="sm" c="dimmed">
            {senders.total === 0 ? t('common.nothing') : t('senders.total', { total: senders.total })}
          </Text>
          {senders.total > PAGE_SIZE && <Pagination total={pageCount(senders.total, PAGE_SIZE)} value={page} onChange={setPage} size="sm" />}
        </Group>
      )}
      <List size="xs" c="dimmed">
        <List.Item>{t('senders.ruleSms')}</List.Item>
        <List.Item>{t('senders.ruleEmail')}</List.Item>
        <List.Item>{t('senders.ruleRate')}</List.Item>
      </List>
    </Stack>
  );
}
