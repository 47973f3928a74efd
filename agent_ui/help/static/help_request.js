// The request form suggests help articles from what the customer types; "this solved my
// question" on one counts a deflection and sends nothing. Words come from the form's data-.
(function () {
  "use strict";
  const form = document.querySelector("form.request-form");
  if (!form) return;
  const box = form.querySelector(".suggested-articles");
  const subject = form.querySelector("[name=subject]");
  const message = form.querySelector("[name=message]");
  const lang = form.dataset.lang;
  let timer = null;
  let asked = "";

  function show(articles) {
    box.replaceChildren();
    if (!articles.length) { box.hidden = true; return; }
    const heading = document.createElement("h2");
    heading.textContent = form.dataset.heading;
    const list = document.createElement("ul");
    for (const article of articles.slice(0, 3)) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = "/help/" + article.id + (lang ? "?lang=" + encodeURIComponent(lang) : "");
      link.target = "_blank";
      link.textContent = article.title;
      const solved = document.createElement("button");
      solved.type = "button";
      solved.className = "solved";
      solved.textContent = form.dataset.solved;
      solved.addEventListener("click", async () => {
        const token = document.querySelector("meta[name=csrf-token]");
        const response = await fetch("/help/" + article.id + "/solved", {
          method: "POST", credentials: "same-origin", headers: token ? {"X-CSRF-Token": token.content} : {}});
        if (response.ok) {
          const thanks = document.createElement("p");
          thanks.className = "deflected";
          thanks.setAttribute("role", "status");
          thanks.textContent = form.dataset.thanks;
          box.replaceChildren(thanks);
        }
      });
      item.append(link, " ", solved);
      list.append(item);
    }
    box.append(heading, list);
    box.hidden = false;
  }

  async function suggest() {
    const query = (subject.value + " " + message.value).trim().slice(0, 200);
    if (query === asked || query.length < 2) return;
    asked = query;
    const params = new URLSearchParams({q: query});
    if (lang) params.set("lang", lang);
    const response = await fetch(form.dataset.suggestUrl + "?" + params);
    if (response.ok && asked === query) show((await response.json()).articles);
  }

  for (const field of [subject, message]) {
    field.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(suggest, 400); });
  }
})();
