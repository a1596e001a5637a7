/* Sizes each message frame to its content, so a message reads as part of the page.
   The frames are sandboxed without allow-scripts (nothing runs inside them) but with
   allow-same-origin, which is what lets this script, in our page, measure their documents. */
(function () {
  "use strict";
  if (window.missiveMailFrames) return; // included once per message; set up once
  window.missiveMailFrames = true;

  function fit(frame) {
    const doc = frame.contentDocument;
    // Until a lazy frame loads, it holds an empty about:blank: keep the default height.
    if (!doc || !doc.body || doc.URL !== "about:srcdoc" || doc.readyState === "loading") return;
    // body is a flow-root without margin: its box is the content, floats and margins included.
    const height = Math.ceil(Math.max(doc.body.scrollHeight, doc.body.getBoundingClientRect().height));
    frame.style.height = Math.max(height, 24) + "px";
  }

  function fitAll() {
    document.querySelectorAll("iframe.mail-frame").forEach(fit);
  }

  // load does not bubble, but it can be caught on its way down; it fires after the frame's images.
  document.addEventListener("load", (event) => {
    if (event.target instanceof HTMLIFrameElement && event.target.classList.contains("mail-frame")) fit(event.target);
  }, true);

  // Text reflows when the pane changes width.
  const lastWidths = new WeakMap();
  const resizes = new ResizeObserver((entries) => {
    entries.forEach((entry) => {
      const width = Math.round(entry.contentRect.width);
      if (lastWidths.get(entry.target) !== width) {
        lastWidths.set(entry.target, width);
        fit(entry.target);
      }
    });
  });
  function observe(root) {
    root.querySelectorAll("iframe.mail-frame").forEach((frame) => { resizes.observe(frame); fit(frame); });
  }

  document.addEventListener("htmx:load", (event) => observe(event.target));
  observe(document);
  window.addEventListener("resize", fitAll);
})();
