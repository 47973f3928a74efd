/* The top bar's language switcher sends itself when a language is picked (CSP: no inline script). */
(function () {
  "use strict";
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
})();
