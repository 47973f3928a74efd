/* Work pushed to this agent: an offer appears (with the pop's tone) and is accepted or declined
 * through the REST API before its time runs out; the server decides who gets what. */
(function () {
  "use strict";
  const root = document.getElementById("offers");
  if (!root || !window.Live) return;
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const list = root.querySelector('[data-role="offers"]');
  const state = root.querySelector('[data-role="presence-state"]');

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, Accept: "application/json" },
      body: JSON.stringify(body || {}),
    });
    const data = await response.json();
    if (!response.ok) throw new Error(data.message || response.statusText);
    return data;
  }

  function remove(offerId) {
    const item = list.querySelector('[data-offer="' + offerId + '"]');
    if (item) item.remove();
  }

  function show(offer) {
    if (list.querySelector('[data-offer="' + offer.offer_id + '"]')) return;
    const item = document.createElement("li");
    item.dataset.offer = offer.offer_id;
    const link = document.createElement("a");
    link.href = "/tickets/" + offer.ticket_id;
    link.textContent = "#" + (offer.ticket_id + 1000) + " " + offer.subject + " · " + offer.queue;
    const left = document.createElement("span");
    left.className = "offer-left";
    const accept = document.createElement("button");
    accept.type = "button"; accept.dataset.role = "accept"; accept.textContent = root.dataset.accept;
    const decline = document.createElement("button");
    decline.type = "button"; decline.dataset.role = "decline"; decline.textContent = root.dataset.decline;
    accept.addEventListener("click", async () => {
      try { await post("/api/v1/offers/" + offer.offer_id + "/accept"); window.location.href = link.href; }
      catch (err) { left.textContent = err.message; }
    });
    decline.addEventListener("click", async () => {
      try { await post("/api/v1/offers/" + offer.offer_id + "/decline"); remove(offer.offer_id); }
      catch (err) { left.textContent = err.message; }
    });
    item.append(link, " ", left, " ", accept, " ", decline);
    list.append(item);
    const until = Date.parse(offer.expires_at);
    const timer = setInterval(() => {
      const seconds = Math.max(0, Math.round((until - Date.now()) / 1000));
      left.textContent = seconds + " " + root.dataset.expires;
      if (!item.isConnected || seconds === 0) clearInterval(timer);
    }, 500);
  }

  window.Live.on("routing.offer", (data) => {
    show(data);
    if (window.Ringer) window.Ringer.tone();
  });
  window.Live.on("routing.offer_ended", (data) => remove(data.offer_id));
  root.querySelectorAll("[data-presence]").forEach((button) => button.addEventListener("click", async () => {
    try {
      const answer = await post("/api/v1/me/presence", { state: button.dataset.presence });
      const ready = answer.state === "ready";
      state.textContent = ready ? root.dataset.readyState : root.dataset.pausedState;
      root.dataset.presence = answer.state;
    } catch (err) { state.textContent = err.message; }
  }));
  fetch("/api/v1/offers", { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : { offers: [] })).then((data) => data.offers.forEach(show));
})();
