/* Picking a customer by search, wherever a form needs one (new ticket, merge, link a ticket,
 * the unknown caller's pop): type a name, email or phone, choose from the list.
 *
 * Markup (customers/_picker.html): [data-customer-picker] holding a hidden [data-customer-id],
 * an input.customer-picker-q, a .customer-picker-chosen and a ul.customer-picker-results; the
 * words come from the page (data-none). CustomerPicker.attach(root, onChoose) serves scripts
 * that build their own (cti.js's pop). The search is the REST /api/v1/customers?q=.
 */
(function () {
  "use strict";

  async function search(text) {
    const response = await fetch("/api/v1/customers?q=" + encodeURIComponent(text), { credentials: "same-origin" });
    if (!response.ok) return [];
    const data = await response.json().catch(() => ({}));
    return data.customers || [];
  }

  function label(customer) {
    return [customer.name, (customer.emails || [])[0], (customer.phones || [])[0]].filter(Boolean).join(" · ");
  }

  function attach(root, onChoose) {
    const input = root.querySelector(".customer-picker-q");
    const results = root.querySelector(".customer-picker-results");
    const none = root.dataset.none || "";
    let timer = null;
    let asked = 0;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const text = input.value.trim();
        const mine = ++asked;
        if (text.length < 2) { results.replaceChildren(); return; }
        const exclude = root.dataset.exclude || ""; // the merge picker leaves out the page's own customer
        const found = (await search(text)).filter((c) => String(c.id) !== exclude);
        if (mine !== asked) return; // a later keystroke's answer wins
        results.replaceChildren();
        for (const customer of found.slice(0, 10)) {
          const li = document.createElement("li");
          const button = document.createElement("button");
          button.type = "button";
          button.className = "customer-picker-choice";
          button.dataset.customerId = customer.id;
          button.textContent = label(customer);
          button.addEventListener("click", () => { results.replaceChildren(); onChoose(customer); });
          li.appendChild(button);
          results.appendChild(li);
        }
        if (!found.length) {
          const li = document.createElement("li");
          li.className = "muted";
          li.textContent = none;
          results.appendChild(li);
        }
      }, 200);
    });
  }

  function attachForm(root) {
    const hidden = root.querySelector("[data-customer-id]");
    const chosen = root.querySelector(".customer-picker-chosen");
    const input = root.querySelector(".customer-picker-q");
    attach(root, (customer) => {
      hidden.value = customer.id;
      chosen.textContent = label(customer);
      input.value = "";
      input.setCustomValidity("");
    });
    const form = root.closest("form");
    if (form && input.hasAttribute("data-required")) {
      form.addEventListener("submit", (event) => {
        if (!hidden.value) { event.preventDefault(); input.focus(); }
      });
    }
  }

  window.CustomerPicker = { attach, label };
  document.querySelectorAll("[data-customer-picker]").forEach(attachForm);
})();
