// Supervises the Temporal CLI dev server in a process group of its own (the launcher spawns this
// detached), so a terminal's Ctrl-C reaches only the launcher, which stops the worker and API
// first and Temporal after them. The server stops when the launcher closes our stdin or vanishes,
// even when the launcher was SIGKILLed and could not ask.
// Usage: node this.mjs <temporal binary> <args…>
import { spawn } from 'node:child_process';

const STOP_GRACE_MS = 10_000;
const PARENT_POLL_MS = 500;

const [binary, ...args] = process.argv.slice(2);
// stdout (the banner) is not needed: the launcher checks readiness itself. stderr carries the
// reason when the server fails to start.
const server = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
// A vanished launcher leaves nobody reading our stderr: drop what cannot be written.
process.stderr.on('error', () => undefined);
server.stderr.on('data', (chunk) => process.stderr.write(chunk));
server.on('error', (error) => {
  process.stderr.write(`cannot run ${binary}: ${error.message}\n`);
  process.exit(1);
});

let stopRequested = false;
server.on('exit', (code, signal) => process.exit(stopRequested ? 0 : (code ?? (signal ? 1 : 0))));

function stop() {
  if (stopRequested) return;
  stopRequested = true;
  server.kill('SIGTERM');
  setTimeout(() => server.kill('SIGKILL'), STOP_GRACE_MS).unref();
}

process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('SIGHUP', stop);
const parent = process.ppid;
setInterval(() => {
  // Once the parent is gone we are re-parented (ppid changes); kill(0) covers the moment between.
  let alive = process.ppid === parent;
  try {
    process.kill(parent, 0);
  } catch {
    alive = false;
  }
  if (!alive) stop();
}, PARENT_POLL_MS).unref();
