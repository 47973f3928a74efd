/* The SLA clock on the ticket page: business time left per target, refreshed live. */
(function () {
  "use strict";
  const box = document.getElementById("sla-clock");
  if (!box) return;
  const ticketId = box.dataset.ticketId;
  const targets = document.getElementById("sla-targets");

  function human(seconds) {
    const s = Math.abs(seconds);
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m";
  }

  function show(clock) {
    const ack = box.querySelector(".sla-ack");
    if (ack) ack.hidden = !clock.can_acknowledge;
    targets.textContent = "";
    for (const t of clock.targets) {
      const span = document.createElement("span");
      span.className = "sla-target " + (t.breached ? "breached" : "running") + (t.acknowledged ? " acknowledged" : "");
      const left = t.business_seconds_left;
      span.textContent = t.label + ": " + (left < 0 ? "overdue " + human(left) : human(left) + " left") +
        (clock.business_time ? " (business time)" : "") + " · level " + t.level + "/" + t.levels +
        (t.acknowledged ? " · acknowledged" : "");
      span.title = t.deadline;
      targets.appendChild(span);
    }
  }

  function refresh() {
    fetch("/api/v1/tickets/" + ticketId + "/sla", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then((clock) => { if (clock) show(clock); })
      .catch(() => {});
  }

  refresh();
  setInterval(refresh, 30000);
  if (window.Live) {
    for (const name of ["sla.alert", "sla.acknowledged", "sla.delivery_failed"]) {
      window.Live.on(name, (data) => { if (String(data.ticket_id) === ticketId) refresh(); });
    }
  }
})();
