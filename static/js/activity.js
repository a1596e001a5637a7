/* The Activity feed: the bell opens a panel over the list. Opening reads everything (the server
   marks it and the sidebar refreshes, clearing the dot); the panel keeps the unread styling it
   was opened with until it closes. Esc closes it, ⌘/Ctrl+K while it is open shows its settings.
   New activity since the last look can also show as a desktop notification, if allowed. */
(function () {
  "use strict";

  const PANEL_ID = "activity-panel";
  const FILTER_KEY = "activity-filter";

  function panel() {
    let el = document.getElementById(PANEL_ID);
    if (!el) {
      el = document.createElement("section");
      el.id = PANEL_ID;
      el.className = "activity-panel";
      el.hidden = true;
      el.setAttribute("role", "dialog");
      el.setAttribute("aria-labelledby", "activity-title");
      document.body.appendChild(el);
    }
    return el;
  }

  const isOpen = () => { const el = document.getElementById(PANEL_ID); return Boolean(el && !el.hidden); };
  const bell = () => document.getElementById("activity-bell");

  function savedFilter() {
    try { return localStorage.getItem(FILTER_KEY) || "all"; } catch (e) { return "all"; }
  }
  function saveFilter(value) {
    try { localStorage.setItem(FILTER_KEY, value); } catch (e) { /* private mode: not remembered */ }
  }

  // Opens on the filter last used, or on the one asked for (as the command bar's entries do).
  function open(filter) {
    if (filter) saveFilter(filter);
    const el = panel();
    el.hidden = false;
    el.innerHTML = '<p class="activity-loading">Loading…</p>';
    bell()?.setAttribute("aria-expanded", "true");
    window.htmx.ajax("POST", "/activity/open/", { target: el, swap: "innerHTML", values: { filter: savedFilter() } });
  }

  function close() {
    const el = document.getElementById(PANEL_ID);
    if (!el || el.hidden) return;
    el.hidden = true;
    el.innerHTML = "";
    bell()?.setAttribute("aria-expanded", "false");
    bell()?.focus();
  }

  function showSettings() {
    document.querySelector(`#${PANEL_ID} [data-activity-settings]`)?.click();
  }

  document.addEventListener("click", (event) => {
    const target = event.target;
    if (!target.closest) return;
    if (target.closest("[data-activity-bell]")) {
      event.preventDefault();
      if (isOpen()) close(); else open();
      return;
    }
    if (target.closest("[data-activity-close]")) { close(); return; }
    // A click elsewhere on the page closes the panel, as a menu would.
    if (isOpen() && !target.closest(`#${PANEL_ID}`) && document.body.contains(target)) close();
  });

  // The sidebar is redrawn after each change (the bell with it): keep the bell's state.
  document.addEventListener("htmx:afterSwap", () => {
    if (isOpen()) bell()?.setAttribute("aria-expanded", "true");
  });

  document.addEventListener("change", (event) => {
    if (event.target.matches && event.target.matches(".activity-filter")) saveFilter(event.target.value);
  });

  // Capturing, before the page's own keys: Esc must close the panel, not the conversation.
  window.addEventListener("keydown", (event) => {
    if (!isOpen()) return;
    const mod = event.metaKey || event.ctrlKey;
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopImmediatePropagation();
      close();
    } else if (mod && !event.shiftKey && event.key.toLowerCase() === "k") {
      event.preventDefault();
      event.stopImmediatePropagation();
      showSettings();
    }
  }, true);

  // Following an item: the conversation is open in the workspace; show its comment.
  document.addEventListener("activity-followed", (event) => {
    close();
    const id = event.detail && event.detail.comment;
    const comment = id && document.getElementById(id);
    if (!comment) return;
    comment.scrollIntoView({ block: "center" });
    comment.classList.add("activity-target");
    setTimeout(() => comment.classList.remove("activity-target"), 2400);
  });

  /* ---- Desktop notifications: the polled bell counts up, and the person allowed them ---- */
  let lastCount = null;
  function bellCount() {
    const dot = bell()?.querySelector(".activity-dot");
    return dot ? parseInt(dot.textContent, 10) || 0 : 0;
  }
  document.addEventListener("htmx:afterSettle", () => {
    if (!bell()) return;
    const count = bellCount();
    if (lastCount !== null && count > lastCount && !isOpen() && document.hidden
        && "Notification" in window && Notification.permission === "granted") {
      const note = new Notification("Missive", { body: "New activity in your feed", tag: "missive-activity" });
      note.onclick = () => { window.focus(); open(); note.close(); };
    }
    lastCount = count;
  });
  document.addEventListener("DOMContentLoaded", () => { lastCount = bell() ? bellCount() : null; });
  // Asked once, from a click on the bell (browsers only allow the prompt after a gesture).
  document.addEventListener("click", (event) => {
    if (!event.target.closest || !event.target.closest("[data-activity-bell]")) return;
    if ("Notification" in window && Notification.permission === "default") Notification.requestPermission();
  });

  window.missiveActivity = { open, close, isOpen };
})();
