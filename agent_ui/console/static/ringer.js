/* A ringing screen-pop also rings in the browser: a system notification (once the agent
 * allowed it) and a short tone, even when the console tab is in the background.
 * Browsers only allow both after a click or key press, so the first one asks. */
(function () {
  "use strict";
  let audio = null;

  function unlock() {
    if (!audio && (window.AudioContext || window.webkitAudioContext)) {
      audio = new (window.AudioContext || window.webkitAudioContext)();
    }
    if (audio && audio.state === "suspended") audio.resume();
    if ("Notification" in window && Notification.permission === "default") Notification.requestPermission();
    document.documentElement.dataset.ringer = "ready";
  }
  document.addEventListener("click", unlock, { once: true });
  document.addEventListener("keydown", unlock, { once: true });

  function tone() {
    if (!audio) return;
    const now = audio.currentTime;
    for (const [start, freq] of [[0, 880], [0.25, 660], [0.6, 880], [0.85, 660]]) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + start);
      gain.gain.exponentialRampToValueAtTime(0.2, now + start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + start + 0.22);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + start);
      osc.stop(now + start + 0.24);
    }
  }

  window.Ringer = { tone };  // other pushes (routing offers) ring the same way

  function describe(data) {
    const pop = data.pop || data;
    const customer = pop.customer || {};
    const number = pop.number_display || pop.number || "";
    const block = document.getElementById("page-words");
    const words = block ? JSON.parse(block.textContent) : {};
    return { title: customer.name || number || words.incomingCall || "", body: [number, pop.queue].filter(Boolean).join(" · ") };
  }

  Live.on("cti.pop", (data) => {
    const what = describe(data);
    document.documentElement.dataset.ringing = data.linkedid || "1";
    tone();
    if ("Notification" in window && Notification.permission === "granted") {
      const note = new Notification(what.title, { body: what.body, tag: "pop-" + (data.linkedid || ""), requireInteraction: true });
      note.onclick = () => { window.focus(); note.close(); };
      Live.on("cti.pop_withdrawn", (gone) => { if (gone.linkedid === data.linkedid) note.close(); });
    }
  });
  Live.on("cti.pop_withdrawn", () => { delete document.documentElement.dataset.ringing; });
})();
