// Staff sessions end after IDLE_TIMEOUT_MINUTES without a request (the server enforces it whatever
// this script does). About two minutes before, this shows a warning with "Stay signed in", which
// renews the session; at the end it goes to the sign-in page. Requests to this site only (CSP: 'self').
(function () {
  var box = document.getElementById("idle-warning");
  if (!box || !window.fetch) { return; }
  var idleMs = parseInt(box.getAttribute("data-idle-seconds") || "900", 10) * 1000;
  var warnMs = Math.max(idleMs - 120 * 1000, idleMs / 2);
  var stay = document.getElementById("idle-stay");
  var warnTimer, endTimer, before;

  function schedule() {
    clearTimeout(warnTimer); clearTimeout(endTimer);
    warnTimer = setTimeout(warn, warnMs);
    endTimer = setTimeout(function () {
      window.location.href = box.getAttribute("data-login-url");
    }, idleMs + 1000);
  }

  function warn() {
    before = document.activeElement;
    box.hidden = false;
    stay.focus();
  }

  stay.addEventListener("click", function () {
    fetch(box.getAttribute("data-keepalive-url"), {
      method: "POST", credentials: "same-origin",
      headers: {"X-CSRFToken": box.getAttribute("data-csrf"), "Accept": "application/json"}
    }).then(function (response) {
      if (!response.ok) { window.location.href = box.getAttribute("data-login-url"); return; }
      box.hidden = true;
      if (before && before.focus) { before.focus(); }
      schedule();
    });
  });

  schedule();
})();
