// App Bridge stand-in, served by the Shopify sandbox at /cdn/app-bridge.js: what an app
// loads instead of https://cdn.shopify.com/shopifycloud/app-bridge.js in development and
// tests. Load it the same way, as the first script of the page:
//   <meta name="shopify-api-key" content="CLIENT_ID">
//   <script src="{sandbox}/cdn/app-bridge.js"></script>
// (or <script data-api-key="CLIENT_ID" src=...>, as the official package's helpers write).
// It talks to the sandbox's store admin (the parent page) over postMessage; see
// sandbox/README.md for what it does and where it differs from the real App Bridge.
(function () {
  "use strict";
  var script = document.currentScript;
  var adminOrigin = new URL(script.src, window.location.href).origin;
  var meta = document.querySelector('meta[name="shopify-api-key"]');
  var apiKey = (script.getAttribute("data-api-key") || (meta && meta.content) || "").trim();
  var params = new URLSearchParams(window.location.search);
  var embedded = window.top !== window.self;
  var pending = {};
  var sequence = 0;

  function send(message) {
    message.source = "sandbox-app-bridge";
    message.apiKey = apiKey;
    window.parent.postMessage(message, adminOrigin);
  }

  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || event.origin !== adminOrigin) return;
    var message = event.data;
    if (!message || message.source !== "sandbox-admin" || message.type !== "idToken") return;
    var waiter = pending[message.id];
    if (!waiter) return;
    delete pending[message.id];
    if (message.token) waiter.resolve(message.token);
    else waiter.reject(new Error(message.error || "App Bridge (sandbox): no ID token"));
  });

  function idToken() {
    if (!embedded) {
      return Promise.reject(new Error("App Bridge (sandbox): the app is not inside the admin"));
    }
    return new Promise(function (resolve, reject) {
      var id = ++sequence;
      pending[id] = { resolve: resolve, reject: reject };
      send({ type: "idToken", id: id });
      setTimeout(function () {
        if (pending[id]) {
          delete pending[id];
          reject(new Error("App Bridge (sandbox): the admin gave no ID token"));
        }
      }, 10000);
    });
  }

  function redirectOut(url, target) {
    send({ type: "redirect", url: new URL(String(url), window.location.href).href, target: target });
  }

  // Leaving the iframe: window.open(url, "_top") and <a target="_top"> go through the admin.
  var nativeOpen = window.open;
  window.open = function (url, target, features) {
    if (embedded && (target === "_top" || target === "_parent")) {
      redirectOut(url, "_top");
      return null;
    }
    return nativeOpen.call(window, url, target, features);
  };
  document.addEventListener("click", function (event) {
    if (!embedded || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    var link = event.target && event.target.closest
      ? event.target.closest('a[target="_top"], a[target="_parent"]') : null;
    if (!link || !link.href) return;
    event.preventDefault();
    redirectOut(link.href, "_top");
  });

  // fetch to the app's own origin carries `Authorization: Bearer <fresh ID token>`; a 401
  // asking for a retry is retried once with a new token; a reauthorize URL leaves the iframe.
  var nativeFetch = window.fetch;
  function sameOrigin(request) {
    return new URL(request.url, window.location.href).origin === window.location.origin;
  }
  function withToken(request, callerSetIt) {
    if (callerSetIt) return Promise.resolve(request);
    return idToken().then(function (token) {
      request.headers.set("Authorization", "Bearer " + token);
      return request;
    });
  }
  window.fetch = function (input, init) {
    var original = new Request(input, init);
    if (!embedded || !sameOrigin(original)) return nativeFetch.call(window, original);
    var callerSetIt = original.headers.has("Authorization");
    return withToken(original.clone(), callerSetIt)
      .then(function (request) { return nativeFetch.call(window, request); })
      .then(function (response) {
        if (!callerSetIt && response.status === 401 &&
            response.headers.get("X-Shopify-Retry-Invalid-Session-Request") === "1") {
          return withToken(original.clone(), false).then(function (request) {
            return nativeFetch.call(window, request);
          });
        }
        return response;
      })
      .then(function (response) {
        var reauthorize = response.headers.get("X-Shopify-API-Request-Failure-Reauthorize-Url");
        if (reauthorize) redirectOut(reauthorize, "_top");
        return response;
      });
  };

  // Navigation: the admin's address bar follows the app's location.
  function reportLocation() {
    if (embedded) {
      send({ type: "navigate", path: window.location.pathname + window.location.search + window.location.hash });
    }
  }
  ["pushState", "replaceState"].forEach(function (name) {
    var native = window.history[name];
    window.history[name] = function () {
      var result = native.apply(window.history, arguments);
      reportLocation();
      return result;
    };
  });
  window.addEventListener("popstate", reportLocation);

  var toastCount = 0;
  window.shopify = {
    config: {
      apiKey: apiKey,
      shop: params.get("shop") || undefined,
      host: params.get("host") || undefined,
      locale: params.get("locale") || "en",
    },
    environment: { embedded: embedded, mobile: false, pos: false },
    idToken: idToken,
    toast: {
      show: function (message, options) {
        var id = "sandbox-toast-" + (++toastCount);
        if (embedded) {
          send({
            type: "toast", id: id, message: String(message),
            duration: options && options.duration, isError: !!(options && options.isError),
          });
        }
        return id;
      },
      hide: function () {},
    },
  };

  // The patch-ID-token page (the official package's app_home_patch_id_token): get a fresh
  // ID token and reload the app's URL in `shopify-reload` with it, on the app's origin only.
  var reload = params.get("shopify-reload");
  if (embedded && reload) {
    var target = new URL(reload, window.location.href);
    if (target.origin === window.location.origin) {
      idToken().then(function (token) {
        target.searchParams.set("id_token", token);
        window.location.replace(target.href);
      });
    }
  }
  // (A patch-ID-token page is a stop on the way, not a place to show in the admin.)
  else if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", reportLocation);
  else reportLocation();
})();
