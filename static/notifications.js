// Keeps the navigation's unread-notifications count current without reloading the page, and
// announces new notifications politely to screen readers. Polls this site only (CSP: 'self').
(function () {
  var link = document.querySelector("[data-notifications-url]");
  if (!link || !window.fetch) { return; }
  var url = link.getAttribute("data-notifications-url");
  var live = document.getElementById("notifications-live");
  var last = parseInt(link.getAttribute("data-unread") || "0", 10);
  var every = parseInt(link.getAttribute("data-poll-seconds") || "60", 10) * 1000;

  function render(count) {
    var badge = link.querySelector(".badge");
    if (count > 0) {
      if (!badge) {
        badge = document.createElement("span");
        badge.className = "badge badge-warn";
        link.appendChild(document.createTextNode(" "));
        link.appendChild(badge);
      }
      badge.textContent = String(count);
      var hidden = document.createElement("span");
      hidden.className = "visually-hidden";
      hidden.textContent = " " + (link.getAttribute("data-unread-label") || "unread");
      badge.appendChild(hidden);
    } else if (badge) {
      badge.remove();
    }
  }

  function poll() {
    if (document.hidden) { return; }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        if (data.unread > last && live && data.latest.length) {
          live.textContent = data.latest[0].subject || "";
        }
        last = data.unread;
        render(data.unread);
      })
      .catch(function () { /* offline: try again next time */ });
  }
  setInterval(poll, every);
  document.addEventListener("visibilitychange", poll);
}());
