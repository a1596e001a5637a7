/* Live updates on the inbox screen: one server-sent-events stream per tab
   (conversations/live_views.py). A notice only names what changed; this re-fetches those parts
   with the same HTMX partials the page uses (the list's rows, the sidebar, the open
   conversation's header and timeline), keeping the selection, the scroll position and anything
   being typed. It also sends the open conversation's presence heartbeats and typing pings, and
   shows the other viewers and "… is typing". */
(function () {
  "use strict";

  const meta = document.querySelector("meta[name='live-stream']");
  if (!meta || !window.EventSource || !document.getElementById("app")) return;

  const DEBOUNCE_MS = 150;
  const HEARTBEAT_MS = 15000;
  const TYPING_PING_MS = 3000;
  const TYPING_SHOWN_MS = 6000;

  // This tab's id, sent with every HTMX request and echoed in the notices its changes cause.
  // (Not crypto.randomUUID: it exists only on HTTPS pages and localhost.)
  const TAB = Math.random().toString(36).slice(2) + Date.now().toString(36);
  document.addEventListener("htmx:configRequest", (event) => { event.detail.headers["X-Live-Tab"] = TAB; });

  const csrfToken = () => window.missive.csrfToken();
  // The open conversation, from the page (an address can end with a label's or a team's id).
  const openId = () => document.querySelector("article.conversation[data-conversation-id]")?.dataset.conversationId || null;

  function get(url, target) {
    return window.missive.fetchPartial(url, { "HX-Target": target, "HX-Current-URL": window.location.href }).catch(() => null);
  }
  function post(path, body, keepalive) {
    return fetch(path, {
      method: "POST",
      body: new URLSearchParams(body || {}),
      headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" },
      keepalive: Boolean(keepalive),
    });
  }
  function fragment(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    return template.content;
  }
  // New markup gets its HTMX attributes wired and its times localised (app.js listens to htmx:load).
  function settle(elt) {
    window.htmx.process(elt);
    elt.dispatchEvent(new CustomEvent("htmx:load", { bubbles: true, detail: { elt } }));
  }

  /* ---- Notices, gathered for a moment so that a burst costs one refresh ---- */
  let pending = {};
  let timer = null;
  let running = false;

  function schedule(work) {
    Object.assign(pending, work);
    clearTimeout(timer);
    timer = setTimeout(flush, DEBOUNCE_MS);
  }

  async function flush() {
    if (running) { timer = setTimeout(flush, DEBOUNCE_MS); return; }
    const work = pending;
    pending = {};
    running = true;
    try {
      if (work.pane) await refreshPane();
      if (work.list) await refreshList();
      if (work.counts) await window.missive.refreshSidebar(quiet);
    } catch (error) {
      // A failed refresh is retried by the next notice; the page stays usable.
    } finally {
      running = false;
    }
  }

  function onNotice(notice) {
    const open = openId();
    if (notice.kind === "presence") {
      presenceChanges += 1;
      if (notice.conversation === open) heartbeat();
      return;
    }
    if (notice.kind === "typing") {
      if (notice.conversation === open) showTyping(notice.user, notice.name);
      return;
    }
    const ids = notice.conversations;  // null: too many to list
    // A change this tab made was re-rendered by its own request: re-fetching the conversation
    // again would only race with what the user does next (a menu opened, a form submitted).
    const mine = notice.origin === TAB;
    const concernsOpen = Boolean(open) && !mine && (notice.kind === "resync" || ids === null || (ids || []).includes(open));
    schedule({ list: true, counts: true, pane: concernsOpen || pending.pane });
  }

  /* ---- The sidebar's counts (and the badge in the title, which app.js redoes after the swap) ---- */
  // Background requests come from an element of their own: from the body (htmx's default) they
  // would pulse the list's loading dot, and from the sidebar they would inherit its hx-push-url.
  const quiet = document.createElement("div");
  quiet.id = "live-source";
  quiet.hidden = true;
  quiet.setAttribute("hx-push-url", "false");
  document.body.appendChild(quiet);

  /* ---- The list: fresh first page merged into the rows on screen ---- */
  async function refreshList() {
    const pane = document.querySelector(".list-pane[data-mailbox-url]");
    const list = document.getElementById("conversation-list");
    if (!pane || !list) return;
    const html = await get(pane.dataset.mailboxUrl + window.location.search, "conversation-list");
    if (html === null || !document.body.contains(list)) return;
    mergeRows(list, fragment(html));
  }

  function mergeRows(list, fresh) {
    const anchor = firstVisibleRow(list);
    const anchorOffset = anchor ? anchor.getBoundingClientRect().top : 0;
    const old = new Map([...list.querySelectorAll(":scope > li.row")].map((row) => [row.dataset.id, row]));
    const freshRows = [...fresh.children].filter((el) => el.matches("li.row"));
    const freshIds = new Set(freshRows.map((row) => row.dataset.id));
    // Rows of further pages the user scrolled to stay below the fresh first page.
    const oldRows = [...old.values()];
    const lastShared = oldRows.map((row) => freshIds.has(row.dataset.id)).lastIndexOf(true);
    const tail = lastShared >= 0 && [...fresh.children].some((el) => el.matches(".list-more"))
      ? oldRows.slice(lastShared + 1).filter((row) => !freshIds.has(row.dataset.id))
      : [];
    const open = openId();
    for (const row of freshRows) {
      const before = old.get(row.dataset.id);
      const check = row.querySelector(".row-check");
      if (before) {
        ["cursor", "checked"].forEach((name) => row.classList.toggle(name, before.classList.contains(name)));
        if (check) check.checked = before.querySelector(".row-check")?.checked || false;
      }
      if (row.dataset.id === open) { row.classList.add("selected"); row.classList.remove("unread"); }
    }
    const keepMore = tail.length ? list.querySelector(":scope > .list-more") : null;
    list.replaceChildren(fresh);
    tail.forEach((row) => list.appendChild(row));
    if (keepMore) {
      list.querySelector(":scope > .list-more")?.remove();
      list.appendChild(keepMore);
    }
    settle(list);
    const again = anchor && list.querySelector(`:scope > li.row[data-id='${anchor.dataset.id}']`);
    if (again && list.scrollTop > 0) list.scrollTop += again.getBoundingClientRect().top - anchorOffset;
    // app.js recounts the bulk selection after out-of-band swaps: a selected row may have gone.
    document.dispatchEvent(new CustomEvent("htmx:oobAfterSwap"));
  }

  function firstVisibleRow(list) {
    const top = list.getBoundingClientRect().top;
    return [...list.querySelectorAll(":scope > li.row")].find((row) => row.getBoundingClientRect().bottom > top) || null;
  }

  /* ---- The open conversation: header, timeline and details, never the comment box ---- */
  function busyInPane() {
    // Replacing these would close a menu the user opened or drop a comment being edited.
    return document.querySelector("#conv-header details[open], #timeline details[open], #timeline form.comment-edit:not([hidden])");
  }

  // A draft open on this page stays as it is (its editor, what is typed, the caret): it moves into
  // the fresh markup in place of its card there. A draft gone from the fresh markup (sent or
  // discarded meanwhile) goes with the old timeline.
  function keepOpenComposers(fresh) {
    document.querySelectorAll("#timeline form.composer[id]").forEach((composer) => {
      const counterpart = fresh.getElementById(composer.id);
      if (counterpart) counterpart.replaceWith(composer);
    });
  }

  async function refreshPane() {
    const id = openId();
    if (!id || !document.getElementById("timeline")) return;
    if (busyInPane()) { setTimeout(() => schedule({ pane: true }), 1500); return; }
    const changesBefore = presenceChanges;
    const html = await get(window.location.pathname + window.location.search, "conversation-pane");
    if (html === null || openId() !== id || busyInPane()) return;
    const fresh = fragment(html);
    const focused = document.activeElement;
    keepOpenComposers(fresh);
    const timeline = document.getElementById("timeline");
    const atBottom = timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 40;
    const scrollTop = timeline.scrollTop;
    for (const selector of ["#conv-header", "#timeline", ".conversation-pane aside.details"]) {
      const current = document.querySelector(selector);
      const replacement = fresh.querySelector(selector.replace(".conversation-pane ", ""));
      if (current && replacement) { current.replaceWith(replacement); settle(replacement); }
    }
    // A composer moved into the fresh timeline lost the focus on the way: give it back.
    if (focused && focused !== document.activeElement && document.body.contains(focused)) focused.focus({ preventScroll: true });
    const updated = document.getElementById("timeline");
    updated.scrollTop = atBottom ? updated.scrollHeight : scrollTop;
    // A comment that arrived ends its author's "typing"; anyone still typing pings again soon.
    clearTyping();
    // The header came with the viewers of when it was rendered: newer ones are asked for again.
    if (presenceChanges !== changesBefore) heartbeat();
  }

  /* ---- Presence: heartbeats while a conversation is open ---- */
  let viewing = null;
  let presenceChanges = 0;

  function heartbeat() {
    const id = openId();
    if (viewing && viewing !== id) post(`/c/${viewing}/presence/`, { leave: "1" });
    viewing = id;
    if (!id) return;
    post(`/c/${id}/presence/`)
      .then((response) => (response.ok ? response.text() : null))
      .then((html) => {
        const current = document.getElementById("live-viewers");
        if (html === null || !current || openId() !== id || current.dataset.conversation !== id) return;
        const replacement = fragment(html).firstElementChild;
        if (replacement) current.replaceWith(replacement);
      })
      .catch(() => {});
  }

  setInterval(heartbeat, HEARTBEAT_MS);
  // Opening or closing a conversation changes the address (htmx pushes it after settling).
  function followAddress() {
    if (openId() !== viewing) { heartbeat(); clearTyping(); }
  }
  ["htmx:pushedIntoHistory", "htmx:replacedInHistory", "htmx:afterSettle"].forEach((name) => {
    document.addEventListener(name, () => setTimeout(followAddress, 0));
  });
  window.addEventListener("popstate", () => setTimeout(followAddress, 0));
  window.addEventListener("pagehide", () => { if (viewing) post(`/c/${viewing}/presence/`, { leave: "1" }, true); viewing = null; });

  /* ---- Typing: pinged while typing in the chat box, shown for the other viewers ---- */
  let lastPing = 0;
  document.addEventListener("input", (event) => {
    if (!event.target.matches || !event.target.matches("#comment-box textarea")) return;
    const id = openId();
    if (!id || !event.target.value.trim() || Date.now() - lastPing < TYPING_PING_MS) return;
    lastPing = Date.now();
    post(`/c/${id}/typing/`).catch(() => {});
  });
  // Once a comment is sent, the next keystroke pings at once. (Before the request: its answer
  // replaces the form, and events of a detached form reach no listener.)
  document.addEventListener("htmx:beforeRequest", (event) => {
    if (event.detail.elt && event.detail.elt.id === "comment-box") lastPing = 0;
  });

  const typists = new Map();  // user id -> {name, until}

  function showTyping(userId, name) {
    typists.set(userId, { name, until: Date.now() + TYPING_SHOWN_MS });
    renderTyping();
    setTimeout(renderTyping, TYPING_SHOWN_MS + 50);
  }
  function clearTyping() { typists.clear(); renderTyping(); }

  function renderTyping() {
    const now = Date.now();
    for (const [id, typist] of typists) if (typist.until <= now) typists.delete(id);
    const box = document.getElementById("typing-indicator");
    if (!box) return;
    const names = [...typists.values()].map((t) => t.name);
    box.hidden = names.length === 0;
    const text = names.length === 1 ? `${names[0]} is typing…`
      : names.length === 2 ? `${names[0]} and ${names[1]} are typing…`
      : `${names.length} people are typing…`;
    box.querySelector(".typing-text").textContent = names.length ? text : "";
  }

  /* ---- The stream ---- */
  const source = new EventSource(meta.content);
  source.addEventListener("message", (event) => {
    let notice;
    try { notice = JSON.parse(event.data); } catch (error) { return; }
    onNotice(notice);
  });
  // Tests and the status line read this: "open" once the stream is connected.
  source.addEventListener("open", () => { document.documentElement.dataset.live = "open"; });
  source.addEventListener("error", () => { document.documentElement.dataset.live = "reconnecting"; });

  heartbeat();
})();
