// Settings › Signatures: a small rich-text editor (bold, italic, link) over each content
// textarea. The textarea stays the form's field; in HTML mode it is shown as it is.
(function () {
  "use strict";

  // The signature's own HTML, made inert before it enters the page: the saved HTML is already
  // sanitised, but a draft typed in HTML mode is not.
  function inert(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    template.content.querySelectorAll("script, style, iframe, object, embed, form").forEach(function (el) { el.remove(); });
    template.content.querySelectorAll("*").forEach(function (el) {
      Array.prototype.slice.call(el.attributes).forEach(function (attr) {
        var value = attr.value.replace(/\s/g, "").toLowerCase();
        if (attr.name.indexOf("on") === 0 || value.indexOf("javascript:") === 0) el.removeAttribute(attr.name);
      });
    });
    return template.content;
  }

  function setUp(field) {
    if (field.dataset.ready) return;
    field.dataset.ready = "1";
    var editor = field.querySelector("[data-rich-editor]");
    var rich = field.querySelector(".sg-rich");
    var textarea = field.querySelector("textarea");
    var form = field.closest("form");
    var fieldset = field.closest("fieldset");
    var alwaysRich = editor.hasAttribute("data-always-rich");
    var readOnly = fieldset && fieldset.disabled;

    function isRich() {
      if (alwaysRich) return true;
      var checked = form.querySelector("input[name=format]:checked");
      return !checked || checked.value === "rich";
    }

    function show() {
      var useRich = isRich();
      if (useRich) {
        rich.replaceChildren(inert(textarea.value));
      }
      editor.hidden = !useRich;
      textarea.hidden = useRich;
    }

    rich.contentEditable = readOnly ? "false" : "true";
    rich.addEventListener("input", function () { textarea.value = rich.innerHTML; });
    editor.querySelectorAll("[data-command]").forEach(function (button) {
      button.disabled = readOnly;
      button.addEventListener("click", function () {
        rich.focus();
        var command = button.dataset.command;
        var value = null;
        if (command === "createLink") {
          value = window.prompt("Link address", "https://");
          if (!value) return;
        }
        document.execCommand(command, false, value);
        textarea.value = rich.innerHTML;
      });
    });
    if (!alwaysRich) {
      form.querySelectorAll("input[name=format]").forEach(function (radio) {
        radio.addEventListener("change", show);
      });
    }
    show();
  }

  function init(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("[data-signature-content]").forEach(setUp);
  }

  if (window.htmx) {
    window.htmx.onLoad(init);
  } else {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  }
})();
