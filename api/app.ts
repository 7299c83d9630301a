import fs from 'node:fs';
import path from 'node:path';
import type { Connection } from '@temporalio/client';
import express, { type Express, type RequestHandler } from 'express';
import client from 'prom-client';
import { engineMetricsText } from '../activities/metrics';
import swaggerUi from 'swagger-ui-express';
import { ApiKeyAuthenticator } from './auth';
import type { ApiDeps } from './deps';
import { errorHandler, notFoundHandler } from './errors';
import { requestLog } from './request-log';
import { ApiRegistry, rejectNulCharacters } from './routing';
import { registerAdminRoutes } from './routes/admin';
import { registerHlrRoutes } from './routes/hlr';
import { registerLinkRoutes } from './routes/links';
import { registerMessageRoutes } from './routes/messages';
import { registerNotificationRoutes } from './routes/notifications';
import { registerTaskFileRoutes } from './routes/task-files';
import { registerTaskRoutes } from './routes/tasks';
import { registerTemplateRoutes } from './routes/templates';
import { registerWebhookRoutes } from './routes/webhooks';

const JSON_LIMIT = '10mb';
/** Credentials that must never reach a log line: API keys, webhook signatures, cookies. */
const REDACTED_LOG_PATHS = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'req.headers["x-signature"]',
  'req.headers["x-hub-signature-256"]',
  'res.headers["set-cookie"]',
];

/** Paths that are never the console's, even when no route answers them (they keep their 404s). */
const NOT_CONSOLE = /^\/(api|docs|health|metrics|l|o|webhooks)(\/|$)/;

/** Where the built console is: CONSOLE_DIR, else console/dist beside the sources (tsx) or the build (dist/). */
export function consoleDirectory(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = env.CONSOLE_DIR ? [path.resolve(env.CONSOLE_DIR)] : [path.resolve(__dirname, '../console/dist'), path.resolve(__dirname, '../../console/dist')];
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'index.html')));
}

/**
 * The operator console (console/, built by Vite) at `/`: its files, and index.html for the
 * single-page app's own routes (/tasks, /messages…). Fingerprinted assets are cached for good;
 * index.html never, so a new build shows at the next load. Without a build, `/` is a plain 404
 * that says how to build it.
 */
function consoleRoutes(): RequestHandler[] {
  let dir: string | undefined;
  let serveFiles: RequestHandler | undefined;
  const directory = () => (dir ??= consoleDirectory());
  const assets: RequestHandler = (req, res, next) => {
    const root = directory();
    if (!root || NOT_CONSOLE.test(req.path)) return next();
    serveFiles ??= express.static(root, {
      index: false,
      setHeaders: (response, file) => {
        response.setHeader('Cache-Control', file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    });
    return serveFiles(req, res, next);
  };
  const app: RequestHandler = (req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || NOT_CONSOLE.test(req.path)) return next();
    // A missing file (a path with an extension, e.g. an old asset) stays a 404; client routes get the app.
    if (path.extname(req.path) !== '') return next();
    const root = directory();
    if (!root) {
      if (req.path !== '/') return next();
      return res.status(404).type('text/plain').send('The operator console is not built: run `npm run build:console` (npm start builds it).\n');
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(path.join(root, 'index.html'));
  };
  return [assets, app];
}

export function createApp(deps: ApiDeps): { app: Express; registry: ApiRegistry } {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', true);

  const apiKeys = new ApiKeyAuthenticator(deps.pool);
  const metrics = new client.Registry();
  // The event-loop delay monitor samples every 10 ms by default: 100 wake-ups a second of an idle
  // process. Once every 100 ms is precise enough for a dashboard.
  client.collectDefaultMetrics({ register: metrics, eventLoopMonitoringPrecision: 100 });
  const httpDuration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [metrics],
  });

  // Health checks and metrics scrapes would drown the log.
  app.use(requestLog(deps.logger, { redact: REDACTED_LOG_PATHS, ignore: (url) => url === '/health' || url === '/metrics' }));
  app.use((req, res, next) => {
    const end = httpDuration.startTimer();
    res.on('finish', () => end({ method: req.method, route: req.route?.path ?? 'unmatched', status: String(res.statusCode) }));
    next();
  });
  // Authenticate before reading bodies: an anonymous caller gets 401, whatever it sent.
  app.use('/api/v1', (req, res, next) => (req.path === '/openapi.json' ? next() : apiKeys.middleware(req, res, next)));
  app.use(
    express.json({
      limit: JSON_LIMIT,
      // Webhook signatures are computed over the exact bytes received.
      verify: (req, _res, buf) => {
        (req as unknown as { rawBody: Buffer }).rawBody = buf;
      },
    }),
  );
  // Providers that call back with other bodies (forms, text) are read raw: their signatures cover the bytes.
  app.use('/webhooks', express.raw({ type: () => true, limit: JSON_LIMIT }));
  app.use(rejectNulCharacters);

  app.get('/health', async (_req, res) => {
    const [database, temporal] = await Promise.all([
      deps.pool.query('select 1').then(() => 'ok', (e: Error) => `error: ${e.message}`),
      (deps.temporal.connection as Connection).healthService
        .check({})
        .then(() => 'ok', (e: Error) => `error: ${e.message}`),
    ]);
    const ok = database === 'ok' && temporal === 'ok';
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'degraded', database, temporal });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.contentType).send((await metrics.metrics()) + (await engineMetricsText()));
  });

  const publicRouter = express.Router();
  const publicApi = new ApiRegistry(publicRouter);
  registerWebhookRoutes(publicApi, deps);
  registerLinkRoutes(publicApi, deps);

  const v1 = express.Router();
  const api = new ApiRegistry(v1);
  registerAdminRoutes(api, deps, apiKeys);
  registerTemplateRoutes(api, deps);
  registerNotificationRoutes(api, deps);
  registerMessageRoutes(api, deps);
  registerTaskRoutes(api, deps);
  registerTaskFileRoutes(api, deps);
  registerHlrRoutes(api, deps);

  const document = () => {
    const doc = api.openApiDocument({
      title: 'Notification orchestrator API',
      version: '1',
      description: 'Templates, sends, campaigns and message records. Authenticate with `Authorization: Bearer <api key>`.',
    });
    const other = publicApi.openApiDocument({ title: '', version: '', description: '' });
    Object.assign(doc.paths as object, other.paths as object);
    return doc;
  };
  // The contract is public so /docs can load it; every operation in it still needs its key.
  app.get('/api/v1/openapi.json', (_req, res) => res.json(document()));
  app.use('/docs', swaggerUi.serve, swaggerUi.setup(undefined, { swaggerOptions: { url: '/api/v1/openapi.json' } }));

  app.use(publicRouter);
  app.use(v1);
  app.use(...consoleRoutes());
  app.use(notFoundHandler);
  app.use(errorHandler);
  return { app, registry: api };
}
