// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  function focusErrorSummary(root) {
    var summary = (root || document).querySelector("[data-focus-on-load]");
    if (summary) { summary.focus(); }
  }
  document.addEventListener("DOMContentLoaded", function () { focusErrorSummary(document); });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.boosted) {
      // A new step replaced the page: move focus as a page load would, to the problem or the heading.
      var target = document.querySelector("[data-focus-on-load]") || document.querySelector("main h1");
      if (target) { target.focus(); }
    } else {
      focusErrorSummary(event.target);
    }
  });
})();
