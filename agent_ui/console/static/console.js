/* The console's own live behaviour: the queue table and a ticket's timeline refresh
 * themselves when a ticket changes anywhere. Rows are rendered by the server
 * (translated, escaped), so this only swaps fragments. */
(function () {
  "use strict";
  const state = document.getElementById("live-state");
  if (state) {
    Live.on("live.open", () => { state.dataset.state = "open"; });
    Live.on("live.closed", () => { state.dataset.state = "closed"; });
  }

  function debounce(fn, ms) {
    let t = null;
    return () => { clearTimeout(t); t = setTimeout(fn, ms); };
  }

  async function swap(element, url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (response.ok) element.innerHTML = await response.text();
  }

  const table = document.getElementById("queue-table");
  if (table) {
    const refresh = debounce(() => swap(table, "/queue/table?" + table.dataset.query), 150);
    Live.watch({ queue: table.dataset.query });
    ["ticket.created", "ticket.updated", "live.open"].forEach((name) => Live.on(name, refresh));
  }

  const ticket = document.getElementById("ticket");
  const timeline = document.getElementById("timeline");
  if (ticket && timeline) {
    const id = Number(ticket.dataset.ticketId);
    const refresh = debounce(() => swap(timeline, "/tickets/" + id + "/timeline"), 150);
    Live.watch({ ticket: id });
    Live.on("ticket.timeline", (data) => { if (data.ticket_id === id) refresh(); });
  }
})();
