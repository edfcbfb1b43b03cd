// strata-client.js — a small browser client for strata's wire protocol (docs/protocol.md).
// An ES module with no dependencies and no build step. Documented in docs/browser-client.md.
//
//   import { StrataClient } from './strata-client.js';
//   const client = new StrataClient({ url: 'ws://127.0.0.1:8080/v1/ws' });
//   const sub = client.subscribe('demo', { onEvent: (e) => render(e), snapshotFirst: true,
//                                          onSnapshot: (s) => renderAll(s) });
//   await client.append('demo', [{ type: 'user.message', payload: { text: 'hi' } }]);
//
// What it does for you:
//  - one WebSocket for every session; reconnects by itself with exponential backoff and
//    jitter, and resubscribes each session from the last (epoch, offset) it delivered;
//  - delivers each event once, in offset order (duplicates after a resubscribe are dropped);
//  - a `closed`/error with data_loss (the history it knew is gone) → a snapshot, then follow
//    from the snapshot's next_offset;
//  - appends carry an idempotent producer id + sequence: a retry after a drop never writes
//    twice; appends wait in order while the connection is down;
//  - cancel, steer, snapshot, presence (join, lease renewal, leave).
//
// It runs in browsers and in Node ≥ 20 given a WebSocket implementation (`options.WebSocket`).

/** Close codes after which reconnecting is pointless (the request itself is refused). */
const FATAL_CLOSE_CODES = new Set([1002, 1003, 1007, 1008, 1009]);

/**
 * An error reported by the server (`{"op":"error"}`) or by the client itself.
 * `code` is the protocol's snake_case status code: "not_found", "data_loss", "unavailable"...
 */
export class StrataError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = 'StrataError';
    /** @type {string} */
    this.code = code;
  }
}

/**
 * @typedef {Object} StrataEvent
 * @property {number} offset
 * @property {string} type
 * @property {string} producer
 * @property {string} run_id
 * @property {string} parent_run_id
 * @property {string} message_id
 * @property {*} payload
 * @property {number} ts  milliseconds since the Unix epoch
 */

/**
 * @typedef {Object} Position  where a subscription stands: resume from here.
 * @property {string} epoch   the session's epoch ("" if not known yet)
 * @property {number} offset  the last offset delivered (0 = nothing yet)
 */

/**
 * @typedef {Object} SubscribeOptions
 * @property {(event: StrataEvent) => void} [onEvent]  each event once, in offset order
 * @property {(snapshot: Object) => void} [onSnapshot] a snapshot replaces everything shown
 *   so far; events follow from snapshot.next_offset
 * @property {(status: {state: string, code?: string, message?: string}) => void} [onStatus]
 *   "subscribed", "waiting" (session not created yet; retried), "resetting" (data loss:
 *   taking a snapshot), "error"
 * @property {number} [from]  resume after this offset (with `epoch`). Default: the stored
 *   position, else 0 (or a snapshot, with snapshotFirst)
 * @property {string} [epoch]
 * @property {boolean} [snapshotFirst]  without a position, start from a snapshot instead of
 *   replaying the whole history. Default: false
 */

/**
 * One session followed over the client's connection. Made by StrataClient.subscribe().
 */
export class Subscription {
  /** @param {StrataClient} client @param {string} session @param {SubscribeOptions} options */
  constructor(client, session, options) {
    this.client = client;
    /** @type {string} */
    this.session = session;
    this.options = options;
    /** @type {Position} */
    this.position = { epoch: options.epoch || '', offset: options.from || 0 };
    this.closed = false;
    /** True while the server is sending this session's events. */
    this.live = false;
    this._needsSnapshot = false;
    this._retryTimer = null;
    this._retries = 0;
    this._generation = 0;
  }

  /** Stops following the session (the server is told; no more callbacks). */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.live = false;
    clearTimeout(this._retryTimer);
    this.client._unsubscribe(this);
  }

  _status(state, code, message) {
    if (this.options.onStatus) this.options.onStatus({ state, code, message });
  }
}

/**
 * A handle on this client's presence in a session. Renewed by the client until leave().
 */
export class Presence {
  constructor(client, session, fields) {
    this.client = client;
    this.session = session;
    this.fields = fields;
    this.left = false;
  }

  /** Leaves the session now (presence.left). @returns {Promise<Object>} */
  leave() {
    if (this.left) return Promise.resolve({});
    this.left = true;
    this.client._presences.delete(this.session);
    return this.client._request({ op: 'presence', session: this.session, action: 'leave',
                                  client_id: this.fields.client_id });
  }

  /**
   * Leaves over HTTP with navigator.sendBeacon — for `pagehide`, when a WebSocket message
   * may not get out any more. @returns {boolean} whether the beacon was queued.
   */
  leaveBeacon() {
    if (this.left || typeof navigator === 'undefined' || !navigator.sendBeacon) return false;
    this.left = true;
    this.client._presences.delete(this.session);
    const url = this.client.httpUrl(`/v1/sessions/${encodeURIComponent(this.session)}/presence`);
    return navigator.sendBeacon(url, JSON.stringify({ action: 'leave',
                                                      client_id: this.fields.client_id }));
  }
}

function randomId(prefix) {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * A connection to a strata server. Safe to use from one JavaScript thread (as everything in
 * a page is); every method may be called while disconnected — the work waits for the
 * connection, except requests that cannot be safely repeated (see docs/browser-client.md).
 */
export class StrataClient {
  /**
   * @param {Object} options
   * @param {string} [options.url]  the WebSocket URL. Default: /v1/ws on the page's origin
   * @param {string | (() => (string|Promise<string>))} [options.token]  a capability token,
   *   or a function returning one (called on every connect, so it can refresh)
   * @param {string} [options.clientId]  this client's id (presence, requested_by).
   *   Default: a random "web-..." id
   * @param {string} [options.producer]  the producer id for appends. Default: a random id,
   *   so two tabs never share a sequence
   * @param {Storage} [options.storage]  e.g. sessionStorage: positions survive a reload
   * @param {number} [options.backoffInitialMs]  first reconnect delay. Default: 250
   * @param {number} [options.backoffMaxMs]  Default: 10000
   * @param {number} [options.heartbeatMs]  ping interval; a connection silent for two
   *   intervals is dropped and reconnected. Default: 15000
   * @param {number} [options.presenceRenewMs]  Default: 10000 (the server's lease is 30 s)
   * @param {Function} [options.WebSocket]  the WebSocket class. Default: globalThis.WebSocket
   */
  constructor(options = {}) {
    const origin = typeof location !== 'undefined' ? location : null;
    this.url = options.url ||
      (origin ? `${origin.protocol === 'https:' ? 'wss' : 'ws'}://${origin.host}/v1/ws` : '');
    if (!this.url) throw new StrataError('invalid_argument', 'StrataClient needs options.url');
    this.token = options.token || null;
    this.clientId = options.clientId || randomId('web-');
    this.producer = options.producer || randomId('p-');
    this.storage = options.storage || null;
    this.backoffInitialMs = options.backoffInitialMs ?? 250;
    this.backoffMaxMs = options.backoffMaxMs ?? 10000;
    this.heartbeatMs = options.heartbeatMs ?? 15000;
    this.presenceRenewMs = options.presenceRenewMs ?? 10000;
    this.WebSocketImpl = options.WebSocket || globalThis.WebSocket;
    /** "connecting" | "open" | "closed" (waiting to reconnect) | "stopped" */
    this.state = 'connecting';
    /** How many times the connection was (re)opened. */
    this.connects = 0;

    this._ws = null;
    this._attempt = 0;
    this._reconnectTimer = null;
    this._heartbeatTimer = null;
    this._lastHeard = 0;
    this._nextId = 1;
    this._pending = new Map();      // request id → {resolve, reject, message, retry}
    this._subs = new Map();         // session → Subscription
    this._presences = new Map();    // session → Presence
    this._appendQueue = [];         // {session, events, resolve, reject, seq}
    this._appendInFlight = null;
    this._seq = 0;                  // the next producer sequence (producer epoch 0)
    this._listeners = new Map();    // event name → Set of functions
    this._stopped = false;
    this._presenceTimer = setInterval(() => this._renewPresence(), this.presenceRenewMs);
    this._connect();
  }

  // --- public API ------------------------------------------------------------------------

  /**
   * Follows a session: its history after the starting point, then live, each event once and
   * in order, across any number of reconnects.
   * @param {string} session
   * @param {SubscribeOptions} [options]
   * @returns {Subscription}
   */
  subscribe(session, options = {}) {
    const previous = this._subs.get(session);
    if (previous) previous.close();
    const sub = new Subscription(this, session, options);
    if (options.from === undefined) {
      const stored = this._loadPosition(session);
      if (stored) sub.position = stored;
      else if (options.snapshotFirst) sub._needsSnapshot = true;
    }
    this._subs.set(session, sub);
    if (this.state === 'open') this._startSubscription(sub);
    return sub;
  }

  /**
   * Appends events atomically. Appends are sent one at a time, in call order, with this
   * client's producer id and the next sequence number; after a dropped connection the same
   * sequence is sent again, and the server answers a repeat with the original offsets
   * (`duplicate: true`) instead of writing twice.
   * @param {string} session
   * @param {Array<{type: string, payload?: *, run_id?: string, message_id?: string,
   *                parent_run_id?: string}>} events
   * @returns {Promise<{first: number, last: number, duplicate: boolean, epoch: string}>}
   */
  append(session, events) {
    return new Promise((resolve, reject) => {
      this._appendQueue.push({ session, events, resolve, reject, seq: null });
      this._pumpAppends();
    });
  }

  /**
   * Stops a run (or, without runId, every running run of the session). Every subscriber sees
   * the run.cancelled event; the agent's cancellation token fires.
   * @returns {Promise<{offset?: number, cancelled?: string[]}>}
   */
  cancel(session, runId, reason = 'stopped by the user') {
    const message = { op: 'cancel', session, reason, client_id: this.clientId };
    if (runId) message.run_id = runId;
    return this._request(message, { retry: true });
  }

  /**
   * Sends steering input (any JSON value) to a running run.
   * @returns {Promise<{offset: number}>}
   */
  steer(session, runId, input) {
    return this._request({ op: 'steer', session, run_id: runId, input, client_id: this.clientId });
  }

  /** The session's snapshot. @returns {Promise<Object>} */
  async snapshot(session) {
    const reply = await this._request({ op: 'snapshot', session }, { retry: true });
    return reply.snapshot;
  }

  /**
   * Joins the session's presence and keeps the lease renewed (and re-joins after a
   * reconnect) until leave().
   * @param {string} session
   * @param {{device?: string, kind?: string}} [fields]
   * @returns {Presence}
   */
  join(session, fields = {}) {
    const presence = new Presence(this, session, {
      client_id: this.clientId, device: fields.device || '', kind: fields.kind || 'client' });
    this._presences.set(session, presence);
    if (this.state === 'open') this._sendJoin(presence);
    return presence;
  }

  /** Who is in the session. @returns {Promise<Array<Object>>} */
  async presence(session) {
    const reply = await this._request({ op: 'presence', session, action: 'list' }, { retry: true });
    return reply.presence;
  }

  /**
   * Listens to client events: "state" (the connection state string), "reconnect" (the
   * connection count), "error" (a StrataError not tied to a request).
   */
  on(name, fn) {
    if (!this._listeners.has(name)) this._listeners.set(name, new Set());
    this._listeners.get(name).add(fn);
    return () => this._listeners.get(name).delete(fn);
  }

  /**
   * Drops the connection as a network failure would (for tests and demos); the client
   * reconnects and resumes by itself.
   */
  dropConnection() {
    if (this._ws) {
      const ws = this._ws;
      this._onClose(ws, 4000, 'dropped by the client');
      try { ws.close(4000, 'dropped'); } catch (_) { /* already closed */ }
    }
  }

  /** Reconnects now instead of waiting for the backoff timer (e.g. on `online`). */
  reconnectNow() {
    if (this.state === 'closed') {
      clearTimeout(this._reconnectTimer);
      this._attempt = 0;
      this._connect();
    }
  }

  /** The HTTP URL of a path on the same server (with the token as access_token). */
  httpUrl(path) {
    const u = new URL(this.url);
    u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
    u.pathname = path;
    u.search = '';
    if (typeof this.token === 'string') u.searchParams.set('access_token', this.token);
    return u.toString();
  }

  /** Closes the connection for good; pending requests fail with "cancelled". */
  close() {
    this._stopped = true;
    this._setState('stopped');
    clearTimeout(this._reconnectTimer);
    clearInterval(this._presenceTimer);
    clearInterval(this._heartbeatTimer);
    for (const sub of this._subs.values()) clearTimeout(sub._retryTimer);
    if (this._ws) try { this._ws.close(1000, 'bye'); } catch (_) { /* ignore */ }
    this._ws = null;
    const failure = new StrataError('cancelled', 'the client was closed');
    for (const p of this._pending.values()) p.reject(failure);
    this._pending.clear();
    for (const a of this._appendQueue) a.reject(failure);
    this._appendQueue = [];
    this._appendInFlight = null;
  }

  // --- connection ---------------------------------------------------------------------------

  _emit(name, value) {
    const fns = this._listeners.get(name);
    if (fns) for (const fn of fns) fn(value);
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this._emit('state', state);
  }

  async _connect() {
    if (this._stopped) return;
    this._setState('connecting');
    let url = this.url;
    if (this.token) {
      let token;
      try {
        token = typeof this.token === 'function' ? await this.token() : this.token;
      } catch (err) {
        this._emit('error', new StrataError('unauthenticated', `no token: ${err}`));
        this._scheduleReconnect();
        return;
      }
      const u = new URL(url);
      u.searchParams.set('access_token', token);
      url = u.toString();
    }
    if (this._stopped) return;
    let ws;
    try {
      ws = new this.WebSocketImpl(url);
    } catch (err) {
      this._scheduleReconnect();
      return;
    }
    this._ws = ws;
    ws.onopen = () => {
      if (this._ws !== ws) return;
      this._attempt = 0;
      this.connects += 1;
      this._lastHeard = Date.now();
      this._setState('open');
      this._emit('reconnect', this.connects);
      this._startHeartbeat();
      for (const sub of this._subs.values()) this._startSubscription(sub);
      for (const presence of this._presences.values()) this._sendJoin(presence);
      for (const p of this._pending.values()) if (!p.sent) this._send(p.message, p);
      this._pumpAppends();
    };
    ws.onmessage = (m) => {
      if (this._ws !== ws) return;
      this._lastHeard = Date.now();
      let msg;
      try { msg = JSON.parse(typeof m.data === 'string' ? m.data : String(m.data)); } catch (_) {
        return;
      }
      this._onMessage(msg);
    };
    ws.onclose = (e) => this._onClose(ws, e.code, e.reason);
    ws.onerror = () => { /* onclose follows */ };
  }

  _onClose(ws, code, reason) {
    if (this._ws !== ws) return;
    this._ws = null;
    clearInterval(this._heartbeatTimer);
    for (const sub of this._subs.values()) sub.live = false;
    // Requests in flight: those safe to repeat wait for the next connection; the others fail,
    // since the server may or may not have carried them out.
    for (const [id, p] of this._pending) {
      if (p.append) {
        this._pending.delete(id);  // the append in flight is sent again by _pumpAppends
        continue;
      }
      if (!p.sent) continue;
      if (p.retry) {
        p.sent = false;
      } else {
        this._pending.delete(id);
        p.reject(new StrataError('unavailable',
          'the connection dropped before the reply; the request may or may not have been applied'));
      }
    }
    if (this._appendInFlight) this._appendInFlight.sent = false;
    if (this._stopped) return;
    if (FATAL_CLOSE_CODES.has(code)) {
      this._emit('error', new StrataError('failed_precondition',
        `the server closed the connection (${code} ${reason || ''}); not reconnecting`));
      this._setState('stopped');
      this._stopped = true;
      return;
    }
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    this._setState('closed');
    // Exponential backoff with "equal jitter": half fixed, half random, so a crowd of
    // clients does not reconnect in lockstep after a server restart.
    const ceiling = Math.min(this.backoffMaxMs, this.backoffInitialMs * 2 ** this._attempt);
    const delay = ceiling / 2 + Math.random() * ceiling / 2;
    this._attempt = Math.min(this._attempt + 1, 20);
    clearTimeout(this._reconnectTimer);
    this._reconnectTimer = setTimeout(() => this._connect(), delay);
  }

  _startHeartbeat() {
    clearInterval(this._heartbeatTimer);
    this._heartbeatTimer = setInterval(() => {
      if (Date.now() - this._lastHeard > 2 * this.heartbeatMs) {
        this.dropConnection();  // a half-open connection: nothing heard for too long
        return;
      }
      this._send({ op: 'ping' });
    }, this.heartbeatMs);
  }

  _send(message, pending) {
    if (!this._ws || this.state !== 'open') return false;
    try {
      this._ws.send(JSON.stringify(message));
    } catch (_) {
      return false;
    }
    if (pending) pending.sent = true;
    return true;
  }

  /** Sends a request with an id; resolves with the reply, rejects with a StrataError. */
  _request(message, { retry = false } = {}) {
    return new Promise((resolve, reject) => {
      const id = String(this._nextId++);
      const pending = { message: { ...message, id }, resolve, reject, retry, sent: false };
      this._pending.set(id, pending);
      this._send(pending.message, pending);
    });
  }

  _onMessage(msg) {
    switch (msg.op) {
      case 'event': return this._onEvent(msg.session, msg.event);
      case 'closed': return this._onSubscriptionClosed(msg.session, msg.code, msg.message);
      case 'pong': return undefined;
      default: break;
    }
    const pending = msg.id !== undefined ? this._pending.get(String(msg.id)) : undefined;
    if (!pending) {
      if (msg.op === 'error') this._emit('error', new StrataError(msg.code, msg.message));
      return undefined;
    }
    this._pending.delete(String(msg.id));
    if (msg.op === 'error') pending.reject(new StrataError(msg.code, msg.message));
    else pending.resolve(msg);
    return undefined;
  }

  // --- subscriptions --------------------------------------------------------------------

  async _startSubscription(sub) {
    if (sub.closed || this.state !== 'open') return;
    clearTimeout(sub._retryTimer);
    // Only the newest start of a subscription may act on its replies.
    const generation = ++sub._generation;
    const current = () => !sub.closed && sub._generation === generation &&
      this._subs.get(sub.session) === sub;
    try {
      if (sub._needsSnapshot) {
        sub._status('resetting');
        const snapshot = await this.snapshot(sub.session);
        if (!current()) return;
        sub._needsSnapshot = false;
        sub.position = { epoch: snapshot.epoch, offset: snapshot.next_offset };
        this._savePosition(sub);
        if (sub.options.onSnapshot) sub.options.onSnapshot(snapshot);
      }
      const reply = await this._request({ op: 'subscribe', session: sub.session,
                                          from: sub.position.offset,
                                          epoch: sub.position.epoch || undefined });
      if (!current()) return;
      if (sub.position.epoch && reply.epoch !== sub.position.epoch) {
        // Cannot happen (the server checks the epoch), but never mix two histories.
        return this._reset(sub, 'data_loss', 'epoch changed');
      }
      sub.position.epoch = reply.epoch;
      sub.live = true;
      sub._retries = 0;
      this._savePosition(sub);
      sub._status('subscribed');
    } catch (err) {
      if (!current()) return;
      const code = err && err.code;
      if (code === 'data_loss' || code === 'out_of_range') return this._reset(sub, code, err.message);
      if (code === 'unavailable' || code === 'cancelled') return undefined;  // reconnect resubscribes
      // not_found: the session does not exist yet; others: retry with backoff, and say so.
      sub._status(code === 'not_found' ? 'waiting' : 'error', code, err && err.message);
      const delay = Math.min(this.backoffMaxMs, this.backoffInitialMs * 2 ** sub._retries);
      sub._retries = Math.min(sub._retries + 1, 20);
      sub._retryTimer = setTimeout(() => this._startSubscription(sub), delay / 2 + Math.random() * delay / 2);
    }
    return undefined;
  }

  // The history this subscription knew is gone: take a snapshot, then follow from it.
  _reset(sub, code, message) {
    sub._status('resetting', code, message);
    sub._needsSnapshot = true;
    sub.live = false;
    return this._startSubscription(sub);
  }

  _onEvent(session, event) {
    const sub = this._subs.get(session);
    // Events may arrive before the subscribe reply is processed; offsets decide, and a
    // subscription waiting for a snapshot takes nothing from the history it lost.
    if (!sub || sub.closed || sub._needsSnapshot) return;
    if (event.offset <= sub.position.offset) return;  // already delivered (a resubscribe)
    sub.position.offset = event.offset;
    this._savePosition(sub);
    if (sub.options.onEvent) sub.options.onEvent(event);
  }

  _onSubscriptionClosed(session, code, message) {
    const sub = this._subs.get(session);
    if (!sub || sub.closed) return;
    sub.live = false;
    if (code === 'data_loss' || code === 'out_of_range') {
      this._reset(sub, code, message);
    } else if (code === 'not_found') {
      // The session was removed; it may come back with a new epoch.
      sub.position = { epoch: '', offset: 0 };
      this._reset(sub, code, message);
    } else {
      // unavailable (slow consumer, shutdown) and the rest: resubscribe from where we are.
      sub._retryTimer = setTimeout(() => this._startSubscription(sub), this.backoffInitialMs);
    }
  }

  _unsubscribe(sub) {
    if (this._subs.get(sub.session) === sub) {
      this._subs.delete(sub.session);
      if (this.state === 'open') this._send({ op: 'unsubscribe', session: sub.session });
    }
  }

  _positionKey(session) { return `strata:position:${this.url}:${session}`; }

  _loadPosition(session) {
    if (!this.storage) return null;
    try {
      const value = JSON.parse(this.storage.getItem(this._positionKey(session)) || 'null');
      if (value && typeof value.epoch === 'string' && Number.isSafeInteger(value.offset)) return value;
    } catch (_) { /* a damaged entry is ignored */ }
    return null;
  }

  _savePosition(sub) {
    if (!this.storage) return;
    try {
      this.storage.setItem(this._positionKey(sub.session), JSON.stringify(sub.position));
    } catch (_) { /* storage full or disabled: memory still has it */ }
  }

  // --- appends and presence ---------------------------------------------------------------

  _pumpAppends() {
    if (this._appendInFlight || this._appendQueue.length === 0) {
      if (this._appendInFlight && !this._appendInFlight.sent) this._sendAppend(this._appendInFlight);
      return;
    }
    const next = this._appendQueue.shift();
    next.seq = this._seq;
    this._appendInFlight = next;
    this._sendAppend(next);
  }

  _sendAppend(item) {
    if (this.state !== 'open') return;
    const id = String(this._nextId++);
    item.sent = true;
    item.requestId = id;
    const message = { op: 'append', id, session: item.session, events: item.events,
                      producer: this.producer, producer_epoch: 0, seq: item.seq };
    // After a drop the pending entry is discarded and _pumpAppends sends the same sequence
    // again under a new request id.
    this._pending.set(id, {
      message, append: true, sent: true,
      resolve: (reply) => this._appendDone(item, null, reply),
      reject: (err) => this._appendDone(item, err, null),
    });
    if (!this._send(message)) item.sent = false;
  }

  _appendDone(item, err, reply) {
    if (this._appendInFlight !== item) return;
    this._appendInFlight = null;
    if (err) {
      // Nothing was written, so the sequence number is still free for the next append.
      item.reject(err);
    } else {
      this._seq += 1;
      item.resolve({ first: reply.first, last: reply.last, duplicate: reply.duplicate,
                     epoch: reply.epoch });
    }
    this._pumpAppends();
  }

  _sendJoin(presence) {
    this._request({ op: 'presence', session: presence.session, action: 'join',
                    ...presence.fields }).catch((err) => this._emit('error', err));
  }

  _renewPresence() {
    if (this.state !== 'open') return;
    for (const presence of this._presences.values()) {
      this._request({ op: 'presence', session: presence.session, action: 'renew',
                      client_id: presence.fields.client_id })
        .catch(() => { if (!presence.left && this.state === 'open') this._sendJoin(presence); });
    }
  }
}
