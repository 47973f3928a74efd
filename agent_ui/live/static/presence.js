/* Who else is on this ticket: "Bob is viewing", "Bob is replying".
 *
 * The server knows who has the ticket open (the page's Live.watch) and sends the list as
 * ticket.presence whenever it changes; this page says when its person types in a text box
 * of the ticket (the reply composer, a note) and when they stopped (a few seconds idle), once
 * each way: no message per keystroke. Lines come from #ticket-presence's data-* (translated).
 */
(function () {
  "use strict";
  const box = document.getElementById("ticket-presence");
  const ticket = document.getElementById("ticket");
  if (!box || !ticket || !window.Live) return;
  const id = Number(ticket.dataset.ticketId);
  const me = Number(box.dataset.me);
  const IDLE_MS = 5000;
  let replying = false;
  let idle = null;

  function show(people) {
    const others = people.filter((p) => p.user_id !== me);
    box.replaceChildren();
    for (const p of others) {
      const line = document.createElement("span");
      line.className = "presence-person presence-" + p.state;
      line.dataset.userId = String(p.user_id);
      const template = p.state === "replying" ? box.dataset.replying : box.dataset.viewing;
      line.textContent = template.replace("{name}", p.name);
      box.appendChild(line);
    }
    box.hidden = others.length === 0;
  }

  function say(state) {
    replying = state === "replying";
    Live.send({ presence: state });
  }

  ticket.addEventListener("input", (ev) => {
    const field = ev.target;
    if (!field || !(field.matches("textarea") || field.isContentEditable)) return;
    if (!replying) say("replying");
    clearTimeout(idle);
    idle = setTimeout(() => say("viewing"), IDLE_MS);
  });
  // a reply sent (or the page left) ends typing at once
  ticket.addEventListener("submit", () => { if (replying) { clearTimeout(idle); say("viewing"); } });

  Live.on("ticket.presence", (data) => { if (data.ticket_id === id) show(data.people || []); });
  Live.on("live.closed", () => show([]));
  Live.on("live.open", () => { replying = false; });
})();
