/* Knowledge search beside the ticket: published articles matching what the agent types. */
(function () {
  "use strict";
  const form = document.getElementById("kb-search");
  if (!form) return;
  const input = document.getElementById("kb-search-q");
  const list = document.getElementById("kb-results");
  let timer = null;

  async function search() {
    const q = input.value.trim();
    if (!q) { list.replaceChildren(); return; }
    const response = await fetch("/api/v1/articles?q=" + encodeURIComponent(q), { credentials: "same-origin" });
    if (!response.ok) return;
    const data = await response.json();
    list.replaceChildren(...data.articles.slice(0, 8).map((article) => {
      const item = document.createElement("li");
      const details = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = article.title;
      const body = document.createElement("div");
      body.className = "kb-body";
      body.textContent = article.body;
      details.append(summary, body);
      item.append(details);
      return item;
    }));
    if (!data.articles.length) {
      const none = document.createElement("li");
      none.className = "muted";
      none.textContent = form.dataset.none;
      list.append(none);
    }
  }
  form.addEventListener("submit", (ev) => { ev.preventDefault(); search(); });
  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(search, 250); });
})();
