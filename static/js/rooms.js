/* Chat rooms: a room opens at its latest message, like a chat; a selection holding a room
   offers no Close or Assign (rooms cannot be assigned or closed, only archived). */
(function () {
  function roomTimeline() {
    return document.querySelector(".conversation:has(> .room-header) #timeline");
  }

  function showLatest() {
    const timeline = roomTimeline();
    // Opened from a search, the matched message is shown instead (app.js).
    if (timeline && !timeline.querySelector(".match")) timeline.scrollTop = timeline.scrollHeight;
  }

  function refreshBulkBar() {
    const withRoom = document.querySelector("#conversation-list .row.room .row-check:checked") !== null;
    document.querySelectorAll('#bulk-bar [data-bulk-key="close"], #bulk-bar [data-bulk-key="assign-me-add"]').forEach((button) => {
      button.hidden = withRoom;
    });
  }

  document.addEventListener("change", refreshBulkBar);
  document.addEventListener("click", () => setTimeout(refreshBulkBar));
  document.addEventListener("keyup", () => setTimeout(refreshBulkBar));
  document.addEventListener("htmx:afterSettle", (event) => {
    refreshBulkBar();
    const target = event.detail.target && event.detail.target.id;
    if (target === "conversation-pane" || target === "workspace") showLatest();
  });
  document.addEventListener("DOMContentLoaded", showLatest);
})();
