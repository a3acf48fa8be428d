// Live queue: the server says when the ledger changed; htmx then fetches the fresh table.
// Without JavaScript the pages still work; they just do not update by themselves.
(function () {
  "use strict";
  var latest = null; // the newest marker the server announced

  function behind() {
    var table = document.querySelector("[data-marker]");
    return table !== null && latest !== null && table.getAttribute("data-marker") !== latest;
  }

  function refreshIfBehind() {
    if (behind()) {
      document.body.dispatchEvent(new CustomEvent("ledger-changed"));
    }
  }

  function start() {
    var anchor = document.querySelector("[data-live-url]");
    if (!anchor || !window.EventSource) {
      return;
    }
    var source = new EventSource(anchor.getAttribute("data-live-url"));
    source.addEventListener("ledger", function (event) {
      latest = event.data;
      refreshIfBehind();
    });
    // A change announced while a refresh was in flight is not lost: once the table is swapped in,
    // it is compared with the newest marker again.
    document.body.addEventListener("htmx:afterSwap", refreshIfBehind);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
