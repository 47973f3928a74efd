/* The ops page for templates and articles: forms fill from the page's JSON and save
 * through the REST API (with the page's CSRF token); the server checks roles and input. */
(function () {
  "use strict";
  const root = document.getElementById("knowledge-ops");
  if (!root) return;
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  async function call(method, url, body) {
    const response = await fetch(url, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = response.status === 204 ? {} : await response.json();
    if (!response.ok) {
      const errors = (data.details && data.details.errors) || [];
      throw new Error([data.message || response.statusText, ...errors.map((e) => e.field + ": " + e.message)].join("\n"));
    }
    return data;
  }

  const lines = (text) => text.split("\n").map((l) => l.trim()).filter(Boolean);
  function parseKeywords(text) {
    return lines(text).map((line) => {
      const m = line.match(/^(.*?)[:：]\s*([0-9]+(?:\.[0-9]+)?)$/);
      return m ? { phrase: m[1].trim(), weight: Number(m[2]) } : { phrase: line, weight: 1 };
    });
  }
  const byId = (id) => new Map(JSON.parse(document.getElementById(id).textContent).map((x) => [x.id, x]));

  function editor(formId, dataId, url, editKey, fill, read) {
    const form = document.getElementById(formId);
    const items = byId(dataId);
    const error = form.querySelector('[data-role="error"]');
    const title = form.querySelector('[data-role="title"]');
    function load(item) {
      form.reset();
      form.elements.id.value = item ? item.id : "";
      title.textContent = item ? "#" + item.id : root.dataset.new;
      error.textContent = "";
      if (item) fill(form, item);
      form.scrollIntoView({ behavior: "smooth" });
    }
    root.addEventListener("click", (event) => {
      const id = event.target.dataset[editKey];
      if (id) load(items.get(Number(id)));
    });
    form.querySelector('[data-role="new"]').addEventListener("click", () => load(null));
    form.querySelector('[data-role="delete"]').addEventListener("click", async () => {
      const id = form.elements.id.value;
      if (!id || !confirm(root.dataset.confirmDelete)) return;
      try { await call("DELETE", url + "/" + id); location.reload(); } catch (e) { error.textContent = e.message; }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const id = form.elements.id.value;
      try {
        await call(id ? "PUT" : "POST", id ? url + "/" + id : url, read(form));
        location.reload();
      } catch (e) { error.textContent = e.message; }
    });
  }

  editor("template-form", "templates-data", "/api/v1/templates", "editTemplate", (f, t) => {
    ["name", "language", "category", "subject", "body"].forEach((k) => { f.elements[k].value = t[k]; });
    f.elements.html.checked = t.html;
    f.elements.active.checked = t.active;
    f.elements.keywords.value = t.keywords.map((k) => k.phrase + ": " + k.weight).join("\n");
    f.elements.exclusions.value = t.exclusions.join("\n");
  }, (f) => ({
    name: f.elements.name.value, language: f.elements.language.value, category: f.elements.category.value,
    subject: f.elements.subject.value,
    body: f.elements.body.value, html: f.elements.html.checked, active: f.elements.active.checked,
    keywords: parseKeywords(f.elements.keywords.value), exclusions: lines(f.elements.exclusions.value),
  }));

  editor("article-form", "articles-data", "/api/v1/articles", "editArticle", (f, a) => {
    ["title", "language", "body"].forEach((k) => { f.elements[k].value = a[k]; });
    f.elements.tags.value = a.tags.join(", ");
    f.elements.published.checked = a.published;
  }, (f) => ({
    title: f.elements.title.value, language: f.elements.language.value, body: f.elements.body.value,
    tags: f.elements.tags.value.split(",").map((t) => t.trim()).filter(Boolean),
    published: f.elements.published.checked,
  }));

  const tryForm = document.getElementById("try-form");
  tryForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const list = tryForm.querySelector('[data-role="suggestions"]');
    list.replaceChildren();
    const data = await call("POST", "/api/v1/templates/suggestions", {
      subject: tryForm.elements.subject.value, body: tryForm.elements.body.value,
      language: tryForm.elements.language.value || null,
    });
    for (const s of data.suggestions) {
      const li = document.createElement("li");
      li.textContent = s.name + " (" + s.score + "): " + s.matched.join(", ");
      list.append(li);
    }
    if (!data.suggestions.length) list.append(Object.assign(document.createElement("li"), { textContent: root.dataset.noMatch }));
  });
})();
