// The browser client (examples/chat_server/web/strata-client.js) in Node over `ws`:
//  - subscribe + automatic reconnect: the connection is dropped many times while an appender
//    streams; the client must deliver every event exactly once, in order;
//  - idempotent appends: appends race with drops (an ack lost after the server wrote the
//    events); each must be written exactly once, and some retries must have been answered
//    as duplicates (so the retry path really ran);
//  - a data_loss reset: resuming with a wrong epoch ends in a snapshot, then live events.
//
//   node node_client_test.mjs <strata_interop_server> <node dir> <strata-client.js>
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { fail, requireFrom, startServer, startStream, checkExactlyOnce, http, sleep } from './node_common.mjs';

const [binary, nodeDir, clientPath] = process.argv.slice(2);
const WebSocket = requireFrom(nodeDir, 'ws');
const { StrataClient } = await import(pathToFileURL(path.resolve(clientPath)).href);
const started = Date.now();
const watchdog = setTimeout(() => fail('timed out after 50 s'), 50000);
const server = await startServer(binary);
const url = `ws://127.0.0.1:${server.port}/v1/ws`;
const options = { url, WebSocket, backoffInitialMs: 20, backoffMaxMs: 200 };

// --- 1. subscribe across drops -----------------------------------------------------------------
const count = 1500;
await startStream(server.base, 'client-sub', count, 2000);
const reader = new StrataClient(options);
const received = [];
let finished;
const done = new Promise((resolve) => { finished = resolve; });
reader.subscribe('client-sub', {
  onEvent: (e) => {
    received.push({ offset: e.offset, type: e.type, i: e.payload.i });
    if (e.type === 'interop.done') finished();
  },
});
let drops = 0;
const dropper = setInterval(() => { reader.dropConnection(); drops += 1; }, 97);
await done;
clearInterval(dropper);
reader.close();
const problems = checkExactlyOnce(received, count);
if (problems.length) fail(`subscribe: ${problems.join('; ')}`);
if (reader.connects < 10) fail(`subscribe: only ${reader.connects} connections`);
console.log(`subscribe: ${count} events exactly once across ${drops} drops (${reader.connects} connections)`);

// --- 2. appends racing with drops ------------------------------------------------------------
const writer = new StrataClient(options);
const appends = 150;
let duplicates = 0;
const acks = [];
for (let k = 0; k < appends; k++) {
  const pending = writer.append('client-append', [{ type: 'app.note', payload: { k } }]);
  if (k % 3 === 1) setTimeout(() => writer.dropConnection(), k % 2 ? 0 : 1);
  const ack = await pending;
  if (ack.duplicate) duplicates += 1;
  acks.push(ack.first);
}
writer.close();
const history = (await http(server.base, 'GET', '/v1/sessions/client-append/events?after=0&limit=1000')).json;
const notes = history.events.filter((e) => e.type === 'app.note').map((e) => e.payload.k);
if (notes.length !== appends || notes.some((k, j) => k !== j)) {
  fail(`appends: ${notes.length} events written for ${appends} appends: ${JSON.stringify(notes.slice(0, 20))}`);
}
if (new Set(acks).size !== appends) fail('appends: two appends were acknowledged with one offset');
if (duplicates === 0) fail('appends: no retry was ever answered as a duplicate (the retry path never ran)');
console.log(`append: ${appends} appends written exactly once; ${duplicates} retries answered as duplicates`);

// --- 3. a stale epoch resets through a snapshot ------------------------------------------------
const resetter = new StrataClient(options);
let snapshot = null;
const statuses = [];
const after = [];
resetter.subscribe('client-append', {
  from: 3, epoch: 'an-epoch-that-never-was',
  onSnapshot: (s) => { snapshot = s; },
  onEvent: (e) => after.push(e.offset),
  onStatus: (s) => statuses.push(s.state),
});
for (let k = 0; k < 100 && !statuses.includes('subscribed'); k++) await sleep(20);
const note = await resetter.append('client-append', [{ type: 'app.note', payload: { k: 'last' } }]);
for (let k = 0; k < 100 && !after.includes(note.first); k++) await sleep(20);
resetter.close();
if (!snapshot || snapshot.next_offset !== history.head) {
  fail(`reset: expected a snapshot at ${history.head}, got ${snapshot && snapshot.next_offset}`);
}
if (!statuses.includes('resetting') || JSON.stringify(after) !== JSON.stringify([note.first])) {
  fail(`reset: statuses ${statuses}, events after the snapshot ${after}`);
}
console.log(`reset: stale epoch -> snapshot at offset ${snapshot.next_offset}, then live`);

clearTimeout(watchdog);
if (!server.alive()) fail('the server died');
await server.stop();
console.log(`ok: the browser client resumed, deduplicated and retried appends without duplicates ` +
            `(${((Date.now() - started) / 1000).toFixed(1)} s)`);
