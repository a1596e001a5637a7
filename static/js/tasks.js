/* Tasks: Mod+T opens the New task form anywhere, Shift-click on a status checkbox picks a
   status instead of moving it on, and Copy link on a task (Alt for a missive:// link). */
(function () {
  "use strict";

  document.addEventListener("keydown", (event) => {
    const mod = event.metaKey || event.ctrlKey;
    if (!mod || event.shiftKey || event.altKey || event.key.toLowerCase() !== "t") return;
    if (!document.getElementById("modal") || !window.htmx) return;
    event.preventDefault();
    window.htmx.ajax("GET", "/tasks/new/", { target: "#modal", swap: "innerHTML" });
  });

  // Capture phase: the plain click would otherwise reach htmx and cycle the status.
  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest(".task-check-button");
    if (!button || !event.shiftKey) return;
    event.preventDefault();
    event.stopPropagation();
    const menu = button.parentElement.querySelector(".task-status-menu");
    if (!menu) return;
    window.missive.closeMenus(menu);
    menu.open = true;
    menu.querySelector(".menu-item.checked, .menu-item")?.focus();
  }, true);

  document.addEventListener("click", (event) => {
    const item = event.target.closest && event.target.closest("[data-copy-link]");
    if (!item) return;
    let link = item.dataset.copyLink;
    if (event.altKey) link = link.replace(/^https?:\/\/[^/]+\//, "missive://");
    const done = () => window.missive.showToast(event.altKey ? "Desktop link copied." : "Link copied.");
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(link).then(done, () => window.prompt("Copy this link:", link));
    } else {
      window.prompt("Copy this link:", link);
    }
    item.closest("details")?.removeAttribute("open");
  });
})();
