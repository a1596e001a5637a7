// Settings › Rules: one ••• menu open at a time, closed by a click elsewhere or Escape. The editor
// itself is server-rendered (HTMX); only a refused save's messages are scrolled into view.
(function () {
  "use strict";
  function closeMenus(except) {
    document.querySelectorAll("details.rule-menu[open], details.rule-import[open]").forEach(function (menu) {
      if (menu !== except && !menu.contains(except)) menu.removeAttribute("open");
    });
  }
  document.addEventListener("click", function (event) {
    closeMenus(event.target.closest("details.rule-menu, details.rule-import"));
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closeMenus(null);
  });
  // "is before / is after": shown and typed in this device's time zone, posted as a UTC instant.
  function pad(n) { return String(n).padStart(2, "0"); }
  function localInputs(root) {
    root.querySelectorAll("input[data-utc-target]").forEach(function (input) {
      var hidden = document.getElementById(input.dataset.utcTarget);
      if (!hidden || input.dataset.bound) return;
      input.dataset.bound = "1";
      if (hidden.value) {
        var d = new Date(hidden.value);
        if (!isNaN(d)) {
          input.value = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
        }
      }
      var note = input.parentElement.querySelector("[data-utc-note]");
      if (note) note.textContent = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
      input.addEventListener("change", function () {
        var d = new Date(input.value);
        hidden.value = isNaN(d) ? "" : d.toISOString();
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localInputs(document); });
  document.addEventListener("htmx:load", function (event) { localInputs(event.detail.elt); });

  // A refused save re-renders the editor with its messages on top: bring them into view.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target.id !== "rule-editor") return;
    var errors = document.getElementById("rule-errors");
    if (errors) errors.scrollIntoView({ block: "start" });
  });
})();
