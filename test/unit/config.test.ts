import { DEV_ADMIN_API_KEY, loadConfig } from '../../core/config';

describe('loadConfig in production', () => {
  const production = { NODE_ENV: 'production', ADMIN_API_KEY: 'a-real-admin-key', WEBHOOK_SECRET: 'a-real-webhook-secret' };

  it('starts with both secrets set', () => {
    const config = loadConfig(production);
    expect(config.adminApiKey).toBe('a-real-admin-key');
    expect(config.webhookSecret).toBe('a-real-webhook-secret');
  });

  it('refuses to start without WEBHOOK_SECRET, naming it', () => {
    expect(() => loadConfig({ ...production, WEBHOOK_SECRET: undefined })).toThrow('WEBHOOK_SECRET must be set when NODE_ENV=production');
    expect(() => loadConfig({ ...production, WEBHOOK_SECRET: '' })).toThrow(/WEBHOOK_SECRET/);
  });

  it('refuses to start without ADMIN_API_KEY, naming it', () => {
    expect(() => loadConfig({ ...production, ADMIN_API_KEY: '' })).toThrow('ADMIN_API_KEY must be set when NODE_ENV=production');
  });

  it('names both when both are missing', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow('ADMIN_API_KEY and WEBHOOK_SECRET must be set when NODE_ENV=production');
  });
});

describe('loadConfig in development', () => {
  it('falls back to the dev defaults', () => {
    const config = loadConfig({});
    expect(config.adminApiKey).toBe(DEV_ADMIN_API_KEY);
    expect(config.adminApiKeyIsDevDefault).toBe(true);
    expect(config.webhookSecret).toBe('dev-webhook-secret');
  });
});
