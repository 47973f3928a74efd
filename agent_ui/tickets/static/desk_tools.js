/* The desk's tools on the queue and ticket pages: ticking rows for a bulk edit (kept across
 * the table's live refreshes), the custom field filter, a macro's preview shown in place, and
 * a macro's reply template put into the composer. The server renders every word shown; this
 * only moves fragments and values. */
(function () {
  "use strict";
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // -- queue: select rows for the bulk form -------------------------------------------------
  const table = document.getElementById("queue-table");
  const bulk = document.getElementById("bulk-form");
  if (table && bulk) {
    const chosen = new Set();
    const count = bulk.querySelector(".bulk-count");
    const boxes = () => Array.from(table.querySelectorAll('input[name="ticket_ids"]'));
    const show = () => {
      boxes().forEach((box) => { box.checked = chosen.has(box.value); });
      const all = document.getElementById("select-page");
      if (all) all.checked = boxes().length > 0 && boxes().every((box) => box.checked);
      if (count) count.textContent = chosen.size ? count.dataset.template.replace("%(n)s", String(chosen.size)) : "";
    };
    table.addEventListener("change", (ev) => {
      const box = ev.target;
      if (box.id === "select-page") {
        boxes().forEach((b) => { if (box.checked) chosen.add(b.value); else chosen.delete(b.value); });
      } else if (box.name === "ticket_ids") {
        if (box.checked) chosen.add(box.value); else chosen.delete(box.value);
      }
      show();
    });
    // The live refresh replaces the rows: tick again what was ticked.
    new MutationObserver(show).observe(table, { childList: true });
    bulk.addEventListener("submit", () => {
      // Ticked rows that scrolled out of the refreshed list still go with the form.
      const present = new Set(boxes().map((b) => b.value));
      chosen.forEach((id) => {
        if (present.has(id)) return;
        const hidden = document.createElement("input");
        hidden.type = "hidden"; hidden.name = "ticket_ids"; hidden.value = id;
        bulk.append(hidden);
      });
    });
  }

  // -- queue: the custom field filter names its value after the chosen field -----------------
  const fieldKey = document.getElementById("field-filter-key");
  const fieldValue = document.getElementById("field-filter-value");
  if (fieldKey && fieldValue) {
    const name = () => { fieldValue.name = fieldKey.value ? "cf_" + fieldKey.value : ""; };
    fieldKey.addEventListener("change", name);
    name();
  }

  // -- ticket: a macro's preview in place ---------------------------------------------------
  const pick = document.getElementById("macro-pick");
  const preview = document.getElementById("macro-preview");
  if (pick && preview) {
    pick.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const query = new URLSearchParams(new FormData(pick));
      query.set("fragment", "1");
      const response = await fetch(pick.action + "?" + query, { credentials: "same-origin", headers: { Accept: "text/html" } });
      preview.innerHTML = await response.text();
    });
  }

  // -- ticket: after a macro with a template, its text goes into the composer (not sent) ------
  const ticket = document.getElementById("ticket");
  const wanted = new URLSearchParams(window.location.search).get("reply_template");
  const composer = document.getElementById("reply-form");
  if (ticket && wanted && composer) {
    (async () => {
      const response = await fetch("/api/v1/tickets/" + ticket.dataset.ticketId + "/reply-preview", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, Accept: "application/json" },
        body: JSON.stringify({ template_id: Number(wanted) }),
      });
      if (!response.ok) return;
      const data = await response.json();
      const body = composer.querySelector('textarea[name="body"]');
      const template = composer.querySelector('input[name="template_id"]');
      if (body) { body.value = data.body; body.dispatchEvent(new Event("input", { bubbles: true })); body.focus(); }
      if (template) template.value = String(data.template_id);
      composer.dataset.filledBy = "macro";
    })();
  }
})();
