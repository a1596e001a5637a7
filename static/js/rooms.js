/* Chat rooms: a room opens at its latest message, like a chat. (A selection holding a room
   offers no Close or Assign: rooms.css hides them.) */
(function () {
  function roomTimeline() {
    return document.querySelector(".conversation:has(> .room-header) #timeline");
  }

  function showLatest() {
    const timeline = roomTimeline();
    // Opened from a search, the matched message is shown instead (app.js).
    if (timeline && !timeline.querySelector(".match")) timeline.scrollTop = timeline.scrollHeight;
  }

  document.addEventListener("htmx:afterSettle", (event) => {
    const target = event.detail.target && event.detail.target.id;
    if (target === "conversation-pane" || target === "workspace") showLatest();
  });
  document.addEventListener("DOMContentLoaded", showLatest);
})();
