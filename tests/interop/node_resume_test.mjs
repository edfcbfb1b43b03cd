// Node `ws` and `eventsource` (npm, pinned in package.json) against strata's WebSocket and
// SSE endpoints: the connection is dropped at random points many times while an appender
// streams events; the client resumes from the last offset it saw (WebSocket: subscribe with
// `from`; SSE: Last-Event-ID). Every event must arrive exactly once and in order — nothing is
// deduplicated here, so a repeat is a failure.
//
//   node node_resume_test.mjs <ws|sse> <strata_interop_server> <node dir> [drops] [events]
import { fail, requireFrom, startServer, startStream, checkExactlyOnce, sleep } from './node_common.mjs';

const [transport, binary, nodeDir, dropsArg, countArg] = process.argv.slice(2);
const dropsWanted = Number(dropsArg || 30);
const count = Number(countArg || 2000);
const randInt = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo + 1));

// --- WebSocket with `ws` ---------------------------------------------------------------------
async function overWebSocket(server) {
  const WebSocket = requireFrom(nodeDir, 'ws');
  const session = 'node-ws';
  const received = [];
  let last = 0; let epoch = ''; let drops = 0; let terminated = 0; let closed = 0; let done = false;
  const meanGap = Math.max(2, Math.floor(count / (dropsWanted * 2)));
  await startStream(server.base, session, count, 2000);
  while (!done) {
    await new Promise((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/v1/ws`);
      const budget = drops < dropsWanted ? randInt(1, 2 * meanGap) : Infinity;
      let here = 0;
      let finished = false;
      const finish = () => { if (!finished) { finished = true; resolve(); } };
      ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', session, from: last,
                                                   epoch: epoch || undefined, id: 's' })));
      ws.on('message', (data) => {
        if (finished) return;
        const msg = JSON.parse(data.toString());
        if (msg.op === 'error') {
          if (msg.code === 'not_found') { ws.terminate(); setTimeout(finish, 50); return; }
          fail(`error reply: ${JSON.stringify(msg)}`);
        }
        if (msg.op === 'closed') fail(`subscription closed: ${JSON.stringify(msg)}`);
        if (msg.op === 'subscribed') {
          if (epoch && msg.epoch !== epoch) fail('epoch changed');
          epoch = msg.epoch;
          return;
        }
        if (msg.op !== 'event') return;
        const e = msg.event;
        received.push({ offset: e.offset, type: e.type, i: e.payload.i });
        last = e.offset;
        here += 1;
        if (e.type === 'interop.done') { done = true; ws.close(); finish(); return; }
        if (here >= budget) {
          drops += 1;
          if (Math.random() < 0.7) { ws.terminate(); terminated += 1; }  // socket destroyed
          else { ws.close(1000); closed += 1; }                          // clean close
          finish();
        }
      });
      ws.on('error', () => {});
      ws.on('close', finish);
    });
    await sleep([0, 0, 10, 50][randInt(0, 3)]);
  }
  return { received, drops, detail: `${terminated} destroyed, ${closed} closed` };
}

// --- SSE with `eventsource` ------------------------------------------------------------------
async function overEventSource(server) {
  const { EventSource } = requireFrom(nodeDir, 'eventsource');
  const session = 'node-sse';
  const received = [];
  let drops = 0; let destroyed = 0; let reopened = 0; let done = false;
  let lastId = '';
  const meanGap = Math.max(2, Math.floor(count / (dropsWanted * 2)));
  await startStream(server.base, session, count, 2000);
  // The session exists once the appender wrote its first event.
  for (let k = 0; k < 100; k++) {
    const r = await fetch(`${server.base}/v1/sessions/${session}`);
    if (r.status === 200) break;
    await sleep(20);
  }
  let requests = 0;
  let dying = false;       // a destroyed connection, not reconnected yet
  const resumedWith = []; // Last-Event-ID values the library sent by itself
  // The library's fetch, wrapped so that some connections die the way a network failure
  // kills them: after a random number of bytes (often in the middle of an event) the socket
  // is torn down and the body fails with a network error. The library then reconnects by
  // itself with Last-Event-ID (after the server's `retry: 1000`).
  const fetchWithDrop = async (input, init) => {
    const controller = new AbortController();
    init.signal?.addEventListener('abort', () => controller.abort());
    requests += 1;
    const headers = new Headers(init.headers);
    if (headers.has('last-event-id')) resumedWith.push(headers.get('last-event-id'));
    const response = await fetch(input, { ...init, signal: controller.signal });
    const reader = response.body.getReader();
    let left = drops < dropsWanted && Math.random() < 0.3 ? randInt(100, 12000) : Infinity;
    const stream = new ReadableStream({
      async pull(c) {
        try {
          const { done: end, value } = await reader.read();
          if (end) return c.close();
          if (value.length < left) {
            left -= value.length;
            return c.enqueue(value);
          }
          c.enqueue(value.subarray(0, left));
          drops += 1;
          destroyed += 1;
          dying = true;  // no reopen until the library has reconnected
          controller.abort();
          return c.error(new TypeError('network connection lost'));
        } catch (err) {
          try { c.error(err); } catch (_) { /* already failed */ }
        }
        return undefined;
      },
      cancel(reason) { controller.abort(reason); },
    });
    return new Response(stream, { status: response.status, statusText: response.statusText,
                                  headers: response.headers });
  };
  while (!done) {
    await new Promise((resolve) => {
      // A fresh EventSource resumes through ?from= (browsers cannot set Last-Event-ID on a new
      // EventSource).
      const url = `${server.base}/v1/sessions/${session}/events?from=${lastId || 0}`;
      const es = new EventSource(url, { fetch: fetchWithDrop });
      let budget = drops < dropsWanted ? randInt(1, 2 * meanGap) : Infinity;
      let here = 0;
      let finished = false;
      const finish = () => { if (!finished) { finished = true; es.close(); resolve(); } };
      es.addEventListener('interop.tick', (ev) => onEvent(ev));
      es.addEventListener('interop.done', (ev) => onEvent(ev));
      es.addEventListener('strata.closed', (ev) => fail(`stream closed: ${ev.data}`));
      es.addEventListener('open', () => {
        dying = false;
        if (process.env.DEBUG) console.error('open', url);
      });
      function onEvent(ev) {
        if (finished) return;
        const e = JSON.parse(ev.data);
        if (String(e.offset) !== ev.lastEventId) fail(`SSE id ${ev.lastEventId} != offset ${e.offset}`);
        received.push({ offset: e.offset, type: e.type, i: e.payload.i });
        lastId = ev.lastEventId;
        here += 1;
        if (e.type === 'interop.done') { done = true; finish(); return; }
        if (here >= budget && !dying) {
          drops += 1;
          reopened += 1;  // close, and open a new EventSource from the last id
          finish();
        }
      }
      es.onerror = (err) => { if (process.env.DEBUG) console.error('es error', err.message); };
    });
  }
  // A connection destroyed before its first complete event reconnects without an id (its
  // URL's `from` still holds), so only bounds are certain.
  if (resumedWith.length > destroyed || (destroyed >= 3 && resumedWith.length === 0)) {
    fail(`${destroyed} connections destroyed, but the library resumed with Last-Event-ID ` +
         `${resumedWith.length} times`);
  }
  return { received, drops, detail: `${destroyed} destroyed (resumed with Last-Event-ID ` +
    `${resumedWith.length}x), ${reopened} closed and reopened, ${requests} requests` };
}

const started = Date.now();
const server = await startServer(binary);
const watchdog = setTimeout(() => fail('timed out after 50 s'), 50000);
let result;
try {
  result = transport === 'sse' ? await overEventSource(server) : await overWebSocket(server);
} finally {
  clearTimeout(watchdog);
}
const problems = checkExactlyOnce(result.received, count);
if (result.drops < dropsWanted) problems.push(`only ${result.drops} drops (wanted ${dropsWanted})`);
if (!server.alive()) problems.push('the server died');
await server.stop();
if (problems.length) fail(problems.join('; '));
console.log(`ok (${transport}): ${count} events exactly once and in order across ` +
            `${result.drops} drops (${result.detail}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
