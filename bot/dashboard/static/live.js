// Live queue: the server says when the ledger changed; htmx then fetches the fresh table.
// Without JavaScript the pages still work; they just do not update by themselves.
(function () {
  "use strict";
  function start() {
    var anchor = document.querySelector("[data-live-url]");
    if (!anchor || !window.EventSource) {
      return;
    }
    var source = new EventSource(anchor.getAttribute("data-live-url"));
    source.addEventListener("ledger", function (event) {
      var table = document.querySelector("[data-marker]");
      if (table && table.getAttribute("data-marker") !== event.data) {
        document.body.dispatchEvent(new CustomEvent("ledger-changed"));
      }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
