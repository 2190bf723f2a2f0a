"""SAMP spoken by the user's browser (the Web Profile), so that tables go to and come
from the TOPCAT or Aladin on the user's own desktop, wherever the server runs.

The browser registers with the hub at ``localhost:21012`` (the hub asks the
user to accept esap-dash), sends ``table.load.votable`` with a link to the
table, and, while receiving, fetches the tables SAMP clients send it through
the hub's URL translator and hands them to the server.  The Web Profile code
is the npm package ``sampjs`` (``esap_dash/ui/static/sampjs``), bundled into
this component's module.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import param
from panel.custom import JSComponent

__all__ = ["WebSamp"]

_SAMPJS = (Path(__file__).parent.parent / "static" / "sampjs" / "samp.js").read_text()
#: sampjs ends with a CommonJS export; the module below uses its ``samp`` directly.
_SAMPJS = _SAMPJS.replace("module.exports = { samp }", "")

_RENDER = r"""
export function render({ model, el }) {
  const MTYPE = "table.load.votable";
  const status = document.createElement("span");
  status.className = "esap-websamp-status";
  el.appendChild(status);
  let conn = null;
  const tracker = new samp.ClientTracker();
  const tell = (event, fields) => model.send_msg({event, ...fields});
  const show = (text) => { status.textContent = text; };
  // A client's name, asked of the hub when the tracker does not know it yet.
  const nameOf = (id) => new Promise((resolve) => {
    const known = tracker.metas[id];
    if (known && known["samp.name"]) {
      resolve(known["samp.name"]);
      return;
    }
    conn.getMetadata([id], (meta) => resolve((meta && meta["samp.name"]) || id),
                     () => resolve(id));
  });

  tracker.callHandler[MTYPE] = (senderId, message) => {
    const params = message["samp.params"] || {};
    if (!model.receiving || !params.url) {
      return;
    }
    let sender = senderId;
    nameOf(senderId)
      .then((name) => { sender = name; return fetch(conn.translateUrl(params.url)); })
      .then((answer) => {
        if (!answer.ok) {
          throw new Error(`${answer.status} ${answer.statusText}`);
        }
        return answer.text();
      })
      .then((votable) => {
        if (votable.length > model.max_bytes) {
          tell("error", {text: `${sender} sent a table over ${model.max_bytes} bytes: not taken.`});
        } else {
          tell("table", {votable, sender, name: params.name || params["table-id"] || ""});
        }
      })
      .catch((err) => tell("error", {text: `The table ${sender} sent could not be read: ${err}`}));
  };

  const subscribe = () => {
    const subs = tracker.calculateSubscriptions();
    if (!model.receiving) {
      delete subs[MTYPE];
    }
    conn.declareSubscriptions([subs]);
  };

  const connect = (then) => {
    if (conn) {
      then(conn);
      return;
    }
    show("Asking the SAMP hub on this computer (accept esap-dash if it asks)...");
    samp.register("esap-dash", (c) => {
      conn = c;
      c.onclose = () => { conn = null; show("Not connected to a SAMP hub."); };
      c.declareMetadata([{"samp.name": "esap-dash",
                          "samp.description.text": "esap-dash, in your browser",
                          "esap-dash.session": "web"}]);
      tracker.init(c);
      c.setCallable(tracker, subscribe);
      show("Connected to the SAMP hub on this computer.");
      then(c);
    }, (err) => {
      show("No SAMP hub.");
      tell("error", {text: "No SAMP hub with the Web Profile answers on this computer "
                          + "(localhost:21012): start TOPCAT or Aladin, and accept esap-dash "
                          + `when it asks (${err}).`});
    });
  };

  model.on("msg:custom", (msg) => {
    if (!msg.send) {
      return;
    }
    const url = new URL(msg.send, window.location.href).href;
    connect((c) => {
      const message = new samp.Message(MTYPE, {url, name: msg.name, "table-id": msg.name});
      c.notifyAll([message], (ids) => {
        Promise.all(ids.map(nameOf)).then((to) => tell("sent", {to}));
      }, (err) => tell("error", {text: `The SAMP hub did not pass the table on: ${err}`}));
    });
  });
  model.on("receiving", () => {
    if (conn) {
      subscribe();
    } else if (model.receiving) {
      connect(() => {});
    }
  });
  if (model.receiving) {
    connect(() => {});
  }
  window.addEventListener("beforeunload", () => { if (conn) { conn.close(); } });
}
"""


class WebSamp(JSComponent):
    """The browser's SAMP Web Profile link (see the module docstring).

    Call :meth:`send` to offer a table to the user's SAMP clients; set
    :attr:`receiving` to take the tables they send.  What happens comes back
    through the handlers given: ``on_sent(names)``, ``on_table(votable_text,
    name, sender)`` and ``on_error(text)`` (called on the server's event
    loop; coroutines are run as tasks).
    """

    receiving = param.Boolean(default=False, doc="Subscribe to tables SAMP clients send.")
    max_bytes = param.Integer(default=20 * 2**20, doc="Largest table taken.")

    _esm = _SAMPJS + _RENDER

    def __init__(self, *, on_sent: Callable[[list[str]], Any] | None = None,
                 on_table: Callable[[str, str, str], Any] | None = None,
                 on_error: Callable[[str], Any] | None = None, **params: Any) -> None:
        super().__init__(**params)
        self._handlers = {"sent": (on_sent, ("to",)),
                          "table": (on_table, ("votable", "name", "sender")),
                          "error": (on_error, ("text",))}
        self._tasks: set[asyncio.Future[Any]] = set()

    def send(self, url: str, name: str) -> None:
        """Offer the VOTable at ``url`` (absolute, or relative to the page) to every SAMP
        client of the user's hub as ``name``."""
        self._send_msg({"send": url, "name": name})

    def _handle_msg(self, msg: Any) -> None:
        handler, fields = self._handlers.get(msg.get("event"), (None, ()))
        if handler is None:
            return
        outcome = handler(*(msg.get(f) for f in fields))
        if inspect.isawaitable(outcome):
            task = asyncio.ensure_future(outcome)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
