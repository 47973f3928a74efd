/* The reply composer. The page hands it its words (data- attributes); the server decides
 * everything: which templates match and which are suggested, how a template renders, what an
 * article's public link is, whether addresses and files are acceptable, how the formatting
 * becomes HTML. This script only moves text between the page and those endpoints:
 *   - the template picker: search, "suggest again", pick → the rendered template fills the form;
 *   - knowledge articles: search, insert the text or the public link at the cursor;
 *   - the toolbar (and Ctrl+B, Ctrl+I): puts the simple markup (**bold**, *italic*, - list,
 *     1. list, > quote, [text](url)) around the selection; Ctrl+Enter sends;
 *   - the draft: saved a moment after each change, restored on load, gone once sent;
 *   - sending: the form with its files as multipart; a refusal is shown at the field it names.
 * Without this script the form still posts (and redirects back to the ticket). */
(function () {
  "use strict";
  const composer = document.getElementById("reply-composer");
  if (!composer) return;
  const form = document.getElementById("reply-form");
  const state = composer.querySelector(".composer-state");
  const words = composer.dataset;
  const csrf = document.querySelector('meta[name="csrf-token"]');
  const token = csrf ? csrf.content : (form.elements.csrf_token ? form.elements.csrf_token.value : "");
  const ticketId = composer.dataset.ticketId;
  const base = "/api/v1/tickets/" + ticketId;
  const body = form.elements.body;
  const DRAFT_FIELDS = ["to", "cc", "bcc", "subject", "body", "template_id"];

  async function call(method, url, payload) {
    const options = { method, credentials: "same-origin", headers: { "X-CSRF-Token": token } };
    if (payload instanceof FormData) options.body = payload;
    else if (payload !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(payload);
    }
    const response = await fetch(url, options);
    const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
    return { ok: response.ok, status: response.status, data };
  }

  function say(text) { state.textContent = text || ""; }

  // -- field errors ----------------------------------------------------------------------
  function clearErrors() {
    composer.querySelectorAll(".field-error").forEach((el) => { el.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  }

  function showError(data) {
    const details = data.details || {};
    const problems = details.errors && details.errors.length ? details.errors : [{ field: details.field, message: "" }];
    let shown = false;
    problems.forEach((problem) => {
      const slot = problem.field && composer.querySelector('.field-error[data-field="' + problem.field + '"]');
      if (!slot) return;
      let value = problem.value ? " (" + problem.value + ")" : "";
      if (problem.field === "attachments" && details.max_bytes) value = " (≤ " + (details.max_bytes / 1e6).toFixed(1) + " MB)";
      slot.textContent = (slot.textContent ? slot.textContent + "; " : "") + (data.message || words.error) + value;
      const input = form.elements[problem.field];
      if (input && input.setAttribute) input.setAttribute("aria-invalid", "true");
      shown = true;
    });
    say(shown ? "" : data.message || words.error);
  }

  // -- templates -------------------------------------------------------------------------
  const templateList = document.getElementById("template-results");
  const templateQuery = document.getElementById("template-q");

  async function pick(templateId) {
    say("…");
    const result = await call("POST", base + "/reply-preview", { template_id: Number(templateId) });
    if (!result.ok) { say(result.data.message || words.error); return; }
    form.elements.template_id.value = String(result.data.template_id);
    form.elements.subject.value = result.data.subject;
    body.value = result.data.body;
    body.focus();
    say("");
    saveSoon();
  }

  function templateItem(choice) {
    const item = document.createElement("li");
    item.className = "suggestion";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "use-template";
    button.dataset.templateId = String(choice.template_id);
    button.textContent = choice.name;
    item.append(button);
    if (choice.category) {
      const category = document.createElement("span");
      category.className = "badge";
      category.textContent = choice.category;
      item.append(" ", category);
    }
    if (choice.suggested) {
      const badge = document.createElement("span");
      badge.className = "badge suggested";
      badge.textContent = words.suggested;
      item.append(" ", badge);
      if (choice.matched.length) {
        const matched = document.createElement("span");
        matched.className = "matched";
        matched.append(words.matched + ": ");
        choice.matched.forEach((word, n) => {
          const mark = document.createElement("mark");
          mark.textContent = word;
          matched.append(...(n ? [", ", mark] : [mark]));
        });
        item.append(" ", matched);
      }
    }
    return item;
  }

  async function searchTemplates(fresh) {
    const url = base + "/templates?q=" + encodeURIComponent(templateQuery.value.trim()) + (fresh ? "&fresh=1" : "");
    const result = await call("GET", url);
    if (!result.ok) { say(result.data.message || words.error); return; }
    const items = result.data.templates.map(templateItem);
    if (!items.length) {
      const none = document.createElement("li");
      none.className = "muted";
      none.textContent = words.noTemplates;
      items.push(none);
    }
    templateList.replaceChildren(...items);
  }

  // -- knowledge articles ----------------------------------------------------------------
  const articleList = document.getElementById("article-results");
  const articleQuery = document.getElementById("article-q");

  function insertAtCursor(text) {
    const start = body.selectionStart ?? body.value.length;
    const end = body.selectionEnd ?? start;
    const before = body.value.slice(0, start);
    const gap = before && !before.endsWith("\n") && text.includes("\n") ? "\n\n" : before && !/\s$/.test(before) ? " " : "";
    body.setRangeText(gap + text, start, end, "end");
    body.focus();
    saveSoon();
  }

  function articleItem(article) {
    const item = document.createElement("li");
    const title = document.createElement("span");
    title.className = "article-title";
    title.textContent = article.title;
    const asText = document.createElement("button");
    asText.type = "button";
    asText.className = "insert-article-text";
    asText.textContent = words.insertText;
    asText.addEventListener("click", () => insertAtCursor(article.body));
    const asLink = document.createElement("button");
    asLink.type = "button";
    asLink.className = "insert-article-link";
    asLink.textContent = words.insertLink;
    if (article.link) asLink.addEventListener("click", () => insertAtCursor("[" + article.title + "](" + article.link + ")"));
    else { asLink.disabled = true; asLink.title = words.notPublished; }
    item.append(title, " ", asText, " ", asLink);
    return item;
  }

  async function searchArticles() {
    const q = articleQuery.value.trim();
    if (!q) { articleList.replaceChildren(); return; }
    const result = await call("GET", base + "/articles?q=" + encodeURIComponent(q));
    if (!result.ok) { say(result.data.message || words.error); return; }
    const items = result.data.articles.map(articleItem);
    if (!items.length) {
      const none = document.createElement("li");
      none.className = "muted";
      none.textContent = words.noArticles;
      items.push(none);
    }
    articleList.replaceChildren(...items);
  }

  // -- formatting toolbar ----------------------------------------------------------------
  function wrap(marker, sample) {
    const start = body.selectionStart, end = body.selectionEnd;
    const chosen = body.value.slice(start, end) || sample;
    body.setRangeText(marker + chosen + marker, start, end, "select");
    body.setSelectionRange(start + marker.length, start + marker.length + chosen.length);
  }

  function prefixLines(prefix) {
    const value = body.value;
    const start = value.lastIndexOf("\n", body.selectionStart - 1) + 1;
    let end = value.indexOf("\n", body.selectionEnd);
    if (end < 0) end = value.length;
    const lines = value.slice(start, end).split("\n").map((line, n) => (typeof prefix === "function" ? prefix(n) : prefix) + line);
    body.setRangeText(lines.join("\n"), start, end, "select");
  }

  function format(kind) {
    if (kind === "bold") wrap("**", words.boldSample);
    else if (kind === "italic") wrap("*", words.italicSample);
    else if (kind === "bullets") prefixLines("- ");
    else if (kind === "numbers") prefixLines((n) => (n + 1) + ". ");
    else if (kind === "quote") prefixLines("> ");
    else if (kind === "link") {
      const url = window.prompt(words.linkPrompt, "https://");
      if (!url || !/^(https?:\/\/|mailto:)\S+$/.test(url)) return;
      const start = body.selectionStart, end = body.selectionEnd;
      const text = body.value.slice(start, end) || words.linkSample;
      body.setRangeText("[" + text + "](" + url + ")", start, end, "end");
    }
    body.focus();
    saveSoon();
  }

  // -- the draft -------------------------------------------------------------------------
  let saveTimer = null;
  let sending = false;

  function draftNow() {
    const draft = {};
    DRAFT_FIELDS.forEach((name) => { draft[name] = form.elements[name].value; });
    draft.template_id = draft.template_id ? Number(draft.template_id) : null;
    return draft;
  }

  async function saveDraft() {
    saveTimer = null;
    if (sending) return;
    const result = await call("PUT", base + "/reply-draft", draftNow());
    if (result.ok) say(words.draftSaved);
  }

  function saveSoon() {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(saveDraft, 800);
  }

  // Leaving the page (a reload, another ticket) within the debounce still keeps the last words.
  function saveOnLeave() {
    if (saveTimer === null || sending) return;
    clearTimeout(saveTimer);
    saveTimer = null;
    fetch(base + "/reply-draft", {
      method: "PUT", credentials: "same-origin", keepalive: true,
      headers: { "X-CSRF-Token": token, "Content-Type": "application/json" }, body: JSON.stringify(draftNow()),
    });
  }

  async function restoreDraft() {
    const result = await call("GET", base + "/reply-draft");
    const draft = result.ok && result.data.draft;
    if (!draft) return;
    DRAFT_FIELDS.forEach((name) => {
      if (draft[name] !== null && draft[name] !== undefined && (draft[name] !== "" || name === "cc" || name === "bcc" || name === "body")) {
        form.elements[name].value = String(draft[name]);
      }
    });
    say(words.draftRestored);
  }

  async function discardDraft() {
    clearTimeout(saveTimer);
    saveTimer = null;
    await call("DELETE", base + "/reply-draft");
    window.location.reload();
  }

  // -- sending ---------------------------------------------------------------------------
  async function send(event) {
    event.preventDefault();
    clearErrors();
    clearTimeout(saveTimer);
    saveTimer = null;
    sending = true;
    say(words.sending);
    const data = new FormData(form);
    data.delete("csrf_token");
    const result = await call("POST", base + "/replies", data);
    sending = false;
    if (!result.ok) { showError(result.data); return; }
    window.location.reload();
  }

  composer.addEventListener("click", (event) => {
    const button = event.target.closest(".use-template");
    if (button) { pick(button.dataset.templateId); return; }
    const tool = event.target.closest("[data-format]");
    if (tool) format(tool.dataset.format);
  });
  let templateTimer = null;
  templateQuery.addEventListener("input", () => { clearTimeout(templateTimer); templateTimer = setTimeout(() => searchTemplates(false), 250); });
  templateQuery.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); searchTemplates(false); } });
  document.getElementById("recompute-suggestions").addEventListener("click", () => searchTemplates(true));
  // The whole set on first use of the search box (the page shows only what was suggested).
  templateQuery.addEventListener("focus", () => searchTemplates(false), { once: true });
  body.addEventListener("keydown", (e) => {
    if (!(e.ctrlKey || e.metaKey) || e.altKey) return;
    const key = e.key.toLowerCase();
    if (key === "b" || key === "i") { e.preventDefault(); format(key === "b" ? "bold" : "italic"); }
    else if (key === "enter") { e.preventDefault(); form.requestSubmit(); }
  });
  let articleTimer = null;
  articleQuery.addEventListener("input", () => { clearTimeout(articleTimer); articleTimer = setTimeout(searchArticles, 250); });
  articleQuery.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); searchArticles(); } });
  form.addEventListener("input", (event) => { if (event.target.type !== "file") saveSoon(); });
  form.addEventListener("submit", send);
  document.getElementById("discard-draft").addEventListener("click", discardDraft);
  window.addEventListener("pagehide", saveOnLeave);
  restoreDraft();
  // A ticket with no suggestions stored (a call or web ticket) gets them from its thread now.
  if (!templateList.querySelector(".use-template")) searchTemplates(false);
})();
