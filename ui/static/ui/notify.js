// The notification bell: a live unread count over Server-Sent Events (/notifications/stream).
// A "count" event sets the badge; when the newest notification changes, the dropdown reloads (htmx).
(function () {
  "use strict";
  function setCount(n) {
    var badge = document.getElementById("bell-count");
    if (!badge) return;
    badge.textContent = n > 99 ? "99+" : String(n);
    badge.classList.toggle("d-none", !n);
    badge.dataset.count = String(n);
  }
  window.tfBellCount = setCount;
  function start() {
    var bell = document.getElementById("tf-bell");
    if (!bell || !window.EventSource || bell.dataset.live) return;
    bell.dataset.live = "1";
    var latest = null;
    var source = new EventSource(bell.dataset.stream);
    source.addEventListener("count", function (e) {
      var data = JSON.parse(e.data);
      setCount(data.unread);
      if (latest !== null && data.latest !== latest && window.htmx) {
        document.body.dispatchEvent(new Event("tf-notify-refresh"));
      }
      latest = data.latest;
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
