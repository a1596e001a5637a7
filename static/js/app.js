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
    if (row) activate(row.querySelector(".row-link"));
  }

  function markSelected(id) {
    // The keyboard cursor follows the selection only when the selection changes: a later
    // settle (a sidebar refresh, say) must not pull back a cursor the user has since moved.
    const previous = document.querySelector("#conversation-list > .row.selected");
    if (previous && previous.dataset.id === id) return;
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

  /* ---- Selection for bulk actions (checkboxes, shift-click, select all) ---- */
  const BULK_LIMIT = 100;
  let anchor = null;
  const checks = () => Array.from(document.querySelectorAll("#conversation-list .row-check"));
  const checked = () => checks().filter((c) => c.checked);

  function refreshSelection() {
    const selected = checked();
    const bar = document.getElementById("bulk-bar");
    const list = document.getElementById("conversation-list");
    if (!bar || !list) return;
    bar.hidden = selected.length === 0;
    list.classList.toggle("selecting", selected.length > 0);
    document.getElementById("bulk-count").textContent = String(selected.length);
    checks().forEach((c) => c.closest(".row").classList.toggle("checked", c.checked));
    const all = document.querySelector(".select-all");
    if (all) all.checked = selected.length > 0 && selected.length === Math.min(checks().length, BULK_LIMIT);
  }

  function setChecked(box, value) {
    if (value && !box.checked && checked().length >= BULK_LIMIT) { showToast(`You can select up to ${BULK_LIMIT} conversations.`); return; }
    box.checked = value;
  }

  function clearSelection() { checks().forEach((c) => { c.checked = false; }); refreshSelection(); }

  // The bulk bar's ×.
  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-action='clear-selection']")) clearSelection();
  });

  document.addEventListener("click", (event) => {
    const box = event.target.closest(".row-check");
    if (box) {
      if (event.shiftKey && anchor) {
        // The browser has already toggled the clicked box; fill in the rows between.
        const wanted = box.checked;
        selectRange(anchor, box);
        box.checked = wanted;
      } else if (box.checked && checked().length > BULK_LIMIT) {
        box.checked = false;
        showToast(`You can select up to ${BULK_LIMIT} conversations.`);
      }
      anchor = box;
      refreshSelection();
      return;
    }
    const link = event.target.closest(".row-link");
    if (link && event.shiftKey) {
      event.preventDefault();
      event.stopPropagation();
      const target = link.closest(".row").querySelector(".row-check");
      if (anchor) selectRange(anchor, target); else setChecked(target, true);
      anchor = target;
      refreshSelection();
    }
  }, true);

  function selectRange(from, to) {
    const all = checks();
    const [a, b] = [all.indexOf(from), all.indexOf(to)].sort((x, y) => x - y);
    all.slice(a, b + 1).forEach((c) => setChecked(c, true));
  }

  document.addEventListener("change", (event) => {
    if (event.target.matches(".select-all")) {
      const on = event.target.checked;
      checks().forEach((c, i) => { c.checked = on && i < BULK_LIMIT; });
      if (on && checks().length > BULK_LIMIT) showToast(`Selected the first ${BULK_LIMIT} conversations.`);
      refreshSelection();
    }
  });

  /* ---- Menus, prompts and toasts ---- */
  function closeMenus(except) {
    document.querySelectorAll("details.dropdown[open], details.user-menu[open]").forEach((d) => { if (d !== except) d.open = false; });
  }
  document.addEventListener("click", (event) => {
    const menu = event.target.closest("details.dropdown, details.user-menu");
    closeMenus(menu);
    if (event.target.closest("[data-dismiss='modal']")) clearModal();
  });
  function openMenu(name) {
    const menu = document.querySelector(`details.dropdown[data-menu='${name}']`);
    if (menu) { closeMenus(menu); menu.open = true; menu.querySelector(".menu-item, button")?.focus(); }
  }
  function clearModal() { const modal = document.getElementById("modal"); if (modal) modal.innerHTML = ""; }
  let toastTimer = null;
  function showToast(text) {
    const toast = document.getElementById("toast");
    if (!toast) return;
    toast.innerHTML = "";
    const el = document.createElement("div");
    el.className = "toast";
    el.textContent = text;
    toast.appendChild(el);
    scheduleToastHide();
  }
  function scheduleToastHide() {
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { const t = document.getElementById("toast"); if (t) t.innerHTML = ""; }, 4000);
  }

  /* ---- Keyboard actions: the same buttons the mouse uses ---- */
  function activate(button) {
    // A key can beat htmx to freshly swapped content: make sure the button is wired first.
    window.htmx.process(button);
    button.click();
  }

  function press(key) {
    if (checked().length) {
      const bulk = document.querySelector(`#bulk-bar [data-bulk-key='${key}']`);
      if (bulk) { activate(bulk); return true; }
    }
    const button = document.querySelector(`.conversation .toolbar [data-key='${key}']`);
    if (button) { activate(button); return true; }
    const row = cursorRow();
    const bulk = document.querySelector(`#bulk-bar [data-bulk-key='${key}']`);
    if (row && bulk) {
      // Nothing open: act on the row under the keyboard cursor as a selection of one.
      setChecked(row.querySelector(".row-check"), true);
      refreshSelection();
      activate(bulk);
      return true;
    }
    return false;
  }

  function actionShortcut(event, mod) {
    const k = event.key.toLowerCase();
    if (event.key === "Backspace" || event.key === "Delete") {
      if (mod) return press("trash");
      if (event.shiftKey) return press("close");
      return press("archive");
    }
    if (!mod) return false;
    if (k === "d" && event.shiftKey) return press("assign-me-add");
    if (k === "d") return press("assign-me-only");
    if (k === "k" && event.shiftKey) { openMenu("assign"); return true; }
    if (k === "j" && event.shiftKey) { openMenu("snooze"); return true; }
    if (k === "j") return press("unsnooze");
    return false;
  }

  // The search box's suggestions: arrows move among them, Enter follows one, Escape closes.
  function suggestionKeys(event) {
    const box = document.getElementById("search-suggestions");
    const items = box ? [...box.querySelectorAll(".suggestion")] : [];
    if (!items.length) return false;
    const input = document.getElementById("search-input");
    const index = items.indexOf(document.activeElement);
    if (event.key === "Escape" && (index >= 0 || document.activeElement === input)) {
      box.innerHTML = "";
      input.focus();
      return true;
    }
    if (event.key === "ArrowDown" && (document.activeElement === input || index >= 0)) {
      items[Math.min(index + 1, items.length - 1)].focus();
      return true;
    }
    if (event.key === "ArrowUp" && index >= 0) {
      (index === 0 ? input : items[index - 1]).focus();
      return true;
    }
    if (event.key === "Enter" && index >= 0) {
      items[index].click();
      return true;
    }
    return false;
  }

  // Leaving the search box (other than for a suggestion) closes the suggestions.
  document.addEventListener("focusout", (event) => {
    if (!event.target.closest || !event.target.closest("form.search")) return;
    setTimeout(() => {
      const box = document.getElementById("search-suggestions");
      if (box && !box.closest("form.search").contains(document.activeElement)) box.innerHTML = "";
    }, 150);
  });
  let submittedSearch = null;
  document.addEventListener("submit", (event) => {
    if (event.target.matches && event.target.matches("form.search")) {
      submittedSearch = document.getElementById("search-input")?.value;
      const box = document.getElementById("search-suggestions");
      if (box) box.innerHTML = "";
    }
  });
  // Suggestions answering a search already submitted would cover its results.
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.target.id === "search-suggestions"
        && document.getElementById("search-input")?.value === submittedSearch) {
      event.detail.shouldSwap = false;
    }
  });

  // @mention suggestions in the chat box: typing @ and letters lists people and teams; arrows
  // move, Return or Tab inserts the handle, Escape closes.
  let mentionTicket = 0;
  function mentionTyped(area) {
    const match = area.value.slice(0, area.selectionStart).match(/(?:^|[^\w@.])@([\w.-]*)$/);
    return match ? match[1] : null;
  }
  function mentionList(area) { return area.form.querySelector(".mention-suggestions"); }
  function closeMentions(area) { const list = mentionList(area); if (list) list.innerHTML = ""; }
  function pickMention(area, option) {
    const typed = mentionTyped(area);
    if (typed === null) return;
    const start = area.selectionStart - typed.length;
    area.setRangeText(`${option.dataset.handle} `, start, area.selectionStart, "end");
    closeMentions(area);
    area.focus();
  }
  document.addEventListener("input", (event) => {
    const area = event.target;
    if (!area.matches || !area.matches("form.comment-box textarea")) return;
    const typed = mentionTyped(area);
    const ticket = ++mentionTicket;
    if (typed === null) { closeMentions(area); return; }
    fetchPartial(`${area.form.dataset.mentionsUrl}?q=${encodeURIComponent(typed)}`)
      .catch(() => "")
      .then((html) => { if (ticket === mentionTicket) mentionList(area).innerHTML = html; });
  });
  document.addEventListener("mousedown", (event) => {
    const option = event.target.closest && event.target.closest(".mention-option");
    if (!option) return;
    event.preventDefault();
    pickMention(option.closest("form").querySelector("textarea"), option);
  });
  function mentionKeys(event) {
    const area = event.target;
    const list = area.matches && area.matches("form.comment-box textarea") ? mentionList(area) : null;
    const options = list ? [...list.querySelectorAll(".mention-option")] : [];
    if (!options.length) return false;
    const current = Math.max(0, options.findIndex((o) => o.classList.contains("active")));
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const next = (current + (event.key === "ArrowDown" ? 1 : options.length - 1)) % options.length;
      options.forEach((o, i) => o.classList.toggle("active", i === next));
    } else if (event.key === "Enter" || event.key === "Tab") {
      pickMention(area, options[current]);
    } else if (event.key === "Escape") {
      closeMentions(area);
    } else {
      return false;
    }
    event.preventDefault();
    event.stopImmediatePropagation();  // the page's own keys (Escape leaves the box) wait
    return true;
  }

  // The internal chat: Return posts, Shift+Return and Alt+Return start a new line.
  document.addEventListener("keydown", (event) => {
    if (mentionKeys(event)) return;
    const form = event.target.closest && event.target.closest("form.comment-box, form.comment-edit");
    if (!form || event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    const area = event.target;
    if (event.altKey) {
      area.setRangeText("\n", area.selectionStart, area.selectionEnd, "end");
    } else if (area.value.trim()) {
      form.requestSubmit();
    }
  });
  document.addEventListener("click", (event) => {
    const edit = event.target.closest && event.target.closest("[data-edit-comment]");
    const cancel = event.target.closest && event.target.closest("[data-cancel-edit]");
    const section = (edit || cancel)?.closest(".comment");
    if (!section) return;
    closeMenus(null);
    section.querySelector(".comment-body").hidden = Boolean(edit);
    const form = section.querySelector("form.comment-edit");
    form.hidden = !edit;
    if (edit) form.querySelector("textarea").focus();
  });
  // After posting, editing or deleting a comment, the chat box is ready for the next one.
  document.addEventListener("htmx:afterSettle", (event) => {
    const from = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!from || !from.closest || !from.closest("form.comment-box, form.comment-edit, .comment-menu")) return;
    const comments = document.querySelectorAll("#timeline .comment");
    if (comments.length) comments[comments.length - 1].scrollIntoView({ block: "nearest" });
    document.querySelector("#comment-box textarea")?.focus();
  });

  let pendingG = false;
  document.addEventListener("keydown", (event) => {
    if (suggestionKeys(event)) { event.preventDefault(); return; }
    const mod = event.metaKey || event.ctrlKey;
    if (mod && event.key === ",") { event.preventDefault(); window.location.href = "/settings/"; return; }
    if (event.key === "Escape" && document.querySelector("#modal .modal")) { clearModal(); return; }
    if (event.key === "Escape" && document.querySelector("details.dropdown[open]")) { closeMenus(null); return; }
    if (event.key === "Escape" && isTyping(event)) { event.target.blur(); return; }
    if (isTyping(event) || event.altKey) return;
    if (actionShortcut(event, mod)) { event.preventDefault(); return; }
    if (mod) return;
    if (event.key === "Escape" && checked().length) { clearSelection(); return; }
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
        if (close && !(dialog && dialog.open)) { event.preventDefault(); activate(close); }
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

  // A search counts as "recent" when it is submitted (Enter), not while it is being typed; a
  // conversation opened from search results carries the search, to outline what matched.
  // A search still being typed (its request waits for a pause) when the Filters menu is applied
  // is dropped: the filters' request carried the typed words, and the late one would undo it.
  // One already sent is aborted by the filters' (both forms sync on #conversation-list: replace).
  let filtersAppliedAt = -1;
  document.addEventListener("htmx:configRequest", (event) => {
    const elt = event.detail.elt;
    if (!elt.matches) return;
    const trigger = event.detail.triggeringEvent;
    if (elt.matches("form.filters-form")) filtersAppliedAt = performance.now();
    if (elt.matches("form.search") && trigger?.type === "input" && trigger.timeStamp < filtersAppliedAt) {
      event.preventDefault();
      return;
    }
    if (elt.matches("form.search") && trigger?.type === "submit") {
      event.detail.parameters.record = "1";
    }
    const query = document.getElementById("search-input")?.value.trim();
    if (elt.matches(".row-link") && query && document.getElementById("search-bar")) {
      event.detail.parameters.q = query;
    }
  });

  document.addEventListener("htmx:load", (event) => {
    localizeTimes(event.detail.elt);
    event.detail.elt.querySelectorAll?.(".tz-field").forEach((f) => { f.value = timeZone; });
  });

  document.addEventListener("htmx:afterRequest", (event) => {
    const elt = event.detail.elt;
    if (elt.closest && elt.closest("#modal") && event.detail.successful) clearModal();
    if (elt.closest && elt.closest("#bulk-bar") && event.detail.successful) clearSelection();
    // Only a menu's own request closes it: background refreshes must not shut a menu the user opened.
    // (Not the request of its summary, which only loads the menu's content.)
    if (elt.closest && elt.closest("details.dropdown") && !elt.matches("summary")) closeMenus(null);
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target.id === "toast") scheduleToastHide();
    if (event.detail.target.id === "workspace") { anchor = null; refreshSelection(); }
    if (event.detail.target.id === "sidebar" || event.detail.target.id === "workspace") showBadge();
  });

  document.addEventListener("htmx:oobAfterSwap", () => refreshSelection());

  /* ---- After an action: the sidebar counts and the next conversation come in their own requests ---- */
  // `source` is the element the request comes from (live.js's background refreshes use their own).
  function refreshSidebar(source) {
    if (!document.getElementById("sidebar")) return null;
    return window.htmx.ajax("GET", `/sidebar/?path=${encodeURIComponent(window.location.pathname)}`, {
      source, target: "#sidebar", swap: "outerHTML",
    });
  }

  // One of our partials, for markup that goes where an htmx swap cannot put it.
  function fetchPartial(url, headers) {
    return fetch(url, { headers: { "HX-Request": "true", ...headers } })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)));
  }

  function openConversation(url) {
    window.htmx.ajax("GET", url, { target: "#conversation-pane" }).then(() => history.pushState({}, "", url));
  }

  function showBadge() {
    const badge = Number(document.getElementById("sidebar")?.dataset.badge || 0);
    document.title = (badge ? `(${badge}) ` : "") + document.title.replace(/^\(\d+\+?\) /, "");
  }

  // Rows an action took out of this list. A live refresh of the list may already have removed
  // them, so an absent row is fine (an out-of-band delete would report an error).
  function removeRows(ids) {
    ids.forEach((id) => document.getElementById(`row-${id}`)?.remove());
    refreshSelection();
  }

  document.body.addEventListener("missive", (event) => {
    const detail = event.detail || {};
    if (detail["rows-removed"]) removeRows(detail["rows-removed"]);
    if (detail["counts-changed"]) refreshSidebar();
    if (detail["open-conversation"]) openConversation(detail["open-conversation"].url);
  });
  document.body.addEventListener("counts-changed", () => refreshSidebar());
  document.body.addEventListener("sidebar-changed", () => refreshSidebar());

  const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  document.cookie = `tz=${timeZone}; path=/; SameSite=Lax`;

  document.addEventListener("htmx:afterSettle", (event) => {
    // After history navigation or a pane swap, keep the open conversation highlighted.
    if (event.detail.target.id === "sidebar") return;
    const match = window.location.pathname.match(/\/([0-9a-f-]{36})\/$/);
    if (match) markSelected(match[1]);
    else rows().forEach((r) => r.classList.remove("selected"));
    if (event.detail.target.id === "conversation-pane") showLatestMatch();
  });

  // Opened from a search: start at the most recent matching message or comment; the
  // navigator steps through the matches ("2 of 5").
  function showMatch(position) {
    const matches = [...document.querySelectorAll("#timeline .match")];
    if (!matches.length) return;
    const index = Math.max(0, Math.min(position, matches.length - 1));
    matches.forEach((m, i) => m.classList.toggle("current", i === index));
    matches[index].scrollIntoView({ block: "center" });
    const label = document.getElementById("match-index");
    if (label) label.textContent = String(index + 1);
  }
  function showLatestMatch() { showMatch(Infinity); }

  document.addEventListener("click", (event) => {
    const step = event.target.closest && event.target.closest("[data-match-step]");
    if (!step) return;
    const matches = [...document.querySelectorAll("#timeline .match")];
    const current = matches.findIndex((m) => m.classList.contains("current"));
    const value = step.dataset.matchStep;
    showMatch(value === "last" ? Infinity : current + Number(value));
  });

  document.addEventListener("DOMContentLoaded", () => {
    showLatestMatch();
    localizeTimes(document);
    document.querySelectorAll(".tz-field").forEach((f) => { f.value = timeZone; });
  });

  // The CSRF token HTMX sends (from <body hx-headers>), for the scripts' own fetch() calls.
  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; } catch (e) { return ""; }
  }

  // For the page's other scripts (loaded after this one): the same menus, toasts and requests.
  window.missive = { activate, closeMenus, csrfToken, fetchPartial, refreshSidebar, showToast };
})();
