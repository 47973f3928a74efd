/* The agent's phone in the console: status, screen-pops, live call panel, click-to-dial.
 *
 * Server events (through live.js): cti.pop (ringing: show who calls), cti.pop_withdrawn
 * (answered elsewhere, not answered, hung up), cti.call_panel (state live / ended /
 * transferred; an ended call opens the wrap-up form), cti.agent_state (my status), cti.progress (how a click-to-dial or an
 * attended transfer goes: the PBX accepts both at once and tells the outcome later).
 * Actions POST to /api/v1/cti/...; every outcome (done, PBX refusal, timeout, link down,
 * each progress step) is written into #cti-message.
 */
(function () {
  "use strict";
  const root = document.getElementById("cti");
  if (!root || !window.Live) return;
  const $ = (id) => document.getElementById(id);
  const words = $("cti-words").dataset;
  // Codes in server events (tier, history kind, outcome, pause reason) in the person's language.
  const codes = JSON.parse($("cti-codes").textContent);
  const code = (value) => (value && Object.prototype.hasOwnProperty.call(codes, value) ? codes[value] : value);
  const pops = new Map(); // linkedid -> element
  const callTickets = new Map(); // linkedid -> {id, tag}: the call's own ticket, once recorded
  const recorded = new Set(); // linkedids the recorder has written (a wrap-up goes on the call's ticket)
  const wrapForm = $("cti-wrap-up");
  let current = null; // {linkedid, pbx}

  function say(text, bad) {
    const box = $("cti-message");
    box.textContent = text || "";
    box.dataset.bad = bad ? "1" : "";
  }

  let progressSeen = 0; // cti.progress frames so far: one may overtake the reply to the request that caused it

  async function act(url, body, done) {
    const before = progressSeen;
    try {
      const result = await Live.post(url, body);
      // the PBX answers in English ("Interface paused successfully"): say it in the person's words,
      // unless the PBX has already told how it went (a later step beats "requested")
      if (progressSeen === before) say(done || words.done, false);
      return result;
    } catch (err) {
      // the server's own messages come translated; the PBX's words are framed in ours
      const id = err.data && err.data.error;
      const key = id && id.startsWith("pbx-") ? id.replace(/-(\w)/g, (_m, c) => c.toUpperCase()) : "";
      say(key && words[key] ? words[key].replace("{detail}", err.message) : err.message, true);
      return null;
    }
  }

  function showState(state, reason) {
    const label = $("cti-state");
    // "unknown" is the phone's state while the PBX link is down ("unknown" alone names an unknown caller)
    const key = state === "unknown" ? "phoneUnknown" : (state || "logged-out").replace(/-(\w)/g, (_m, c) => c.toUpperCase());
    label.dataset.state = state;
    label.textContent = (words[key] || state) + (reason ? " — " + code(reason) : "");
    root.dataset.state = state;
  }

  function text(el, value) { el.textContent = value == null ? "" : String(value); }

  function popElement(data) {
    const pop = data.pop || {};
    const node = $("cti-pop-template").content.firstElementChild.cloneNode(true);
    node.dataset.linkedid = data.linkedid;
    const customer = pop.customer;
    text(node.querySelector(".cti-pop-name"), customer ? customer.name : (pop.caller_name || words.unknown));
    text(node.querySelector(".cti-pop-number"), pop.number_display);
    const tier = node.querySelector(".cti-pop-tier");
    if (customer) { text(tier, code(customer.tier)); tier.classList.add("tier-" + customer.tier); } else { tier.remove(); }
    text(node.querySelector(".cti-pop-meta"), pop.queue ? words.queue + ": " + pop.queue : "");
    const tickets = node.querySelector(".cti-pop-tickets");
    for (const t of pop.open_tickets || []) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = "/tickets/" + t.id;
      text(a, t.tag + " " + t.subject);
      li.appendChild(a);
      tickets.appendChild(li);
    }
    const history = node.querySelector(".cti-pop-history");
    for (const h of pop.history || []) {
      const li = document.createElement("li");
      const kind = code(h.kind);
      const summary = code(h.summary);
      text(li, [h.tag, kind, summary === kind || h.summary === h.kind ? "" : summary].filter(Boolean).join(" · "));
      history.appendChild(li);
    }
    // An unknown caller: a small "new customer" form (name, email) or "link to existing customer"
    // by search (customers.js); either way the number goes on the customer record.
    const forms = node.querySelector(".cti-pop-customer-forms");
    const page = node.querySelector(".cti-open-customer");
    const known = (c) => {
      forms.hidden = true;
      pop.customer = { id: c.id, name: c.name, tier: c.tier, tags: c.tags || [] };
      text(node.querySelector(".cti-pop-name"), c.name || pop.number_display);
      page.href = "/customers/" + c.id;
      page.hidden = false;
    };
    if (customer) { page.href = "/customers/" + customer.id; page.hidden = false; }
    if (!customer && pop.number) {
      forms.hidden = false;
      const make = forms.querySelector(".cti-new-customer");
      make.elements.namedItem("name").value = pop.caller_name || "";
      make.addEventListener("submit", async (event) => {
        event.preventDefault();
        const email = make.elements.namedItem("email").value.trim();
        const made = await act("/api/v1/customers", {
          name: make.elements.namedItem("name").value.trim(), phones: [pop.number], emails: email ? [email] : [],
        }, words.customerCreated);
        if (made && made.customer) known(made.customer);
      });
      if (window.CustomerPicker) {
        window.CustomerPicker.attach(forms.querySelector(".cti-link-customer"), async (c) => {
          const linked = await act("/api/v1/customers/" + c.id + "/contacts", { phone: pop.number }, words.customerLinked);
          if (linked && linked.customer) known(linked.customer);
        });
      }
    }
    const first = (pop.open_tickets || [])[0];
    linkTicket(node, callTickets.get(data.linkedid) || (first ? { id: first.id, tag: first.tag } : null));
    const crm = node.querySelector(".cti-crm");
    if (pop.crm_url) { crm.href = pop.crm_url; crm.hidden = false; }
    return node;
  }

  // The pop (or live panel) links to the call's own ticket as soon as the recorder names it.
  function linkTicket(node, ticket) {
    const open = node.querySelector(".cti-open-ticket");
    if (!open || !ticket || !ticket.id) return;
    open.href = "/tickets/" + ticket.id;
    open.dataset.ticketId = String(ticket.id);
    text(open, ticket.tag ? words.callTicket.replace("{tag}", ticket.tag) : words.openTicket);
    open.hidden = false;
  }

  const recentBox = $("cti-recent-calls");
  let recentTimer = null;
  async function loadRecent() {
    if (!recentBox) return;
    try {
      const response = await fetch("/console/recent-calls", { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!response.ok) return;
      recentBox.innerHTML = await response.text();
      // a call still ringing here is the pop above, not yet a recent call
      for (const li of recentBox.querySelectorAll("[data-linkedid]")) li.hidden = pops.has(li.dataset.linkedid);
    } catch (err) { /* the next recorded call brings it */ }
  }
  function refreshRecent() { clearTimeout(recentTimer); recentTimer = setTimeout(loadRecent, 150); }

  Live.on("cti.call_recorded", (data) => {
    recorded.add(data.linkedid);
    if (recorded.size > 50) recorded.delete(recorded.values().next().value);
    if (wrapForm && wrapForm.dataset.linkedid === data.linkedid) $("cti-wrap-up-save").disabled = false;
    if (data.ticket_id) {
      const ticket = { id: data.ticket_id, tag: data.ticket_tag };
      callTickets.set(data.linkedid, ticket);
      if (callTickets.size > 50) callTickets.delete(callTickets.keys().next().value);
      for (const node of root.querySelectorAll(".cti-pop")) {
        if (node.dataset.linkedid === data.linkedid) linkTicket(node, ticket);
      }
    }
    refreshRecent();
  });

  Live.on("cti.pop", (data) => {
    if (pops.has(data.linkedid)) return;
    const node = popElement(data);
    pops.set(data.linkedid, node);
    $("cti-pops").appendChild(node);
    root.dataset.ringing = "1";
  });

  Live.on("cti.pop_withdrawn", (data) => {
    const node = pops.get(data.linkedid);
    if (node) { node.remove(); pops.delete(data.linkedid); }
    if (!pops.size) delete root.dataset.ringing;
    refreshRecent(); // the pop is gone: the call stays in the recent calls, with what came of it
  });

  Live.on("cti.call_panel", (data) => {
    const panel = $("cti-call");
    const node = pops.get(data.linkedid);
    if (data.state === "live") {
      current = { linkedid: data.linkedid, pbx: data.pbx };
      const who = $("cti-call-who");
      who.replaceChildren();
      const call = data.call || {};
      const pop = node || popElement({ linkedid: data.linkedid, pop: call });
      pop.dataset.linkedid = data.linkedid;
      pops.delete(data.linkedid);
      pop.classList.add("live");
      who.appendChild(pop);
      panel.hidden = false;
      if (!pops.size) delete root.dataset.ringing;
    } else if (current && current.linkedid === data.linkedid) {
      const ended = current;
      const number = $("cti-call-who").querySelector(".cti-pop-number");
      const caller = number ? number.textContent : "";
      current = null;
      panel.hidden = true;
      showTransfer(false);
      $("cti-call-who").replaceChildren();
      say(words.ended + (data.call && data.call.outcome ? " (" + code(data.call.outcome) + ")" : ""), false);
      if (data.state === "ended") openWrapUp(ended.linkedid, caller);
    }
  });

  // The wrap-up form: once a call this agent took has ended, what came of it (saved on the call's
  // ticket, so Save waits until the recorder has written the call).
  async function loadCategories() {
    const select = $("cti-wrap-up-category");
    if (select.dataset.loaded) return;
    try {
      const response = await fetch("/api/v1/complaint-categories", { credentials: "same-origin" });
      if (!response.ok) return;
      for (const c of (await response.json()).categories || []) {
        const option = document.createElement("option");
        option.value = c.key;
        option.textContent = c.name;
        select.appendChild(option);
      }
      select.dataset.loaded = "1";
    } catch (err) { /* the form still records outcome and note */ }
  }
  function openWrapUp(linkedid, number) {
    if (!wrapForm) return;
    wrapForm.reset();
    wrapForm.dataset.linkedid = linkedid;
    text($("cti-wrap-up-who"), number);
    $("cti-wrap-up-save").disabled = !recorded.has(linkedid);
    wrapForm.hidden = false;
    loadCategories();
  }
  if (wrapForm) {
    wrapForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = {
        outcome: $("cti-wrap-up-outcome").value, category: $("cti-wrap-up-category").value,
        product: $("cti-wrap-up-product").value, note: $("cti-wrap-up-note").value,
      };
      const saved = await act("/api/v1/cti/calls/" + encodeURIComponent(wrapForm.dataset.linkedid) + "/wrap-up", body, words.wrapUpSaved);
      if (saved) wrapForm.hidden = true;
    });
    $("cti-wrap-up-skip").addEventListener("click", () => { wrapForm.hidden = true; });
  }

  Live.on("cti.agent_state", (data) => showState(data.state, data.reason));

  // Steps that tell the agent something did not happen; the consultation steps keep "cancel" offered.
  const FAILED = new Set(["transfer-declined", "transfer-failed", "dial-agent-no-answer", "dial-agent-busy",
    "dial-agent-unreachable", "dial-customer-busy", "dial-customer-no-answer", "dial-customer-unreachable"]);
  const CONSULTING = new Set(["consulting", "consult-answered"]);

  function showTransfer(active) { $("cti-atxfer-cancel").hidden = !active; }

  Live.on("cti.progress", (data) => {
    progressSeen += 1;
    const key = ("step-" + data.step).replace(/-(\w)/g, (_m, c) => c.toUpperCase());
    const detail = data.detail || {};
    const template = words[key] || data.step;
    say(template.replace("{target}", detail.target || "").replace("{number}", detail.number || ""), FAILED.has(data.step));
    if (data.step.startsWith("transfer-") || CONSULTING.has(data.step)) showTransfer(CONSULTING.has(data.step));
  });

  async function load() {
    try {
      const response = await fetch("/api/v1/cti/me", { credentials: "same-origin" });
      if (!response.ok) return;
      const me = await response.json();
      const line = (me.lines || [])[0];
      if (!line) { root.hidden = true; return; }
      if (!line.up) { showState("unknown"); $("cti-state").textContent = words.phoneUnknown; return; }
      showState(line.state, line.reason);
      const live = (me.calls || []).find((c) => c.answered_at);
      if (live) {
        current = { linkedid: live.linkedid, pbx: live.pbx };
        $("cti-call-who").textContent = live.number;
        $("cti-call").hidden = false;
        showTransfer(Boolean(live.transfer));
      }
    } catch (err) { /* the live feed will bring the state */ }
  }

  for (const button of root.querySelectorAll("[data-cti-status]")) {
    button.addEventListener("click", () => {
      const state = button.dataset.ctiStatus;
      const reason = state === "paused" ? $("cti-pause-reason").value : "";
      act("/api/v1/cti/status", { state, reason }, words.statusSent);
    });
  }

  $("cti-dial").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const number = $("cti-dial-number").value.trim();
    if (number) act("/api/v1/cti/dial", { number }, words.ringingYourPhone);
  });

  // Click-to-dial from any phone number on the page (customer panels mark them .phone[data-e164],
  // or .phone[data-phone-id] where numbers are masked: the server looks the number up).
  document.addEventListener("click", (ev) => {
    const link = ev.target.closest && ev.target.closest(".phone[data-e164], .phone[data-phone-id]");
    if (!link) return;
    ev.preventDefault();
    const body = link.dataset.e164 ? { number: link.dataset.e164 } : { phone_id: Number(link.dataset.phoneId) };
    act("/api/v1/cti/dial", body, words.ringingYourPhone);
  });

  $("cti-hangup").addEventListener("click", () => {
    if (current) act("/api/v1/cti/calls/" + encodeURIComponent(current.linkedid) + "/hangup", { pbx: current.pbx }, words.hungUp);
  });

  function transfer(attended) {
    const target = $("cti-transfer-target").value.trim();
    if (current && target) {
      act("/api/v1/cti/calls/" + encodeURIComponent(current.linkedid) + "/transfer", { target, attended, pbx: current.pbx },
        attended ? words.transferRequested : words.transferring);
    }
  }
  $("cti-atxfer-cancel").addEventListener("click", () => {
    if (current) act("/api/v1/cti/calls/" + encodeURIComponent(current.linkedid) + "/transfer/cancel", { pbx: current.pbx }, words.cancellingTransfer);
  });
  $("cti-transfer").addEventListener("click", () => transfer(false));
  $("cti-atxfer").addEventListener("click", () => transfer(true));

  Live.on("live.open", load);
  Live.on("live.open", refreshRecent);
  load();
  loadRecent();
})();
