/* Keyboard shortcuts for the agent's frequent actions. Any button or field can take part
 * with data-shortcut="<key>" (a feature's own buttons: ready, pause, answer, hang up);
 * these defaults cover the console's own pages. Keys are ignored while typing, except Esc.
 *   g q  queue          g m  my tickets       t  take the ticket     r  reply    n  note
 *   y  ready   p  pause   w  wrap-up   h  hang up   d  dial          /  knowledge search
 *   ?  this list           Esc  leave a field */
(function () {
  "use strict";
  const defaults = {
    y: '[data-cti-status="ready"]',
    p: '[data-cti-status="paused"]',
    w: '[data-cti-status="wrap-up"]',
    h: "#cti-hangup",
    d: "#cti-dial-number",
    t: "#take",
    r: "#reply-body, form.reply textarea, .composer textarea",
    n: ".note-form textarea",
    "/": "#kb-search-q",
  };
  const jumps = { q: "/queue", m: "/queue?mine=1", w: "/wallboard", p: "/reports" };
  let pendingG = false;

  // The labels come from the page, in the person's language (base.html's #page-words).
  function pageWords() {
    const block = document.getElementById("page-words");
    try { return block ? JSON.parse(block.textContent) : {}; } catch (err) { return {}; }
  }

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function act(element) {
    if (!element) return false;
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(element.tagName)) element.focus();
    else element.click();
    return true;
  }

  function help() {
    let box = document.getElementById("shortcut-help");
    if (box) { box.hidden = !box.hidden; return; }
    box = document.createElement("div");
    box.id = "shortcut-help";
    box.className = "shortcut-help";
    const words = pageWords();
    const title = document.createElement("strong");
    title.textContent = words.shortcuts || "";
    box.append(title);
    const rows = [["g q", words.goQueue], ["g m", words.goMine], ["y", words.ready], ["p", words.pause],
      ["w", words.wrapUp], ["h", words.hangUp], ["d", words.dial], ["t", words.take], ["r", words.reply],
      ["n", words.note], ["/", words.search], ["?", words.help], ["Esc", words.leaveField]];
    document.querySelectorAll("[data-shortcut]").forEach((el) => {
      rows.push([el.dataset.shortcut, (el.getAttribute("aria-label") || el.textContent || "").trim()]);
    });
    for (const [key, what] of rows) {
      const line = document.createElement("div");
      const kbd = document.createElement("kbd");
      kbd.textContent = key;
      line.append(kbd, " " + what);
      box.append(line);
    }
    document.body.append(box);
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && typing(ev.target)) { ev.target.blur(); return; }
    if (typing(ev.target) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (pendingG) {
      pendingG = false;
      if (jumps[ev.key]) { ev.preventDefault(); location.href = jumps[ev.key]; }
      return;
    }
    if (ev.key === "g") { pendingG = true; setTimeout(() => { pendingG = false; }, 1500); return; }
    if (ev.key === "?") { ev.preventDefault(); help(); return; }
    const own = document.querySelector('[data-shortcut="' + CSS.escape(ev.key) + '"]');
    if (own && act(own)) { ev.preventDefault(); return; }
    if (defaults[ev.key] && act(document.querySelector(defaults[ev.key]))) ev.preventDefault();
  });
})();
