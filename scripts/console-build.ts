/**
 * Builds the operator console (console/ → console/dist) when the build is missing or older than
 * any of its sources. Used by `npm start` and the console's browser test; `npm run build` always builds.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
export const CONSOLE_DIR = path.join(ROOT, 'console');
export const CONSOLE_BUILD = path.join(CONSOLE_DIR, 'dist');
/** What the build is made of besides console/src: a change to any of these makes it outdated. */
const INPUTS = ['index.html', 'vite.config.mts', 'tsconfig.json'].map((f) => path.join(CONSOLE_DIR, f)).concat(path.join(ROOT, 'package-lock.json'));

function newestSourceTime(): number {
  let newest = 0;
  const visit = (file: string) => {
    const stat = fs.statSync(file, { throwIfNoEntry: false });
    if (!stat) return;
    if (stat.isDirectory()) for (const entry of fs.readdirSync(file)) visit(path.join(file, entry));
    else newest = Math.max(newest, stat.mtimeMs);
  };
  visit(path.join(CONSOLE_DIR, 'src'));
  INPUTS.forEach(visit);
  return newest;
}

/** Why the console needs a build ('missing', 'outdated'), or undefined when the build is current. */
export function consoleBuildNeeded(): 'missing' | 'outdated' | undefined {
  const built = fs.statSync(path.join(CONSOLE_BUILD, 'index.html'), { throwIfNoEntry: false });
  if (!built) return 'missing';
  return newestSourceTime() > built.mtimeMs ? 'outdated' : undefined;
}

/** Runs `vite build` for the console; rejects with its output when it fails. */
export function buildConsole(): Promise<void> {
  return new Promise((resolve, reject) => {
    const vite = path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
    const child = spawn(process.execPath, [vite, 'build', '--config', path.join(CONSOLE_DIR, 'vite.config.mts'), '--logLevel', 'warn'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`the console build failed (vite exit ${code}):\n${output}`))));
  });
}

/** Builds the console if it is missing or outdated; says what it did. */
export async function ensureConsoleBuilt(say: (line: string) => void = () => undefined): Promise<void> {
  const reason = consoleBuildNeeded();
  if (!reason) return;
  const started = Date.now();
  say(`Building the console (${reason === 'missing' ? 'no build yet' : 'sources changed'})…`);
  await buildConsole();
  say(`Console built in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
}
