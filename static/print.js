// The printable referral summary's "Print" button (no inline scripts: the CSP allows only this site's files).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".print-button").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
});
