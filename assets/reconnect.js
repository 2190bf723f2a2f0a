// esap-dash: a page whose server connection is lost says so and loads again, so
// that it reaches a server worker that is alive (behind nginx, another one).
(function () {
  "use strict";
  var RELOAD_AFTER_MS = 4000;
  function watch(doc) {
    doc.on_event("connection_lost", function () {
      if (window.__esapReloading) { return; }
      window.__esapReloading = true;
      var note = document.createElement("div");
      note.className = "esap-connection-lost";
      note.style.cssText = "position:fixed;top:0;left:0;right:0;z-index:10000;" +
        "padding:10px 16px;background:#8a1c1c;color:#fff;font-weight:600;text-align:center";
      note.setAttribute("role", "alert");
      note.textContent = "The connection to the esap-dash server was lost: this page " +
        "loads again as soon as the server answers (nothing you saved is lost).";
      document.body.appendChild(note);
      // load again once a server answers here (a dead worker's address is served by
      // another behind nginx; a restarting server answers after a while)
      var again = function () {
        fetch("liveness", {cache: "no-store"}).then(
          function (answer) {
            if (answer.ok) { window.location.reload(); } else { setTimeout(again, RELOAD_AFTER_MS); }
          },
          function () { setTimeout(again, RELOAD_AFTER_MS); });
      };
      setTimeout(again, RELOAD_AFTER_MS);
    });
  }
  var seen = [];
  var timer = setInterval(function () {
    var docs = (window.Bokeh && window.Bokeh.documents) || [];
    docs.forEach(function (doc) {
      if (seen.indexOf(doc) < 0) { seen.push(doc); watch(doc); }
    });
  }, 500);
  window.addEventListener("beforeunload", function () { clearInterval(timer); });
}());
