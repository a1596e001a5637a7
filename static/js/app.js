/* Keyboard navigation, local times and list selection for the inbox screen. No framework:
   HTMX does the requests; this file only adds what HTML attributes cannot express. */
(function () {
  "use strict";

  const timeFormats = {
    short: (d) => {
      const now = new Date();
      if (d.toDateString() === now.toDateString()) {
        return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      }
      const sameYear = d.getFullYear() === now.getFullYear();
      return d.toLocaleDateString([], sameYear ? { month: "short", day: "numeric" } : { year: "numeric", month: "short", day: "numeric" });
    },
    long: (d) => d.toLocaleString([], { weekday: "short", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }),
  };

  function localizeTimes(root) {
    root.querySelectorAll("time[datetime]").forEach((el) => {
      const d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d)) el.textContent = (timeFormats[el.dataset.style] || timeFormats.short)(d);
    });
  }

  const rows = () => Array.from(document.querySelectorAll("#conversation-list > .row"));
  const cursorRow = () => document.querySelector("#conversation-list > .row.cursor") || document.querySelector("#conversation-list > .row.selected");

  function moveCursor(step) {
    const all = rows();
    if (!all.length) return;
    const current = cursorRow();
    let index = current ? all.indexOf(current) + step : 0;
    index = Math.max(0, Math.min(all.length - 1, index));
    all.forEach((r) => r.classList.remove("cursor"));
    all[index].classList.add("cursor");
    all[index].scrollIntoView({ block: "nearest" });
  }

  function openCursor() {
    const row = cursorRow();
    if (row) row.querySelector(".row-link").click();
  }

  function markSelected(id) {
    rows().forEach((r) => {
      const match = r.dataset.id === id;
      r.classList.toggle("selected", match);
      if (match) { r.classList.remove("unread"); r.classList.add("cursor"); } else { r.classList.remove("cursor"); }
    });
  }

  function isTyping(event) {
    const el = event.target;
    return el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName);
  }

  function go(url) {
    window.htmx.ajax("GET", url, { target: "#workspace" }).then(() => history.pushState({}, "", url));
  }

  let pendingG = false;
  document.addEventListener("keydown", (event) => {
    const mod = event.metaKey || event.ctrlKey;
    if (mod && event.key === ",") { event.preventDefault(); window.location.href = "/settings/"; return; }
    if (event.key === "Escape" && isTyping(event)) { event.target.blur(); return; }
    if (isTyping(event) || mod || event.altKey) return;
    const dialog = document.getElementById("shortcuts");
    if (pendingG) {
      pendingG = false;
      const target = { i: "/m/inbox/", a: "/m/all/" }[event.key];
      if (target) { event.preventDefault(); go(target); }
      return;
    }
    switch (event.key) {
      case "j": case "ArrowDown": event.preventDefault(); moveCursor(1); break;
      case "k": case "ArrowUp": event.preventDefault(); moveCursor(-1); break;
      case "Enter": if (cursorRow()) { event.preventDefault(); openCursor(); } break;
      case "Escape": {
        const close = document.getElementById("close-conversation");
        if (close && !(dialog && dialog.open)) { event.preventDefault(); close.click(); }
        break;
      }
      case "/": event.preventDefault(); document.getElementById("search-input")?.focus(); break;
      case "?": event.preventDefault(); dialog?.showModal(); break;
      case "g": pendingG = true; setTimeout(() => { pendingG = false; }, 1200); break;
    }
  });

  document.addEventListener("click", (event) => {
    const trigger = event.target.closest("[data-action='shortcuts']");
    if (trigger) document.getElementById("shortcuts")?.showModal();
  });

  document.addEventListener("htmx:beforeRequest", (event) => {
    const row = event.detail.elt.closest && event.detail.elt.closest(".row");
    if (row) markSelected(row.dataset.id);
  });

  document.addEventListener("htmx:load", (event) => localizeTimes(event.detail.elt));

  document.addEventListener("htmx:afterSettle", () => {
    // After history navigation or a pane swap, keep the open conversation highlighted.
    const match = window.location.pathname.match(/\/([0-9a-f-]{36})\/$/);
    if (match) markSelected(match[1]);
    else rows().forEach((r) => r.classList.remove("selected"));
  });

  document.addEventListener("DOMContentLoaded", () => localizeTimes(document));
})();
