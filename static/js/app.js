// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  function focusErrorSummary(root) {
    var summary = (root || document).querySelector("[data-focus-on-load]");
    if (summary) { summary.focus(); }
  }
  document.addEventListener("DOMContentLoaded", function () { focusErrorSummary(document); });
  // An inline check that finds a field fine ([data-resolves="field"]) takes back what the last
  // submit said about it: its message, its invalid mark and its line in the error summary.
  function resolveFields(root) {
    root.querySelectorAll("[data-resolves]").forEach(function (marker) {
      var field = marker.getAttribute("data-resolves");
      var input = document.getElementById(field);
      var message = document.getElementById(field + "-error");
      if (message) { message.remove(); }
      if (input) {
        input.removeAttribute("aria-invalid");
        var described = (input.getAttribute("aria-describedby") || "").split(" ").filter(function (id) {
          return id && id !== field + "-error";
        });
        input.setAttribute("aria-describedby", described.join(" "));
      }
      document.querySelectorAll('.error-summary a[href="#' + field + '"]').forEach(function (link) {
        var summary = link.closest(".error-summary");
        link.closest("li").remove();
        if (summary && !summary.querySelector("li")) { summary.remove(); }
      });
    });
  }
  document.addEventListener("htmx:afterSwap", function (event) {
    resolveFields(event.target);
    if (event.detail.boosted) {
      // A new step replaced the page: move focus as a page load would, to the problem or the heading.
      var target = document.querySelector("[data-focus-on-load]") || document.querySelector("main h1");
      if (target) { target.focus(); }
    } else {
      focusErrorSummary(event.target);
    }
  });
})();
