// Inside the Shopify admin's iframe (loaded only there, after App Bridge).
// Third-party cookies are blocked in the iframe, so every htmx request carries a fresh ID token
// instead: htmx:confirm holds each request until App Bridge hands one over, htmx:configRequest
// puts it in the Authorization header, which the server verifies with Shopify's package.
(function () {
  "use strict";
  var bridge = window.shopify;
  if (!bridge || typeof bridge.idToken !== "function") { return; }
  var pending = null;

  document.addEventListener("htmx:confirm", function (event) {
    event.preventDefault();
    bridge.idToken().then(function (token) {
      pending = token;
      event.detail.issueRequest(true);
    });
  });

  document.addEventListener("htmx:configRequest", function (event) {
    if (pending) {
      event.detail.headers["Authorization"] = "Bearer " + pending;
      pending = null;
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    if (!xhr) { return; }
    // Shopify's package answers "leave the iframe" (billing confirmation, the CRM) this way.
    var away = xhr.getResponseHeader("X-Shopify-API-Request-Failure-Reauthorize-Url");
    if (away) { window.open(away, "_top"); return; }
    // A stale ID token the package refused: load the page again, which brings a fresh one.
    if (xhr.status === 401 && xhr.getResponseHeader("X-Shopify-Retry-Invalid-Session-Request") === "1") {
      window.location.reload();
    }
  });

  // "Saved" and other confirmations: the admin's own toast.
  function toastFrom(root) {
    var notes = (root || document).querySelectorAll("[data-toast]");
    for (var i = 0; i < notes.length; i++) {
      if (bridge.toast) { bridge.toast.show(notes[i].getAttribute("data-toast")); }
      notes[i].removeAttribute("data-toast");
    }
  }
  document.addEventListener("DOMContentLoaded", function () { toastFrom(document); });
  document.addEventListener("htmx:afterSwap", function (event) { toastFrom(event.target); });
})();
