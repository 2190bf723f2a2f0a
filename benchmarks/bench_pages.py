"""A page switch in the browser, against opening a bare Panel template.

    .venv/bin/python benchmarks/bench_pages.py [--repeat 5]

Debian's chromium (headless) opens the dashboard of the ``local`` profile on
its Discovery page, then clicks through the navigation: each switch is timed
from the click to the page's first view shown (its heading and first
controls), the first visit of a page in a tab (the page is built) and a visit
again (it was built already) apart; and for the Sky page, which draws its
map after its first view, until the map is drawn (``complete``).  The next
click waits for the server to be idle, as a reader would.  The baseline, in the same run and
browser: a bare Panel template with one widget (the one of
``bench_session.py``), served by Panel in a process of its own, opened in a
new tab until its widget is shown.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from bench_soak import served, wait_answering
from playwright.sync_api import sync_playwright

from esap_dash.serving import free_ports

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

#: Navigation label -> (role, name) of what shows that the page's first view is there.
PAGES = {
    "Sky": ("text", "Whole catalogue (TAP)"),
    "Cart": ("button", "Create cart"),
    "Jobs": ("text", "Clusters run on the Dask Gateway"),
    "Services": ("heading", "Services"),
    "Discovery": ("button", "Search all archives"),
}

#: Navigation label -> what shows that a page drawn in steps is complete.
COMPLETE = {"Sky": ("canvas", "")}

BARE = textwrap.dedent("""
    import sys
    import panel as pn
    pn.serve({"bare": lambda: pn.template.BootstrapTemplate(
        title="bare", main=[pn.widgets.TextInput(name="x", placeholder="bare")])},
        port=int(sys.argv[1]), address="127.0.0.1", show=False)
""")


#: True once an element of a kind (``text``: any element holding the text;
#: ``button``, ``heading``; ``input``: by placeholder; ``canvas``: a drawing) is
#: visible, looked for in
#: every shadow root (Bokeh draws each model in one).
FIND = """([kind, name]) => {
  const matches = (el) => {
    if (kind === "input") return el.tagName === "INPUT" && el.placeholder === name;
    if (kind === "canvas") return el.tagName === "CANVAS";
    if (kind === "heading") {  // Markdown headings end in an anchor, "¶"
      return /^H[1-6]$/.test(el.tagName) && el.textContent.replace("¶", "").trim() === name;
    }
    if (el.childElementCount) return false;
    const text = el.textContent.trim();
    if (kind === "button") return el.closest("button") !== null && text === name;
    return text.includes(name);
  };
  const roots = [document];
  while (roots.length) {
    for (const el of roots.pop().querySelectorAll("*")) {
      if (el.shadowRoot) roots.push(el.shadowRoot);
      if (matches(el) && el.checkVisibility() && el.getBoundingClientRect().width > 0) {
        return true;
      }
    }
  }
  return false;
}"""


def shown(page, role: str, name: str) -> None:
    """Wait until the element is visible, looking at every frame the browser draws
    (a locator's wait looks every 100-500 ms, coarser than what is timed)."""
    page.wait_for_function(FIND, arg=[role, name], polling="raf", timeout=120_000)


def settled(page) -> None:
    """Wait until the server has nothing left to do for the tab (the template's
    busy indicator stops) and what it sent is drawn."""
    page.locator(".loader.spin").first.wait_for(state="detached", timeout=120_000)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)))")


def switches(browser, url: str, repeat: int) -> dict[str, list[float]]:
    """Seconds from a click on the navigation to the page shown, by page: first
    visits (``name``) and visits again (``name again``); and until the page is
    complete (``name complete``: everything it draws drawn, the server idle).
    Each click waits for the page before to be complete, as a reader would."""
    times: dict[str, list[float]] = {}
    for _ in range(repeat):
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.goto(url + "?page=discovery")
        shown(page, *PAGES["Discovery"])
        settled(page)
        for visit in ("", " again"):
            for name, marker in PAGES.items():
                if name == "Discovery" and not visit:
                    continue  # the tab opened there
                start = time.perf_counter()
                page.get_by_role("button", name=name, exact=True).click()
                shown(page, *marker)
                times.setdefault(name + visit, []).append(time.perf_counter() - start)
                if name in COMPLETE:
                    shown(page, *COMPLETE[name])
                    times.setdefault(f"{name}{visit} complete", []).append(
                        time.perf_counter() - start)
                settled(page)
        context.close()
    return times


def bare_loads(browser, repeat: int) -> list[float]:
    """Seconds to open the bare template in a new tab until its widget is shown."""
    port = free_ports()
    server = subprocess.Popen([sys.executable, "-c", BARE, str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/bare"
    try:
        wait_answering(url, 60, server)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        times = []
        for attempt in range(repeat + 1):
            page = context.new_page()
            start = time.perf_counter()
            page.goto(url)
            shown(page, "input", "bare")
            if attempt:  # the first fills the browser's cache, as the dashboard's tab did
                times.append(time.perf_counter() - start)
            page.close()
        context.close()
        return times
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="esap-pages-"))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        with served("local", f"sqlite:///{workdir}/p.db", workdir) as (url, _):
            times = switches(browser, url, args.repeat)
        bare = statistics.median(bare_loads(browser, args.repeat))
        browser.close()
    print(f"page switches in the browser, median of {args.repeat}; bare Panel template "
          f"opened in {bare:.2f} s")
    for name, values in times.items():
        median = statistics.median(values)
        goal = "" if name.endswith("complete") else " (goal <= 1.5)"
        print(f"  {name:24s} {median:5.2f} s  ratio {median / bare:.2f}{goal}")


if __name__ == "__main__":
    main()
