// The official Durable Streams client (@durable-streams/client) reading a strata session that
// an agent writes through strata's C++ Run API (strata_interop_server's "interop.agent").
//
//   node ds_client_test.mjs <strata_interop_server> <node dir>
//
// 1. The agent streams 40 words; a client follows the session over SSE from the start, stops
//    part-way and keeps the offset it got; a second client resumes from that offset over
//    long-poll until run.completed. Together they must see every event exactly once, in
//    order — the same list a catch-up read returns afterwards — and the assistant's text.
// 2. A DurableStream handle appends a strata event over DS; strata's own API sees it.
// Prints "ok: ..." on success.
import { fail, http, requireFrom, sleep, startServer } from '../node_common.mjs';

const [binary, nodeDir] = process.argv.slice(2);
const { stream, DurableStream } = requireFrom(nodeDir, '@durable-streams/client');
const words = 40;

const server = await startServer(binary, ['--durable-streams', '/v1/stream/', '--long-poll-ms', '2000']);
try {
  const session = `ds-agent-${Date.now()}`;
  const url = `${server.base}/v1/stream/${session}`;
  const started = await http(server.base, 'POST', '/v1/sessions/control/events', {
    type: 'interop.agent', payload: { session, words, interval_us: 25000, run_id: 'run-1' } });
  if (started.status !== 200) fail(`could not start the agent: ${started.status} ${started.text}`);
  for (let i = 0; (await fetch(url, { method: 'HEAD' })).status !== 200; i++) {
    if (i > 100) fail('the agent never created its session');
    await sleep(50);
  }

  // First reader: SSE from the start, until 15 words of the answer have arrived. It keeps the
  // events up to the 15th word and resumes after that one, by the DS offset of a strata event
  // (docs/durable-streams.md): one batch may hold more (a reader that connects late gets the
  // whole run, run.completed included, in its first batch), so the second reader always has
  // the rest of the answer to read.
  // The client (0.2.7) may reconnect SSE after cancel() — when the next event was already
  // queued, on a new request controller that the cancel never reaches — and, once the server
  // has stopped, retry that forever and keep node alive: after the cancel, this reader's
  // requests get a 400, which the client does not retry.
  const first = [];
  let resumeAt = null;
  let firstStopped = false;
  const a = await stream({
    url, offset: '-1', live: 'sse',
    fetch: (input, init) => (firstStopped ? Promise.resolve(new Response(null, { status: 400 })) : fetch(input, init)),
  });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('first reader timed out')), 20000);
    a.subscribeJson(async (batch) => {
      if (resumeAt) return;
      for (const e of batch.items) {
        first.push(e);
        const deltas = first.filter((d) => d.type === 'message.delta' && d.payload.text.includes('w')).length;
        if (deltas >= 15) {
          resumeAt = `${'0'.repeat(16)}_${String(e.offset).padStart(16, '0')}`;
          clearTimeout(timer);
          resolve();
          return;
        }
      }
    });
  });
  firstStopped = true;
  a.cancel();
  if (!/^\d{16}_\d{16}$/.test(resumeAt)) fail(`unexpected offset ${resumeAt}`);

  // Second reader: long-poll from the saved offset until the run completes.
  const second = [];
  const b = await stream({ url, offset: resumeAt, live: 'long-poll' });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('second reader timed out')), 30000);
    b.subscribeJson(async (batch) => {
      second.push(...batch.items);
      if (second.some((e) => e.type === 'run.completed')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  b.cancel();

  const seen = [...first, ...second];
  const all = await (await stream({ url, offset: '-1', live: false })).json();
  const offsets = seen.map((e) => e.offset);
  if (JSON.stringify(offsets) !== JSON.stringify(all.map((e) => e.offset))) {
    fail(`resumed reads differ from a full read:\n${offsets}\n${all.map((e) => e.offset)}`);
  }
  for (let i = 1; i < offsets.length; i++) {
    if (!(offsets[i] > offsets[i - 1])) fail(`offsets out of order at ${i}`);
  }
  const completed = all.find((e) => e.type === 'message.completed' && e.payload.role === 'assistant');
  const expected = Array.from({ length: words }, (_, i) => `w${i + 1}`).join(' ');
  if (!completed || completed.payload.text !== expected) fail(`assistant text: ${completed?.payload.text}`);
  const text = seen.filter((e) => e.type === 'message.delta' && e.message_id === completed.message_id)
    .map((e) => e.payload.text).join('');
  if (text !== expected) fail(`deltas read over DS spell ${text}`);

  // Writing through DS: a strata event appended with the official client's handle.
  const handle = new DurableStream({ url, contentType: 'application/json' });
  await handle.append(JSON.stringify({ type: 'user.message', payload: { text: 'via durable streams' } }));
  const history = await http(server.base, 'GET', `/v1/sessions/${session}/events?after=0&limit=1000`);
  const events = history.json?.events ?? [];
  if (!events.some((e) => e.type === 'user.message' && e.payload.text === 'via durable streams')) {
    fail('the DS append is not in the strata session');
  }
  console.log(`ok: ${first.length} + ${second.length} events over SSE then long-poll, exactly once and in order; ` +
    `${words} words; DS append visible to strata`);
} finally {
  await server.stop();
}
