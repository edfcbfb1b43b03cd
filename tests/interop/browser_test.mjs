// Headless Chromium (Debian's chromium, driven with playwright-core) against the chat demo:
// two tabs load the page; tab A asks a question; mid-answer tab A goes offline (DevTools
// network emulation) and its socket drops, tab B reloads; both must end with exactly the
// conversation the server holds. Then Stop in tab B cancels the next answer and tab A shows
// it as stopped, and the demo agent stops within one delta. Typing while the agent answers
// steers it.
//
//   node browser_test.mjs <strata_chat_server> <node dir> [chromium]
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fail, requireFrom, startServer, http, sleep } from './node_common.mjs';

const [binary, nodeDir, chromiumPath = '/usr/bin/chromium'] = process.argv.slice(2);
const { chromium } = requireFrom(nodeDir, 'playwright-core');
const started = Date.now();
const log = (...args) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s]`, ...args);
const watchdog = setTimeout(() => fail('timed out after 50 s'), 50000);

const work = mkdtempSync(path.join(os.tmpdir(), 'strata-browser-'));
const server = await startServer(binary, ['--port', '0', '--db', path.join(work, 'chat.db'),
                                          '--delay-ms', '40'], { exitOnEof: false });
const url = `${server.base}/`;
let context;
try {
  context = await chromium.launchPersistentContext(path.join(work, 'profile'), {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
} catch (err) {
  fail(`cannot start Chromium at ${chromiumPath}: ${err.message}`);
}

try {
  const a = await context.newPage();
  const b = await context.newPage();
  for (const p of [a, b]) {
    p.on('pageerror', (err) => fail(`page error: ${err.message}`));
  }
  await a.goto(url);
  await b.goto(url);
  const live = (p) => p.waitForFunction(() => window.strataDemo &&
    window.strataDemo.client.state === 'open' && window.strataDemo.subscription.position.epoch);
  await Promise.all([live(a), live(b)]);
  // Presence: each tab lists both.
  const bothHere = (p) => p.waitForFunction(() => document.querySelectorAll('#presence .who').length === 2,
                                            null, { timeout: 10000 });
  await Promise.all([bothHere(a), bothHere(b)]);
  log('two tabs live, each sees two people present');

  // --- a question; tab A goes offline mid-answer, tab B reloads -------------------------------
  await a.fill('#input', 'What happens when my network drops?');
  await a.click('#send');
  const words = (p, n) => p.waitForFunction((k) => {
    const m = [...document.querySelectorAll('.msg.assistant')].pop();
    return m && m.textContent.split(' ').length >= k;
  }, n, { timeout: 15000 });
  await words(a, 8);
  const cdp = await context.newCDPSession(a);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions',
                 { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await a.evaluate(() => window.strataDemo.drop());  // the socket dies with the network
  const wordsAtDrop = await a.evaluate(() => window.strataDemo.transcript().pop().text.split(' ').length);
  log(`tab A offline after ${wordsAtDrop} words`);
  await b.reload();
  await live(b);
  log('tab B reloaded and resumed');
  await sleep(1500);  // the agent keeps streaming while A is offline
  const offlineState = await a.evaluate(() => window.strataDemo.client.state);
  await cdp.send('Network.emulateNetworkConditions',
                 { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await a.evaluate(() => dispatchEvent(new Event('online')));
  log(`tab A back online (was ${offlineState})`);

  const answered = (p) => p.waitForFunction(() => {
    const s = window.strataDemo.state;
    const runs = Object.values(s.runs);
    return runs.length >= 1 && runs.every((r) => r.state !== 'running') &&
      window.strataDemo.transcript().length >= 2;
  }, null, { timeout: 20000 });
  await Promise.all([answered(a), answered(b)]);
  const reconnects = await a.evaluate(() => window.strataDemo.client.connects);
  if (reconnects < 2) fail(`tab A never reconnected (connects = ${reconnects})`);

  // The server's view: the snapshot holds every message whole.
  const snap = (await http(server.base, 'GET', '/v1/sessions/demo/snapshot')).json;
  const expected = snap.messages.map((m) => ({ id: m.id, role: m.role, text: m.text }));
  for (const [name, p] of [['A', a], ['B', b]]) {
    const got = (await p.evaluate(() => window.strataDemo.transcript()))
      .map((m) => ({ id: m.id, role: m.role, text: m.text }));
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      fail(`tab ${name} differs from the server:\n  tab:    ${JSON.stringify(got)}\n  server: ${JSON.stringify(expected)}`);
    }
  }
  const answer = expected[expected.length - 1].text;
  if (!answer.includes('What happens when my network drops?')) fail(`unexpected answer: ${answer}`);
  log(`both tabs equal the server: ${expected.length} messages, answer ${answer.split(' ').length} words`);

  // --- Stop in tab B; tab A shows the run as stopped ------------------------------------------
  await a.fill('#input', 'Tell me a long story');
  await a.click('#send');
  await words(b, 6);
  // Typing while it answers steers the run; the demo agent weaves the text in.
  await a.waitForFunction(() => document.querySelector('#send').textContent === 'Steer');
  await a.fill('#input', 'make it about otters');
  await a.click('#send');
  const steered = (p) => p.waitForFunction(() => {
    const m = [...document.querySelectorAll('.msg.assistant')].pop();
    return m && m.textContent.includes('you steered me: "make it about otters"');
  }, null, { timeout: 10000 });
  await Promise.all([steered(a), steered(b)]);
  log('steering from tab A reached the agent; both tabs show the steered answer');
  await b.waitForFunction(() => !document.querySelector('#stop').disabled);
  await b.click('#stop');
  const stopped = (p) => p.waitForFunction(() => {
    const m = [...document.querySelectorAll('.msg.assistant')].pop();
    return m && m.dataset.state === 'stopped' && document.querySelector('#stop').disabled;
  }, null, { timeout: 10000 });
  await Promise.all([stopped(a), stopped(b)]);
  log('Stop in tab B: both tabs show the answer as stopped');

  // The agent stopped within one delta of the cancel event.
  await sleep(300);
  const history = (await http(server.base, 'GET', '/v1/sessions/demo/events?after=0&limit=1000')).json;
  const events = history.events;
  const cancel = events.findIndex((e) => e.type === 'run.cancelled');
  if (cancel < 0) fail('no run.cancelled in the history');
  const runId = events[cancel].run_id;
  const after = events.slice(cancel + 1).filter((e) => e.run_id === runId && e.type === 'message.delta');
  if (after.length > 1) fail(`the agent wrote ${after.length} deltas after the cancel`);
  const snap2 = (await http(server.base, 'GET', '/v1/sessions/demo/snapshot')).json;
  const run = snap2.runs.find((r) => r.id === runId);
  if (!run || run.state !== 'cancelled') fail(`run ${runId} is ${run && run.state}`);
  const aText = await a.evaluate(() => window.strataDemo.transcript().pop().text);
  const serverText = snap2.messages[snap2.messages.length - 1].text;
  if (aText !== serverText) fail(`tab A's stopped text differs:\n  ${aText}\n  ${serverText}`);
  log(`run ${runId} cancelled; ${after.length} delta(s) after the cancel event`);
} finally {
  clearTimeout(watchdog);
  await context.close().catch(() => {});
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}
console.log(`ok: browser tabs resumed with nothing missing and Stop reached both tabs ` +
            `(${((Date.now() - started) / 1000).toFixed(1)} s)`);
