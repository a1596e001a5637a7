/* The composer's body editor, co-written live (conversations/cowrite.py has the server's side).

   Every `.composer-editor[data-draft-id][data-sync-url]` gets a TipTap editor bound to a Yjs
   document (the libraries come from static/vendor/editor.bundle.js, loaded the first time an
   editor is needed). The protocol, per draft:
   - an EventSource on drafts/<id>/stream/ brings the other editors' updates and cursors; its
     first event, "ready", says it is subscribed, and the whole document is loaded then (again
     after every reconnection, so nothing published while away is missed);
   - local updates are POSTed to drafts/<id>/sync/, one request at a time, those typed meanwhile
     merged into the next; failures are retried, so no keystroke is lost;
   - cursors (Yjs awareness) are POSTed to drafts/<id>/awareness/ and never stored.
   The form's hidden `body_html` input follows the editor at every change, and local changes
   dispatch `composer:change` on the form. `window.missive.editor` has insertHTML, getHTML, flush. */
(function () {
  "use strict";

  const BUNDLE = document.currentScript && document.currentScript.dataset.editorBundle;
  const REMOTE = "remote";  // the origin of changes that came from the server
  const AWARENESS_MS = 40;
  const WRITING_SHOWN_MS = 2500;
  const RETRY_MS = [300, 1000, 2000, 5000];

  const sessions = new Map();  // draft id -> Session

  const csrfToken = () => window.missive.csrfToken();
  const toBase64 = (bytes) => {
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(text);
  };
  const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  let kitPromise = null;
  function loadKit() {
    if (window.MissiveEditorKit) return Promise.resolve(window.MissiveEditorKit);
    kitPromise = kitPromise || new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = BUNDLE;
      script.onload = () => resolve(window.MissiveEditorKit);
      script.onerror = () => { kitPromise = null; reject(new Error("The editor could not be loaded.")); };
      document.head.appendChild(script);
    });
    return kitPromise;
  }

  /* ---- The toolbar ---- */
  const ICONS = {
    bold: '<path d="M7 5h6a3.5 3.5 0 0 1 0 7H7zM7 12h7a3.5 3.5 0 0 1 0 7H7z"/>',
    italic: '<path d="M10 5h8M6 19h8M14 5l-4 14"/>',
    underline: '<path d="M7 4v7a5 5 0 0 0 10 0V4M5 20h14"/>',
    bulletList: '<path d="M9 6h11M9 12h11M9 18h11"/><circle cx="4.5" cy="6" r="1"/><circle cx="4.5" cy="12" r="1"/><circle cx="4.5" cy="18" r="1"/>',
    orderedList: '<path d="M10 6h10M10 12h10M10 18h10M4 4h1v5M4 9h2M4 14h2l-2 3h2"/>',
    blockquote: '<path d="M6 8h4v4c0 2-1 4-4 5M14 8h4v4c0 2-1 4-4 5"/>',
    link: '<path d="M10 14a4 4 0 0 0 6 0l3-3a4 4 0 0 0-6-6l-1 1M14 10a4 4 0 0 0-6 0l-3 3a4 4 0 0 0 6 6l1-1"/>',
    clear: '<path d="M6 5h12M12 5l-3 14M4 20L20 4"/>',
  };
  const MOD = /Mac|iPhone|iPad/.test(navigator.platform) ? "⌘" : "Ctrl+";
  const TOOLS = [
    { name: "bold", label: "Bold", keys: "B", run: (c) => c.toggleBold(), active: "bold" },
    { name: "italic", label: "Italic", keys: "I", run: (c) => c.toggleItalic(), active: "italic" },
    { name: "underline", label: "Underline", keys: "U", run: (c) => c.toggleUnderline(), active: "underline" },
    null,
    { name: "bulletList", label: "Bulleted list", keys: "Shift+8", run: (c) => c.toggleBulletList(), active: "bulletList" },
    { name: "orderedList", label: "Numbered list", keys: "Shift+7", run: (c) => c.toggleOrderedList(), active: "orderedList" },
    { name: "blockquote", label: "Quote", keys: "Shift+B", run: (c) => c.toggleBlockquote(), active: "blockquote" },
    null,
    { name: "link", label: "Link", keys: "K", active: "link" },
    { name: "clear", label: "Clear formatting", keys: "\\", run: (c) => c.unsetAllMarks().clearNodes() },
  ];

  function icon(name) {
    return `<svg viewBox="0 0 24 24" class="icon tiny" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">${ICONS[name]}</svg>`;
  }

  function buildShell(el) {
    el.classList.add("cowrite");
    el.innerHTML = "";
    const toolbar = document.createElement("div");
    toolbar.className = "cowrite-toolbar";
    toolbar.setAttribute("role", "toolbar");
    toolbar.setAttribute("aria-label", "Formatting");
    for (const tool of TOOLS) {
      if (!tool) { toolbar.insertAdjacentHTML("beforeend", '<span class="cowrite-sep"></span>'); continue; }
      const button = document.createElement("button");
      button.type = "button";
      button.className = "cowrite-tool";
      button.dataset.tool = tool.name;
      button.title = `${tool.label} (${MOD}${tool.keys})`;
      button.setAttribute("aria-label", tool.label);
      button.innerHTML = icon(tool.name);
      toolbar.appendChild(button);
    }
    const linkBar = document.createElement("div");
    linkBar.className = "cowrite-linkbar";
    linkBar.hidden = true;
    linkBar.innerHTML = '<input type="url" placeholder="https://…" aria-label="Link address">' +
      '<button type="button" class="button small primary" data-link="apply">Apply</button>' +
      '<button type="button" class="button small secondary" data-link="remove">Remove link</button>';
    const surface = document.createElement("div");
    surface.className = "cowrite-surface";
    const status = document.createElement("div");
    status.className = "cowrite-status";
    status.innerHTML = '<span class="cowrite-writing" aria-live="polite"></span><span class="cowrite-people"></span>';
    el.append(toolbar, linkBar, surface, status);
    return { toolbar, linkBar, surface, status };
  }

  /* ---- One open draft ---- */
  class Session {
    constructor(el, kit) {
      this.el = el;
      this.kit = kit;
      this.draftId = el.dataset.draftId;
      this.syncUrl = el.dataset.syncUrl;
      this.baseUrl = this.syncUrl.replace(/sync\/?$/, "");
      this.form = el.closest("form");
      this.input = (el.nextElementSibling && el.nextElementSibling.matches("input[name='body_html']"))
        ? el.nextElementSibling : this.form && this.form.querySelector("input[name='body_html']");
      this.doc = new kit.Y.Doc();
      this.awareness = new kit.Awareness(this.doc);
      this.client = String(this.doc.clientID);
      this.pending = null;
      this.sending = false;
      this.failure = null;
      this.waiters = [];
      this.editor = null;
      this.closed = false;
      this.parts = buildShell(el);
      this.doc.on("update", (update, origin) => {
        if (origin !== REMOTE) this.queue(update);
        this.changed(origin !== REMOTE);
      });
      this.awareness.on("update", (changes, origin) => {
        if (origin === "local") this.scheduleAwareness();
        this.showPeople();
      });
      this.ready = new Promise((resolve) => { this.markReady = resolve; });
      this.connect();
    }

    /* The stream. EventSource reconnects by itself; each "ready" reloads the document. */
    connect() {
      this.source = new EventSource(this.baseUrl + "stream/");
      this.source.onmessage = (event) => this.onNotice(JSON.parse(event.data));
    }

    onNotice(notice) {
      if (this.closed) return;
      const { Y, applyAwarenessUpdate } = this.kit;
      if (notice.kind === "ready") { this.load(); return; }
      if (notice.client === this.client) return;  // our own, relayed back
      // Applying a remote change puts back the selection the editor last read; read the one the
      // browser has now (a click or End not yet reported) so the caret does not jump back.
      if (this.editor) this.editor.view.domObserver.flush();
      if (notice.kind === "update") {
        Y.applyUpdate(this.doc, fromBase64(notice.update), REMOTE);
        this.showWriting(notice.name);
      } else if (notice.kind === "fields") {
        // A co-writer saved the header (To, Cc, Bcc, Subject, From): the composer shows it.
        if (this.form) this.form.dispatchEvent(new CustomEvent("composer:remote-fields", { bubbles: true, detail: notice }));
      } else if (notice.kind === "awareness") {
        const known = this.awareness.getStates().has(Number(notice.client));
        applyAwarenessUpdate(this.awareness, fromBase64(notice.update), REMOTE);
        // A newcomer learns where everyone else is from their answers.
        if (!known && this.awareness.getStates().has(Number(notice.client))) this.sendAwareness();
      }
    }

    async load() {
      let data;
      try {
        const response = await fetch(this.syncUrl, { headers: { Accept: "application/json" } });
        if (response.status === 403 || response.status === 404) { this.fail("This draft can no longer be edited."); return; }
        data = await response.json();
      } catch (error) {
        return;  // the stream's next "ready" tries again
      }
      if (this.closed) return;  // the composer went away while we waited
      if (data.closed) { this.fail("This draft was sent or discarded."); return; }
      const state = fromBase64(data.update);
      if (state.length) this.kit.Y.applyUpdate(this.doc, state, REMOTE);  // a draft never written has none
      if (!this.editor) {
        this.createEditor(data.user);
        if (data.seed_html && this.doc.getXmlFragment("default").length === 0) await this.seed(data.seed_html);
        if (this.closed) return;
        this.editor.setEditable(true);
        this.changed(false);
        this.markReady();
      }
      this.pump();
    }

    createEditor(user) {
      const { Editor, Extension, StarterKit, Collaboration, CollaborationCaret, Image, Placeholder } = this.kit;
      const session = this;
      const Shortcuts = Extension.create({
        name: "missiveShortcuts",
        addKeyboardShortcuts() {
          return {
            "Mod-k": () => { session.openLink(); return true; },
            "Mod-\\": () => this.editor.chain().focus().unsetAllMarks().clearNodes().run(),
          };
        },
      });
      this.editor = new Editor({
        element: this.parts.surface,
        editable: false,
        extensions: [
          StarterKit.configure({
            undoRedo: false,  // Collaboration brings an undo that only undoes one's own changes
            heading: { levels: [1, 2, 3] },
            link: { openOnClick: false, autolink: true, defaultProtocol: "https", protocols: ["mailto"] },
          }),
          Image.configure({ inline: true }),
          Placeholder.configure({ placeholder: "Write your message…" }),
          Collaboration.configure({ document: this.doc, field: "default" }),
          CollaborationCaret.configure({ provider: { awareness: this.awareness }, user }),
          Shortcuts,
        ],
        editorProps: {
          attributes: { class: "cowrite-content", "aria-label": "Message body", role: "textbox", "aria-multiline": "true" },
          // The browser reports a selection it changed natively (Shift+arrows, End) a moment later;
          // read it now so a key pressed right after (Enter, Mod-k) acts on what the person sees.
          handleKeyDown: (view) => { view.domObserver.flush(); return false; },
        },
        onUpdate: () => { if (this.input) this.input.value = this.getHTML(); },
        onSelectionUpdate: () => this.showActive(),
        onTransaction: () => this.showActive(),
      });
      this.user = user;
      this.wireToolbar();
    }

    /* The draft's starting HTML (a quote, a signature) becomes the document once, whoever opens
       it first: the server takes only the first seed and answers the others with its document. */
    async seed(html) {
      const { Y, ProseMirrorDOMParser, prosemirrorToYXmlFragment } = this.kit;
      // An inert document: nothing in it loads or runs, and the schema keeps only what it knows.
      const container = new DOMParser().parseFromString(html, "text/html").body;
      const node = ProseMirrorDOMParser.fromSchema(this.editor.schema).parse(container);
      const seedDoc = new Y.Doc();
      prosemirrorToYXmlFragment(node, seedDoc.getXmlFragment("default"));
      const update = Y.encodeStateAsUpdate(seedDoc);
      const response = await this.post("sync/", { update: toBase64(update), client: this.client, seed: true });
      if (this.closed) return;
      if (response.ok) {
        if ((await response.json()).closed) { this.fail("This draft was sent or discarded."); return; }
        Y.applyUpdate(this.doc, update, REMOTE);
      }
      else if (response.status === 409) Y.applyUpdate(this.doc, fromBase64((await response.json()).update), REMOTE);
    }

    post(path, body, keepalive) {
      return fetch(this.baseUrl + path, {
        method: "POST",
        body: JSON.stringify(body),
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        keepalive: Boolean(keepalive),
      });
    }

    /* ---- Sending local updates ---- */
    queue(update) {
      this.pending = this.pending ? this.kit.Y.mergeUpdates([this.pending, update]) : update;
      this.pump();
    }

    async pump() {
      if (this.sending || !this.pending || !this.editor || this.failure) return;
      this.sending = true;
      let attempt = 0;
      while (this.pending && !this.failure) {
        const update = this.pending;
        this.pending = null;
        let response = null;
        try {
          response = await this.post("sync/", { update: toBase64(update), client: this.client });
        } catch (error) { /* offline: retried below */ }
        if (response && response.ok) {
          if ((await response.json()).closed) {
            // Sent or discarded meanwhile (by us or a teammate): nothing more to write.
            this.fail("This draft was sent or discarded.");
            break;
          }
          attempt = 0;
          continue;
        }
        if (response && response.status === 409) {
          // The server lacks changes this update builds on: send everything this editor holds.
          this.pending = this.kit.Y.encodeStateAsUpdate(this.doc);
          continue;
        }
        if (response && (response.status === 403 || response.status === 404)) {
          this.fail("This draft can no longer be edited: it was sent or discarded, or you lost access.");
          break;
        }
        this.pending = this.pending ? this.kit.Y.mergeUpdates([update, this.pending]) : update;
        await sleep(RETRY_MS[Math.min(attempt++, RETRY_MS.length - 1)]);
      }
      this.sending = false;
      if (!this.pending || this.failure) this.settle();
    }

    flush() {
      if (this.failure) return Promise.reject(new Error(this.failure));
      if (!this.pending && !this.sending) return this.ready.then(() => undefined);
      return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
    }

    settle() {
      const waiters = this.waiters;
      this.waiters = [];
      waiters.forEach(({ resolve, reject }) => (this.failure ? reject(new Error(this.failure)) : resolve()));
    }

    fail(message) {
      this.failure = message;
      if (this.editor && !this.closed) this.editor.setEditable(false);
      this.el.classList.add("cowrite-failed");
      this.parts.status.querySelector(".cowrite-writing").textContent = message;
      this.settle();
    }

    /* ---- Cursors ---- */
    scheduleAwareness() {
      if (this.awarenessTimer) return;
      this.awarenessTimer = setTimeout(() => { this.awarenessTimer = null; this.sendAwareness(); }, AWARENESS_MS);
    }

    sendAwareness(keepalive) {
      if (this.failure) return;
      const update = this.kit.encodeAwarenessUpdate(this.awareness, [this.doc.clientID]);
      this.post("awareness/", { update: toBase64(update), client: this.client }, keepalive).catch(() => null);
    }

    showPeople() {
      const people = this.parts.status.querySelector(".cowrite-people");
      const others = [...this.awareness.getStates().entries()]
        .filter(([id, state]) => id !== this.doc.clientID && state.user && state.user.name);
      people.replaceChildren(...others.map(([, state]) => {
        const chip = document.createElement("span");
        chip.className = "cowrite-person";
        chip.style.setProperty("--person", /^#[0-9a-f]{6}$/i.test(state.user.color) ? state.user.color : "#8a90a0");
        chip.textContent = state.user.name;
        chip.title = `${state.user.name} is editing this draft`;
        return chip;
      }));
      this.el.classList.toggle("cowrite-shared", others.length > 0);
    }

    showWriting(name) {
      if (!name) return;
      const line = this.parts.status.querySelector(".cowrite-writing");
      line.textContent = `${name} is writing…`;
      clearTimeout(this.writingTimer);
      this.writingTimer = setTimeout(() => { if (!this.failure) line.textContent = ""; }, WRITING_SHOWN_MS);
    }

    /* ---- The form ---- */
    changed(local) {
      if (!this.editor) return;
      if (this.input) this.input.value = this.getHTML();
      if (local && this.form) {
        this.form.dispatchEvent(new CustomEvent("composer:change", { bubbles: true, detail: { draftId: this.draftId, field: "body_html" } }));
      }
    }

    getHTML() {
      return this.editor ? this.editor.getHTML() : (this.input ? this.input.value : "");
    }

    insertHTML(html) {
      if (!this.editor) return false;
      return this.editor.chain().focus().insertContent(html).run();
    }

    /* ---- Toolbar ---- */
    wireToolbar() {
      const { toolbar, linkBar } = this.parts;
      toolbar.addEventListener("mousedown", (event) => event.preventDefault());  // keep the selection
      toolbar.addEventListener("click", (event) => {
        const button = event.target.closest(".cowrite-tool");
        if (!button || !this.editor.isEditable) return;
        const tool = TOOLS.find((t) => t && t.name === button.dataset.tool);
        if (tool.name === "link") { this.openLink(); return; }
        tool.run(this.editor.chain().focus()).run();
      });
      const input = linkBar.querySelector("input");
      // Focus the editor at once, not with TipTap's focus(): that one refocuses a frame later and
      // puts back the selection it had, undoing keys (End, arrows) typed in between.
      const edit = () => { linkBar.hidden = true; this.editor.view.focus(); return this.editor.chain().extendMarkRange("link"); };
      const apply = () => {
        const href = input.value.trim();
        const chain = edit();
        (href ? chain.setLink({ href: /^(https?:|mailto:)/i.test(href) ? href : `https://${href}` }) : chain.unsetLink()).run();
      };
      linkBar.querySelector("[data-link='apply']").addEventListener("click", apply);
      linkBar.querySelector("[data-link='remove']").addEventListener("click", () => edit().unsetLink().run());
      input.addEventListener("keydown", (event) => {
        if (event.key === "Enter") { event.preventDefault(); apply(); }
        if (event.key === "Escape") { event.preventDefault(); edit(); }
      });
    }

    openLink() {
      const { linkBar } = this.parts;
      linkBar.hidden = false;
      const input = linkBar.querySelector("input");
      input.value = this.editor.getAttributes("link").href || "";
      input.focus();
      input.select();
    }

    showActive() {
      if (!this.editor) return;  // transactions run while the editor is being created
      for (const tool of TOOLS) {
        if (!tool || !tool.active) continue;
        const button = this.parts.toolbar.querySelector(`[data-tool='${tool.name}']`);
        const on = this.editor.isActive(tool.active);
        button.classList.toggle("active", on);
        button.setAttribute("aria-pressed", String(on));
      }
    }

    destroy() {
      if (this.closed) return;
      this.closed = true;
      this.source.close();
      this.kit.removeAwarenessStates(this.awareness, [this.doc.clientID], "teardown");
      const gone = this.kit.encodeAwarenessUpdate(this.awareness, [this.doc.clientID]);
      if (!this.failure) this.post("awareness/", { update: toBase64(gone), client: this.client }, true).catch(() => null);
      if (this.pending) this.post("sync/", { update: toBase64(this.pending), client: this.client }, true).catch(() => null);
      this.awareness.destroy();
      if (this.editor) this.editor.destroy();
      this.editor = null;  // late answers (load, seed, pump) find nothing left to touch
    }
  }

  /* ---- Mounting ---- */
  async function mount(el) {
    if (el.dataset.cowriteMounted || !el.dataset.draftId || !el.dataset.syncUrl) return;
    el.dataset.cowriteMounted = "1";
    let kit;
    try {
      kit = await loadKit();
    } catch (error) {
      el.textContent = error.message;
      return;
    }
    const old = sessions.get(el.dataset.draftId);
    if (old) old.destroy();
    sessions.set(el.dataset.draftId, new Session(el, kit));
  }

  function mountAll(root) {
    const scope = root && root.querySelectorAll ? root : document;
    if (scope.matches && scope.matches(".composer-editor")) mount(scope);
    scope.querySelectorAll(".composer-editor").forEach(mount);
  }

  function forget(root) {
    for (const [draftId, session] of sessions) {
      if (root === session.el || root.contains(session.el)) { session.destroy(); sessions.delete(draftId); }
    }
  }

  const session = (draftId) => sessions.get(String(draftId));

  window.missive = window.missive || {};
  window.missive.editor = {
    insertHTML(draftId, html) { const s = session(draftId); return s ? s.insertHTML(html) : false; },
    getHTML(draftId) { const s = session(draftId); return s ? s.getHTML() : ""; },
    flush(draftId) { const s = session(draftId); return s ? s.flush() : Promise.resolve(); },
  };

  document.addEventListener("htmx:load", (event) => mountAll(event.detail && event.detail.elt));
  document.addEventListener("htmx:beforeCleanupElement", (event) => { if (event.target.querySelector) forget(event.target); });
  window.addEventListener("pagehide", () => { sessions.forEach((s) => s.destroy()); sessions.clear(); });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => mountAll(document));
  else mountAll(document);
})();
