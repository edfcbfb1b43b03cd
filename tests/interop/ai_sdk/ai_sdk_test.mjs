// The Vercel AI SDK's own client code (`ai`: DefaultChatTransport, readUIMessageStream) against
// strata's UI message stream route, with a C++ agent (strata_interop_server's interop.watch)
// answering through strata's Run API.
//
//   node ai_sdk_test.mjs <strata_interop_server> <node dir>
//
// 1. A client sends a message (POST, as useChat does), reads part of the answer and drops the
//    connection. The answer goes on (a disconnect cancels nothing).
// 2. Reconnects mid-answer: (a) transport.reconnectToStream with no position — what a reloaded
//    useChat does — gets the whole answer once; (b) with Last-Event-ID of the last chunk the
//    first client processed, readUIMessageStream continuing the partial message gets exactly
//    the rest: the text parts together spell the answer once.
// 3. Stop: a second message, then POST .../stop while it streams: the stream ends with
//    `abort`, the run is cancelled in strata, and resume then answers 204 (nothing running);
//    a third message streams to completion afterwards.
// The agent holds each answer after `hold` words until the test releases it (interop.release),
// so every step that needs a running answer has one however slow the machine is.
// Prints "ok: ..." on success.
import { fail, http, requireFrom, sleep, startServer } from '../node_common.mjs';

const [binary, nodeDir] = process.argv.slice(2);
const { DefaultChatTransport, readUIMessageStream } = requireFrom(nodeDir, 'ai');
const words = 80;
const hold = 20;  // each answer waits after this many words for an interop.release
const answer = Array.from({ length: words }, (_, i) => `w${i + 1}`).join(' ');

function userMessage(id, text) {
  return { id, role: 'user', parts: [{ type: 'text', text }] };
}

/** Reads raw SSE blocks: [{id, data}] as they arrive. */
async function* sseBlocks(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let i;
    while ((i = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      const id = /^id: (\d+)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (data !== undefined) yield { id, data };
    }
  }
}

/** Drives readUIMessageStream to the end; returns the last message snapshot. */
async function finalMessage(stream, message) {
  let last = message;
  for await (const m of readUIMessageStream({ message, stream, terminateOnError: true })) last = m;
  return last;
}

const textOf = (m) => m.parts.filter((p) => p.type === 'text').map((p) => p.text).join('');

const server = await startServer(binary, ['--ai-sdk', '/v1/ai/chat']);
try {
  const chat = `ai-chat-${Date.now()}`;
  const api = `${server.base}/v1/ai/chat`;
  const watch = await http(server.base, 'POST', '/v1/sessions/control/events', {
    type: 'interop.watch', payload: { session: chat, words, interval_us: 10000, hold_after: hold } });
  if (watch.status !== 200) fail(`interop.watch: ${watch.status} ${watch.text}`);
  // Lets the answer that waits (or the next one to) go on.
  const release = async () => {
    const r = await http(server.base, 'POST', '/v1/sessions/control/events', {
      type: 'interop.release', payload: { session: chat } });
    if (r.status !== 200) fail(`interop.release: ${r.status} ${r.text}`);
  };
  for (let i = 0; (await http(server.base, 'GET', `/v1/sessions/${chat}`)).status !== 200; i++) {
    if (i > 100) fail('the agent never watched the chat');
    await sleep(50);
  }
  await sleep(200);
  const transport = new DefaultChatTransport({ api });

  // 1. Send a message; feed the first ~10 words to readUIMessageStream; drop the connection.
  const abort = new AbortController();
  const res = await fetch(api, {
    method: 'POST', headers: { 'content-type': 'application/json' }, signal: abort.signal,
    body: JSON.stringify({ id: chat, messages: [userMessage('u1', 'hello')], trigger: 'submit-message' }),
  });
  if (res.status !== 200) fail(`POST: ${res.status} ${await res.text()}`);
  if (res.headers.get('x-vercel-ai-ui-message-stream') !== 'v1') fail('missing x-vercel-ai-ui-message-stream: v1');
  let fed;
  let lastId = null;
  let deltas = 0;
  const types = new Set();
  const partial = readUIMessageStream({
    stream: new ReadableStream({ start(c) { fed = c; } }), terminateOnError: true });
  const partialDone = (async () => { let m; for await (const s of partial) m = s; return m; })();
  for await (const { id, data } of sseBlocks(res.body)) {
    const chunk = JSON.parse(data);
    types.add(chunk.type);
    fed.enqueue(chunk);
    lastId = id;
    if (chunk.type === 'text-delta' && ++deltas === 10) break;
  }
  fed.close();
  abort.abort();
  const partialMessage = await partialDone;
  for (const t of ['start', 'reasoning-start', 'reasoning-delta', 'reasoning-end', 'tool-input-available',
                   'tool-output-available', 'text-start', 'text-delta']) {
    if (!types.has(t)) fail(`first client saw no ${t} chunk`);
  }
  if (!textOf(partialMessage).startsWith('w1 w2')) fail(`partial text ${textOf(partialMessage)}`);

  // 2. Reconnect while the answer is still streaming (it waits after `hold` words): a full
  // replay, and a continuation; then the answer goes on to its end.
  const fullStream = await transport.reconnectToStream({ chatId: chat });
  if (!fullStream) fail('resume found no active stream');
  const restStream = await transport.reconnectToStream({ chatId: chat, headers: { 'Last-Event-ID': lastId } });
  if (!restStream) fail('resume (Last-Event-ID) found no active stream');
  const finals = Promise.all([finalMessage(fullStream), finalMessage(restStream, structuredClone(partialMessage))]);
  await release();
  const [full, continued] = await finals;
  if (textOf(full) !== answer) fail(`full replay text: ${textOf(full)}`);
  if (full.parts.filter((p) => p.type === 'text').length !== 1) fail('full replay has more than one text part');
  const reasoning = full.parts.filter((p) => p.type === 'reasoning');
  if (reasoning.length !== 1 || reasoning[0].text !== 'thinking hard') fail(`reasoning parts ${JSON.stringify(reasoning)}`);
  const tool = full.parts.find((p) => p.type === 'tool-lookup');
  if (!tool || tool.state !== 'output-available' || tool.output?.found !== true) fail(`tool part ${JSON.stringify(tool)}`);
  if (textOf(continued) !== answer) fail(`continued text: ${textOf(continued)}`);
  if (continued.parts.filter((p) => p.type === 'reasoning').length !== 1) fail('the continuation repeated reasoning');
  if (continued.id !== partialMessage.id) fail('the continuation changed the message id');

  // 3. Stop mid-answer, through the SDK's transport.
  const chunks = await transport.sendMessages({
    chatId: chat, messages: [userMessage('u2', 'again')], trigger: 'submit-message', messageId: undefined });
  const reader = chunks.getReader();
  let seenDeltas = 0;
  let stopped = false;
  const after = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    after.push(value.type);
    if (value.type === 'text-delta' && ++seenDeltas === 5 && !stopped) {
      stopped = true;
      const stop = await http(server.base, 'POST', `/v1/ai/chat/${chat}/stop`);
      if (stop.status !== 200 || stop.json?.cancelled?.length !== 1) fail(`stop: ${stop.status} ${stop.text}`);
    }
  }
  if (after[after.length - 1] !== 'abort') fail(`a stopped stream ends with ${after[after.length - 1]}`);
  if (after.filter((t) => t === 'text-delta').length > hold) fail('the stopped answer went past its hold');
  await release();  // the stopped answer's turn (it may have reached its hold before the stop)
  const history = await http(server.base, 'GET', `/v1/sessions/${chat}/events?after=0&limit=1000`);
  if (!history.json.events.some((e) => e.type === 'run.cancelled')) fail('no run.cancelled in the session');
  if ((await transport.reconnectToStream({ chatId: chat })) !== null) fail('resume after stop should find nothing');

  // ...and the chat goes on: a third message streams to completion.
  const thirdStream = await transport.sendMessages({
    chatId: chat, messages: [userMessage('u3', 'once more')], trigger: 'submit-message', messageId: undefined });
  await release();
  const third = await finalMessage(thirdStream);
  if (textOf(third) !== answer) fail(`third answer: ${textOf(third)}`);

  console.log(`ok: mid-answer reconnect (full replay and Last-Event-ID continuation) gave the ${words}-word ` +
    `answer exactly once; stop cancelled the run (abort), resume then 204, next answer complete`);
} finally {
  await server.stop();
}
