/* The browser phone: the console registers the agent's WebRTC endpoint with the PBX and
 * takes their calls in the page (JsSIP, loaded from /static/vendor/ only for agents who
 * have the softphone setting; the template renders #softphone only for them).
 *
 * The server decides everything else: the SIP password is minted per console session
 * (POST /api/v1/softphone/session), the customer's pop, transfer and hang-up stay in the
 * call panel (cti.js, through the server), and click-to-dial is the server's Originate,
 * which this page answers by itself (the INVITE carries X-Frontdesk-Click-To-Dial), so no
 * phone rings before the customer is called. This script only drives the SIP user agent:
 * ring, answer, decline, hold, mute, keypad tones, the chosen microphone and speaker.
 */
(function () {
  "use strict";
  const root = document.getElementById("softphone");
  if (!root || !window.Live) return;
  const $ = (id) => document.getElementById(id);
  const words = $("softphone-words").dataset;
  const DEVICES_KEY = "frontdesk.softphone.devices";
  const CLICK_TO_DIAL = "X-Frontdesk-Click-To-Dial";
  let ua = null;
  let session = null; // the one call in the page
  let ringTimer = null;

  function show(state, text) {
    root.dataset.state = state;
    $("softphone-state").textContent = text;
  }

  function devices() {
    try { return JSON.parse(localStorage.getItem(DEVICES_KEY) || "{}"); } catch (_e) { return {}; }
  }

  function mediaConstraints() {
    const mic = devices().microphone;
    return { audio: mic ? { deviceId: { exact: mic } } : true, video: false };
  }

  function loadJsSip() {
    if (window.JsSIP) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "/static/vendor/jssip.min.js";
      script.onload = resolve;
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  // -- ringing ---------------------------------------------------------------------------
  // The console's ringer sounds once per pop; a browser phone rings until answered or gone.
  // Its own audio context: browsers let it sound once the person has used the site (a click).
  let ringAudio = null;
  function ringOnce() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    if (!ringAudio) ringAudio = new Context();
    if (ringAudio.state === "suspended") ringAudio.resume().catch(() => {});
    const now = ringAudio.currentTime;
    for (const [start, freq] of [[0, 440], [0, 480], [1.0, 440], [1.0, 480]]) { // two short North-American-style bursts
      const osc = ringAudio.createOscillator();
      const gain = ringAudio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + start);
      gain.gain.exponentialRampToValueAtTime(0.1, now + start + 0.03);
      gain.gain.setValueAtTime(0.1, now + start + 0.7);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + start + 0.8);
      osc.connect(gain).connect(ringAudio.destination);
      osc.start(now + start);
      osc.stop(now + start + 0.82);
    }
  }

  function startRinging() {
    stopRinging();
    ringOnce();
    ringTimer = setInterval(ringOnce, 3000);
    root.dataset.ring = "on";
  }

  function stopRinging() {
    if (ringTimer) clearInterval(ringTimer);
    ringTimer = null;
    delete root.dataset.ring;
  }

  // -- the call ----------------------------------------------------------------------------
  function panels(state) {
    $("softphone-ringing").hidden = state !== "ringing";
    $("softphone-controls").hidden = state !== "talking";
    if (state !== "talking") {
      $("softphone-hold").hidden = false; $("softphone-resume").hidden = true;
      $("softphone-mute").hidden = false; $("softphone-unmute").hidden = true;
    }
  }

  function attachAudio(connection) {
    const audio = $("softphone-audio");
    const speaker = devices().speaker;
    if (speaker && audio.setSinkId) audio.setSinkId(speaker).catch(() => {});
    connection.addEventListener("track", (event) => {
      audio.srcObject = event.streams[0] || new MediaStream([event.track]);
      audio.play().catch(() => {});
    });
  }

  function ended() {
    stopRinging();
    session = null;
    panels("idle");
    $("softphone-audio").srcObject = null;
    if (ua && ua.isRegistered()) show("registered", words.registered);
  }

  function answer() {
    if (!session) return;
    stopRinging();
    session.answer({ mediaConstraints: mediaConstraints(), pcConfig: { iceServers: [] } });
  }

  function incoming(rtc, request) {
    if (session) { rtc.terminate({ status_code: 486, reason_phrase: "Busy Here" }); return; }
    session = rtc;
    if (rtc.connection) attachAudio(rtc.connection);
    else rtc.on("peerconnection", (e) => attachAudio(e.peerconnection));
    rtc.on("accepted", () => { root.dataset.call = "up"; show("on-call", words.onCall); panels("talking"); });
    rtc.on("confirmed", () => { root.dataset.call = "up"; });
    rtc.on("hold", () => show("on-hold", words.onHold));
    rtc.on("unhold", () => show("on-call", words.onCall));
    rtc.on("ended", () => { delete root.dataset.call; ended(); });
    rtc.on("failed", (e) => {
      delete root.dataset.call;
      if (e.cause === "User Denied Media Access") show("error", words.noMicrophone);
      ended();
    });
    if (request && request.hasHeader(CLICK_TO_DIAL)) { answer(); return; } // the agent's own click-to-dial
    const who = rtc.remote_identity;
    $("softphone-caller").textContent = (who && (who.display_name || who.uri.user)) || "";
    show("ringing", words.ringing);
    panels("ringing");
    startRinging();
  }

  // -- controls ------------------------------------------------------------------------------
  $("softphone-answer").addEventListener("click", answer);
  $("softphone-decline").addEventListener("click", () => {
    if (session) session.terminate({ status_code: 486, reason_phrase: "Busy Here" });
  });
  $("softphone-hangup").addEventListener("click", () => { if (session) session.terminate(); });
  $("softphone-hold").addEventListener("click", () => {
    if (session && session.hold()) { $("softphone-hold").hidden = true; $("softphone-resume").hidden = false; }
  });
  $("softphone-resume").addEventListener("click", () => {
    if (session && session.unhold()) { $("softphone-hold").hidden = false; $("softphone-resume").hidden = true; }
  });
  $("softphone-mute").addEventListener("click", () => {
    if (!session) return;
    session.mute({ audio: true });
    $("softphone-mute").hidden = true; $("softphone-unmute").hidden = false;
    show("muted", words.muted);
  });
  $("softphone-unmute").addEventListener("click", () => {
    if (!session) return;
    session.unmute({ audio: true });
    $("softphone-mute").hidden = false; $("softphone-unmute").hidden = true;
    show("on-call", words.onCall);
  });
  $("softphone-dtmf").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("softphone-dtmf-digits");
    const digits = input.value.replace(/[^0-9*#A-D]/gi, "");
    if (session && digits) session.sendDTMF(digits, { transportType: "RFC2833", duration: 160, interToneGap: 80 });
    input.value = "";
  });

  // -- microphone and speaker (kept in this browser) ------------------------------------------
  async function listDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
    const chosen = devices();
    const all = await navigator.mediaDevices.enumerateDevices();
    for (const [kind, id, key] of [["audioinput", "softphone-microphone", "microphone"], ["audiooutput", "softphone-speaker", "speaker"]]) {
      const select = $(id);
      while (select.options.length > 1) select.remove(1);
      for (const device of all.filter((d) => d.kind === kind && d.deviceId && d.deviceId !== "default")) {
        const option = new Option(device.label || device.deviceId.slice(0, 8), device.deviceId);
        option.selected = device.deviceId === chosen[key];
        select.add(option);
      }
      select.onchange = () => {
        const now = devices();
        now[key] = select.value;
        localStorage.setItem(DEVICES_KEY, JSON.stringify(now));
        if (key === "speaker" && $("softphone-audio").setSinkId) $("softphone-audio").setSinkId(select.value).catch(() => {});
      };
    }
  }
  root.querySelector(".softphone-settings").addEventListener("toggle", listDevices);

  // -- registration ------------------------------------------------------------------------------
  let signedOut = false;
  async function start() {
    if (signedOut) { show("offline", words.offline); return; }
    show("connecting", words.connecting);
    let credentials;
    try {
      credentials = await Live.post("/api/v1/softphone/session", {});
    } catch (err) {
      if (err.status === 404) { show("unavailable", words.unavailable); return; } // no PBX set up for it
      if (err.status === 401 || err.status === 403) { show("offline", words.offline); return; } // logged out
      show("offline", words.offline); // the phone system unreachable for now: try again
      renewSoon();
      return;
    }
    if (!credentials || !credentials.enabled) { root.hidden = true; return; }
    await loadJsSip();
    const mine = new window.JsSIP.UA({
      sockets: [new window.JsSIP.WebSocketInterface(credentials.ws_url)],
      uri: credentials.uri,
      authorization_user: credentials.username,
      password: credentials.password,
      display_name: credentials.display_name,
      register: true,
      register_expires: 60,
      session_timers: false,
      user_agent: "Frontdesk console",
    });
    ua = mine;
    const current = (fn) => (...args) => { if (ua === mine) fn(...args); }; // a replaced agent's last words are ignored
    mine.on("registered", current(() => { if (!session) show("registered", words.registered); }));
    mine.on("unregistered", current(() => show("offline", words.offline)));
    mine.on("registrationFailed", current(() => { show("failed", words.failed); renewSoon(); }));
    mine.on("disconnected", current(() => show("offline", words.offline)));
    mine.on("newRTCSession", current((event) => { if (event.originator === "remote") incoming(event.session, event.request); }));
    mine.start();
  }

  // A refused registration is usually a stale password (the server restarted and minted a new
  // one, or another log-in replaced it): ask for this session's credentials again, calmly.
  let renewTimer = null;
  function renewSoon() {
    if (renewTimer) return;
    renewTimer = setTimeout(() => {
      renewTimer = null;
      if (session) return;
      const old = ua;
      ua = null;
      if (old) old.stop();
      start();
    }, 10000);
  }

  // Logged out in another tab: this tab's phone stops too (its password no longer exists).
  Live.on("session.signed_out", () => {
    signedOut = true;
    show("offline", words.offline);
    if (ua) { const old = ua; ua = null; old.stop(); }
  });

  // The phone lives in this page: loading another one would end the call. While on a call,
  // the site's links open in a new tab, and leaving otherwise asks first.
  document.addEventListener("click", (event) => {
    if (!session || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    const link = event.target.closest ? event.target.closest("a[href]") : null;
    if (!link || link.target || link.origin !== location.origin || (link.getAttribute("href") || "").startsWith("#")) return;
    event.preventDefault();
    window.open(link.href, "_blank", "noopener");
  });
  window.addEventListener("beforeunload", (event) => {
    if (session) { event.preventDefault(); event.returnValue = ""; }
  });

  // Leaving the page unregisters at once (the PBX would otherwise notice only when the socket drops).
  window.addEventListener("pagehide", () => { if (ua) ua.stop(); });
  window.Softphone = { answer, state: () => root.dataset.state };
  // One tab of the console holds the phone (a Web Lock, released when that tab goes); the
  // others wait and the next one takes over, so calls never ring in a tab about to close.
  if (navigator.locks && navigator.locks.request) {
    let holding = false;
    navigator.locks.request("frontdesk-softphone", () => {
      holding = true;
      start();
      return new Promise(() => {}); // held for the life of this page
    });
    setTimeout(() => { if (!holding) show("elsewhere", words.elsewhere); }, 0);
  } else {
    start();
  }
})();
