/* The agent's phone bar: status (ready / pause with a reason / wrap-up with its timer), the
 * screen-pop while the phone rings, the live call with hang-up. The server pushes the state
 * once the PBX confirms it (cti.agent_state); buttons only ask for changes. After a call ends
 * the agent goes to wrap-up until they press Ready. Text comes translated in data-labels. */
(function () {
  "use strict";
  const bar = document.getElementById("phone-bar");
  if (!bar) return;
  const me = Number(bar.dataset.userId);
  const labels = JSON.parse(bar.dataset.labels || "{}");
  const $ = (id) => document.getElementById(id);
  let interfaceName = null;
  let since = null;
  let callSince = null;
  let call = null; // {pbx, linkedid}

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clock(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    const m = Math.floor(seconds / 60), s = seconds % 60;
    return m + ":" + String(s).padStart(2, "0");
  }

  function showState(state, reason, at) {
    const node = $("phone-state");
    node.dataset.state = state;
    node.textContent = (labels[state] || state) + (reason ? " · " + (labels[reason] || reason) : "");
    bar.dataset.state = state;
    since = at || Date.now() / 1000;
    tick();
  }

  function tick() {
    if (since) $("phone-clock").textContent = clock(Date.now() / 1000 - since);
    if (callSince) $("phone-call-clock").textContent = clock(Date.now() / 1000 - callSince);
  }

  async function ask(url, body) {
    $("phone-error").textContent = "";
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": Live.csrfToken() },
      body: JSON.stringify(body),
    }).catch(() => null);
    if (!response || !response.ok) {
      const data = response ? await response.json().catch(() => ({})) : {};
      $("phone-error").textContent = data.message || (response ? response.statusText : "offline");
    }
  }

  function showPop(data) {
    const pop = data.pop || {};
    const box = $("phone-pop");
    box.replaceChildren();
    box.dataset.linkedid = data.linkedid;
    const customer = pop.customer;
    const head = el("div", "pop-head");
    head.append(el("strong", "pop-ringing", labels.ringing || "Ringing"), " ",
      el("span", "pop-name", customer ? customer.name : (pop.caller_name || labels.unknown)), " ",
      el("span", "pop-number", pop.number_display || pop.number || ""));
    if (customer && customer.tier) head.append(" ", el("span", "badge tier-" + customer.tier, customer.tier));
    if (pop.queue) head.append(" ", el("span", "badge", pop.queue));
    if (pop.crm_url) {
      const crm = el("a", "pop-crm", labels.crm || "CRM");
      crm.href = pop.crm_url; crm.target = "_blank"; crm.rel = "noopener";
      head.append(" ", crm);
    }
    box.append(head);
    if ((pop.open_tickets || []).length) {
      const list = el("ul", "pop-tickets");
      for (const t of pop.open_tickets) {
        const item = el("li");
        const link = el("a", null, t.tag + " " + t.subject);
        link.href = "/tickets/" + t.id;
        item.append(link);
        list.append(item);
      }
      box.append(el("div", "pop-label", labels.open_tickets), list);
    }
    if ((pop.history || []).length) {
      const list = el("ul", "pop-history");
      for (const h of pop.history) list.append(el("li", "entry-" + h.kind, h.tag + " · " + (h.summary || h.kind)));
      box.append(el("div", "pop-label", labels.history), list);
    }
    box.hidden = false;
  }

  function hidePop(linkedid) {
    const box = $("phone-pop");
    if (!linkedid || box.dataset.linkedid === linkedid) { box.hidden = true; box.replaceChildren(); }
  }

  Live.on("cti.agent_state", (data) => {
    if (data.user_id === me || (interfaceName && data.interface === interfaceName)) showState(data.state, data.reason);
  });
  Live.on("cti.pop", (data) => showPop(data));
  Live.on("cti.pop_withdrawn", (data) => hidePop(data.linkedid));
  Live.on("cti.call_panel", (data) => {
    if (data.state === "live") {
      hidePop(data.linkedid);
      call = { pbx: data.pbx, linkedid: data.linkedid };
      const info = data.call || {};
      const who = info.customer ? info.customer.name : "";
      $("phone-call-who").textContent = (labels.on_call || "On call") + " " + [who, info.number_display || info.number || ""].filter(Boolean).join(" · ");
      callSince = Date.now() / 1000;
      $("phone-call").hidden = false;
      $("phone-call").dataset.linkedid = data.linkedid;
    } else if (call && call.linkedid === data.linkedid) {
      $("phone-call").hidden = true;
      call = null;
      callSince = null;
      if (data.state === "ended") ask("/phone/status", { status: "wrap-up" });
    }
  });

  $("phone-ready").addEventListener("click", () => ask("/phone/status", { status: "ready" }));
  $("phone-pause").addEventListener("click", () => ask("/phone/status", { status: "paused", reason: $("phone-reason").value }));
  $("phone-wrap").addEventListener("click", () => ask("/phone/status", { status: "wrap-up" }));
  $("phone-hangup").addEventListener("click", () => { if (call) ask("/phone/hangup", call); });

  fetch("/phone", { credentials: "same-origin", headers: { Accept: "application/json" } }).then((r) => r.json()).then((data) => {
    const phone = data.phone;
    if (!phone) return;
    interfaceName = phone.interface;
    $("phone-reason").replaceChildren(...phone.pause_reasons.map((r) => {
      const option = el("option", null, labels[r] || r);
      option.value = r;
      return option;
    }));
    showState(phone.state, phone.reason, phone.since);
    bar.hidden = false;
  });
  setInterval(tick, 1000);
})();
