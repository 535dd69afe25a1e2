// trio-sse demo page: one EventSource and one WebSocket on the same feed, side by side,
// the four SSE-vs-WebSocket experiments, and the fifth (connections per origin: HTTP/1.1 vs
// HTTP/2). Plain JavaScript, no dependencies.
//
// The feed's ids are "<prefix>-<n>" (see trio_sse._broadcast): clients should treat ids as
// opaque, but this page knows its server and reads <n> to show gaps.
(() => {
  'use strict';

  const root = document.getElementById('demo');
  const RETRY_MS = Number(root.dataset.retryMs) || 3000;
  const LOG_LINES = 12;
  const encoder = new TextEncoder();
  const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

  function randomId(bytes) {
    const raw = crypto.getRandomValues(new Uint8Array(bytes));
    return Array.from(raw, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  const CLIENT = randomId(9);

  // -- panels: counters, log, id tracking --------------------------------------------------

  function newPanel(name) {
    return {
      name,
      count: 0,
      bytes: 0,
      lastId: null,
      prefix: null,
      seq: null,
      reconnects: 0,
      opens: 0,
      missed: 0,
      latency: null,
      outage: null, // {closedAt, afterId, reopenedAt, replayed, missed, code}
    };
  }

  const panels = { sse: newPanel('sse'), ws: newPanel('ws') };

  function formatBytes(n) {
    if (n < 10000) return String(n);
    if (n < 1e6) return `${(n / 1000).toFixed(1)} k`;
    return `${(n / 1e6).toFixed(2)} M`;
  }

  function formatMs(ms) {
    return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
  }

  function render(p) {
    $(`${p.name}-count`).textContent = p.count;
    $(`${p.name}-bytes`).textContent = formatBytes(p.bytes);
    $(`${p.name}-last-id`).textContent = p.lastId || '–';
    $(`${p.name}-last-id`).title = p.lastId || '';
    $(`${p.name}-reconnects`).textContent = p.reconnects;
    $(`${p.name}-gaps`).textContent = p.missed;
    $(`${p.name}-latency`).textContent = p.latency === null ? '–' : formatMs(p.latency);
  }

  function setState(p, state, text) {
    const el = $(`${p.name}-state`);
    el.dataset.state = state;
    el.textContent = text || state;
  }

  function log(p, kind, cells) {
    const list = $(`${p.name}-log`);
    const item = document.createElement('li');
    item.className = `${kind} fresh`;
    if (typeof cells === 'string') {
      item.textContent = cells;
    } else {
      for (const [cls, text] of cells) {
        const span = document.createElement('span');
        span.className = cls;
        span.textContent = text;
        span.title = text;
        item.append(span);
      }
    }
    list.prepend(item);
    while (list.children.length > LOG_LINES) list.lastChild.remove();
  }

  function parseId(id) {
    const dash = id.lastIndexOf('-');
    return { prefix: id.slice(0, dash), seq: Number(id.slice(dash + 1)) };
  }

  // Called for every event that carries an id: counts the ids skipped since the last one.
  function noteId(p, id) {
    const { prefix, seq } = parseId(id);
    let missed = 0;
    if (p.prefix === prefix && p.seq !== null && seq > p.seq + 1) {
      missed = seq - p.seq - 1;
      p.missed += missed;
      log(p, 'gap', `gap: ${missed} id${missed === 1 ? '' : 's'} missed (${p.lastId} → ${id})`);
    }
    p.prefix = prefix;
    p.seq = seq;
    p.lastId = id;
    const outage = p.outage;
    if (outage && outage.reopenedAt !== null && outage.missed === null) {
      outage.missed = missed;
      outage.nextId = id;
      renderReconnect(p);
    }
  }

  // What the log shows of an event's data.
  function shown(type, data) {
    if (type === 'binary') return `${data.length} base64 characters`;
    if (type === 'chat') {
      try {
        const chat = JSON.parse(data);
        return `“${chat.text}” via ${chat.from === 'sse' ? 'POST' : 'WS'}`;
      } catch {
        return data;
      }
    }
    return data;
  }

  function received(p, type, data, id, bytes) {
    p.count += 1;
    p.bytes += bytes;
    if (id) noteId(p, id);
    const kind = type === 'tick' ? 'tick' : 'event';
    log(p, kind, [['id', id || ''], ['type', type], ['data', shown(type, data)]]);
    render(p);
  }

  // The size of an event block as the server encodes it (without HTTP chunk framing).
  function sseBlockBytes(type, data, id) {
    let block = id ? `id: ${id}\n` : '';
    if (type !== 'message') block += `event: ${type}\n`;
    for (const line of data.split('\n')) block += `data: ${line}\n`;
    return encoder.encode(`${block}\n`).length;
  }

  // -- SSE: EventSource reconnects by itself, and dispatches on the event type -------------

  const SSE_TYPES = ['tick', 'publish', 'chat', 'price', 'news', 'binary', 'message'];
  const sse = { source: null };

  function connectSse() {
    const p = panels.sse;
    const source = new EventSource(`/demo/events?client=${CLIENT}`);
    sse.source = source;
    source.onopen = () => {
      p.opens += 1;
      if (p.opens > 1) {
        p.reconnects += 1;
        log(p, 'good', `reconnected by EventSource itself (Last-Event-ID: ${p.lastId || 'none'})`);
      }
      if (p.outage && p.outage.reopenedAt === null) p.outage.reopenedAt = performance.now();
      setState(p, 'open');
      render(p);
      renderReconnect(p);
    };
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        setState(p, 'closed');
        return;
      }
      setState(p, 'reconnecting');
      if (p.outage && p.outage.closedAt === null) {
        p.outage.closedAt = performance.now();
        p.outage.afterId = p.lastId;
        log(p, 'note', `stream ended after ${p.lastId}; EventSource will retry in ${RETRY_MS} ms`);
        renderReconnect(p);
      }
    };
    for (const type of SSE_TYPES) {
      source.addEventListener(type, (e) => {
        received(p, type, e.data, e.lastEventId, sseBlockBytes(type, e.data, e.lastEventId));
        onFeedEvent('sse', type, e.data, e.lastEventId);
      });
    }
    // Sent by /demo/events (without an id) before the events it replays.
    source.addEventListener('resumed', (e) => {
      received(p, 'resumed', e.data, '', sseBlockBytes('resumed', e.data, ''));
      onResumed(p, e.data);
    });
    source.addEventListener('reset', (e) => {
      received(p, 'reset', e.data, '', sseBlockBytes('reset', e.data, ''));
      p.seq = null;
      p.prefix = null;
    });
  }

  // -- WebSocket: the page's own envelope, dispatcher and (optional) reconnect ---------------

  const ws = { socket: null };

  function wsUrl(resumeFrom) {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    let url = `${scheme}://${location.host}/demo/ws?client=${CLIENT}`;
    if (resumeFrom) url += `&last_event_id=${encodeURIComponent(resumeFrom)}`;
    return url;
  }

  // The hand-written dispatcher: the envelope's "event" picks the handler.
  const wsHandlers = {
    tick: (msg) => received(panels.ws, 'tick', msg.data, msg.id, 0),
  };
  for (const type of ['publish', 'chat', 'price', 'news', 'binary', 'reset']) {
    wsHandlers[type] = (msg) => {
      received(panels.ws, type, msg.data, msg.id, 0);
      if (type === 'reset') {
        panels.ws.seq = null;
        panels.ws.prefix = null;
      }
      onFeedEvent('ws', type, msg.data, msg.id);
    };
  }
  // Replies to the page's own control messages have a "type" instead of an "event".
  const wsControl = {
    ack: (msg) => received(panels.ws, 'ack', `${msg.of} ok`, null, 0),
    error: (msg) => received(panels.ws, 'error', msg.detail, null, 0),
    resumed: (msg) => {
      received(panels.ws, 'resumed', JSON.stringify(msg), null, 0);
      onResumed(panels.ws, JSON.stringify(msg));
    },
  };

  function connectWs(resumeFrom) {
    const p = panels.ws;
    const socket = new WebSocket(wsUrl(resumeFrom));
    socket.binaryType = 'arraybuffer';
    ws.socket = socket;
    setState(p, p.opens ? 'reconnecting' : 'connecting');
    socket.onopen = () => {
      p.opens += 1;
      if (p.opens > 1) {
        p.reconnects += 1;
        const how = resumeFrom ? `resuming after ${resumeFrom}` : 'without resuming';
        log(p, 'good', `reconnected by the page's code, ${how}`);
      }
      if (p.outage && p.outage.reopenedAt === null) p.outage.reopenedAt = performance.now();
      setState(p, 'open');
      render(p);
      renderReconnect(p);
    };
    socket.onmessage = (m) => {
      if (m.data instanceof ArrayBuffer) {
        p.count += 1;
        p.bytes += m.data.byteLength;
        log(p, 'event', [['id', ''], ['type', 'binary'], ['data', `${m.data.byteLength} bytes (frame)`]]);
        render(p);
        onBinaryEcho(new Uint8Array(m.data));
        return;
      }
      p.bytes += encoder.encode(m.data).length;
      const msg = JSON.parse(m.data);
      const handler = msg.type ? wsControl[msg.type] : wsHandlers[msg.event];
      if (handler) handler(msg);
      else received(p, msg.event || msg.type || '?', m.data, msg.id, 0);
    };
    socket.onclose = (e) => {
      if (ws.socket !== socket) return;
      setState(p, 'closed', `closed ${e.code}`);
      if (!p.outage || p.outage.closedAt !== null) p.outage = newOutage();
      p.outage.closedAt = performance.now();
      p.outage.afterId = p.lastId;
      p.outage.code = e.code;
      if ($('ws-reconnect-toggle').checked) {
        const resume = $('ws-resume-toggle').checked;
        log(p, 'note', `closed (${e.code}); the page's code reconnects in ${RETRY_MS} ms`);
        setTimeout(() => connectWs(resume ? p.lastId : null), RETRY_MS);
      } else {
        log(p, 'gap', `closed (${e.code}) and stays closed: nothing reconnects a WebSocket`);
      }
      renderReconnect(p);
    };
  }

  // -- 1. direction ----------------------------------------------------------------------

  const chats = new Map(); // nonce -> {from, t0, arrivals: {sse, ws}, status}

  function sendChat(from) {
    const nonce = randomId(6);
    const text = $('message-input').value.trim() || 'hello';
    const data = JSON.stringify({ text, from, nonce });
    const chat = { from, t0: performance.now(), arrivals: {}, status: null };
    chats.set(nonce, chat);
    if (from === 'sse') {
      fetch('/publish?event=chat', { method: 'POST', body: data }).then((r) => {
        chat.status = r.status;
        renderChat(chat);
      });
    } else if (ws.socket && ws.socket.readyState === WebSocket.OPEN) {
      ws.socket.send(JSON.stringify({ type: 'publish', event: 'chat', data }));
      chat.status = 'sent';
    } else {
      chat.status = 'socket closed';
    }
    renderChat(chat);
  }

  function onChat(transport, data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    const chat = chats.get(msg && msg.nonce);
    if (!chat || chat.arrivals[transport] !== undefined) return;
    const ms = performance.now() - chat.t0;
    chat.arrivals[transport] = ms;
    if (transport === chat.from) {
      panels[transport].latency = ms;
      render(panels[transport]);
    }
    renderChat(chat);
  }

  function renderChat(chat) {
    const el = $(`direction-${chat.from}-result`);
    const how = chat.from === 'sse' ? 'POST /publish' : 'ws.send()';
    const parts = [];
    if (chat.status === 'socket closed') {
      el.dataset.outcome = 'bad';
      el.textContent = 'The socket is closed: a WebSocket cannot send until the page reconnects it.';
      return;
    }
    if (chat.from === 'sse' && chat.status !== null) parts.push(`${how} → ${chat.status}`);
    else parts.push(how);
    for (const t of ['sse', 'ws']) {
      const name = t === 'sse' ? 'EventSource' : 'WebSocket';
      const ms = chat.arrivals[t];
      if (ms !== undefined) {
        el.dataset[`${t}Ms`] = ms.toFixed(1);
        parts.push(`${name}: <b class="ok">${formatMs(ms)}</b>`);
      } else {
        parts.push(`${name}: …`);
      }
    }
    el.innerHTML = parts.join(' · ');
    el.dataset.outcome = Object.keys(chat.arrivals).length === 2 ? 'ok' : 'info';
  }

  // -- 2. reconnection ---------------------------------------------------------------------

  function newOutage() {
    return {
      clickedAt: performance.now(),
      closedAt: null,
      afterId: null,
      reopenedAt: null,
      replayed: null,
      missed: null,
      nextId: null,
      code: null,
    };
  }

  function drop(transport) {
    const p = panels[transport];
    p.outage = newOutage();
    renderReconnect(p);
    fetch(`/demo/drop?client=${CLIENT}&transport=${transport}`, { method: 'POST' });
  }

  function onResumed(p, data) {
    let info;
    try {
      info = JSON.parse(data);
    } catch {
      return;
    }
    if (p.outage && p.outage.replayed === null) p.outage.replayed = info.replayed;
    log(p, 'good', `server replayed ${info.replayed} event(s) after ${info.after}`);
    renderReconnect(p);
  }

  function renderReconnect(p) {
    const o = p.outage;
    if (!o) return;
    const el = $(`reconnect-${p.name}-result`);
    const bits = [];
    if (o.closedAt === null) {
      el.dataset.outcome = 'info';
      el.textContent = 'Asking the server to drop the connection…';
      return;
    }
    bits.push(p.name === 'ws' ? `Closed with code ${o.code} after id ${o.afterId}.` : `Stream ended after id ${o.afterId}.`);
    if (o.reopenedAt === null) {
      if (p.name === 'ws' && !$('ws-reconnect-toggle').checked) {
        bits.push('<b class="bad">It stays closed</b>: nothing reconnects a WebSocket unless the page does.');
        el.dataset.outcome = 'bad';
        el.dataset.result = 'dead';
      } else {
        bits.push(`Reconnecting in ${RETRY_MS} ms…`);
        el.dataset.outcome = 'info';
      }
      el.innerHTML = bits.join(' ');
      return;
    }
    const after = ((o.reopenedAt - o.closedAt) / 1000).toFixed(1);
    bits.push(p.name === 'sse' ? `EventSource reconnected by itself after ${after} s,` : `The page's code reconnected after ${after} s,`);
    if (o.replayed !== null) bits.push(`resumed after ${o.afterId}: the server replayed ${o.replayed} event(s).`);
    else if (p.name === 'ws') bits.push('without resuming.');
    if (o.missed !== null) {
      el.dataset.gap = String(o.missed);
      el.dataset.replayed = String(o.replayed === null ? 0 : o.replayed);
      if (o.missed === 0) {
        bits.push(`Next id ${o.nextId}: <b class="ok">no gap</b>.`);
        el.dataset.outcome = 'ok';
        el.dataset.result = 'no-gap';
      } else {
        bits.push(`Next id ${o.nextId}: <b class="bad">${o.missed} id${o.missed === 1 ? '' : 's'} lost</b>.`);
        el.dataset.outcome = 'bad';
        el.dataset.result = 'gap';
      }
    } else {
      el.dataset.outcome = 'info';
    }
    el.innerHTML = bits.join(' ');
  }

  function onToggle() {
    const socket = ws.socket;
    if ($('ws-reconnect-toggle').checked && socket && socket.readyState === WebSocket.CLOSED) {
      connectWs($('ws-resume-toggle').checked ? panels.ws.lastId : null);
    }
    renderReconnect(panels.ws);
  }

  // -- 3. text vs binary --------------------------------------------------------------------

  const binary = { sent: null, ws: null, sse: null, sseInfo: null, arrivals: new Map() };

  function drawImage() {
    const canvas = $('binary-original');
    const g = canvas.getContext('2d');
    const hue = Math.floor(Math.random() * 360);
    const grad = g.createLinearGradient(0, 0, 48, 48);
    grad.addColorStop(0, `hsl(${hue} 80% 55%)`);
    grad.addColorStop(1, `hsl(${(hue + 90) % 360} 75% 45%)`);
    g.fillStyle = grad;
    g.fillRect(0, 0, 48, 48);
    g.fillStyle = 'rgba(255,255,255,.85)';
    g.beginPath();
    g.arc(17, 20, 9, 0, 2 * Math.PI);
    g.fill();
    g.fillStyle = `hsl(${(hue + 200) % 360} 70% 30%)`;
    g.fillRect(26, 26, 14, 14);
    return new Promise((resolve) => canvas.toBlob(resolve, 'image/png'))
      .then((blob) => blob.arrayBuffer())
      .then((buffer) => new Uint8Array(buffer));
  }

  function sameBytes(a, b) {
    if (!a || !b || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
    return true;
  }

  // Bytes of a server-to-browser WebSocket frame (RFC 6455 §5.2: no mask that way).
  function wsFrameBytes(n) {
    return 2 + (n >= 65536 ? 8 : n >= 126 ? 2 : 0) + n;
  }

  function showImage(testid, bytes) {
    const img = $(testid);
    if (img.src) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(new Blob([bytes], { type: 'image/png' }));
  }

  async function sendBinary(bytes) {
    binary.sent = bytes;
    binary.ws = null;
    binary.sse = null;
    binary.sseInfo = null;
    binary.arrivals.clear();
    $('binary-size').textContent = `${bytes.length} bytes`;
    for (const t of ['sse', 'ws']) {
      const el = $(`binary-${t}-result`);
      el.textContent = 'Sending…';
      el.dataset.outcome = 'info';
      delete el.dataset.match;
    }
    if (ws.socket && ws.socket.readyState === WebSocket.OPEN) {
      ws.socket.send(bytes);
    } else {
      $('binary-ws-result').textContent = 'The socket is closed.';
    }
    const response = await fetch('/demo/binary', { method: 'POST', body: bytes });
    binary.sseInfo = await response.json();
    checkSseBinary();
  }

  function onBinaryEcho(bytes) {
    binary.ws = bytes;
    const el = $('binary-ws-result');
    const match = sameBytes(binary.sent, bytes);
    const wire = wsFrameBytes(bytes.length);
    el.dataset.match = String(match);
    el.dataset.wireBytes = String(wire);
    el.dataset.outcome = match ? 'ok' : 'bad';
    el.innerHTML = `Binary frame echoed: ${bytes.length} bytes of payload, <b>${wire} bytes</b>`
      + ` on the wire (+${wire - bytes.length} of framing). `
      + (match ? '<b class="ok">Byte-exact.</b>' : '<b class="bad">Different bytes!</b>');
    if (match) showImage('binary-ws-image', bytes);
  }

  function onBinaryEvent(data, id) {
    binary.arrivals.set(id, data);
    checkSseBinary();
  }

  function checkSseBinary() {
    const info = binary.sseInfo;
    if (!info || !binary.arrivals.has(info.id)) return;
    const text = binary.arrivals.get(info.id);
    binary.arrivals.clear();
    const raw = atob(text);
    const bytes = Uint8Array.from(raw, (c) => c.charCodeAt(0));
    binary.sse = bytes;
    const match = sameBytes(binary.sent, bytes);
    const el = $('binary-sse-result');
    const growth = Math.round(100 * (info.wire_bytes / info.bytes - 1));
    el.dataset.match = String(match);
    el.dataset.wireBytes = String(info.wire_bytes);
    el.dataset.outcome = match ? 'ok' : 'bad';
    el.innerHTML = `Base64 in <code>event: binary</code>: ${info.bytes} bytes became`
      + ` ${info.base64_chars} characters, <b>${info.wire_bytes} bytes</b> on the wire (+${growth}%). `
      + (match ? '<b class="ok">Decoded byte-exact.</b>' : '<b class="bad">Different bytes!</b>');
    if (match) showImage('binary-sse-image', bytes);
  }

  // -- 4. message types -----------------------------------------------------------------------

  const typeCounts = { sse: { price: 0, news: 0 }, ws: { price: 0, news: 0 } };

  function onTyped(transport, type, data) {
    typeCounts[transport][type] += 1;
    const el = $(`types-${transport}-${type}`);
    el.textContent = `${data} (×${typeCounts[transport][type]})`;
    el.dataset.last = data;
    el.dataset.count = String(typeCounts[transport][type]);
    const line = document.querySelector(`[data-line="${transport}-${type}"]`);
    line.classList.remove('ran');
    void line.offsetWidth; // restart the highlight
    line.classList.add('ran');
  }

  const HEADLINES = [
    'Structured concurrency ships',
    'EventSource reconnects, again',
    'Nursery closes on time',
    'h11 parses another request',
  ];

  function publishTyped(type) {
    const data = type === 'price'
      ? `TRIO ${(20 + Math.random() * 5).toFixed(2)}`
      : HEADLINES[Math.floor(Math.random() * HEADLINES.length)];
    return fetch(`/publish?event=${type}`, { method: 'POST', body: data });
  }

  // -- 5. connections per origin --------------------------------------------------------------

  // N EventSources on '/' (the seed's ticker) and N WebSockets on '/ws' (its ticker as JSON),
  // each counted on its own. Over HTTP/1.1 the browser queues an EventSource that finds all six
  // connections of the origin taken: it stays CONNECTING, with no error, and receives nothing.
  const MAX_CONNS = 50;
  const conns = { sse: [], ws: [] }; // per transport: {index, count, state, conn, el}

  function pageProtocol() {
    const nav = performance.getEntriesByType('navigation')[0];
    return (nav && nav.nextHopProtocol) || 'unknown';
  }

  function renderProtocol() {
    const protocol = pageProtocol();
    $('page-protocol').textContent = protocol;
    $('page-protocol-hint').textContent = protocol === 'http/1.1'
      ? 'six connections per origin, and the panel above holds one: from the sixth on, EventSources wait.'
      : protocol === 'h2' || protocol === 'h3'
        ? 'one connection, a stream per EventSource: they all flow.'
        : 'see what happens.';
  }

  function renderConn(entry) {
    entry.el.dataset.state = entry.state;
    entry.el.dataset.count = String(entry.count);
    entry.el.title = `${entry.state}, ${entry.count} message${entry.count === 1 ? '' : 's'}`;
    entry.el.lastChild.textContent = entry.state === 'waiting' ? '…' : entry.count;
  }

  function renderConnsResult(transport) {
    const entries = conns[transport];
    const el = $(`conns-${transport}-result`);
    if (!entries.length) {
      el.textContent = 'None open.';
      el.dataset.outcome = 'info';
      return;
    }
    const receiving = entries.filter((e) => e.count > 0).length;
    const waiting = entries.filter((e) => e.state === 'waiting').length;
    el.dataset.receiving = String(receiving);
    el.dataset.waiting = String(waiting);
    const name = transport === 'sse' ? 'EventSource' : 'WebSocket';
    let text = `<b class="ok">${receiving} of ${entries.length}</b> ${name}s receiving`;
    if (waiting) {
      text += `, <b class="bad">${waiting} waiting</b> for a connection`;
      if (transport === 'sse' && pageProtocol() === 'http/1.1') text += ' (HTTP/1.1: six per origin)';
    }
    el.innerHTML = `${text}.`;
    el.dataset.outcome = waiting ? 'bad' : receiving === entries.length ? 'ok' : 'info';
  }

  function newConn(transport, index) {
    const el = document.createElement('li');
    el.dataset.testid = `conns-${transport}-${index}`;
    const n = document.createElement('span');
    n.className = 'n';
    n.textContent = `#${index}`;
    el.append(n, document.createElement('span'));
    el.lastChild.className = 'c';
    const entry = { index, count: 0, state: 'waiting', conn: null, el };
    conns[transport].push(entry);
    $(`conns-${transport}`).append(el);
    return entry;
  }

  function update(transport, entry, state, count) {
    if (entry.state === 'closed') return;
    if (state) entry.state = state;
    if (count) entry.count += count;
    renderConn(entry);
    renderConnsResult(transport);
  }

  function openConnections() {
    closeConnections();
    const asked = Math.floor(Number($('conns-n').value)) || 10;
    const n = Math.max(1, Math.min(MAX_CONNS, asked));
    $('conns-n').value = n;
    for (const t of ['sse', 'ws']) {
      conns[t] = [];
      $(`conns-${t}`).replaceChildren();
    }
    for (let i = 1; i <= n; i += 1) {
      const entry = newConn('sse', i);
      const source = new EventSource('/');
      entry.conn = source;
      source.onopen = () => update('sse', entry, 'open', 0);
      source.onmessage = () => update('sse', entry, 'open', 1);
      source.onerror = () => update('sse', entry, source.readyState === EventSource.CLOSED ? 'closed' : 'waiting', 0);
    }
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    for (let i = 1; i <= n; i += 1) {
      const entry = newConn('ws', i);
      const socket = new WebSocket(`${scheme}://${location.host}/ws`);
      entry.conn = socket;
      socket.onopen = () => update('ws', entry, 'open', 0);
      socket.onmessage = () => update('ws', entry, 'open', 1);
      socket.onclose = () => update('ws', entry, 'closed', 0);
    }
    for (const t of ['sse', 'ws']) {
      conns[t].forEach(renderConn);
      renderConnsResult(t);
    }
  }

  function closeConnections() {
    for (const t of ['sse', 'ws']) {
      for (const entry of conns[t]) {
        entry.conn.close();
        entry.state = 'closed';
        renderConn(entry);
      }
      renderConnsResult(t);
    }
  }

  // -- feed events, whichever transport brought them --------------------------------------------

  function onFeedEvent(transport, type, data, id) {
    if (type === 'chat') onChat(transport, data);
    else if (type === 'price' || type === 'news') onTyped(transport, type, data);
    else if (type === 'binary' && transport === 'sse') onBinaryEvent(data, id);
  }

  // -- start ------------------------------------------------------------------------------------

  $('client-id').textContent = CLIENT;
  $('direction-sse-send').addEventListener('click', () => sendChat('sse'));
  $('direction-ws-send').addEventListener('click', () => sendChat('ws'));
  $('reconnect-sse-drop').addEventListener('click', () => drop('sse'));
  $('reconnect-ws-drop').addEventListener('click', () => drop('ws'));
  $('ws-reconnect-toggle').addEventListener('change', onToggle);
  $('ws-resume-toggle').addEventListener('change', onToggle);
  $('binary-send').addEventListener('click', () => drawImage().then(sendBinary));
  $('types-price-send').addEventListener('click', () => publishTyped('price'));
  $('types-news-send').addEventListener('click', () => publishTyped('news'));
  $('conns-open').addEventListener('click', openConnections);
  $('conns-close').addEventListener('click', closeConnections);
  renderProtocol();
  render(panels.sse);
  render(panels.ws);
  connectSse();
  connectWs(null);

  // For the end-to-end tests (and the curious, in the console).
  window.trioSseDemo = {
    client: CLIENT, panels, binary, sendBinary, drawImage, conns, openConnections, closeConnections,
  };
})();
