/** Messages: the message log with its filters, a detail drawer with the event log, and Export. */
import { Alert, Badge, Button, Drawer, Group, Select, Stack, Table, Text, TextInput, Timeline, Title } from '@mantine/core';
import { DateTimePicker } from '@mantine/dates';
import { useDebouncedValue } from '@mantine/hooks';
import { useState } from 'react';
import { usePolling, useApp } from '../context';
import { CHANNELS, formatDateTime, localToIso, MESSAGE_STATUSES, statusColor, toQuery } from '../logic';

interface Message {
  id: string;
  taskId: string;
  status: string;
  statusDescription: string | null;
  channel: string;
  optional: boolean;
  sender: string | null;
  recipient: string;
  text: string | null;
  cost: number;
  parts: number;
  registeredAt: string;
  [field: string]: unknown;
}
interface MessageDetail extends Message {
  shortLinks: { code: string; url: string; clicks: number; lastClickAt: string | null }[];
  events: { status: string; description: string | null; source: string; at: string }[];
}

const PAGE_SIZE = 50;
const TIME_FIELDS = new Set(['registeredAt', 'queuedAt', 'sentAt', 'statusAt', 'delayedStartAt', 'deliveryEndAt']);

function fieldText(key: string, value: unknown, lang: string): string {
  if (value === null || value === undefined || value === '') return '—';
  if (TIME_FIELDS.has(key)) return formatDateTime(String(value), lang);
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function MessagesPage() {
  const { api, t, lang } = useApp();
  const [search, setSearch] = useState('');
  const [debouncedSearch] = useDebouncedValue(search.trim(), 300);
  const [from, setFrom] = useState<string | null>(null);
  const [to, setTo] = useState<string | null>(null);
  const [channel, setChannel] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [optional, setOptional] = useState<string | null>(null);
  const [taskId, setTaskId] = useState(() => new URLSearchParams(window.location.search).get('taskId') ?? '');
  const [items, setItems] = useState<Message[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [exporting, setExporting] = useState(false);
  const [detail, setDetail] = useState<MessageDetail | null>(null);

  const searchTooShort = debouncedSearch.length > 0 && debouncedSearch.length < 3;
  const filters = {
    search: searchTooShort ? undefined : debouncedSearch,
    from: localToIso(from),
    to: localToIso(to),
    channel,
    status,
    optional,
    taskId: taskId.trim(),
  };

  const load = async (cursor?: string) => {
    try {
      const page = await api.get<{ items: Message[]; nextCursor: string | null }>(`/api/v1/messages${toQuery({ ...filters, pageSize: PAGE_SIZE, cursor })}`);
      setItems((current) => (cursor ? [...(current ?? []), ...page.items] : page.items));
      setNext(page.nextCursor);
      setError(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  usePolling(() => load(), [filters.search, filters.from, filters.to, channel, status, optional, filters.taskId], 0, false);

  const clear = () => {
    setSearch('');
    setFrom(null);
    setTo(null);
    setChannel(null);
    setStatus(null);
    setOptional(null);
    setTaskId('');
  };

  const exportWorkbook = async () => {
    setExporting(true);
    setNotice(null);
    try {
      const timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      const name = await api.download(`/api/v1/messages/export.xlsx${toQuery({ ...filters, timezone })}`, 'messages.xlsx');
      setNotice(t('common.downloaded', { name }));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setExporting(false);
    }
  };

  const open = async (id: string) => {
    try {
      setDetail(await api.get<MessageDetail>(`/api/v1/messages/${id}`));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{t('messages.title')}</Title>
        <Button onClick={() => void exportWorkbook()} loading={exporting}>
          {t('common.export')}
        </Button>
      </Group>
      <Group align="end" wrap="wrap">
        <TextInput label={t('messages.search')} value={search} onChange={(e) => setSearch(e.currentTarget.value)} error={searchTooShort ? t('messages.searchHint') : undefined} w={220} />
        <DateTimePicker label={t('common.from')} value={from} onChange={setFrom} clearable w={190} valueFormat="DD.MM.YYYY HH:mm" />
        <DateTimePicker label={t('common.to')} value={to} onChange={setTo} clearable w={190} valueFormat="DD.MM.YYYY HH:mm" />
        <Select label={t('messages.channel')} data={[...CHANNELS]} value={channel} onChange={setChannel} clearable w={130} />
        <Select label={t('messages.status')} data={[...MESSAGE_STATUSES]} value={status} onChange={setStatus} clearable w={160} data-testid="status-filter" />
        <Select
          label={t('messages.optional')}
          data={[
            { value: 'true', label: t('common.yes') },
            { value: 'false', label: t('common.no') },
          ]}
          value={optional}
          onChange={setOptional}
          clearable
          w={170}
        />
        <TextInput label={t('messages.taskId')} value={taskId} onChange={(e) => setTaskId(e.currentTarget.value)} w={320} />
        <Button variant="default" onClick={clear}>
          {t('common.clear')}
        </Button>
        <Button variant="default" onClick={() => void load()}>
          {t('common.search')}
        </Button>
      </Group>
      {error && (
        <Alert color="red" role="alert" withCloseButton onClose={() => setError(null)}>
          {error}
        </Alert>
      )}
      {notice && (
        <Alert color="green" data-testid="notice" withCloseButton onClose={() => setNotice(null)}>
          {notice}
        </Alert>
      )}
      <Table.ScrollContainer minWidth={1000}>
        <Table striped highlightOnHover data-testid="messages">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('messages.col.registered')}</Table.Th>
              <Table.Th>{t('messages.col.recipient')}</Table.Th>
              <Table.Th>{t('messages.col.channel')}</Table.Th>
              <Table.Th>{t('messages.col.status')}</Table.Th>
              <Table.Th>{t('messages.col.sender')}</Table.Th>
              <Table.Th>{t('messages.col.text')}</Table.Th>
              <Table.Th>{t('messages.col.parts')}</Table.Th>
              <Table.Th>{t('messages.col.cost')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(items ?? []).map((m) => (
              <Table.Tr key={m.id} onClick={() => void open(m.id)} style={{ cursor: 'pointer' }} data-message={m.id}>
                <Table.Td>{formatDateTime(m.registeredAt, lang)}</Table.Td>
                <Table.Td>{m.recipient}</Table.Td>
                <Table.Td>
                  {m.channel}
                  {m.optional ? ' *' : ''}
                </Table.Td>
                <Table.Td>
                  <Badge color={statusColor(m.status)} variant="light">
                    {m.status}
                  </Badge>
                </Table.Td>
                <Table.Td>{m.sender ?? '—'}</Table.Td>
                <Table.Td maw={320}>
                  <Text size="sm" truncate>
                    {m.text ?? '—'}
                  </Text>
                </Table.Td>
                <Table.Td>{m.parts}</Table.Td>
                <Table.Td>{m.cost}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <Group>
        {items && (
          <Text size="sm" c="dimmed" data-testid="shown">
            {items.length === 0 ? t('common.nothing') : t('common.shown', { count: items.length })}
          </Text>
        )}
        {next && (
          <Button variant="light" onClick={() => void load(next)}>
            {t('common.loadMore')}
          </Button>
        )}
      </Group>

      <Drawer opened={detail !== null} onClose={() => setDetail(null)} title={t('messages.detail')} position="right" size="xl">
        {detail && (
          <Stack data-testid="message-detail">
            <Text fw={500}>{t('messages.fields')}</Text>
            <Table withTableBorder fz="sm">
              <Table.Tbody>
                {Object.entries(detail)
                  .filter(([key]) => key !== 'events' && key !== 'shortLinks')
                  .map(([key, value]) => (
                    <Table.Tr key={key}>
                      <Table.Th w={170}>{key}</Table.Th>
                      <Table.Td style={{ wordBreak: 'break-all' }}>{fieldText(key, value, lang)}</Table.Td>
                    </Table.Tr>
                  ))}
              </Table.Tbody>
            </Table>
            {detail.shortLinks.length > 0 && (
              <>
                <Text fw={500}>{t('messages.shortLinks')}</Text>
                {detail.shortLinks.map((l) => (
                  <Text key={l.code} size="sm">
                    {l.code} → {l.url} ({l.clicks})
                  </Text>
                ))}
              </>
            )}
            <Text fw={500}>{t('messages.events')}</Text>
            <Timeline active={detail.events.length - 1} bulletSize={14} data-testid="message-events">
              {detail.events.map((e, i) => (
                <Timeline.Item key={i} title={e.status}>
                  <Text size="xs" c="dimmed">
                    {formatDateTime(e.at, lang)} · {e.source}
                  </Text>
                  {e.description && <Text size="sm">{e.description}</Text>}
                </Timeline.Item>
              ))}
            </Timeline>
          </Stack>
        )}
      </Drawer>
    </Stack>
  );
}
