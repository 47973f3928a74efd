/* The wallboard: regions replaced by the server's frames; ticking clocks counted here.
 * Frames are {"event": "wallboard.frame", "data": {"seq", "changed_at", "regions": {id: html}}},
 * HTML drawn (translated, escaped) by the server. Reconnects with backoff; a reconnect
 * gets a full frame first. Works without a login when the page carries a wallboard token. */
(function () {
  "use strict";
  const body = document.getElementById("wallboard");
  const state = document.getElementById("wb-state");
  const clock = document.getElementById("wb-clock");
  let delay = 1000;
  // server clock minus ours (the page's data-now, then each frame's), so data-since counts right
  let skew = Number(body.dataset.now || Date.now() / 1000) - Date.now() / 1000;

  function mmss(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    const pad = (n) => String(n).padStart(2, "0");
    return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }

  function tick() {
    const now = Date.now() / 1000 + skew;
    document.querySelectorAll("[data-since]").forEach((el) => {
      el.textContent = mmss(now - Number(el.dataset.since));
    });
    if (clock) clock.textContent = new Date().toLocaleTimeString(document.documentElement.lang);
  }

  function apply(data) {
    if (typeof data.now === "number") skew = data.now - Date.now() / 1000;
    for (const [name, html] of Object.entries(data.regions || {})) {
      const region = document.getElementById("region-" + name);
      if (region) region.innerHTML = html;
    }
    body.dataset.seq = String(data.seq);
    tick();
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(scheme + "//" + location.host + body.dataset.socket);
    socket.onopen = () => { delay = 1000; state.dataset.state = "open"; };
    socket.onmessage = (msg) => {
      let parsed;
      try { parsed = JSON.parse(msg.data); } catch (err) { return; }
      if (parsed && parsed.event === "wallboard.frame") apply(parsed.data || {});
    };
    socket.onclose = (ev) => {
      state.dataset.state = "closed";
      if (ev.code === 1008 || ev.code === 4401) return;
      if (ev.code === 1012) delay = 250; // this server is going away: reconnect now (another one answers)
      const wait = Math.min(delay, 30000) * (0.8 + Math.random() * 0.4);
      delay = Math.min(delay * 2, 30000);
      setTimeout(connect, wait);
    };
  }

  tick();
  setInterval(tick, 1000);
  connect();
})();
