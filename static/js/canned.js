/* Canned responses: the responses panel (Mod+Shift+O, or the composer toolbar's button), the `#`
   suggestions in a draft's body, the response editor (rich text and the {{ }} variable builder),
   and inserting a response into a draft.

   Inserting asks the server to render the response for the draft; the HTML goes to the body
   editor through window.missive.editor.insertHTML(draftId, html) when there is one, and is
   announced otherwise as a `responses:insert` event on document with {draftId, html, subject,
   to, cc, bcc, attachments}. */
(function () {
  "use strict";

  const PANEL_URL = "/responses/panel/";
  const SUGGEST_URL = "/responses/suggest/";
  const isMod = (event) => event.metaKey || event.ctrlKey;
  const panel = () => document.querySelector("[data-responses-panel]");
  const csrfToken = () => window.missive.csrfToken();
  const toast = (text) => window.missive && window.missive.showToast ? window.missive.showToast(text) : null;

  /* ---- Which draft: the composer holding the focus, else the page's only one ---- */
  function draftIdFrom(element) {
    const composer = element && element.closest && element.closest(".composer");
    const holder = composer && (composer.matches("[data-draft-id]") ? composer : composer.querySelector("[data-draft-id]"));
    if (holder) return holder.dataset.draftId;
    const tools = document.querySelectorAll(".composer-tools[data-draft-id]");
    return tools.length ? tools[tools.length - 1].dataset.draftId : "";
  }

  /* ---- The panel ---- */
  let returnFocus = null;
  let pending = null;  // {responseId} to select and insert once the panel has loaded

  function container() {
    let box = document.getElementById("responses-panel");
    if (!box) {
      box = document.createElement("div");
      box.id = "responses-panel";
      document.body.appendChild(box);
    }
    return box;
  }

  function open(draftId, options) {
    options = options || {};
    returnFocus = document.activeElement;
    pending = options.responseId ? { responseId: options.responseId } : null;
    const params = new URLSearchParams();
    if (draftId) params.set("draft", draftId);
    if (options.query) params.set("q", options.query);
    return window.htmx.ajax("GET", `${PANEL_URL}?${params}`, { target: container(), swap: "innerHTML" });
  }

  function close() {
    const box = document.getElementById("responses-panel");
    if (box) box.innerHTML = "";
    if (returnFocus && returnFocus.isConnected) returnFocus.focus();
    returnFocus = null;
  }

  const results = () => Array.from(document.querySelectorAll("#responses-results .rp-result"));
  const activeResult = () => document.querySelector("#responses-results .rp-result.active");

  let previewTimer = null;
  function select(result, { now } = {}) {
    results().forEach((r) => {
      r.classList.toggle("active", r === result);
      r.setAttribute("aria-selected", r === result ? "true" : "false");
    });
    if (!result) return Promise.resolve();
    result.scrollIntoView({ block: "nearest" });
    clearTimeout(previewTimer);
    const load = () => {
      const p = panel();
      // The panel may have closed (a response was inserted) before a delayed preview came due.
      if (!p || !result.isConnected) return Promise.resolve();
      const url = p.dataset.previewUrl.replace("00000000-0000-0000-0000-000000000000", result.dataset.responseId);
      const draft = p.dataset.draftId ? `?draft=${p.dataset.draftId}` : "";
      return window.htmx.ajax("GET", url + draft, { target: "#responses-detail", swap: "innerHTML" });
    };
    if (now) return load();
    return new Promise((resolve) => { previewTimer = setTimeout(() => load().then(resolve), 120); });
  }

  function move(step) {
    const all = results();
    if (!all.length) return;
    const index = Math.max(0, Math.min(all.length - 1, all.indexOf(activeResult()) + step));
    select(all[index]);
  }

  function editing() { return Boolean(document.querySelector("#responses-detail [data-response-form]")); }

  /* ---- Inserting ---- */
  function insertResponse(draftId, responseId, values) {
    const body = new URLSearchParams(values || []);
    return fetch(`/drafts/${draftId}/responses/${responseId}/insert/`, {
      method: "POST",
      headers: { "X-CSRFToken": csrfToken(), "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body,
      credentials: "same-origin",
    }).then((response) => response.json().catch(() => ({ status: "error", error: "Could not insert the response." })))
      .then((data) => handleInserted(draftId, responseId, data));
  }

  function handleInserted(draftId, responseId, data) {
    const preview = document.querySelector(`#responses-detail .rp-preview[data-response-id='${responseId}']`);
    if (data.status === "values_needed") {
      if (!preview) { open(draftId, { responseId }); return data; }
      const slot = preview.querySelector("[data-values-slot]");
      slot.innerHTML = data.form;
      slot.querySelector("input")?.focus();
      return data;
    }
    if (data.status !== "inserted") {
      const error = preview && preview.querySelector("[data-responses-error]");
      if (error) { error.textContent = data.error; error.hidden = false; } else { toast(data.error); }
      return data;
    }
    const detail = { draftId, html: data.html, subject: data.subject, to: data.to, cc: data.cc, bcc: data.bcc, attachments: data.attachments };
    close();
    const editor = window.missive && window.missive.editor;
    if (editor && typeof editor.insertHTML === "function") editor.insertHTML(draftId, data.html);
    document.dispatchEvent(new CustomEvent("responses:insert", { detail }));
    return data;
  }

  /* Insert the panel's selected response (or `responseId`) into the draft. */
  function insertInto(draftId, responseId) {
    const p = panel();
    draftId = draftId || (p && p.dataset.draftId);
    const preview = document.querySelector("#responses-detail .rp-preview");
    responseId = responseId || (preview && preview.dataset.responseId) || activeResult()?.dataset.responseId;
    if (!draftId) { toast("Open a draft to insert a response."); return Promise.resolve(null); }
    if (!responseId) return Promise.resolve(null);
    const form = preview && preview.dataset.responseId === responseId && preview.querySelector("[data-values-form]");
    return insertResponse(draftId, responseId, form ? new FormData(form) : null);
  }

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("[data-values-form]");
    if (!form) return;
    event.preventDefault();
    insertInto(null, form.closest(".rp-preview").dataset.responseId);
  });

  document.addEventListener("click", (event) => {
    const target = event.target;
    if (!target.closest) return;
    if (target.closest("[data-responses-close]")) { close(); return; }
    if (target.closest("[data-responses-insert]")) { insertInto(); return; }
    if (target.closest("[data-responses-cancel]")) { select(activeResult(), { now: true }); return; }
    const openButton = target.closest("[data-responses-open]");
    if (openButton) { open(draftIdFrom(openButton)); return; }
    const result = target.closest("#responses-results .rp-result");
    if (result) select(result, { now: true });
    const saveInsert = target.closest("[data-save-insert], [data-save-only]");
    if (saveInsert) {
      const field = saveInsert.form.querySelector("[name=then_insert]");
      if (field) field.value = saveInsert.matches("[data-save-insert]") ? "1" : "";
    }
  });
  document.addEventListener("dblclick", (event) => {
    const result = event.target.closest && event.target.closest("#responses-results .rp-result");
    if (result) select(result, { now: true }).then(() => insertInto());
  });

  // Saved in the panel: the list may have changed; Save & insert then inserts it.
  document.body.addEventListener("responses:saved", (event) => {
    const detail = event.detail || {};
    const search = document.getElementById("responses-search");
    if (search) window.htmx.trigger(search.form, "submit");
    if (detail.insert) insertInto(null, detail.id);
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    const target = event.detail.target;
    if (target.id === "responses-panel") {
      document.getElementById("responses-search")?.focus();
      const wanted = pending && results().find((r) => r.dataset.responseId === pending.responseId);
      const first = wanted || results()[0];
      const then = pending;
      pending = null;
      if (first) select(first, { now: true }).then(() => { if (then) insertInto(null, then.responseId); });
    } else if (target.id === "responses-results") {
      select(results()[0]);
    } else if (target.id === "responses-detail") {
      target.querySelectorAll("[data-rich-text]").forEach(initEditor);
      target.querySelector("[data-response-form] input[name=title]")?.focus();
    }
  });

  /* ---- Keys: Mod+Shift+O anywhere; inside the panel ↑ ↓ ↵, Mod+↵, Mod+F, Mod+N, Esc ---- */
  window.addEventListener("keydown", (event) => {
    if (isMod(event) && event.shiftKey && (event.key === "O" || event.key === "o")) {
      event.preventDefault();
      event.stopPropagation();
      if (panel()) close(); else open(draftIdFrom(document.activeElement));
      return;
    }
    if (suggestKeys(event)) return;
    const p = panel();
    if (!p) return;
    const inDialog = event.target.closest && event.target.closest("[data-variable-dialog]");
    if (inDialog) return;
    let handled = true;
    if (event.key === "Escape") {
      if (editing()) select(activeResult(), { now: true }); else close();
    } else if (isMod(event) && (event.key === "f" || event.key === "F")) {
      document.getElementById("responses-search")?.focus();
      document.getElementById("responses-search")?.select();
    } else if (isMod(event) && (event.key === "n" || event.key === "N")) {
      p.querySelector("[data-responses-new]")?.click();
    } else if (isMod(event) && event.key === "Enter" && editing()) {
      const form = document.querySelector("#responses-detail [data-response-form]");
      const field = form.querySelector("[name=then_insert]");
      if (field) field.value = p.dataset.draftId ? "1" : "";
      syncEditors(form);
      window.htmx.trigger(form, "submit");
    } else if (editing() || (event.target.closest && event.target.closest("[data-values-form]"))) {
      handled = false;
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      move(event.key === "ArrowDown" ? 1 : -1);
    } else if (event.key === "Enter" && !event.shiftKey) {
      insertInto();
    } else {
      handled = false;
    }
    if (handled) { event.preventDefault(); event.stopPropagation(); }
  }, true);

  /* ---- `#` + a term in a draft's body: a dropdown of matching responses ---- */
  const suggestOn = () => document.querySelector("meta[name='responses-suggest']")?.content !== "off";
  let suggest = null;  // {box, editable, draftId, node, start, query, items, index}
  let suggestTimer = null;

  function composerEditable(target) {
    if (!target || !target.closest) return null;
    const editable = target.closest(".composer-editor, .composer [contenteditable='true']");
    return editable && editable.isContentEditable ? editable : null;
  }

  function hashBeforeCaret() {
    const selection = window.getSelection();
    if (!selection.rangeCount || !selection.isCollapsed) return null;
    const node = selection.anchorNode;
    if (!node || node.nodeType !== Node.TEXT_NODE) return null;
    const before = node.textContent.slice(0, selection.anchorOffset);
    const match = before.match(/(?:^|\s)#([^\s#][^#\n]{0,60})$/);
    return match ? { node, start: selection.anchorOffset - match[1].length - 1, query: match[1] } : null;
  }

  function closeSuggest() {
    if (suggest) suggest.box.remove();
    suggest = null;
  }

  document.addEventListener("input", (event) => {
    const editable = composerEditable(event.target);
    if (!editable || !suggestOn()) return;
    const found = hashBeforeCaret();
    if (!found) { closeSuggest(); return; }
    clearTimeout(suggestTimer);
    suggestTimer = setTimeout(() => showSuggestions(editable, found), 120);
  });

  function showSuggestions(editable, found) {
    const draftId = draftIdFrom(editable);
    const params = new URLSearchParams({ q: found.query });
    if (draftId) params.set("draft", draftId);
    fetch(`${SUGGEST_URL}?${params}`, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : { results: [] }))
      .then((data) => {
        if (!hashBeforeCaret()) return;
        if (!suggest) {
          const box = document.createElement("ul");
          box.className = "responses-suggest";
          box.setAttribute("role", "listbox");
          box.setAttribute("aria-label", "Responses");
          document.body.appendChild(box);
          suggest = { box };
        }
        Object.assign(suggest, { editable, draftId, node: found.node, start: found.start, query: found.query, items: data.results, index: 0 });
        renderSuggestions();
      });
  }

  function renderSuggestions() {
    const { box, items } = suggest;
    box.innerHTML = "";
    if (!items.length) {
      const empty = document.createElement("li");
      empty.className = "rs-empty";
      empty.textContent = `No response matches “${suggest.query}”`;
      box.appendChild(empty);
    }
    items.forEach((item, i) => {
      const li = document.createElement("li");
      li.className = "rs-item" + (i === suggest.index ? " active" : "");
      li.setAttribute("role", "option");
      li.dataset.responseId = item.id;
      const title = document.createElement("span");
      title.className = "rs-title";
      title.textContent = item.title;
      const scope = document.createElement("span");
      scope.className = "rs-scope";
      scope.textContent = item.scope;
      li.append(title, scope);
      li.addEventListener("mousedown", (event) => { event.preventDefault(); pickSuggestion(i); });
      box.appendChild(li);
    });
    const range = document.createRange();
    range.setStart(suggest.node, suggest.start);
    const rect = range.getBoundingClientRect();
    box.style.left = `${Math.round(rect.left + window.scrollX)}px`;
    box.style.top = `${Math.round(rect.bottom + window.scrollY + 4)}px`;
  }

  function pickSuggestion(index) {
    const item = suggest && suggest.items[index];
    if (!item) { closeSuggest(); return; }
    const { node, start, draftId, query } = suggest;
    // The `#term` goes; the response goes where it was.
    const range = document.createRange();
    range.setStart(node, start);
    range.setEnd(node, Math.min(node.textContent.length, start + query.length + 1));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    document.execCommand("delete");
    closeSuggest();
    insertResponse(draftId, item.id);
  }

  function suggestKeys(event) {
    if (!suggest || !composerEditable(event.target)) return false;
    const count = suggest.items.length;
    if ((event.key === "ArrowDown" || event.key === "ArrowUp") && count) {
      suggest.index = (suggest.index + (event.key === "ArrowDown" ? 1 : count - 1)) % count;
      renderSuggestions();
    } else if ((event.key === "Enter" || event.key === "Tab") && count) {
      pickSuggestion(suggest.index);
    } else if (event.key === "Escape") {
      closeSuggest();
    } else {
      return false;
    }
    event.preventDefault();
    event.stopPropagation();
    return true;
  }
  document.addEventListener("focusout", (event) => { if (suggest && event.target === suggest.editable) setTimeout(closeSuggest, 150); });

  /* ---- The composer toolbar's button ---- */
  function addToolbarButtons(root) {
    root.querySelectorAll(".composer-tools[data-draft-id]").forEach((tools) => {
      if (tools.querySelector("[data-responses-open]")) return;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "tool icon-only";
      button.dataset.responsesOpen = "";
      button.title = "Responses (⌘⇧O)";
      button.setAttribute("aria-label", "Responses");
      button.textContent = "#";
      tools.appendChild(button);
    });
  }

  /* ---- The response editor: rich text (pasted as text), and the {{ }} variable builder ---- */
  function initEditor(box) {
    if (box.dataset.ready) return;
    box.dataset.ready = "1";
    const editor = box.querySelector(".rt-editor");
    const source = box.querySelector("textarea");
    // The textarea holds what the server saved (sanitised) or re-shows after an error.
    editor.innerHTML = source.value;
    const sync = () => { source.value = editor.innerHTML.trim() === "<br>" ? "" : editor.innerHTML; };
    editor.addEventListener("input", sync);
    editor.addEventListener("paste", (event) => {
      // Rich text, not an HTML editor: pasted markup goes in as the text it is.
      event.preventDefault();
      document.execCommand("insertText", false, event.clipboardData.getData("text/plain"));
    });
    box.querySelectorAll("[data-rt]").forEach((button) => {
      button.addEventListener("mousedown", (event) => event.preventDefault());
      button.addEventListener("click", () => {
        editor.focus();
        const command = button.dataset.rt;
        if (command === "link") {
          const url = window.prompt("Link address", "https://");
          if (url && /^(https?:|mailto:)/i.test(url.trim())) document.execCommand("createLink", false, url.trim());
        } else {
          document.execCommand(command);
        }
        sync();
      });
    });
  }

  function syncEditors(form) {
    form.querySelectorAll("[data-rich-text]").forEach((box) => {
      const editor = box.querySelector(".rt-editor");
      box.querySelector("textarea").value = editor.innerHTML;
    });
  }
  document.addEventListener("submit", (event) => { if (event.target.matches("[data-response-form]")) syncEditors(event.target); }, true);
  document.addEventListener("htmx:configRequest", (event) => {
    const form = event.detail.elt.closest && event.detail.elt.closest("[data-response-form]");
    if (!form) return;
    const editor = form.querySelector(".rt-editor");
    if (editor) event.detail.parameters.body = editor.innerHTML;
  });

  const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
  let savedRange = null;

  function variableText(dialog) {
    const root = dialog.querySelector("[data-variable-root]").value;
    let path;
    if (root === "form") {
      path = dialog.querySelector("[data-variable-name]").value.trim();
    } else {
      path = dialog.querySelector(`[data-variable-keys='${root}'] select`).value;
    }
    const fallback = dialog.querySelector("[data-variable-default]").value.replace(/'/g, "’");
    return { path, text: root !== "form" && fallback ? `{{ ${path} | default: '${fallback}' }}` : `{{ ${path} }}`, root };
  }

  function refreshVariable(dialog) {
    const root = dialog.querySelector("[data-variable-root]").value;
    dialog.querySelectorAll("[data-variable-keys]").forEach((field) => { field.hidden = field.dataset.variableKeys !== root; });
    dialog.querySelector("[data-variable-default-field]").hidden = root === "form";
    dialog.querySelector("[data-variable-preview]").textContent = variableText(dialog).text;
  }

  document.addEventListener("click", (event) => {
    const openButton = event.target.closest && event.target.closest("[data-variable-open]");
    if (openButton) {
      const form = openButton.closest("form");
      const editor = form.querySelector(".rt-editor");
      const selection = window.getSelection();
      savedRange = selection.rangeCount && editor.contains(selection.anchorNode) ? selection.getRangeAt(0).cloneRange() : null;
      const dialog = form.querySelector("[data-variable-dialog]");
      dialog.querySelector("[data-variable-error]").hidden = true;
      refreshVariable(dialog);
      dialog.showModal();
      return;
    }
    const dialog = event.target.closest && event.target.closest("[data-variable-dialog]");
    if (!dialog) return;
    if (event.target.closest("[data-variable-close]")) { dialog.close(); return; }
    if (event.target.closest("[data-variable-insert]")) {
      const { path, text, root } = variableText(dialog);
      const error = dialog.querySelector("[data-variable-error]");
      if (root === "form" && !VARIABLE_NAME.test(path)) {
        error.textContent = path
          ? "Use letters, digits, underscores and dots only: no spaces (order_number, not “order number”)."
          : "Give the variable a name.";
        error.hidden = false;
        return;
      }
      dialog.close();
      const editor = dialog.closest("form").querySelector(".rt-editor");
      editor.focus();
      const selection = window.getSelection();
      if (savedRange) { selection.removeAllRanges(); selection.addRange(savedRange); }
      document.execCommand("insertText", false, text);
      editor.dispatchEvent(new Event("input"));
    }
  });
  document.addEventListener("input", (event) => {
    const dialog = event.target.closest && event.target.closest("[data-variable-dialog]");
    if (!dialog) return;
    refreshVariable(dialog);
    const name = dialog.querySelector("[data-variable-name]").value.trim();
    if (VARIABLE_NAME.test(name)) dialog.querySelector("[data-variable-error]").hidden = true;
  });
  document.addEventListener("change", (event) => {
    const dialog = event.target.closest && event.target.closest("[data-variable-dialog]");
    if (dialog) refreshVariable(dialog);
  });

  document.addEventListener("htmx:load", (event) => {
    event.detail.elt.querySelectorAll?.("[data-rich-text]").forEach(initEditor);
    addToolbarButtons(event.detail.elt.parentElement || document);
  });
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-rich-text]").forEach(initEditor);
    addToolbarButtons(document);
  });

  window.missive = window.missive || {};
  window.missive.responses = { open, close, insertInto, insertResponse };
})();
