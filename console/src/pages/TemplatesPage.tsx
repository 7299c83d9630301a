/** Templates: the list with search and paging; create/edit every channel in fallback order with a live preview; delete (409 explained). */
import { ActionIcon, Alert, Anchor, Badge, Button, Checkbox, Group, Modal, NumberInput, Pagination, Paper, Select, SimpleGrid, Stack, Switch, Table, Text, Textarea, TextInput, Title } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useEffect, useMemo, useState } from 'react';
import { ApiError } from '../api';
import { useApp, usePolling } from '../context';
import {
  CHANNEL_FIELDS,
  CHAT_MESSENGERS,
  detectVariables,
  draftTexts,
  draftToBody,
  emptyTemplateDraft,
  formatDateTime,
  moveItem,
  newChannelDraft,
  pageCount,
  sendWindowProblems,
  taskOfConflict,
  templateToDraft,
  toQuery,
  unusedChannels,
  type Channel,
  type ChannelDraft,
  type Template,
  type TemplateDraft,
} from '../logic';
import type { MessageKey } from '../i18n';
import { useTimeZones, WindowsEditor } from './TaskForms';

const PAGE_SIZE = 20;
const channelsOf = (t: Template) => t.channels.map((c) => String(c.channel));

export function TemplatesPage({ id }: { id?: string }) {
  if (id) return <TemplateEditor id={id === 'new' ? null : id} />;
  return <TemplateList />;
}

function TemplateList() {
  const { api, t, lang, navigate } = useApp();
  const [search, setSearch] = useState('');
  const [debounced] = useDebouncedValue(search.trim(), 300);
  const [page, setPage] = useState(1);
  const [data, setData] = useState<{ items: Template[]; total: number } | null>(null);
  const [error, setError] = useState<string[] | null>(null);
  useEffect(() => setPage(1), [debounced]);
  usePolling(
    async () => {
      try {
        setData(await api.get(`/api/v1/templates${toQuery({ search: debounced, page, pageSize: PAGE_SIZE })}`));
        setError(null);
      } catch (e) {
        setError(e instanceof ApiError ? e.lines : [String(e)]);
      }
    },
    [debounced, page],
    0,
    false,
  );
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{t('templates.title')}</Title>
        <Button onClick={() => navigate('/templates/new')}>{t('templates.create')}</Button>
      </Group>
      <Group align="end">
        <TextInput label={t('templates.search')} description={t('templates.searchHint')} value={search} onChange={(e) => setSearch(e.currentTarget.value)} w={420} data-testid="template-search" />
        <Button variant="default" onClick={() => setSearch('')}>
          {t('common.clear')}
        </Button>
      </Group>
      {error && (
        <Alert color="red" role="alert">
          {error.join('\n')}
        </Alert>
      )}
      {data && (
        <Table striped highlightOnHover data-testid="templates">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('templates.col.name')}</Table.Th>
              <Table.Th>{t('templates.col.channels')}</Table.Th>
              <Table.Th>{t('templates.col.variables')}</Table.Th>
              <Table.Th>{t('templates.col.updated')}</Table.Th>
              <Table.Th>ID</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {data.items.map((tpl) => (
              <Table.Tr key={tpl.id} data-template={tpl.name}>
                <Table.Td>
                  <Anchor
                    href={`/templates/${tpl.id}`}
                    onClick={(e) => {
                      e.preventDefault();
                      navigate(`/templates/${tpl.id}`);
                    }}
                  >
                    {tpl.name}
                  </Anchor>
                </Table.Td>
                <Table.Td>{channelsOf(tpl).join(' → ')}</Table.Td>
                <Table.Td>{tpl.variables.map((v) => `{${v}}`).join(' ') || '—'}</Table.Td>
                <Table.Td>{formatDateTime(tpl.updatedAt, lang)}</Table.Td>
                <Table.Td>
                  <Text size="xs" c="dimmed" ff="monospace">
                    {tpl.id}
                  </Text>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {data && (
        <Group>
          <Text size="sm" c="dimmed" data-testid="templates-total">
            {data.total === 0 ? t('common.nothing') : t('templates.total', { total: data.total })}
          </Text>
          {data.total > PAGE_SIZE && <Pagination total={pageCount(data.total, PAGE_SIZE)} value={page} onChange={setPage} size="sm" />}
        </Group>
      )}
    </Stack>
  );
}

interface Preview {
  country: string | null;
  variables: string[];
  channels: { channel: string; mandatory: boolean; sender: string | null; text: string | null; subject?: string; parts: number; encoding?: string; units?: number; pricePerPart: number; cost: number }[];
}

function ChannelEditor({
  draft,
  index,
  count,
  onChange,
  onMove,
  onRemove,
}: {
  draft: ChannelDraft;
  index: number;
  count: number;
  onChange: (draft: ChannelDraft) => void;
  onMove: (by: -1 | 1) => void;
  onRemove: () => void;
}) {
  const { t } = useApp();
  const setField = (name: string, value: string) => onChange({ ...draft, fields: { ...draft.fields, [name]: value } });
  const label = (name: string, required: boolean) => `${t(`field.${name}` as MessageKey)}${required ? '' : ` (${t('templates.optionalField')})`}`;
  return (
    <Paper withBorder p="sm" data-channel={draft.channel} data-testid={`channel-${index + 1}`}>
      <Stack gap="xs">
        <Group justify="space-between">
          <Group gap="xs">
            <Badge size="lg" variant="filled">
              {index + 1}. {draft.channel}
            </Badge>
            <Checkbox label={t('templates.mandatory')} checked={draft.mandatory} onChange={(e) => onChange({ ...draft, mandatory: e.currentTarget.checked })} aria-label={`${t('templates.mandatory')} ${draft.channel}`} />
          </Group>
          <Group gap={4}>
            <ActionIcon variant="subtle" disabled={index === 0} onClick={() => onMove(-1)} aria-label={`${t('templates.up')} ${draft.channel}`}>
              ↑
            </ActionIcon>
            <ActionIcon variant="subtle" disabled={index === count - 1} onClick={() => onMove(1)} aria-label={`${t('templates.down')} ${draft.channel}`}>
              ↓
            </ActionIcon>
            <ActionIcon variant="subtle" color="red" disabled={count === 1} onClick={onRemove} aria-label={`${t('templates.removeChannel')} ${draft.channel}`}>
              ×
            </ActionIcon>
          </Group>
        </Group>
        {CHANNEL_FIELDS[draft.channel].map((field) => {
          const value = draft.fields[field.name] ?? '';
          const common = { key: field.name, label: label(field.name, field.required), 'aria-label': `${draft.channel} ${field.name}` };
          if (field.kind === 'messenger')
            return <Select {...common} data={[...CHAT_MESSENGERS]} value={value || null} onChange={(v) => setField(field.name, v ?? '')} allowDeselect={false} />;
          if (field.kind === 'text' || field.kind === 'pairs')
            return (
              <Textarea
                {...common}
                description={field.kind === 'pairs' ? t('templates.pairsHint') : field.max ? t('templates.chars', { count: value.length, max: field.max }) : undefined}
                value={value}
                onChange={(e) => setField(field.name, e.currentTarget.value)}
                autosize
                minRows={2}
                maxRows={8}
              />
            );
          return <TextInput {...common} value={value} onChange={(e) => setField(field.name, e.currentTarget.value)} />;
        })}
        <Group align="end">
          <NumberInput
            label={t('templates.lifetime')}
            description={t('templates.lifetimeHint')}
            value={draft.lifetimeMinutes}
            onChange={(v) => onChange({ ...draft, lifetimeMinutes: String(v) })}
            min={1}
            max={10080}
            w={220}
            aria-label={`${draft.channel} lifetime`}
          />
          <Switch label={t('form.shortenLinks')} checked={draft.shortenLinks} onChange={(e) => onChange({ ...draft, shortenLinks: e.currentTarget.checked })} aria-label={`${draft.channel} shortenLinks`} />
        </Group>
      </Stack>
    </Paper>
  );
}

function TemplateEditor({ id }: { id: string | null }) {
  const { api, t, navigate } = useApp();
  const zones = useTimeZones();
  const [draft, setDraft] = useState<TemplateDraft | null>(id ? null : emptyTemplateDraft(Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'));
  const [saved, setSaved] = useState<Template | null>(null);
  const [error, setError] = useState<string[] | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [adding, setAdding] = useState<string | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [deleteConflict, setDeleteConflict] = useState<string | null>(null);
  const [sample, setSample] = useState<Record<string, string>>({});
  const [phone, setPhone] = useState('');
  const [preview, setPreview] = useState<Preview | null>(null);
  const [previewError, setPreviewError] = useState<string[] | null>(null);

  useEffect(() => {
    if (!id) return;
    api
      .get<Template>(`/api/v1/templates/${id}`)
      .then((tpl) => {
        setSaved(tpl);
        setDraft(templateToDraft(tpl));
      })
      .catch((e: unknown) => setError(e instanceof ApiError ? e.lines : [String(e)]));
  }, [api, id]);

  const variables = useMemo(() => (draft ? detectVariables(draftTexts(draft)) : []), [draft]);
  const dirty = useMemo(() => !saved || !draft || JSON.stringify(draftToBody(draft)) !== JSON.stringify(draftToBody(templateToDraft(saved))), [draft, saved]);
  const [debouncedSample] = useDebouncedValue(JSON.stringify(sample), 300);
  const [debouncedPhone] = useDebouncedValue(phone.trim(), 300);

  // The live preview: the API renders the saved template, or — new or changed — the draft as it
  // stands (POST /templates/preview: checked as a save would check it, nothing stored).
  const [debouncedDraft] = useDebouncedValue(draft && dirty ? JSON.stringify(draftToBody(draft)) : '', 400);
  useEffect(() => {
    const values = JSON.parse(debouncedSample) as Record<string, string>;
    const names = saved && !debouncedDraft ? saved.variables : variables;
    const variablesBody = Object.fromEntries(names.map((v) => [v, values[v] ?? v]));
    const phoneBody = debouncedPhone ? { phone: debouncedPhone } : {};
    const asked = debouncedDraft
      ? api.request<Preview>('POST', '/api/v1/templates/preview', { template: JSON.parse(debouncedDraft), variables: variablesBody, ...phoneBody })
      : saved
        ? api.request<Preview>('POST', `/api/v1/templates/${saved.id}/preview`, { variables: variablesBody, ...phoneBody })
        : undefined;
    asked
      ?.then((p) => {
        setPreview(p);
        setPreviewError(null);
      })
      .catch((e: unknown) => {
        setPreview(null);
        setPreviewError(e instanceof ApiError ? e.lines : [String(e)]);
      });
    // `variables` follows the draft, which debouncedDraft already follows.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, saved, debouncedDraft, debouncedSample, debouncedPhone]);

  if (!draft)
    return (
      <Stack>
        {error ? (
          <Alert color="red" role="alert">
            {error.join('\n')}
          </Alert>
        ) : (
          <Text>{t('common.loading')}</Text>
        )}
      </Stack>
    );

  const setChannel = (i: number, next: ChannelDraft) => setDraft({ ...draft, channels: draft.channels.map((c, j) => (j === i ? next : c)) });
  const windowProblems = sendWindowProblems(draft.sendWindows);

  const save = async () => {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const body = draftToBody(draft);
      const tpl = saved ? await api.request<Template>('PUT', `/api/v1/templates/${saved.id}`, body) : await api.request<Template>('POST', '/api/v1/templates', body);
      setSaved(tpl);
      setDraft(templateToDraft(tpl));
      setNotice(t('templates.saved', { name: tpl.name }));
      if (!saved) window.history.replaceState(null, '', `/templates/${tpl.id}`);
    } catch (e) {
      setError(e instanceof ApiError ? e.lines : [String(e)]);
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    if (!saved) return;
    try {
      await api.request('DELETE', `/api/v1/templates/${saved.id}`);
      setConfirmDelete(false);
      navigate('/templates');
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) setDeleteConflict(taskOfConflict(e.message) ?? '');
      else setError(e instanceof ApiError ? e.lines : [String(e)]);
      setConfirmDelete(false);
    }
  };

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{saved ? t('templates.editTitle', { name: saved.name }) : t('templates.newTitle')}</Title>
        <Group>
          <Button variant="default" onClick={() => navigate('/templates')}>
            {t('templates.back')}
          </Button>
          {saved && (
            <Button variant="light" onClick={() => navigate(`/send?templateId=${saved.id}`)}>
              {t('templates.sendThis')}
            </Button>
          )}
          {saved && (
            <Button color="red" variant="light" onClick={() => setConfirmDelete(true)}>
              {t('common.delete')}
            </Button>
          )}
        </Group>
      </Group>
      {saved && (
        <Text size="xs" c="dimmed" ff="monospace" data-testid="template-id">
          {saved.id}
        </Text>
      )}
      <SimpleGrid cols={{ base: 1, lg: 2 }} spacing="lg">
        <Stack>
          <TextInput label={t('templates.name')} value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.currentTarget.value })} />
          <Select label={t('form.timezone')} data={zones} value={draft.timezone} onChange={(v) => v && setDraft({ ...draft, timezone: v })} searchable allowDeselect={false} />
          <WindowsEditor windows={draft.sendWindows} onChange={(sendWindows) => setDraft({ ...draft, sendWindows })} />
          {windowProblems.length > 0 && (
            <Text size="xs" c="red">
              {windowProblems.join('; ')}
            </Text>
          )}
          <Title order={4}>{t('templates.channels')}</Title>
          <Text size="xs" c="dimmed">
            {t('templates.channelsHint')}
          </Text>
          {draft.channels.map((c, i) => (
            <ChannelEditor
              key={c.channel}
              draft={c}
              index={i}
              count={draft.channels.length}
              onChange={(next) => setChannel(i, next)}
              onMove={(by) => setDraft({ ...draft, channels: moveItem(draft.channels, i, by) })}
              onRemove={() => setDraft({ ...draft, channels: draft.channels.filter((_, j) => j !== i) })}
            />
          ))}
          {unusedChannels(draft).length > 0 && (
            <Group align="end">
              <Select label={t('templates.addChannel')} data={unusedChannels(draft)} value={adding} onChange={setAdding} w={200} aria-label={t('templates.addChannel')} />
              <Button
                variant="light"
                disabled={!adding}
                onClick={() => {
                  if (!adding) return;
                  setDraft({ ...draft, channels: [...draft.channels, newChannelDraft(adding as Channel, draft.channels.length)] });
                  setAdding(null);
                }}
              >
                {t('templates.add')}
              </Button>
            </Group>
          )}
          {error && (
            <Alert color="red" role="alert" data-testid="template-error">
              {error.map((line, i) => (
                <Text key={i} size="sm">
                  {line}
                </Text>
              ))}
            </Alert>
          )}
          {notice && (
            <Alert color="green" data-testid="notice">
              {notice}
            </Alert>
          )}
          <Group>
            <Button onClick={() => void save()} loading={busy} disabled={!draft.name.trim() || windowProblems.length > 0}>
              {saved ? t('common.save') : t('templates.createSubmit')}
            </Button>
          </Group>
        </Stack>
        <Stack>
          <Title order={4}>{t('templates.variables')}</Title>
          <Group gap={4} data-testid="variables">
            {variables.length === 0 ? (
              <Text size="sm" c="dimmed">
                {t('templates.noVariables')}
              </Text>
            ) : (
              variables.map((v) => (
                <Badge key={v} variant="outline" tt="none" data-variable={v}>
                  {`{${v}}`}
                </Badge>
              ))
            )}
          </Group>
          <Title order={4}>{t('templates.preview')}</Title>
          {dirty && (
            <Text size="sm" c="dimmed" data-testid="preview-unsaved">
              {t('templates.previewUnsaved')}
            </Text>
          )}
          <Stack gap="xs">
            {variables.map((v) => (
              <TextInput key={v} label={`{${v}}`} placeholder={v} value={sample[v] ?? ''} onChange={(e) => setSample({ ...sample, [v]: e.currentTarget.value })} aria-label={`sample ${v}`} />
            ))}
            <TextInput label={t('templates.previewPhone')} description={t('templates.previewPhoneHint')} value={phone} onChange={(e) => setPhone(e.currentTarget.value)} w={260} />
          </Stack>
          {previewError && (
            <Alert color="red" data-testid="preview-error">
              {previewError.join('\n')}
            </Alert>
          )}
          {preview && (
            <Stack gap="xs" data-testid="preview">
              {preview.country && (
                <Text size="sm">
                  {t('templates.country')}: {preview.country}
                </Text>
              )}
              {preview.channels.map((c, i) => (
                <Paper key={c.channel} withBorder p="sm" data-preview-channel={c.channel}>
                  <Group justify="space-between">
                    <Text fw={600}>
                      {i + 1}. {c.channel} {c.mandatory ? '' : `(${t('templates.fallback')})`}
                    </Text>
                    <Text size="sm">{c.sender}</Text>
                  </Group>
                  {c.subject && <Text size="sm" fw={500}>{c.subject}</Text>}
                  <Text size="sm" style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
                    {c.text}
                  </Text>
                  <Group gap="md" mt={4}>
                    <Text size="xs" data-testid={`preview-parts-${c.channel}`}>
                      {t('templates.parts')}: {c.parts}
                    </Text>
                    {c.encoding && (
                      <Text size="xs" data-testid={`preview-encoding-${c.channel}`}>
                        {t('templates.encoding')}: {c.encoding}
                      </Text>
                    )}
                    <Text size="xs" data-testid={`preview-cost-${c.channel}`}>
                      {t('templates.cost')}: {c.cost}
                    </Text>
                  </Group>
                </Paper>
              ))}
            </Stack>
          )}
        </Stack>
      </SimpleGrid>
      <Modal opened={confirmDelete} onClose={() => setConfirmDelete(false)} title={t('templates.deleteTitle')}>
        <Stack>
          <Text>{t('templates.deleteText', { name: saved?.name ?? '' })}</Text>
          <Group justify="end">
            <Button variant="default" onClick={() => setConfirmDelete(false)}>
              {t('common.cancel')}
            </Button>
            <Button color="red" onClick={() => void remove()}>
              {t('common.delete')}
            </Button>
          </Group>
        </Stack>
      </Modal>
      <Modal opened={deleteConflict !== null} onClose={() => setDeleteConflict(null)} title={t('templates.inUseTitle')}>
        <Stack data-testid="delete-conflict">
          <Text>{t('templates.inUseText')}</Text>
          {deleteConflict && (
            <Anchor
              href={`/tasks/${deleteConflict}/history`}
              onClick={(e) => {
                e.preventDefault();
                navigate(`/tasks/${deleteConflict}/history`);
              }}
            >
              {t('templates.inUseTask', { id: deleteConflict })}
            </Anchor>
          )}
          <Group justify="end">
            <Button onClick={() => setDeleteConflict(null)}>{t('common.close')}</Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
