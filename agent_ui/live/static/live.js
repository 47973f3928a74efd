/* Live: the console's WebSocket to /ws, shared by every feature script.
 *
 *   Live.on("call.ringing", (data, event) => { ... });   // one event name
 *   Live.on("*", (data, event) => { ... });               // every event
 *   Live.off(name, fn); Live.csrfToken(); Live.post(url, body) // JSON POST with CSRF
 *   Live.watch({queue: "status=open"}) or Live.watch({ticket: 12})  // what this page shows
 *   Live.send({presence: "replying"})  // a message to the server now (dropped while disconnected)
 *
 * A page gets ticket frames only for what it said it shows (nothing, unless it calls
 * Live.watch): at 2,000 consoles, sending every ticket change to every page is what
 * slowed the screen-pop. The declaration is sent again on every (re)connect.
 * Messages are {"event": name, "data": {...}}. The socket reconnects with
 * exponential backoff (1 s doubling to 30 s, with jitter); "live.open" and
 * "live.closed" are emitted locally so pages can show the link state.
 */
(function () {
  "use strict";
  const handlers = new Map();
  let socket = null;
  let delay = 1000;
  let timer = null;
  let watching = {};

  function sendWatch() {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ watch: watching }));
  }

  function emit(name, data) {
    for (const key of [name, "*"]) {
      for (const fn of handlers.get(key) || []) {
        try { fn(data, name); } catch (err) { console.error("Live handler for", name, "failed", err); }
      }
    }
  }

  function schedule() {
    if (timer) return;
    const wait = Math.min(delay, 30000) * (0.8 + Math.random() * 0.4);
    delay = Math.min(delay * 2, 30000);
    timer = setTimeout(() => { timer = null; connect(); }, wait);
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    try {
      socket = new WebSocket(scheme + "//" + location.host + "/ws");
    } catch (err) {
      schedule();
      return;
    }
    socket.onopen = () => { delay = 1000; sendWatch(); emit("live.open", {}); };
    socket.onmessage = (msg) => {
      let parsed;
      try { parsed = JSON.parse(msg.data); } catch (err) { return; }
      if (!parsed || typeof parsed.event !== "string") return;
      // The server may have missed events (another instance's): read everything again, as after a reconnect.
      if (parsed.event === "live.resync") { emit("live.open", {}); return; }
      emit(parsed.event, parsed.data || {});
    };
    socket.onclose = (ev) => {
      emit("live.closed", { code: ev.code });
      socket = null;
      if (ev.code === 4401) { location.reload(); return; } // the login ended: the login page, or this page again if it still stands
      if (ev.code === 1008) return; // refused: the login is gone
      if (ev.code === 1012) { delay = 250; } // this server is going away: reconnect now (another one answers)
      schedule();
    };
  }

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  async function post(url, body, method) {
    const response = await fetch(url, {
      method: method || "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(body || {}),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw Object.assign(new Error(data.message || response.statusText), { status: response.status, data });
    return data;
  }

  window.Live = {
    on(name, fn) {
      if (!handlers.has(name)) handlers.set(name, []);
      handlers.get(name).push(fn);
    },
    off(name, fn) {
      const list = handlers.get(name) || [];
      handlers.set(name, list.filter((f) => f !== fn));
    },
    watch(what) {
      watching = what || {};
      sendWatch();
    },
    send(message) {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    },
    get connected() { return !!socket && socket.readyState === WebSocket.OPEN; },
    csrfToken,
    post,
  };

  // Connect once every feature script has run: the socket can open while the parser
  // still waits for a later script, and that script's "live.open" handler would miss it.
  function start() { if (document.querySelector('meta[name="csrf-token"]')) connect(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start, { once: true });
  else start();
})();
