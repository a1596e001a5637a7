// Set a status (inboxes/status_views.py): quick picks, the Out of office and auto-responder
// sections, schedule times shown in the reader's own time zone.
(() => {
  "use strict";

  const pad = (n) => String(n).padStart(2, "0");
  // A datetime-local value ("2026-11-23T09:00") for a moment, in this browser's time zone.
  function localValue(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return "";
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  function prepare(root) {
    root.querySelectorAll?.("input[type=datetime-local][data-utc]").forEach((input) => {
      if (!input.value) input.value = localValue(input.dataset.utc);
    });
  }
  document.addEventListener("DOMContentLoaded", () => prepare(document));
  document.addEventListener("htmx:load", (event) => prepare(event.detail.elt));

  document.addEventListener("click", (event) => {
    const pick = event.target.closest?.("[data-status-emoji]");
    if (!pick) return;
    const form = pick.closest("form");
    form.querySelector("input[name=emoji]").value = pick.dataset.statusEmoji;
    const message = form.querySelector("input[name=message]");
    message.value = pick.dataset.statusMessage;
    message.focus();
  });

  document.addEventListener("change", (event) => {
    const toggle = event.target.closest?.("[data-status-toggle]");
    if (!toggle) return;
    const panel = toggle.closest("form").querySelector(`[data-status-panel='${toggle.dataset.statusToggle}']`);
    if (panel) panel.hidden = !toggle.checked;
  });

  // A finished request from inside #modal closes it (app.js). The status dialog answered with
  // itself (its errors) must stay open; a saved status reloads the page (HX-Refresh).
  document.addEventListener("htmx:afterRequest", (event) => {
    const target = event.detail && event.detail.target;
    if (target && target.id === "modal" && target.querySelector(".status-modal")) event.stopPropagation();
  }, true);
})();
