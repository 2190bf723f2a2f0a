// esap-dash: a page whose server connection is lost says so and loads again, so
// that it reaches a server worker that is alive (behind nginx, another one).
//
// It watches the page's websocket itself: Bokeh's own "connection_lost" event is
// not sent once anything has raised "beforeunload" (a download, for one).
(function () {
  "use strict";
  var RELOAD_AFTER_MS = 4000;
  var leaving = false;
  window.addEventListener("pagehide", function () { leaving = true; });

  function lost() {
    if (leaving || window.__esapReloading) { return; }
    window.__esapReloading = true;
    var note = document.createElement("div");
    note.className = "esap-connection-lost";
    note.setAttribute("role", "alert");
    note.style.cssText = "position:fixed;top:0;left:0;right:0;z-index:10000;" +
      "padding:10px 16px;background:#8a1c1c;color:#fff;font-weight:600;text-align:center";
    note.textContent = "The connection to the esap-dash server was lost: this page " +
      "loads again as soon as the server answers (nothing you saved is lost).";
    document.body.appendChild(note);
    // load again once a server answers here (a dead worker's address is served by
    // another behind nginx; a restarting server answers after a while)
    var again = function () {
      fetch("liveness", {cache: "no-store"}).then(
        function (answer) {
          if (answer.ok) {
            try {  // what the page said, for the page it becomes
              window.sessionStorage.setItem("esap-connection-lost", note.textContent);
            } catch (e) { /* storage refused: nothing to keep */ }
            window.location.reload();
          } else { setTimeout(again, RELOAD_AFTER_MS); }
        },
        function () { setTimeout(again, RELOAD_AFTER_MS); });
    };
    setTimeout(again, RELOAD_AFTER_MS);
  }

  var Native = window.WebSocket;
  function Watched(url, protocols) {
    var socket = protocols === undefined ? new Native(url) : new Native(url, protocols);
    socket.addEventListener("close", lost);
    return socket;
  }
  Watched.prototype = Native.prototype;
  ["CONNECTING", "OPEN", "CLOSING", "CLOSED"].forEach(function (name) {
    Watched[name] = Native[name];
  });
  window.WebSocket = Watched;
}());
