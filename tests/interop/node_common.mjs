// Shared by the Node interop tests: start a strata server binary, plain HTTP, checks.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

export function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

/** Loads a package installed by setup_node.sh into <build>/test-data/node. */
export function requireFrom(nodeDir, name) {
  if (!existsSync(path.join(nodeDir, 'node_modules', name))) {
    fail(`${name} is not installed in ${nodeDir} (run tests/interop/setup_node.sh)`);
  }
  return createRequire(path.resolve(nodeDir, 'package.json'))(name);
}

/** Starts `binary args...`; resolves once it prints "listening on http://127.0.0.1:<port>/". */
export function startServer(binary, args = [], { exitOnEof = true } = {}) {
  if (!binary || !existsSync(binary)) fail(`server binary not found: ${binary}`);
  const child = spawn(binary, exitOnEof ? ['--exit-on-stdin-eof', ...args] : args,
                      { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not report its port')), 10000);
    const lines = readline.createInterface({ input: child.stdout });
    const extra = [];
    lines.on('line', (line) => {
      const m = /^listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(line);
      if (m) {
        clearTimeout(timer);
        const port = Number(m[1]);
        resolve({
          port, child, extra, base: `http://127.0.0.1:${port}`,
          alive: () => child.exitCode === null && child.signalCode === null,
          stop: () => new Promise((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', done);
            if (exitOnEof) child.stdin.end(); else child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 10000).unref();
          }),
        });
      } else {
        extra.push(line);
      }
    });
    child.once('exit', (code) => reject(new Error(`the server exited (${code})`)));
  });
}

export async function http(base, method, pathname, body) {
  const r = await fetch(base + pathname, {
    method, headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch (_) { /* not JSON */ }
  return { status: r.status, json, text };
}

export async function startStream(base, session, count, intervalUs) {
  const r = await http(base, 'POST', '/v1/sessions/control/events', {
    type: 'interop.start', payload: { session, count, interval_us: intervalUs } });
  if (r.status !== 200) fail(`could not start the stream: ${r.status} ${r.text}`);
}

/** received: [{offset, type, i}] — ticks 1..count once each, in order, then interop.done. */
export function checkExactlyOnce(received, count) {
  const problems = [];
  for (let k = 1; k < received.length; k++) {
    if (received[k].offset <= received[k - 1].offset) {
      problems.push(`offsets not increasing at #${k}: ${received[k - 1].offset} then ${received[k].offset}`);
      break;
    }
  }
  const ticks = received.filter((r) => r.type === 'interop.tick').map((r) => r.i);
  const ok = ticks.length === count && ticks.every((v, k) => v === k + 1);
  if (!ok) {
    const seen = new Set(); const dups = [];
    for (const t of ticks) { if (seen.has(t)) dups.push(t); seen.add(t); }
    const missing = [];
    for (let k = 1; k <= count && missing.length < 10; k++) if (!seen.has(k)) missing.push(k);
    problems.push(`ticks wrong: ${ticks.length} received, duplicates ${dups.slice(0, 10)}, missing ${missing}`);
  }
  if (!received.length || received[received.length - 1].type !== 'interop.done') {
    problems.push('the stream did not end with interop.done');
  }
  return problems;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
