/* The composer: recipients as chips with autocomplete, autosave, files (button, paste, drop),
   the Send menu and Send later, the undo banner, and the reply/forward/compose keys.
   The body editor is the co-writing one (window.missive.editor); without it, a plain
   contenteditable stands in (see mountFallbackEditor). */
(() => {
  "use strict";

  const SAVE_DELAY = 600;
  const FIELDS = ["alias", "to", "cc", "bcc", "subject"];

  const csrfToken = () => window.missive.csrfToken();
  function composerOf(el) { return el && el.closest ? el.closest("form.composer") : null; }
  function ownsBody(form) { return form.dataset.bodyOwned === "1"; }
  function editorApi() { return window.missive && window.missive.editor; }

  /* ---- Fallback body editor (no co-writing bundle loaded) ------------------------------------
     FALLBACK: kept tiny on purpose. The integrator removes it once the co-writing editor is
     always there, or keeps it for pages without the bundle. Inline images show through their
     authenticated URL here and go back to cid: in the saved HTML. */
  function inlineMap(form) {
    try { return JSON.parse(form.dataset.inline || "{}"); } catch { return {}; }
  }
  function toDisplay(form, html) {
    const map = inlineMap(form);
    return html.replace(/src="cid:([^"]+)"/g, (all, cid) => (map[cid] ? `src="${map[cid]}" data-cid="${cid}"` : all));
  }
  function toSaved(editor) {
    // A template's content is inert: its cid: images are not fetched (the page's CSP refuses them).
    const copy = document.createElement("template");
    copy.innerHTML = editor.innerHTML;
    copy.content.querySelectorAll("img[data-cid]").forEach((img) => {
      img.setAttribute("src", `cid:${img.dataset.cid}`);
      img.removeAttribute("data-cid");
    });
    return copy.innerHTML;
  }
  function mountFallbackEditor(form) {
    const editor = form.querySelector(".composer-editor");
    const hidden = form.querySelector("input[name=body_html]");
    if (!editor || !hidden || editor.isContentEditable) return;
    form.dataset.bodyOwned = "1";
    editor.contentEditable = "true";
    editor.setAttribute("role", "textbox");
    editor.setAttribute("aria-multiline", "true");
    editor.setAttribute("aria-label", "Email body");
    editor.innerHTML = toDisplay(form, hidden.value);
    editor.addEventListener("input", () => {
      hidden.value = toSaved(editor);
      form.dispatchEvent(new CustomEvent("composer:change", { bubbles: true }));
    });
  }
  function insertInline(form, html) {
    const api = editorApi();
    if (api && api.insertHTML) { api.insertHTML(form.dataset.draftId, html); return; }
    const editor = form.querySelector(".composer-editor");
    editor.focus();
    document.execCommand("insertHTML", false, html);
    editor.dispatchEvent(new Event("input", { bubbles: true }));
  }

  /* ---- Mounting -------------------------------------------------------------------------------- */
  function mount(form) {
    if (form.dataset.mounted) return;
    form.dataset.mounted = "1";
    if (!editorApi()) mountFallbackEditor(form);
    const to = form.querySelector("[data-recipients=to] .chip-input");
    const hasRecipient = form.querySelector("[data-recipients=to] .chip");
    if (form.dataset.focus !== "0") {
      (hasRecipient ? form.querySelector(".composer-editor") : to)?.focus();
      form.scrollIntoView({ block: "nearest" });
    }
  }
  function mountAll(root) {
    (root || document).querySelectorAll("form.composer").forEach(mount);
    (root || document).querySelectorAll(".undo-send[data-undo-seconds]").forEach(startUndoTimer);
  }
  document.addEventListener("DOMContentLoaded", () => mountAll(document));
  document.addEventListener("htmx:load", (event) => mountAll(event.detail.elt.parentElement || document));
  document.addEventListener("htmx:oobAfterSwap", () => mountAll(document));

  /* ---- Autosave ------------------------------------------------------------------------------ */
  const pending = new WeakMap(); // form -> {fields: Set, timer, attempt}

  function stateOf(form) {
    let state = pending.get(form);
    if (!state) { state = { fields: new Set(), timer: null, attempt: 0, saving: false }; pending.set(form, state); }
    return state;
  }
  function indicator(form, text, level) {
    const el = form.querySelector("[data-saved]");
    if (!el) return;
    el.textContent = text;
    el.dataset.level = level || "";
  }
  function changed(form, field) {
    const state = stateOf(form);
    state.fields.add(field);
    indicator(form, "Editing…", "");
    clearTimeout(state.timer);
    state.timer = setTimeout(() => save(form), SAVE_DELAY);
  }
  // Names this page's composer in the co-writers' notices, so that it skips its own saves.
  function clientOf(form) {
    if (!form.dataset.client) form.dataset.client = Math.random().toString(36).slice(2) + Date.now().toString(36);
    return form.dataset.client;
  }
  function fieldData(form, names) {
    const data = new FormData();
    data.append("client", clientOf(form));
    names.forEach((name) => {
      data.append("fields", name);
      if (name === "body_html") { data.append(name, form.querySelector("input[name=body_html]").value); return; }
      if (["to", "cc", "bcc"].includes(name)) {
        form.querySelectorAll(`[data-recipients=${name}] input[name=${name}]`).forEach((i) => data.append(name, i.value));
        return;
      }
      const input = form.querySelector(`[name=${name}]`);
      if (input) data.append(name, input.value);
    });
    return data;
  }
  async function save(form) {
    const state = stateOf(form);
    clearTimeout(state.timer);
    if (!state.fields.size || state.saving) return;
    const names = [...state.fields];
    state.fields.clear();
    state.saving = true;
    state.inFlight = new Set(names);
    indicator(form, "Saving…", "");
    try {
      const response = await fetch(form.dataset.saveUrl, {
        method: "POST", body: fieldData(form, names), headers: { "X-CSRFToken": csrfToken() }, credentials: "same-origin",
      });
      if (response.status === 400 || response.status === 404) {
        const body = await response.json().catch(() => ({}));
        showError(form, body.error || "This draft can no longer be saved.");
        indicator(form, "Not saved", "error");
      } else if (!response.ok) {
        throw new Error(`HTTP ${response.status}`);
      } else {
        state.attempt = 0;
        indicator(form, "Saved", "ok");
      }
    } catch {
      // Never lose input: the fields go back in the queue and the save is tried again.
      names.forEach((n) => state.fields.add(n));
      state.attempt += 1;
      const wait = Math.min(30000, 1000 * 2 ** Math.min(state.attempt, 5));
      indicator(form, `Not saved, retrying in ${Math.round(wait / 1000)} s`, "error");
      state.timer = setTimeout(() => save(form), wait);
    } finally {
      state.saving = false;
      state.inFlight = null;
      if (state.fields.size && !state.timer) state.timer = setTimeout(() => save(form), SAVE_DELAY);
    }
  }
  function flushBeacon() {
    document.querySelectorAll("form.composer").forEach((form) => {
      const state = pending.get(form);
      if (!state || !state.fields.size) return;
      const data = fieldData(form, [...state.fields]);
      data.append("csrfmiddlewaretoken", csrfToken());
      state.fields.clear();
      navigator.sendBeacon(form.dataset.saveUrl, data);
    });
  }
  window.addEventListener("pagehide", flushBeacon);
  // A pane swap (another conversation, a triage action) may take the composer away: save first.
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.target && event.detail.target.querySelector?.("form.composer")) flushBeacon();
  });

  document.addEventListener("input", (event) => {
    const form = composerOf(event.target);
    if (!form) return;
    if (event.target.name === "subject") changed(form, "subject");
  });
  document.addEventListener("change", (event) => {
    const form = composerOf(event.target);
    if (!form) return;
    if (event.target.name === "alias") changed(form, "alias");
    if (event.target.matches("input[data-composer-attach]")) {
      [...event.target.files].forEach((file) => upload(form, file, false));
      event.target.value = "";
    }
  });
  document.addEventListener("composer:change", (event) => {
    const form = event.target.closest ? event.target.closest("form.composer") : null;
    if (form && ownsBody(form)) changed(form, "body_html");
  });

  function showError(form, message) {
    const box = form.querySelector(".composer-error");
    if (!box) return;
    box.innerHTML = "";
    if (!message) return;
    const p = document.createElement("p");
    p.className = "composer-error-text";
    p.textContent = message;
    box.appendChild(p);
  }

  /* ---- Recipients ------------------------------------------------------------------------------ */
  function addChip(row, value, quiet) {
    value = value.trim().replace(/[,;]+$/, "");
    if (!value) return;
    const field = row.dataset.recipients;
    const address = (value.match(/<([^>]+)>/) || [null, value])[1].trim();
    const name = value.includes("<") ? value.slice(0, value.indexOf("<")).trim().replace(/^"|"$/g, "") : "";
    const chip = document.createElement("span");
    chip.className = "chip";
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(address)) chip.classList.add("invalid");
    chip.title = address;
    const hidden = document.createElement("input");
    hidden.type = "hidden"; hidden.name = field; hidden.value = value;
    const label = document.createElement("span");
    label.className = "chip-label"; label.textContent = name || address;
    const remove = document.createElement("button");
    remove.type = "button"; remove.className = "chip-remove"; remove.textContent = "×";
    remove.setAttribute("aria-label", `Remove ${address}`);
    chip.append(hidden, label, remove);
    row.querySelector(".chip-input").before(chip);
    if (!quiet) changed(composerOf(row), field);
  }

  /* ---- A co-writer's header changes (relayed by the editor's stream) ---------------------------- */
  document.addEventListener("composer:remote-fields", (event) => {
    const form = composerOf(event.target);
    const { fields, client } = event.detail;
    if (!form || client === clientOf(form)) return;
    const state = stateOf(form);
    for (const [name, value] of Object.entries(fields)) {
      // A field this person is changing keeps what they typed: their own save follows.
      if (state.fields.has(name) || (state.inFlight && state.inFlight.has(name))) continue;
      if (["to", "cc", "bcc"].includes(name)) {
        const row = form.querySelector(`[data-recipients=${name}]`);
        if (!row) continue;
        row.querySelectorAll(".chip").forEach((chip) => chip.remove());
        value.forEach((recipient) => addChip(row, recipient, true));
        if (value.length) row.hidden = false;
      } else {
        const input = form.querySelector(`[name=${name}]`);
        if (input) input.value = value;
      }
    }
  });
  function suggestionList(input) { return input.parentElement.querySelector(".recipient-suggestions"); }
  function closeSuggestions(input) { const list = suggestionList(input); if (list) list.innerHTML = ""; }
  function commitInput(input) {
    const row = input.closest("[data-recipients]");
    if (input.value.trim()) addChip(row, input.value);
    input.value = "";
    closeSuggestions(input);
  }
  let suggestTicket = 0;
  let suggestTimer = null;
  document.addEventListener("input", (event) => {
    const input = event.target;
    if (!input.matches || !input.matches(".chip-input")) return;
    if (/[,;]$/.test(input.value)) { commitInput(input); return; }
    clearTimeout(suggestTimer);
    const typed = input.value.trim();
    const ticket = ++suggestTicket;
    if (typed.length < 2) { closeSuggestions(input); return; }
    suggestTimer = setTimeout(async () => {
      const url = `${composerOf(input).dataset.suggestUrl}?q=${encodeURIComponent(typed)}`;
      const html = await fetch(url, { credentials: "same-origin" }).then((r) => (r.ok ? r.text() : "")).catch(() => "");
      if (ticket === suggestTicket) suggestionList(input).innerHTML = html.trim();
    }, 150);
  });
  document.addEventListener("mousedown", (event) => {
    const option = event.target.closest && event.target.closest(".recipient-option");
    if (!option) return;
    event.preventDefault();
    const input = option.closest(".chips").querySelector(".chip-input");
    input.value = option.dataset.value;
    commitInput(input);
    input.focus();
  });
  document.addEventListener("click", (event) => {
    // A recipient's ×: label chips elsewhere on the page have a .chip-remove of their own.
    const remove = event.target.closest && event.target.closest("[data-recipients] .chip .chip-remove");
    if (remove) {
      const row = remove.closest("[data-recipients]");
      remove.closest(".chip").remove();
      changed(composerOf(row), row.dataset.recipients);
      return;
    }
    const show = event.target.closest && event.target.closest("[data-show-row]");
    if (show) {
      const row = composerOf(show).querySelector(`[data-recipients=${show.dataset.showRow}]`);
      row.hidden = false;
      row.querySelector(".chip-input").focus();
      return;
    }
    const file = event.target.closest && event.target.closest(".file-chip .chip-remove");
    if (file) removeFile(file);
  });
  document.addEventListener("focusout", (event) => {
    const input = event.target;
    if (input.matches && input.matches(".chip-input")) setTimeout(() => { if (document.activeElement !== input) commitInput(input); }, 150);
  });
  function recipientKeys(event) {
    const input = event.target;
    if (!input.matches || !input.matches(".chip-input")) return false;
    const options = [...suggestionList(input).querySelectorAll(".recipient-option")];
    const current = Math.max(0, options.findIndex((o) => o.classList.contains("active")));
    if (options.length && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      const next = (current + (event.key === "ArrowDown" ? 1 : options.length - 1)) % options.length;
      options.forEach((o, i) => o.classList.toggle("active", i === next));
    } else if (event.key === "Enter" || (event.key === "Tab" && input.value.trim())) {
      if (options.length) input.value = options[current].dataset.value;
      if (!input.value.trim()) return false;
      commitInput(input);
    } else if (event.key === "Escape" && options.length) {
      closeSuggestions(input);
    } else if (event.key === "Backspace" && !input.value) {
      const chips = input.parentElement.querySelectorAll(".chip");
      if (!chips.length) return false;
      chips[chips.length - 1].remove();
      changed(composerOf(input), input.closest("[data-recipients]").dataset.recipients);
    } else {
      return false;
    }
    event.preventDefault();
    event.stopPropagation();
    return true;
  }

  /* ---- Files ------------------------------------------------------------------------------------- */
  async function upload(form, file, inline) {
    const data = new FormData();
    data.append("file", file);
    if (inline) data.append("inline", "1");
    indicator(form, `Uploading ${file.name}…`, "");
    try {
      const response = await fetch(form.dataset.uploadUrl, {
        method: "POST", body: data, headers: { "X-CSRFToken": csrfToken() }, credentials: "same-origin",
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) { showError(form, body.error || "The file could not be attached."); indicator(form, "Not attached", "error"); return; }
      showError(form, "");
      if (body.inline) {
        const map = inlineMap(form);
        map[body.content_id] = body.url;
        form.dataset.inline = JSON.stringify(map);
        // The co-writing editor shows the image from its authenticated address (a browser cannot
        // load cid:); sending turns the draft's own file addresses back into cid: references.
        const api = editorApi();
        const src = api ? new URL(body.url, window.location.origin).href : body.url;
        const cid = api ? "" : ` data-cid="${body.content_id}"`;
        insertInline(form, `<img src="${src}"${cid} alt="">`);
      } else {
        form.querySelector(".composer-files").insertAdjacentHTML("beforeend", body.chip);
      }
      indicator(form, "Saved", "ok");
    } catch {
      showError(form, `${file.name} could not be uploaded: check your connection and try again.`);
      indicator(form, "Not attached", "error");
    }
  }
  async function removeFile(button) {
    const chip = button.closest(".file-chip");
    const response = await fetch(button.dataset.removeUrl, {
      method: "POST", headers: { "X-CSRFToken": csrfToken() }, credentials: "same-origin",
    }).catch(() => null);
    if (response && response.ok) chip.remove();
    else showError(composerOf(button), "The file could not be removed. Try again.");
  }
  // Capture phase: a file dropped on the composer is the email's, not the chat box's (comments.js).
  document.addEventListener("dragover", (event) => {
    const form = composerOf(event.target);
    if (!form || !event.dataTransfer || ![...event.dataTransfer.types].includes("Files")) return;
    event.preventDefault();
    event.stopPropagation();
    form.classList.add("dragging");
  }, true);
  document.addEventListener("dragleave", (event) => {
    const form = composerOf(event.target);
    if (form && !form.contains(event.relatedTarget)) form.classList.remove("dragging");
  });
  document.addEventListener("drop", (event) => {
    const form = composerOf(event.target);
    if (!form || !event.dataTransfer || !event.dataTransfer.files.length) return;
    event.preventDefault();
    event.stopPropagation();
    form.classList.remove("dragging");
    const intoBody = Boolean(event.target.closest(".composer-editor"));
    [...event.dataTransfer.files].forEach((file) => upload(form, file, intoBody && file.type.startsWith("image/")));
  }, true);
  document.addEventListener("paste", (event) => {
    const form = composerOf(event.target);
    const files = event.clipboardData ? [...event.clipboardData.files] : [];
    if (!form || !files.length) return;
    event.preventDefault();
    const intoBody = Boolean(event.target.closest(".composer-editor"));
    files.forEach((file) => upload(form, file, intoBody && file.type.startsWith("image/")));
  });

  /* ---- Send, Send later ---------------------------------------------------------------------- */
  async function send(button) {
    const form = composerOf(button);
    if (form.dataset.sending) return;
    form.dataset.sending = "1";
    form.querySelectorAll(".chip-input").forEach(commitInput);
    showError(form, "");
    try {
      const api = editorApi();
      if (api && api.flush) await api.flush(form.dataset.draftId);
    } catch {
      delete form.dataset.sending;
      showError(form, "Your last edits have not reached the server yet. Check your connection and try again.");
      return;
    }
    const state = stateOf(form);
    clearTimeout(state.timer);
    state.fields.clear();  // the send request carries every field
    button.closest("details")?.removeAttribute("open");
    window.htmx.process(button);
    window.htmx.trigger(button, "send-confirmed");
  }
  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("form.composer [data-send], form.composer [data-schedule]");
    if (!button) return;
    event.preventDefault();
    send(button);
  });
  document.addEventListener("htmx:configRequest", (event) => {
    const elt = event.detail.elt;
    const form = composerOf(elt);
    if (!form || !elt.matches("[data-send], [data-schedule]")) return;
    const names = ownsBody(form) ? [...FIELDS, "body_html"] : FIELDS;
    names.filter((n) => n !== "subject" || form.querySelector("[name=subject]"))
      .forEach((n) => event.detail.parameters.append("fields", n));
  });
  document.addEventListener("htmx:afterRequest", (event) => {
    const form = composerOf(event.detail.elt);
    if (form) delete form.dataset.sending;
  });

  /* ---- Undo banner ------------------------------------------------------------------------------- */
  function startUndoTimer(banner) {
    if (banner.dataset.started) return;
    banner.dataset.started = "1";
    setTimeout(() => banner.remove(), Number(banner.dataset.undoSeconds) * 1000);
  }

  /* ---- Keys -------------------------------------------------------------------------------------- */
  // The composer's own keys, before the page's (Mod+J there discards a snooze).
  document.addEventListener("keydown", (event) => {
    if (recipientKeys(event)) return;
    const mod = event.metaKey || event.ctrlKey;
    const form = composerOf(event.target);
    if (form && mod && event.key === "Enter") {
      event.preventDefault();
      event.stopImmediatePropagation();
      const main = form.querySelector(".send-main");
      if (main) send(main);
      return;
    }
    if (form && mod && event.key.toLowerCase() === "j") {
      event.preventDefault();
      event.stopImmediatePropagation();
      form.querySelector("details.later-menu")?.setAttribute("open", "");
    }
  }, true);
  // Reply, Reply all, Forward and New email, after the page's own keys ("g a" is Go to All).
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented) return;
    const mod = event.metaKey || event.ctrlKey;
    const el = event.target;
    const typing = el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName);
    if (typing || mod || event.altKey || event.shiftKey) return;
    const key = { r: "reply", a: "reply-all", f: "forward" }[event.key];
    if (key) {
      const button = document.querySelector(`.conversation .reply-bar [data-key='${key}']`);
      if (button) { event.preventDefault(); window.htmx.process(button); button.click(); }
      return;
    }
    if (event.key === "c") {
      const compose = document.querySelector("[data-compose]");
      if (compose) { event.preventDefault(); compose.click(); }
    }
  });
})();
