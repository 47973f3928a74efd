/* The reply composer: picking a suggested template renders it for this ticket into the
 * editable subject and body (the agent edits before sending). Sending stays a plain
 * form POST, so the composer works without this script too. */
(function () {
  "use strict";
  const composer = document.getElementById("reply-composer");
  if (!composer) return;
  const form = document.getElementById("reply-form");
  const state = composer.querySelector(".composer-state");
  const csrf = document.querySelector('meta[name="csrf-token"]');
  const ticketId = composer.dataset.ticketId;

  async function pick(templateId) {
    state.textContent = "…";
    const response = await fetch("/api/v1/tickets/" + ticketId + "/reply-preview", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf ? csrf.content : "" },
      body: JSON.stringify({ template_id: Number(templateId) }),
    });
    const data = await response.json();
    if (!response.ok) {
      state.textContent = data.message || composer.dataset.error || "";
      return;
    }
    form.elements.template_id.value = String(data.template_id);
    form.elements.subject.value = data.subject;
    form.elements.body.value = data.body;
    form.elements.body.focus();
    state.textContent = "";
  }

  composer.addEventListener("click", (event) => {
    const button = event.target.closest(".use-template");
    if (button) pick(button.dataset.templateId);
  });
})();
