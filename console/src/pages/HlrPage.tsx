/** Check phones (HLR): check pasted numbers, the list of checks with search and period, Export. */
import { Alert, Badge, Button, Group, Stack, Table, Text, Textarea, TextInput, Title } from '@mantine/core';
import { DateTimePicker } from '@mantine/dates';
import { useDebouncedValue } from '@mantine/hooks';
import { useState } from 'react';
import { ApiError } from '../api';
import { usePolling, useApp } from '../context';
import { formatDateTime, localToIso, parsePhones, toQuery } from '../logic';

interface HlrCheck {
  id: string;
  phone: string;
  status: string;
  operator: string | null;
  country: string | null;
  ported: boolean | null;
  roaming: boolean | null;
  cost: number;
  error: string | null;
  createdAt: string;
}

const hlrColor = (status: string) => (status === 'active' ? 'green' : status === 'absent_subscriber' ? 'yellow' : status === 'invalid_number' || status === 'failed' ? 'red' : 'gray');

function ChecksTable({ checks, testId }: { checks: HlrCheck[]; testId: string }) {
  const { t, lang } = useApp();
  const yesNo = (v: boolean | null) => (v === null ? '—' : v ? t('common.yes') : t('common.no'));
  return (
    <Table.ScrollContainer minWidth={800}>
      <Table striped data-testid={testId}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t('hlr.col.phone')}</Table.Th>
            <Table.Th>{t('hlr.col.status')}</Table.Th>
            <Table.Th>{t('hlr.col.operator')}</Table.Th>
            <Table.Th>{t('hlr.col.country')}</Table.Th>
            <Table.Th>{t('hlr.col.ported')}</Table.Th>
            <Table.Th>{t('hlr.col.roaming')}</Table.Th>
            <Table.Th>{t('hlr.col.cost')}</Table.Th>
            <Table.Th>{t('hlr.col.checked')}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {checks.map((c) => (
            <Table.Tr key={c.id} data-phone={c.phone}>
              <Table.Td>{c.phone}</Table.Td>
              <Table.Td>
                <Badge color={hlrColor(c.status)} variant="light" data-hlr-status={c.status}>
                  {c.status}
                </Badge>
                {c.error && (
                  <Text size="xs" c="dimmed">
                    {c.error}
                  </Text>
                )}
              </Table.Td>
              <Table.Td>{c.operator ?? '—'}</Table.Td>
              <Table.Td>{c.country ?? '—'}</Table.Td>
              <Table.Td>{yesNo(c.ported)}</Table.Td>
              <Table.Td>{yesNo(c.roaming)}</Table.Td>
              <Table.Td>{c.cost}</Table.Td>
              <Table.Td>{formatDateTime(c.createdAt, lang)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

export function HlrPage() {
  const { api, t } = useApp();
  const [phones, setPhones] = useState('');
  const [checking, setChecking] = useState(false);
  const [checked, setChecked] = useState<HlrCheck[] | null>(null);
  const [phoneFilter, setPhoneFilter] = useState('');
  const [debouncedPhone] = useDebouncedValue(phoneFilter.trim(), 300);
  const [from, setFrom] = useState<string | null>(null);
  const [to, setTo] = useState<string | null>(null);
  const [items, setItems] = useState<HlrCheck[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string[] | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const filters = { phone: debouncedPhone, from: localToIso(from), to: localToIso(to) };

  const load = async (cursor?: string) => {
    try {
      const page = await api.get<{ items: HlrCheck[]; nextCursor: string | null }>(`/api/v1/hlr${toQuery({ ...filters, pageSize: 50, cursor })}`);
      setItems((current) => (cursor ? [...(current ?? []), ...page.items] : page.items));
      setNext(page.nextCursor);
      setError(null);
    } catch (e) {
      setError(e instanceof ApiError ? e.lines : [String(e)]);
    }
  };
  usePolling(() => load(), [filters.phone, filters.from, filters.to], 0, false);

  const check = async () => {
    const list = parsePhones(phones);
    if (list.length === 0) return;
    setChecking(true);
    setError(null);
    try {
      const result = await api.request<{ checks: HlrCheck[] }>('POST', '/api/v1/hlr', { phones: list });
      setChecked(result.checks);
      await load();
    } catch (e) {
      setError(e instanceof ApiError ? e.lines : [String(e)]);
    } finally {
      setChecking(false);
    }
  };

  const exportWorkbook = async () => {
    try {
      const name = await api.download(`/api/v1/hlr/export.xlsx${toQuery(filters)}`, 'hlr.xlsx');
      setNotice(t('common.downloaded', { name }));
    } catch (e) {
      setError(e instanceof ApiError ? e.lines : [String(e)]);
    }
  };

  return (
    <Stack>
      <Title order={2}>{t('hlr.title')}</Title>
      <Stack gap="xs" maw={520}>
        <Textarea label={t('hlr.phones')} description={t('hlr.phonesHint')} value={phones} onChange={(e) => setPhones(e.currentTarget.value)} autosize minRows={3} maxRows={10} data-testid="hlr-phones" />
        <Group>
          <Button onClick={() => void check()} loading={checking} disabled={parsePhones(phones).length === 0}>
            {t('hlr.check')}
          </Button>
        </Group>
      </Stack>
      {error && (
        <Alert color="red" role="alert" withCloseButton onClose={() => setError(null)}>
          {error.map((line, i) => (
            <Text key={i} size="sm">
              {line}
            </Text>
          ))}
        </Alert>
      )}
      {checked && (
        <Stack gap="xs">
          <Title order={4}>{t('hlr.results')}</Title>
          <Text size="sm" data-testid="hlr-checked">
            {t('hlr.checked', { count: checked.length })}
          </Text>
          <ChecksTable checks={checked} testId="hlr-results" />
        </Stack>
      )}
      <Group justify="space-between" mt="md">
        <Title order={4}>{t('hlr.list')}</Title>
        <Button variant="light" onClick={() => void exportWorkbook()}>
          {t('common.export')}
        </Button>
      </Group>
      <Group align="end">
        <TextInput label={t('hlr.searchPhone')} value={phoneFilter} onChange={(e) => setPhoneFilter(e.currentTarget.value)} w={200} />
        <DateTimePicker label={t('common.from')} value={from} onChange={setFrom} clearable w={190} valueFormat="DD.MM.YYYY HH:mm" />
        <DateTimePicker label={t('common.to')} value={to} onChange={setTo} clearable w={190} valueFormat="DD.MM.YYYY HH:mm" />
        <Button
          variant="default"
          onClick={() => {
            setPhoneFilter('');
            setFrom(null);
            setTo(null);
          }}
        >
          {t('common.clear')}
        </Button>
      </Group>
      {notice && (
        <Alert color="green" data-testid="notice" withCloseButton onClose={() => setNotice(null)}>
          {notice}
        </Alert>
      )}
      {items && <ChecksTable checks={items} testId="hlr-list" />}
      <Group>
        {items && (
          <Text size="sm" c="dimmed">
            {items.length === 0 ? t('common.nothing') : t('common.shown', { count: items.length })}
          </Text>
        )}
        {next && (
          <Button variant="light" onClick={() => void load(next)}>
            {t('common.loadMore')}
          </Button>
        )}
      </Group>
    </Stack>
  );
}
