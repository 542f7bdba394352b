// The store admin's side of App Bridge (the sandbox's stand-in): it answers the app in
// the iframe over postMessage. Only messages from that iframe and the app's origin count.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("admin-config").textContent);
  // Looked up when a message comes: this script runs in the head, before they exist.
  function frame() { return document.getElementById("app-frame"); }
  // Shopify's own parameters never show in the admin's address bar.
  var EMBEDDED = ["embedded", "hmac", "host", "id_token", "locale", "session", "shop",
    "timestamp", "protocol", "appLoadId", "shopify-reload"];

  function reply(message) {
    message.source = "sandbox-admin";
    frame().contentWindow.postMessage(message, config.appOrigin);
  }

  function idToken(request) {
    fetch(config.idTokenUrl, { method: "POST", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("the admin could not mint an ID token (" + response.status + ")");
        return response.json();
      })
      .then(function (body) { reply({ type: "idToken", id: request.id, token: body.idToken }); })
      .catch(function (error) { reply({ type: "idToken", id: request.id, error: String(error.message || error) }); });
  }

  function toast(request) {
    var item = document.createElement("div");
    item.className = "toast" + (request.isError ? " error" : "");
    item.textContent = String(request.message || "");
    document.getElementById("app-toasts").appendChild(item);
    var duration = Number(request.duration) > 0 ? Number(request.duration) : 5000;
    setTimeout(function () { item.remove(); }, duration);
  }

  function redirect(request) {
    var url;
    try { url = new URL(String(request.url)); } catch (e) { return; }
    if (url.protocol !== "http:" && url.protocol !== "https:") return;
    if (request.target === "_blank") window.open(url.href, "_blank", "noopener");
    else window.location.assign(url.href);
  }

  function navigate(request) {
    var url;
    try { url = new URL(String(request.path), config.appOrigin); } catch (e) { return; }
    var path = url.pathname;
    if (config.appHomePath && (path === config.appHomePath || path.indexOf(config.appHomePath + "/") === 0)) {
      path = path.slice(config.appHomePath.length);
    }
    path = path.replace(/^\/+/, "");
    var query = new URLSearchParams(url.search);
    EMBEDDED.forEach(function (name) { query.delete(name); });
    var search = query.toString();
    var target = config.adminAppPath + (path ? "/" + path : "") + (search ? "?" + search : "") + url.hash;
    if (target !== window.location.pathname + window.location.search + window.location.hash) {
      // The admin's address bar follows the app, so a reload or a shared link opens the
      // same page of the app. (Back and forward are left to the iframe.)
      window.history.replaceState(null, "", target);
    }
  }

  window.addEventListener("message", function (event) {
    var app = frame();
    if (!app || event.source !== app.contentWindow || event.origin !== config.appOrigin) return;
    var request = event.data;
    if (!request || request.source !== "sandbox-app-bridge") return;
    if (request.type === "idToken") idToken(request);
    else if (request.type === "toast") toast(request);
    else if (request.type === "redirect") redirect(request);
    else if (request.type === "navigate") navigate(request);
  });
})();
