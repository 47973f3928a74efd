/* The SLA clock on the ticket page: business time left per target, refreshed live. */
(function () {
  "use strict";
  const box = document.getElementById("sla-clock");
  if (!box) return;
  const ticketId = box.dataset.ticketId;
  const targets = document.getElementById("sla-targets");

  // Words in the person's language, from the page (see ticket_sla.html).
  const words = document.getElementById("sla-words").dataset;
  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_m, key) => String(values[key]));

  function human(seconds) {
    const s = Math.abs(seconds);
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    const parts = [];
    if (d) parts.push(fill(words.days, { n: d }));
    if (d || h) parts.push(fill(words.hours, { n: h }));
    parts.push(fill(words.minutes, { n: m }));
    return parts.join(" ");
  }

  function show(clock) {
    const ack = box.querySelector(".sla-ack");
    if (ack) ack.hidden = !clock.can_acknowledge;
    targets.textContent = "";
    for (const t of clock.targets) {
      const span = document.createElement("span");
      span.className = "sla-target " + (t.breached ? "breached" : "running") + (t.acknowledged ? " acknowledged" : "");
      const left = t.business_seconds_left;
      const key = t.target.replace(/_(\w)/g, (_m, c) => c.toUpperCase());
      const parts = [
        (words[key] || t.label) + ": " + fill(left < 0 ? words.overdue : words.left, { time: human(left) }) +
          (clock.business_time ? " " + words.businessTime : ""),
        fill(words.level, { level: t.level, levels: t.levels }),
      ];
      if (t.acknowledged) parts.push(words.acknowledged);
      span.textContent = parts.join(" · ");
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
