// Loaded first, as a classic script: records every script error, failed load, rejected promise, CSP refusal
// and console.error in window.__consoleErrors (what the browser tests read), and applies the saved theme
// before the first paint.
(function () {
  var errors = (window.__consoleErrors = []);
  window.addEventListener("error", function (e) {
    var t = e.target;
    if (t && t !== window && (t.src || t.href)) errors.push("failed to load " + (t.src || t.href));
    else errors.push(String(e.message || e.error));
  }, true);
  window.addEventListener("unhandledrejection", function (e) {
    var r = e.reason;
    errors.push("unhandled rejection: " + (r && r.stack ? r.stack : r));
  });
  window.addEventListener("securitypolicyviolation", function (e) {
    errors.push("CSP refused " + e.violatedDirective + " " + e.blockedURI);
  });
  var original = console.error;
  console.error = function () {
    errors.push(Array.prototype.map.call(arguments, String).join(" "));
    return original.apply(console, arguments);
  };
  try {
    var theme = localStorage.getItem("voicera-theme");
    if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
  } catch (_) { /* storage off: follow the system */ }
})();
