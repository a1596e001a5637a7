/* The chat box's extras: files (clip button, paste, drop), quoting a comment or message (the
   quote stays with the chat box from one conversation to the next until it is posted), and
   Mod+↑ to edit my last comment, Escape to cancel an edit. */
(function () {
  "use strict";

  const QUOTE_KEY = "missive.pending-quote";
  const box = () => document.getElementById("comment-box");
  const boxArea = () => document.querySelector("#comment-box textarea[name=body]");

  /* ---- Files ---- */
  // The files chosen so far for the chat box on screen (a file picker replaces an input's files:
  // this list is what the input is reset to each time).
  const pending = new WeakMap();
  function fileInput() { return document.querySelector("#comment-box [data-file-input]"); }
  function chosen() { return (box() && pending.get(box())) || []; }

  function sizeLabel(bytes) {
    const units = ["bytes", "KB", "MB", "GB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return unit === 0 ? `${value} ${units[0]}` : `${value.toFixed(1)} ${units[unit]}`;
  }

  function showFileError(message) {
    const error = document.querySelector("#comment-box [data-file-error]");
    if (error) error.textContent = message;
  }

  function renderTray() {
    const input = fileInput();
    const tray = document.querySelector("#comment-box [data-file-tray]");
    if (!input || !tray) return;
    tray.replaceChildren(...chosen().map((file, index) => {
      const item = document.createElement("li");
      item.className = "comment-file-pending";
      const name = document.createElement("span");
      name.className = "filename";
      name.textContent = file.name;  // text, never markup: names are the sender's own
      const size = document.createElement("span");
      size.className = "size";
      size.textContent = sizeLabel(file.size);
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "comment-file-remove";
      remove.dataset.removeFile = String(index);
      remove.setAttribute("aria-label", `Remove ${file.name}`);
      remove.title = "Remove";
      remove.textContent = "×";
      item.append(name, size, remove);
      return item;
    }));
  }

  function setFiles(files) {
    const input = fileInput();
    pending.set(box(), files);
    const transfer = new DataTransfer();
    files.forEach((file) => transfer.items.add(file));
    input.files = transfer.files;
    renderTray();
  }

  function addFiles(added) {
    const input = fileInput();
    if (!input) return;
    const current = chosen();
    const limit = Number(input.dataset.maxBytes || 0);
    const total = [...current, ...added].reduce((sum, file) => sum + file.size, 0);
    if (limit && total > limit) {
      const weight = sizeLabel(total) === sizeLabel(limit) ? `more than ${sizeLabel(limit)}` : sizeLabel(total);
      showFileError(`These files weigh ${weight}: a comment's files can weigh ${sizeLabel(limit)} at most.`);
      setFiles(current);
      return;
    }
    showFileError("");
    setFiles([...current, ...added]);
    boxArea()?.focus();
  }

  document.addEventListener("click", (event) => {
    const attach = event.target.closest && event.target.closest("#comment-box [data-attach]");
    if (attach) { fileInput()?.click(); return; }
    const remove = event.target.closest && event.target.closest("#comment-box [data-remove-file]");
    if (remove) {
      const files = [...chosen()];
      files.splice(Number(remove.dataset.removeFile), 1);
      showFileError("");
      setFiles(files);
      boxArea()?.focus();
    }
  });

  document.addEventListener("change", (event) => {
    if (!event.target.matches || !event.target.matches("#comment-box [data-file-input]")) return;
    addFiles([...event.target.files]);
  });

  document.addEventListener("paste", (event) => {
    if (!event.target.closest || !event.target.closest("#comment-box")) return;
    const files = [...(event.clipboardData?.files || [])];
    if (!files.length) return;
    event.preventDefault();
    addFiles(files);
  });

  const carriesFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
  document.addEventListener("dragover", (event) => {
    if (!carriesFiles(event) || !event.target.closest || !event.target.closest(".conversation") || !box()) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    box().classList.add("dropping");
  });
  document.addEventListener("dragleave", (event) => {
    if (box() && (!event.relatedTarget || !event.relatedTarget.closest?.(".conversation"))) box().classList.remove("dropping");
  });
  document.addEventListener("drop", (event) => {
    if (!carriesFiles(event) || !event.target.closest || !event.target.closest(".conversation") || !box()) return;
    event.preventDefault();
    box().classList.remove("dropping");
    addFiles([...event.dataTransfer.files]);
  });

  /* ---- Quotes ---- */
  function placeQuote() {
    const slot = document.querySelector("#comment-box [data-quote-slot]");
    const html = sessionStorage.getItem(QUOTE_KEY);
    if (!slot) return;
    if (!html) { slot.replaceChildren(); return; }
    if (!slot.querySelector("[data-quote-chip]")) slot.innerHTML = html;  // our server's escaped HTML
  }

  function dropQuote() {
    sessionStorage.removeItem(QUOTE_KEY);
    placeQuote();
  }

  document.addEventListener("click", (event) => {
    const trigger = event.target.closest && event.target.closest("[data-quote-url]");
    if (trigger) {
      trigger.closest("details")?.removeAttribute("open");
      window.missive.fetchPartial(trigger.dataset.quoteUrl)
        .then((html) => {
          sessionStorage.setItem(QUOTE_KEY, html);
          const slot = document.querySelector("#comment-box [data-quote-slot]");
          if (slot) slot.replaceChildren();
          placeQuote();
          boxArea()?.focus();
        })
        .catch(() => {});
      return;
    }
    if (event.target.closest && event.target.closest("[data-drop-quote]")) {
      dropQuote();
      boxArea()?.focus();
    }
  });

  // Posted: the quote went with the comment. Refused (the answer is a toast): it stays.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!elt || !elt.matches || !elt.matches("form.comment-box")) return;
    if (event.detail.xhr.status === 200 && event.detail.xhr.getResponseHeader("HX-Retarget") !== "#toast") {
      sessionStorage.removeItem(QUOTE_KEY);
    }
  });
  document.addEventListener("htmx:afterSettle", placeQuote);
  document.addEventListener("DOMContentLoaded", placeQuote);

  /* ---- Keys: Return posts files alone, Mod+↑ edits my last comment, Escape cancels an edit ---- */
  function suggesting() { return document.querySelector("#comment-box .mention-suggestions .mention-option"); }

  function myComments() {
    return [...document.querySelectorAll("#timeline .comment")].filter((c) => c.querySelector("[data-edit-comment]"));
  }

  function editBefore(section) {
    const mine = myComments();
    const index = section ? mine.indexOf(section) : mine.length;
    const target = mine[index - 1];
    if (!target) return false;
    if (section) section.querySelector("[data-cancel-edit]")?.click();
    target.querySelector("[data-edit-comment]").click();
    const area = target.querySelector("form.comment-edit textarea");
    area.setSelectionRange(area.value.length, area.value.length);
    target.scrollIntoView({ block: "nearest" });
    return true;
  }

  function cancelEdit(form) {
    const section = form.closest(".comment");
    const area = form.querySelector("textarea");
    area.value = area.defaultValue;
    section.querySelector("[data-cancel-edit]").click();
    boxArea()?.focus();
  }

  document.addEventListener("keydown", (event) => {
    const area = event.target;
    if (!area.matches || area.tagName !== "TEXTAREA" || event.isComposing) return;
    const inBox = area.matches("#comment-box textarea");
    const editing = area.closest("form.comment-edit");
    const mod = event.metaKey || event.ctrlKey;
    let handled = false;
    if (inBox && event.key === "Enter" && !event.shiftKey && !event.altKey && !suggesting()) {
      const carrying = chosen().length || document.querySelector("#comment-box [data-quote-chip]");
      if (!area.value.trim() && carrying) { area.form.requestSubmit(); handled = true; }
    } else if ((inBox || editing) && mod && event.key === "ArrowUp" && !suggesting()) {
      const atStart = area.selectionStart === 0 && area.selectionEnd === 0;
      if (!event.altKey && !atStart) {
        area.setSelectionRange(0, 0);
        area.scrollTop = 0;
        handled = true;
      } else {
        handled = editBefore(editing ? editing.closest(".comment") : null) || true;
      }
    } else if (editing && event.key === "Escape") {
      cancelEdit(editing);
      handled = true;
    }
    if (handled) {
      event.preventDefault();
      event.stopPropagation();  // ahead of app.js: its Return, arrows and Escape stay out of it
    }
  }, true);
})();
