/* How long the agent has been in their phone state (the wrap-up timer above all): a clock
 * next to the CTI panel's state, restarted whenever the PBX-confirmed state changes. */
(function () {
  "use strict";
  const state = document.getElementById("cti-state");
  if (!state) return;
  const clock = document.createElement("span");
  clock.id = "cti-clock";
  clock.className = "cti-clock";
  state.after(clock);
  let since = Date.now();
  let shown = state.dataset.state;

  function tick() {
    const seconds = Math.max(0, Math.round((Date.now() - since) / 1000));
    const m = Math.floor(seconds / 60), s = seconds % 60;
    clock.textContent = m + ":" + String(s).padStart(2, "0");
    clock.dataset.state = state.dataset.state || "";
  }
  new MutationObserver(() => {
    if (state.dataset.state !== shown) {
      shown = state.dataset.state;
      since = Date.now();
      tick();
    }
  }).observe(state, { attributes: true, attributeFilter: ["data-state"] });
  tick();
  setInterval(tick, 1000);
})();
