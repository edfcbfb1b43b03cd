// The demo chat page: folds a session's events into a conversation and renders it.
// Everything the page shows comes from the session log, so every tab shows the same thing.
//
// On load the page restores what this tab showed before a reload (sessionStorage: the
// conversation together with the epoch and offset it reflects) and resumes from that offset;
// a new tab starts from a snapshot instead. The client reconnects and resumes by itself.
import { StrataClient } from './strata-client.js';

const params = new URLSearchParams(location.search);
const session = params.get('session') || 'demo';
const hashToken = new URLSearchParams(location.hash.slice(1)).get('token');
if (hashToken) sessionStorage.setItem('strata-demo:token', hashToken);
const token = hashToken || sessionStorage.getItem('strata-demo:token') || undefined;

// One id per tab, kept across reloads of that tab.
let clientId = sessionStorage.getItem('strata-demo:client-id');
if (!clientId) {
  clientId = `tab-${Math.random().toString(36).slice(2, 7)}`;
  sessionStorage.setItem('strata-demo:client-id', clientId);
}
const browser = /Firefox\//.test(navigator.userAgent) ? 'Firefox'
  : /Chrom(e|ium)\//.test(navigator.userAgent) ? 'Chromium' : /Safari\//.test(navigator.userAgent)
    ? 'Safari' : 'browser';

const storageKey = `strata-demo:conversation:${session}`;
const el = (id) => document.getElementById(id);

/** The conversation, folded from events: what every tab renders. */
let state = emptyState();
function emptyState() {
  return { epoch: '', offset: 0, order: [], messages: {}, runs: {}, presence: {} };
}

function message(id, role) {
  if (!state.messages[id]) {
    state.messages[id] = { id, role: role || 'assistant', text: '', state: 'streaming', run_id: '' };
    state.order.push(id);
  }
  return state.messages[id];
}

function fromSnapshot(snap) {
  state = emptyState();
  state.epoch = snap.epoch;
  state.offset = snap.next_offset;
  for (const m of snap.messages) {
    Object.assign(message(m.id, m.role), { text: m.text, state: m.state, run_id: m.run_id });
  }
  for (const r of snap.runs) state.runs[r.id] = { state: r.state, reason: r.reason };
  for (const p of snap.presence) state.presence[p.client_id] = p.device;
  render();
}

function apply(e) {
  const p = e.payload || {};
  switch (e.type) {
    case 'user.message': {
      // Shown at once; the agent copies it into its run as message "u-<offset>".
      const m = message(`u-${e.offset}`, 'user');
      if (!m.text) Object.assign(m, { text: String(p.text || ''), state: 'pending' });
      break;
    }
    case 'message.started':
      Object.assign(message(e.message_id, p.role), { run_id: e.run_id, role: p.role || 'assistant' });
      if (state.messages[e.message_id].state === 'pending') {
        Object.assign(state.messages[e.message_id], { text: '', state: 'streaming' });
      }
      break;
    case 'message.delta': {
      // A delta that lands after its run ended is not part of the message (the server's
      // snapshot leaves it out too).
      const m = message(e.message_id);
      if (m.state === 'streaming' || m.state === 'pending') m.text += String(p.text || '');
      break;
    }
    case 'message.completed':
      Object.assign(message(e.message_id, p.role), { text: String(p.text || ''), state: 'completed' });
      break;
    case 'run.started':
      state.runs[e.run_id] = { state: 'running', reason: '' };
      break;
    case 'run.completed': case 'run.failed': case 'run.cancelled': case 'run.agent_lost': {
      const ended = e.type.slice(4);
      state.runs[e.run_id] = { state: ended, reason: p.reason || p.error || '' };
      for (const id of state.order) {
        const m = state.messages[id];
        if (m.run_id === e.run_id && m.state === 'streaming') m.state = 'interrupted';
      }
      break;
    }
    case 'presence.joined': state.presence[p.client_id] = p.device || ''; break;
    case 'presence.left': delete state.presence[p.client_id]; break;
    default: break;
  }
  state.offset = e.offset;
  scheduleRender();
}

function runningRun() {
  const ids = Object.keys(state.runs).filter((id) => state.runs[id].state === 'running');
  return ids.length ? ids[ids.length - 1] : null;
}

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; render(); });
}

function render() {
  const main = el('transcript');
  main.replaceChildren(...state.order.map((id) => {
    const m = state.messages[id];
    const div = document.createElement('div');
    const run = state.runs[m.run_id];
    const stopped = m.state === 'interrupted' && run && run.state === 'cancelled';
    div.className = `msg ${m.role} ${m.state}${stopped ? ' cancelled' : ''}`;
    div.dataset.id = id;
    div.dataset.state = stopped ? 'stopped' : m.state;
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = m.text;
    div.append(text);
    if (m.role !== 'user' && m.state !== 'streaming') {
      const meta = document.createElement('span');
      meta.className = 'meta';
      meta.textContent = stopped ? `stopped${run.reason ? ` — ${run.reason}` : ''}`
        : m.state === 'interrupted' ? `ended: ${run ? run.state : 'interrupted'}` : '';
      if (meta.textContent) div.append(meta);
    }
    return div;
  }));
  const running = runningRun();
  el('stop').disabled = !running;
  el('send').textContent = running ? 'Steer' : 'Send';
  el('input').placeholder = running ? 'Steer the answer…' : 'Ask something…';
  el('presence').replaceChildren(...Object.keys(state.presence).sort().map((id) => {
    const span = document.createElement('span');
    span.className = `who${id === clientId ? ' me' : ''}`;
    span.textContent = id === clientId ? 'you' : `${id}${state.presence[id] ? ` (${state.presence[id]})` : ''}`;
    return span;
  }));
  el('footer').textContent = `session ${session} · epoch ${state.epoch.slice(0, 8)} · offset ${state.offset}`;
  save();
  window.scrollTo(0, document.body.scrollHeight);
}

function save() {
  try { sessionStorage.setItem(storageKey, JSON.stringify(state)); } catch (_) { /* full */ }
}

function restore() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(storageKey) || 'null');
    if (saved && Array.isArray(saved.order) && Number.isSafeInteger(saved.offset)) return saved;
  } catch (_) { /* ignore a damaged entry */ }
  return null;
}

// --- wiring --------------------------------------------------------------------------------

const client = new StrataClient({ token, clientId });
client.on('state', (s) => {
  const dot = el('connection');
  dot.className = `dot ${s}`;
  dot.textContent = { open: 'live', connecting: 'connecting…', closed: 'reconnecting…',
                      stopped: 'disconnected' }[s] || s;
});
client.on('error', (err) => console.warn('strata:', err.code, err.message));

const saved = restore();
if (saved) {
  state = saved;
  render();
}
const subscription = client.subscribe(session, {
  from: saved ? saved.offset : undefined,
  epoch: saved ? saved.epoch : undefined,
  snapshotFirst: !saved,
  onSnapshot: fromSnapshot,
  onEvent: apply,
  onStatus: (s) => {
    if (s.state === 'subscribed') {
      state.epoch = subscription.position.epoch;
      // Presence changed while we were away? Ask once per (re)subscribe.
      client.presence(session).then((list) => {
        state.presence = {};
        for (const p of list) state.presence[p.client_id] = p.device;
        scheduleRender();
      }, () => {});
    } else if (s.state === 'waiting') {
      el('footer').textContent = `session ${session} does not exist yet (the demo agent serves "demo")`;
    }
  },
});
const presence = client.join(session, { device: browser });
addEventListener('pagehide', () => presence.leaveBeacon());
addEventListener('online', () => client.reconnectNow());

el('composer').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = el('input');
  const text = input.value.trim();
  if (!text) return;
  input.value = '';
  const running = runningRun();
  try {
    if (running) {
      await client.steer(session, running, { text });
    } else {
      await client.append(session, [{ type: 'user.message', payload: { text, client_id: clientId } }]);
    }
  } catch (err) {
    console.warn('strata:', err.code, err.message);
    input.value = text;
  }
});

el('stop').addEventListener('click', async () => {
  const running = runningRun();
  if (!running) return;
  el('stop').disabled = true;
  try {
    await client.cancel(session, running, `stopped by ${clientId}`);
  } catch (err) {
    console.warn('strata:', err.code, err.message);
  }
});

// Hooks for tests and curious developers (see tests/interop/browser_test.mjs).
window.strataDemo = {
  client, session, subscription,
  get state() { return state; },
  /** The text of every message, in order. */
  transcript: () => state.order.map((id) => ({ id, role: state.messages[id].role,
                                               text: state.messages[id].text,
                                               state: state.messages[id].state })),
  runningRun,
  drop: () => client.dropConnection(),
};
