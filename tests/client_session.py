"""A script run in its own process: a user's session with a deployment through its HTTP
API alone (``esap_dash.http.client``, requests, astropy), with no way to reach a database.

Usage: ``python client_session.py URL ALICE_TOKEN BOB_TOKEN OUT_DIR``; prints a JSON
summary of what happened.
"""

import json
import sys
from pathlib import Path

#: Modules a database (or the dashboard's server side) would need: none may load here.
SERVER_SIDE = {"sqlalchemy", "psycopg", "sqlite3", "_sqlite3", "panel", "bokeh", "alembic"}


class _ServerSideRefused:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in SERVER_SIDE:
            raise ImportError(f"{name} is not installed here")


sys.meta_path.insert(0, _ServerSideRefused())

from esap_dash.http.client import ApiError, Client  # noqa: E402

url, alice_token, bob_token, out = sys.argv[1:5]
alice, bob = Client(url, alice_token), Client(url, bob_token)
said: dict = {"calls": []}
for client in (alice, bob):  # every call the client makes, as (method, path)
    client.session.hooks["response"].append(lambda answer, **_: said["calls"].append(
        (answer.request.method, answer.request.path_url.split("?")[0])))
said["user"] = alice.me()["user"]

found = alice.search("M45", radius=1.0, archives=["Hipparcos-2 (cone search)",
                                                  "Local DaCHS ObsCore (TAP)"])
said["search"] = {a["archive"]: a["state"] for a in found["archives"]}
rows = alice.search_rows(found["id"])
cart = alice.cart("Pleiades from a script")
said["added"] = cart.add_search(found["id"], rows=list(range(10)))
said["cart_rows"] = len(cart.to_table())
said["exported"] = str(cart.export(Path(out) / "pleiades.xml", "votable"))

tap = alice.submit("tap", service="Local DaCHS ObsCore (TAP)",
                   adql="SELECT TOP 3 * FROM hipparcos.main")
said["tap"] = alice.wait(tap["id"], timeout=120)["state"]
said["tap_rows"] = len(alice.result(tap["id"]))

cluster = alice.start_cluster(workers=1)
try:
    run = alice.submit("dask", workflow="crossmatch", cart=cart.name,
                       values={"radius_arcsec": 2.0})
    said["run"] = alice.wait(run["id"], timeout=300)["state"]
    said["run_rows"] = len(alice.result(run["id"]))
    # Every one of Alice's resources, asked for with Bob's token.
    said["bob"] = {}
    for what, call in {
            "cart": lambda: bob.cart(cart.name, create=False),
            "search": lambda: bob.search_rows(found["id"]),
            "tap job": lambda: bob.job(tap["id"]),
            "tap result": lambda: bob.result(tap["id"]),
            "run": lambda: bob.job(run["id"]),
            "run result": lambda: bob.result(run["id"]),
            "abort": lambda: bob.abort(run["id"]),
            "cluster": lambda: bob.stop_cluster(cluster)}.items():
        try:
            call()
            said["bob"][what] = 200
        except ApiError as exc:
            said["bob"][what] = exc.status
    said["cluster"] = [c["status"] for c in alice.clusters() if c["name"] == cluster]
finally:
    alice.stop_cluster(cluster)
said["bob_sees_jobs"] = [j["id"] for j in bob.jobs() if j["id"] in (tap["id"], run["id"])]
said["modules"] = sorted(m for m in SERVER_SIDE if m in sys.modules)
print(json.dumps(said))
