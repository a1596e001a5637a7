/* The label menus: of an open conversation (checkboxes, Apply, create on the fly) and of the
   list's bulk bar (add or remove one label on the selection). Their content loads when they
   open; typing filters it; Mod+Shift+L opens the one that applies. Requests are HTMX's. */
(function () {
  "use strict";

  const MENUS = "details.label-menu[data-labels-url]";

  function load(menu) {
    const panel = menu.querySelector(".label-panel");
    return window.missive.fetchPartial(menu.dataset.labelsUrl)
      .then((html) => {
        panel.innerHTML = html;
        window.htmx.process(panel);
        panel.querySelector(".label-search")?.focus();
      })
      .catch(() => { panel.innerHTML = '<p class="label-loading">Could not load the labels.</p>'; });
  }

  // Each opening loads afresh: labels may have been created or applied since.
  document.addEventListener("toggle", (event) => {
    const menu = event.target;
    if (menu.matches && menu.matches(MENUS) && menu.open) load(menu);
  }, true);

  function options(panel) { return [...panel.querySelectorAll(".label-option")]; }

  function filter(input) {
    const panel = input.closest(".label-panel");
    const typed = input.value.trim().toLowerCase();
    panel.classList.toggle("filtering", typed !== "");
    let shown = 0;
    let exact = false;
    options(panel).forEach((option) => {
      const path = option.dataset.path;
      const recent = option.classList.contains("label-option-recent");
      const match = typed === "" ? true : !recent && path.includes(typed);
      option.hidden = !match;
      if (match && !recent) shown += 1;
      if (path === typed) exact = true;
    });
    panel.querySelectorAll(".label-recent-heading, .label-all-heading").forEach((h) => { h.hidden = typed !== ""; });
    const create = panel.querySelector(".label-create");
    if (create) {
      create.hidden = typed === "" || exact;
      create.querySelector(".label-create-name").textContent = `“${input.value.trim()}”`;
    }
    const none = panel.querySelector(".label-no-match");
    if (none) none.hidden = shown > 0 || typed === "";
  }

  document.addEventListener("input", (event) => {
    if (event.target.matches && event.target.matches(".label-panel .label-search")) filter(event.target);
  });

  // A label listed under Recent and in the tree is one choice: keep both boxes alike.
  document.addEventListener("change", (event) => {
    const box = event.target;
    if (!box.matches || !box.matches(".label-picker input[name='label_ids']")) return;
    box.form.querySelectorAll(`input[name='label_ids'][value='${box.value}']`).forEach((other) => { other.checked = box.checked; });
  });

  // "Create …": the typed name goes with the checked labels.
  document.addEventListener("click", (event) => {
    const create = event.target.closest && event.target.closest(".label-picker .label-create");
    if (!create) return;
    const form = create.form;
    form.querySelector(".label-new-name").value = form.querySelector(".label-search").value.trim();
    form.requestSubmit();
  });

  function visibleOptions(panel) { return options(panel).filter((o) => !o.hidden); }

  function focusables(panel) {
    return visibleOptions(panel).map((o) => o.querySelector("input, button")).filter(Boolean);
  }

  // Return applies (or creates what was typed, when nothing else matches); arrows move.
  document.addEventListener("keydown", (event) => {
    const panel = event.target.closest && event.target.closest(".label-panel");
    if (!panel) return;
    const input = panel.querySelector(".label-search");
    const form = panel.querySelector("form.label-picker");
    const items = focusables(panel);
    const index = items.indexOf(document.activeElement);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      event.stopPropagation();  // the list's own arrow keys wait
      if (event.key === "ArrowDown") (items[index + 1] || items[items.length - 1])?.focus();
      else if (index <= 0) input?.focus();
      else items[index - 1].focus();
      return;
    }
    if (event.key !== "Enter") return;
    event.preventDefault();
    event.stopPropagation();
    if (form) {
      const create = form.querySelector(".label-create");
      if (create && !create.hidden && visibleOptions(panel).length === 0) create.click(); else form.requestSubmit();
    } else if (document.activeElement.matches("button")) {
      document.activeElement.click();
    } else {
      // The bulk menu: Return adds the first label that matches.
      const first = visibleOptions(panel).find((o) => !o.classList.contains("label-option-recent") || input.value === "");
      first?.querySelector(".label-bulk-add")?.click();
    }
  }, true);

  // Mod+Shift+L: the bulk menu with a selection, else the open conversation's label menu.
  document.addEventListener("keydown", (event) => {
    if (!(event.metaKey || event.ctrlKey) || !event.shiftKey || event.key.toLowerCase() !== "l") return;
    const selecting = document.querySelector("#conversation-list .row-check:checked");
    const menu = document.querySelector(selecting ? "#bulk-bar details.label-menu" : ".conversation details.label-menu");
    if (!menu) return;
    event.preventDefault();
    window.missive.closeMenus(menu);
    if (menu.open) menu.querySelector(".label-search")?.focus(); else menu.open = true;
  });

  // Settings › Labels: an edit form loaded in place comes into view, ready to type.
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target.id !== "label-form") return;
    event.detail.target.scrollIntoView({ block: "nearest", behavior: "smooth" });
    event.detail.target.querySelector("input[name='name']")?.focus();
  });
})();
