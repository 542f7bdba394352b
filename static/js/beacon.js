/* FunnelSync analytics beacon, loaded by live funnel pages from the app's origin.
 * The page carries <img class="fs-beacon" data-fs-beacon="URL" data-fs-token="T" src="URL?t=T&k=page_view&v=ID">:
 * the image alone counts the page view without JavaScript. With JavaScript this script keeps
 * a random visitor id in the page origin's localStorage (never personal data) and reports offer
 * views, accepts and declines with navigator.sendBeacon. */
(function () {
  "use strict";
  var tag = document.querySelector("[data-fs-beacon]");
  if (!tag || !navigator.sendBeacon) return;
  var url = tag.getAttribute("data-fs-beacon");
  var token = tag.getAttribute("data-fs-token");
  function randomId() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  var visitor = tag.getAttribute("data-fs-visitor") || "";
  try {
    visitor = visitor || localStorage.getItem("fs_visitor") || "";
    if (!visitor) { visitor = randomId(); }
    localStorage.setItem("fs_visitor", visitor);
  } catch (e) { visitor = visitor || randomId(); }
  function send(kind, offer) {
    var body = new URLSearchParams({ t: token, k: kind, v: visitor, e: randomId() });
    if (offer) body.set("o", offer);
    navigator.sendBeacon(url, body);
  }
  // The pixel already counted the page view when it had a visitor id; otherwise count it here.
  if (!tag.getAttribute("data-fs-visitor")) send("page_view", "");
  var seen = {};
  var observer = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      var offer = entry.target.getAttribute("data-fs-offer");
      if (entry.isIntersecting && !seen[offer]) { seen[offer] = true; send("offer_view", offer); }
    });
  }, { threshold: 0.5 }) : null;
  document.querySelectorAll("[data-fs-offer]").forEach(function (el) { if (observer) observer.observe(el); });
  document.addEventListener("click", function (event) {
    var action = event.target.closest && event.target.closest("[data-fs-action]");
    if (!action) return;
    var offer = action.closest("[data-fs-offer]");
    if (offer) send(action.getAttribute("data-fs-action") === "decline" ? "offer_decline" : "offer_accept", offer.getAttribute("data-fs-offer"));
  });
})();
