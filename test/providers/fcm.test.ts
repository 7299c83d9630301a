import { generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { checkProviders } from '../../activities/channels/registry';
import type { ChannelProvider } from '../../activities/channels/types';
import { parseProvidersConfig } from '../../core/providers';
import { approvedSender, eventually, startStack, type TestStack } from '../support/harness';
import { configuredProvider, HttpPeer, outgoing, reply, type PeerRequest } from '../support/http-peer';

const PROJECT = 'acme-push-test';
const CLIENT_EMAIL = 'orchestrator@acme-push-test.iam.gserviceaccount.com';
const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privatePem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const otherPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

/**
 * Google's side: the OAuth2 token endpoint (checks the RS256 JWT against the service account's
 * public key) and FCM's messages:send (checks the bearer is a live token and the message shape).
 */
class Google {
  /** Tokens issued, in order; a revoked one is answered 401 UNAUTHENTICATED. */
  readonly issued: string[] = [];
  readonly revoked = new Set<string>();
  expiresInS = 3600;
  readonly jwtClaims: Record<string, unknown>[] = [];
  /** Answers by device token (the message's `token`). */
  readonly byDevice = new Map<string, (res: ServerResponse) => void>();
  sends = 0;

  constructor(
    private readonly publicKey: KeyObject,
    private readonly tokenUri: () => string,
  ) {}

  handle = (req: PeerRequest, res: ServerResponse): void => {
    if (req.method === 'POST' && req.url === '/token') return this.token(req, res);
    if (req.method === 'POST' && req.url === `/v1/projects/${PROJECT}/messages:send`) return this.send(req, res);
    reply(res, 404, { error: { code: 404, message: `no ${req.method} ${req.url}`, status: 'NOT_FOUND' } });
  };

  private token(req: PeerRequest, res: ServerResponse) {
    if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') return reply(res, 400, { error: 'invalid_request', error_description: 'form expected' });
    const form = new URLSearchParams(req.raw);
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return reply(res, 400, { error: 'unsupported_grant_type' });
    const [header, claims, signature] = (form.get('assertion') ?? '').split('.');
    const decode = (part?: string) => JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8'));
    if (!signature || decode(header).alg !== 'RS256' || !verify('sha256', Buffer.from(`${header}.${claims}`), this.publicKey, Buffer.from(signature, 'base64url'))) {
      return reply(res, 400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
    }
    const c = decode(claims);
    const now = Math.floor(Date.now() / 1000);
    if (c.iss !== CLIENT_EMAIL || c.aud !== this.tokenUri() || c.scope !== 'https://www.googleapis.com/auth/firebase.messaging' || Math.abs(c.iat - now) > 5 || c.exp - c.iat !== 3600) {
      return reply(res, 400, { error: 'invalid_grant', error_description: `bad claims ${JSON.stringify(c)}` });
    }
    this.jwtClaims.push(c);
    const token = `ya29.test-${this.issued.length + 1}`;
    this.issued.push(token);
    reply(res, 200, { access_token: token, expires_in: this.expiresInS, token_type: 'Bearer' });
  }

  private send(req: PeerRequest, res: ServerResponse) {
    this.sends++;
    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    if (!bearer || !this.issued.includes(bearer) || this.revoked.has(bearer)) {
      return reply(res, 401, { error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } });
    }
    const m = req.json?.message;
    const problem =
      !m || typeof m.token !== 'string' ? 'message.token' :
      typeof m.notification?.body !== 'string' ? 'message.notification.body' :
      !/^\d+s$/.test(m.android?.ttl ?? '') ? 'message.android.ttl' :
      !/^\d+$/.test(m.apns?.headers?.['apns-expiration'] ?? '') ? 'message.apns.headers' : undefined;
    if (problem) return reply(res, 400, fcmError(400, 'INVALID_ARGUMENT', `Invalid value at '${problem}'`, 'INVALID_ARGUMENT'));
    const special = this.byDevice.get(m.token);
    if (special) return special(res);
    reply(res, 200, { name: `projects/${PROJECT}/messages/0:${1000 + this.sends}%abc` });
  }
}

function fcmError(code: number, status: string, message: string, errorCode?: string) {
  return { error: { code, message, status, details: errorCode ? [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }] : [] } };
}

let peer: HttpPeer;
let google: Google;
let stack: TestStack;
const serviceAccount = (privateKey = privatePem) => ({
  type: 'service_account',
  project_id: PROJECT,
  private_key_id: 'k1',
  private_key: privateKey,
  client_email: CLIENT_EMAIL,
  token_uri: `${peer.url}/token`,
});
const entry = (settings: Record<string, unknown> = {}, common: Record<string, unknown> = {}) => ({
  name: 'fcm-direct',
  type: 'fcm',
  channels: ['push'],
  timeoutMs: 5000,
  ...common,
  settings: { serviceAccount: serviceAccount(), baseUrl: peer.url, acceptedIsDelivered: false, ...settings },
});

beforeAll(async () => {
  peer = await HttpPeer.start();
  google = new Google(keys.publicKey, () => `${peer.url}/token`);
  peer.handler = google.handle;
  stack = await startStack({
    worker: true,
    env: { PROVIDERS: JSON.stringify([{ name: 'fcm', type: 'fcm', channels: ['push'], settings: { serviceAccount: serviceAccount(), baseUrl: peer.url } }]) },
  });
});
afterAll(async () => {
  await stack.close();
  await peer.close();
});
beforeEach(() => google.byDevice.clear());

describe('fcm client against FCM HTTP v1 and the token endpoint', () => {
  let provider: ChannelProvider;
  beforeAll(() => {
    provider = configuredProvider(stack.deps.pool, entry(), 'push');
  });

  it('mints a token with a signed JWT once, sends the notification with the bearer, takes the message name', async () => {
    const tokensBefore = google.issued.length;
    const m = outgoing('push', { recipient: 'device-ok-1', sender: 'ACME Shop', text: 'Your order shipped', deliveryEndAt: new Date(Date.now() + 600_000) });
    const before = peer.requests.length;
    const [result] = await provider.submit([m]);
    expect(result).toEqual({
      messageId: m.messageId,
      outcome: 'accepted',
      providerMessageId: expect.stringMatching(new RegExp(`^projects/${PROJECT}/messages/0:\\d+%abc$`)),
      detail: expect.stringMatching(new RegExp(`^POST /v1/projects/${PROJECT}/messages:send → 200 projects/`)),
    });
    const send = peer.requests.slice(before).find((r) => r.url.endsWith('messages:send'))!;
    expect(send.headers.authorization).toBe(`Bearer ${google.issued.at(-1)}`);
    expect(google.issued.length).toBe(tokensBefore + 1);
    const message = send.json.message;
    expect(message).toEqual({
      token: 'device-ok-1',
      notification: { title: 'ACME Shop', body: 'Your order shipped' },
      android: { ttl: expect.stringMatching(/^\d+s$/) },
      apns: { headers: { 'apns-expiration': String(Math.floor(m.deliveryEndAt.getTime() / 1000)), 'apns-collapse-id': m.sendId } },
    });
    const ttl = parseInt(message.android.ttl, 10);
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);

    // The token is cached: the next batch (two messages, concurrently) mints nothing.
    const again = await provider.submit([outgoing('push', { recipient: 'device-ok-2' }), outgoing('push', { recipient: 'device-ok-3' })]);
    expect(again.map((r) => r.outcome)).toEqual(['accepted', 'accepted']);
    expect(google.issued.length).toBe(tokensBefore + 1);
  });

  it('title and data come from the payload when it has them', async () => {
    const before = peer.requests.length;
    await provider.submit([outgoing('push', { recipient: 'device-data', payload: { title: 'Sale', data: { orderId: 'A-1', count: 2 } } })]);
    const message = peer.requests.slice(before).find((r) => r.url.endsWith('messages:send'))!.json.message;
    expect(message.notification).toEqual({ title: 'Sale', body: 'Hello' });
    expect(message.data).toEqual({ orderId: 'A-1', count: '2' });
  });

  it('UNREGISTERED, INVALID_ARGUMENT and SENDER_ID_MISMATCH are permanent; QUOTA_EXCEEDED, UNAVAILABLE and INTERNAL are retried with Retry-After', async () => {
    google.byDevice.set('dev-unregistered', (res) => reply(res, 404, fcmError(404, 'NOT_FOUND', 'Requested entity was not found.', 'UNREGISTERED')));
    google.byDevice.set('dev-invalid', (res) => reply(res, 400, fcmError(400, 'INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token', 'INVALID_ARGUMENT')));
    google.byDevice.set('dev-mismatch', (res) => reply(res, 403, fcmError(403, 'PERMISSION_DENIED', 'SenderId mismatch', 'SENDER_ID_MISMATCH')));
    google.byDevice.set('dev-quota', (res) => reply(res, 429, fcmError(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded', 'QUOTA_EXCEEDED'), { 'Retry-After': '12' }));
    google.byDevice.set('dev-unavailable', (res) => reply(res, 503, fcmError(503, 'UNAVAILABLE', 'The service is currently unavailable.', 'UNAVAILABLE'), { 'Retry-After': '3' }));
    google.byDevice.set('dev-internal', (res) => reply(res, 500, fcmError(500, 'INTERNAL', 'Internal error', 'INTERNAL')));
    const devices = ['dev-unregistered', 'dev-invalid', 'dev-mismatch', 'dev-quota', 'dev-unavailable', 'dev-internal'];
    const results = await provider.submit(devices.map((recipient) => outgoing('push', { recipient })));
    const path = `POST /v1/projects/${PROJECT}/messages:send`;
    expect(results.map(({ messageId: _, ...r }) => r)).toEqual([
      { outcome: 'rejected', reason: 'fcm-direct: 404 UNREGISTERED: Requested entity was not found.', detail: `${path} → 404 UNREGISTERED: Requested entity was not found.` },
      { outcome: 'rejected', reason: 'fcm-direct: 400 INVALID_ARGUMENT: The registration token is not a valid FCM registration token', detail: expect.any(String) },
      { outcome: 'rejected', reason: 'fcm-direct: 403 SENDER_ID_MISMATCH: SenderId mismatch', detail: expect.any(String) },
      { outcome: 'transient', reason: 'fcm-direct: 429 QUOTA_EXCEEDED: Quota exceeded', retryAfterMs: 12_000, detail: expect.any(String) },
      { outcome: 'transient', reason: 'fcm-direct: 503 UNAVAILABLE: The service is currently unavailable.', retryAfterMs: 3000, detail: expect.any(String) },
      { outcome: 'transient', reason: 'fcm-direct: 500 INTERNAL: Internal error', detail: expect.any(String) },
    ]);
  });

  it('a token FCM stops taking (401) is replaced once and the message sent with the new one', async () => {
    await provider.submit([outgoing('push', { recipient: 'device-before-revoke' })]);
    const old = google.issued.at(-1)!;
    google.revoked.add(old);
    const before = peer.requests.length;
    const [result] = await provider.submit([outgoing('push', { recipient: 'device-after-revoke' })]);
    expect(result).toMatchObject({ outcome: 'accepted', detail: expect.stringContaining('→ 401 UNAUTHENTICATED: Request had invalid authentication credentials.; new access token, again → 200') });
    const seen = peer.requests.slice(before).map((r) => (r.url === '/token' ? 'token' : r.headers.authorization));
    expect(seen).toEqual([`Bearer ${old}`, 'token', `Bearer ${google.issued.at(-1)}`]);
    expect(google.issued.at(-1)).not.toBe(old);
  });

  it('a second 401 after a new token is a refusal (THIRD_PARTY_AUTH_ERROR: the APNs credential is wrong)', async () => {
    google.byDevice.set('dev-ios', (res) => reply(res, 401, fcmError(401, 'UNAUTHENTICATED', 'Auth error from APNS or Web Push Service', 'THIRD_PARTY_AUTH_ERROR')));
    const tokens = google.issued.length;
    const [result] = await provider.submit([outgoing('push', { recipient: 'dev-ios' })]);
    expect(result).toMatchObject({ outcome: 'rejected', reason: 'fcm-direct: 401 THIRD_PARTY_AUTH_ERROR: Auth error from APNS or Web Push Service' });
    expect(google.issued.length).toBe(tokens + 1);
  });

  it('a token is renewed before it expires', async () => {
    google.expiresInS = 1;
    try {
      const shortLived = configuredProvider(stack.deps.pool, entry(), 'push');
      await shortLived.submit([outgoing('push', { recipient: 'device-a' })]);
      const first = google.issued.length;
      await new Promise((r) => setTimeout(r, 700));
      await shortLived.submit([outgoing('push', { recipient: 'device-b' })]);
      expect(google.issued.length).toBe(first + 1);
    } finally {
      google.expiresInS = 3600;
    }
  });

  it('a key the token endpoint refuses: the batch is retried later with its reason, nothing sent', async () => {
    const wrongKey = configuredProvider(stack.deps.pool, entry({ serviceAccount: serviceAccount(otherPem) }), 'push');
    const sends = google.sends;
    const results = await wrongKey.submit([outgoing('push'), outgoing('push')]);
    expect(results.map(({ messageId: _, ...r }) => r)).toEqual(
      Array(2).fill({ outcome: 'transient', reason: 'fcm-direct: access token: 400 invalid_grant (Invalid JWT Signature.)', detail: `POST ${peer.url.replace('http://', '')}/token (access token) → failed` }),
    );
    expect(google.sends).toBe(sends);
  });

  it('FCM never answers: transient within timeoutMs', async () => {
    google.byDevice.set('dev-silent', () => undefined);
    const impatient = configuredProvider(stack.deps.pool, entry({}, { timeoutMs: 600 }), 'push');
    await impatient.submit([outgoing('push', { recipient: 'device-warm-up' })]); // the token
    const started = Date.now();
    const [result] = await impatient.submit([outgoing('push', { recipient: 'dev-silent' })]);
    expect(Date.now() - started).toBeLessThan(2500);
    expect(result).toMatchObject({ outcome: 'transient', reason: expect.stringMatching(/^fcm-direct: (access token: )?no answer in time \(request aborted\)$/) });
  });

  it('settings: the key inline, as JSON text from an environment variable or from a file; a missing file, a key without project or two keys are named at start', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fcm-key-'));
    try {
      const file = join(dir, 'key.json');
      writeFileSync(file, JSON.stringify(serviceAccount()));
      const check = (settings: Record<string, unknown>) => () => checkProviders(parseProvidersConfig(JSON.stringify([{ name: 'f', type: 'fcm', channels: ['push'], settings }]), 'test'));
      expect(check({ serviceAccountFile: file })).not.toThrow();
      process.env.FCM_TEST_KEY_JSON = JSON.stringify(serviceAccount());
      expect(check({ serviceAccount: '${FCM_TEST_KEY_JSON}' })).not.toThrow();
      expect(check({ serviceAccount: '{not json' })).toThrow('.settings.serviceAccount: not the key JSON (an object, or its JSON text)');
      expect(check({ serviceAccountFile: join(dir, 'nope.json') })).toThrow(/^provider "f" \(providers\[0\]\)\.settings\.serviceAccountFile: cannot read the key file: ENOENT/);
      expect(check({ serviceAccount: { ...serviceAccount(), project_id: undefined } })).toThrow('.settings.projectId: required: the key has no project_id');
      expect(check({ serviceAccount: { ...serviceAccount(), private_key: 'nope' } })).toThrow('.settings.serviceAccount.private_key: expected a PEM private key');
      expect(check({ serviceAccount: serviceAccount(), serviceAccountFile: file })).toThrow('.settings.serviceAccount: set serviceAccount (the key JSON) or serviceAccountFile (its path), one of them');
      expect(check({})).toThrow('.settings.serviceAccount: set serviceAccount');
    } finally {
      delete process.env.FCM_TEST_KEY_JSON;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('push through the stack with FCM', () => {
  async function pushTemplate() {
    const sender = await approvedSender(stack, 'push');
    const res = await stack.admin().post('/api/v1/templates').send({ name: `push ${Date.now()}`, channels: [{ channel: 'push', sender, text: 'Hi {name}, your order is ready', lifetimeMinutes: 5 }] }).expect(201);
    return { templateId: res.body.id as string, sender };
  }
  const message = async (id: string) => (await stack.admin().get(`/api/v1/messages/${id}`).expect(200)).body;

  it('API send → FCM (token minted, bearer checked) → SENT with the message name → DELIVERED on acceptance', async () => {
    const { templateId, sender } = await pushTemplate();
    const before = peer.requests.length;
    const sent = await stack.admin().post('/api/v1/notifications').send({ templateId, variables: { name: 'Ann' }, recipients: [{ pushToken: 'e2e-device-1' }] }).expect(202);
    const id = sent.body.messages[0].id;
    const done = await eventually(() => message(id), (m) => m.status === 'DELIVERED');
    expect(done.provider).toBe('fcm');
    expect(done.providerMessageId).toMatch(new RegExp(`^projects/${PROJECT}/messages/`));
    expect(done.events.map((e: { status: string }) => e.status)).toEqual(['CREATED', 'QUEUED', 'SENT', 'DELIVERED']);
    expect(done.events.at(-1)).toMatchObject({ description: 'fcm: accepted by FCM', source: 'provider:fcm' });
    const request = peer.requests.slice(before).find((r) => r.json?.message?.token === 'e2e-device-1')!;
    expect(request.json.message.notification).toEqual({ title: sender, body: 'Hi Ann, your order is ready' });
    expect(parseInt(request.json.message.android.ttl, 10)).toBeGreaterThan(280);
  });

  it('an unregistered device token: ERROR with FCM\'s reason', async () => {
    google.byDevice.set('e2e-gone', (res) => reply(res, 404, fcmError(404, 'NOT_FOUND', 'Requested entity was not found.', 'UNREGISTERED')));
    const { templateId } = await pushTemplate();
    const sent = await stack.admin().post('/api/v1/notifications').send({ templateId, variables: { name: 'Bo' }, recipients: [{ pushToken: 'e2e-gone' }] }).expect(202);
    const done = await eventually(() => message(sent.body.messages[0].id), (m) => m.status === 'ERROR');
    expect(done.events.at(-1).description).toContain('fcm: 404 UNREGISTERED: Requested entity was not found.');
  });
});
