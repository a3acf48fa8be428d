// Live pages: the server says when the ledger or the registry changed; each live region of the page that
// follows that source then fetches itself again through htmx (see the live_region macro).
// Without JavaScript the pages still work; they just do not update by themselves.
(function () {
  "use strict";
  var SOURCES = ["ledger", "registry"];
  var latest = {}; // source -> the newest marker the server announced

  function behind(region) {
    return region.getAttribute("data-live").split(" ").some(function (source) {
      var shown = region.getAttribute("data-marker-" + source);
      return latest[source] !== undefined && shown !== null && shown !== latest[source];
    });
  }

  // Someone writing in a form (a reason to reject) keeps the region as it is until they leave the field
  // empty or unfocused: a refresh must not throw their words away.
  function busy(region) {
    var fields = region.querySelectorAll("input:not([type=hidden]), textarea");
    return Array.prototype.some.call(fields, function (field) {
      return field === document.activeElement || field.value !== field.defaultValue;
    });
  }

  function refreshIfBehind() {
    document.querySelectorAll("[data-live]").forEach(function (region) {
      if (behind(region) && !busy(region)) {
        region.dispatchEvent(new CustomEvent("live-changed"));
      }
    });
  }

  // A browser opens about six connections to one server; every open stream holds one. So only a tab someone
  // can see follows the stream: a hidden tab lets go of it and, when shown again, reconnects and catches up
  // (the stream starts with the current markers).
  var source = null;

  function connect(url) {
    if (source !== null || document.visibilityState === "hidden") {
      return;
    }
    source = new EventSource(url);
    SOURCES.forEach(function (name) {
      source.addEventListener(name, function (event) {
        latest[name] = event.data;
        refreshIfBehind();
      });
    });
  }

  function disconnect() {
    if (source !== null) {
      source.close();
      source = null;
    }
  }

  function start() {
    var anchor = document.querySelector("[data-live-url]");
    if (!anchor || !window.EventSource) {
      return;
    }
    var url = anchor.getAttribute("data-live-url");
    connect(url);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") {
        disconnect();
      } else {
        connect(url);
      }
    });
    window.addEventListener("pagehide", disconnect);
    // A change announced while a refresh was in flight is not lost: once the region is swapped in, it is
    // compared with the newest markers again. Leaving a form field may release a region that waited.
    document.body.addEventListener("htmx:afterSwap", refreshIfBehind);
    document.body.addEventListener("focusout", function () {
      window.setTimeout(refreshIfBehind, 0);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
