/* Merging conversations: Mod+Shift+G opens the Merge… dialog, Mod+click adds a row to the
   selection (a batch merge goes into the first one selected), dropping a row on another asks to
   merge them, and after a merge or a move the list is fetched again. */
(function () {
  "use strict";

  const DRAG_TYPE = "application/x-missive-conversation";
  const rowChecks = () => Array.from(document.querySelectorAll("#conversation-list .row-check"));
  const mailboxUrl = () => document.querySelector(".list-pane")?.dataset.mailboxUrl || "/m/inbox/";

  function openDialog(url) {
    window.htmx.ajax("GET", url, { target: "#modal", swap: "innerHTML" });
  }

  /* ---- Selection order: a batch merge keeps the first conversation selected ---- */
  let order = [];

  function syncSelection() {
    const checked = rowChecks().filter((c) => c.checked).map((c) => c.value);
    order = order.filter((id) => checked.includes(id));
    checked.forEach((id) => { if (!order.includes(id)) order.push(id); });
    const button = document.querySelector("[data-merge-selected]");
    if (button) {
      button.hidden = order.length < 2;
      button.title = `Merge ${order.length} conversations into the first one selected`;
    }
  }

  document.addEventListener("click", syncSelection);
  document.addEventListener("change", syncSelection);
  document.addEventListener("htmx:afterSettle", syncSelection);

  // Mod+click on a row selects it (or unselects it) instead of opening it.
  window.addEventListener("click", (event) => {
    if (!(event.metaKey || event.ctrlKey) || event.shiftKey) return;
    const link = event.target.closest && event.target.closest("#conversation-list .row-link");
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    link.closest(".row").querySelector(".row-check")?.click();
  }, true);

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("[data-merge-selected]");
    if (!button) return;
    syncSelection();
    const params = new URLSearchParams(order.map((id) => ["ids", id]));
    params.set("return_to", mailboxUrl());
    openDialog(`${button.dataset.url}?${params}`);
  });

  /* ---- Drag a row onto another: merge the dragged one into it (after the confirm step) ---- */
  let dragged = null;
  const clearDropMarks = () => document.querySelectorAll(".row.merge-drop").forEach((r) => r.classList.remove("merge-drop"));

  document.addEventListener("dragstart", (event) => {
    const row = event.target.closest && event.target.closest("#conversation-list .row");
    if (!row) return;
    dragged = row.dataset.id;
    event.dataTransfer.setData(DRAG_TYPE, dragged);
    event.dataTransfer.effectAllowed = "move";
  });
  document.addEventListener("dragover", (event) => {
    const row = event.target.closest && event.target.closest("#conversation-list .row");
    if (!row || !dragged || row.dataset.id === dragged) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    if (!row.classList.contains("merge-drop")) { clearDropMarks(); row.classList.add("merge-drop"); }
  });
  document.addEventListener("dragleave", (event) => {
    const row = event.target.closest && event.target.closest(".row.merge-drop");
    if (row && !row.contains(event.relatedTarget)) row.classList.remove("merge-drop");
  });
  document.addEventListener("drop", (event) => {
    const row = event.target.closest && event.target.closest("#conversation-list .row");
    const source = dragged || event.dataTransfer.getData(DRAG_TYPE);
    clearDropMarks();
    dragged = null;
    if (!row || !source || row.dataset.id === source) return;
    event.preventDefault();
    const params = new URLSearchParams({ with: source, direction: "into_this", return_to: mailboxUrl() });
    openDialog(`/c/${row.dataset.id}/merge/?${params}`);
  });
  document.addEventListener("dragend", () => { dragged = null; clearDropMarks(); });

  /* ---- Keys: Mod+Shift+G, and moving through the dialog's results ---- */
  window.addEventListener("keydown", (event) => {
    const mod = event.metaKey || event.ctrlKey;
    if (mod && event.shiftKey && event.key.toLowerCase() === "g") {
      const item = document.querySelector(".conversation .toolbar [data-merge-open]");
      if (!item) return;
      event.preventDefault();
      event.stopPropagation();
      window.missive.activate(item);
      return;
    }
    const modal = event.target.closest && event.target.closest("#modal .merge-modal");
    if (!modal || mod || event.altKey) return;
    const candidates = Array.from(modal.querySelectorAll("[data-merge-candidate]"));
    const search = modal.querySelector("#merge-search");
    const index = candidates.indexOf(document.activeElement);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!candidates.length) return;
      event.preventDefault();
      event.stopPropagation();
      const step = event.key === "ArrowDown" ? 1 : -1;
      if (index + step < 0) search?.focus();
      else candidates[Math.min(index + step, candidates.length - 1)].focus();
    } else if (event.key === "Enter" && (event.target === search || index >= 0)) {
      // The list's own Enter (open the row under the cursor) must not see it.
      event.stopPropagation();
      if (event.target === search && candidates.length) { event.preventDefault(); candidates[0].click(); }
    } else if (event.key !== "Escape" && event.target.matches("button, input[type=radio]")) {
      event.stopPropagation(); // j/k and the other list keys stay out of the dialog
    }
  }, true);

  // A finished request from inside #modal closes it (app.js: prompts close once answered). The
  // dialog stays open through its own steps (search, pick, swap, a refusal: the answer is the
  // dialog again, or its results) and closes once the merged conversation fills the pane.
  document.addEventListener("htmx:afterRequest", (event) => {
    const { elt, target } = event.detail || {};
    if (!target) return;
    const nextStep = target.id === "modal" && target.querySelector(".merge-modal");
    const results = target.id === "merge-candidates" && elt && elt.closest && elt.closest(".merge-modal");
    if (nextStep || results) event.stopPropagation();
  }, true);

  // Typing a new subject picks the "New subject" option.
  document.addEventListener("focusin", (event) => {
    if (!event.target.matches || !event.target.matches("[data-merge-new-subject]")) return;
    const radio = event.target.closest("label")?.querySelector("input[type=radio]");
    if (radio) radio.checked = true;
  });

  /* ---- After a merge or a move: the list again (conversations left it, one rose to the top) ---- */
  document.body.addEventListener("merge-list-changed", () => {
    if (!document.getElementById("conversation-list")) return;
    const query = new URLSearchParams(window.location.search);
    query.delete("before");
    const suffix = query.toString() ? `?${query}` : "";
    window.htmx.ajax("GET", `${mailboxUrl()}${suffix}`, { target: "#conversation-list", swap: "innerHTML" });
  });
})();
