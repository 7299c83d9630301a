import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startStack, type TestStack } from '../support/harness';

/** How the API serves a console build (any folder with index.html, here a stand-in via CONSOLE_DIR). */
let stack: TestStack;
let dir: string;
const saved = process.env.CONSOLE_DIR;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-dist-'));
  fs.mkdirSync(path.join(dir, 'assets'));
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><div id="root"></div>');
  fs.writeFileSync(path.join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
  process.env.CONSOLE_DIR = dir;
  stack = await startStack();
});
afterAll(async () => {
  if (saved === undefined) delete process.env.CONSOLE_DIR;
  else process.env.CONSOLE_DIR = saved;
  await stack.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('serves index.html at / and for client routes, never cached', async () => {
  for (const url of ['/', '/tasks', '/tasks/00000000-0000-4000-8000-000000000000/history', '/messages?taskId=x', '/hlr']) {
    const res = await request(stack.app).get(url).expect(200);
    expect(res.text).toContain('<div id="root">');
    expect(res.headers['cache-control']).toBe('no-cache');
  }
});

it('serves fingerprinted assets for good, and a missing file is a 404, not the app', async () => {
  const asset = await request(stack.app).get('/assets/index-abc123.js').expect(200);
  expect(asset.headers['cache-control']).toContain('immutable');
  await request(stack.app).get('/assets/index-gone.js').expect(404);
});

it('leaves the API, docs, health, metrics, links, pixels and webhooks their own answers', async () => {
  const api = await stack.admin().get('/api/v1/nothing-here').expect(404);
  expect(api.body.error.code).toBe('not_found');
  await request(stack.app).get('/api/v1/tasks').expect(401);
  await request(stack.app).get('/api/v2').expect(404).expect('Content-Type', /json/);
  await request(stack.app).get('/health').expect('Content-Type', /json/);
  await request(stack.app).get('/metrics').expect(200).expect('Content-Type', /text\/plain/);
  expect((await request(stack.app).get('/docs/').expect(200)).text).toContain('swagger');
  expect((await request(stack.app).get('/l/no-such-code').expect(404)).text).not.toContain('id="root"');
  expect((await request(stack.app).get('/o/00000000-0000-4000-8000-000000000000.gif')).text ?? '').not.toContain('id="root"');
  await request(stack.app).get('/webhooks').expect(404).expect('Content-Type', /json/);
  await request(stack.app).post('/tasks').expect(404).expect('Content-Type', /json/);
});
