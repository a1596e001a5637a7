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
  // A refused save re-renders the editor with its messages on top: bring them into view.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target.id !== "rule-editor") return;
    var errors = document.getElementById("rule-errors");
    if (errors) errors.scrollIntoView({ block: "start" });
  });
})();
