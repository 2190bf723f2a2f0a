"""The runtime owns a process's live state: nothing of it at module level, all of it
closed with the runtime."""

from __future__ import annotations

import ast
import asyncio
import contextvars
import os
import threading
import time
from pathlib import Path

import pytest

from esap_dash.core.config import PROJECT_ROOT
from esap_dash.core.fanout import fan_out, guard, run_blocking
from esap_dash.core.runtime import Runtime, current_runtime
from esap_dash.core.store import store_for
from esap_dash.work.workflows import LocalDask, LocalEngine, Runner

#: What makes a live object when assigned at module or class level.
LIVE_CALLS = {"ThreadPoolExecutor", "ProcessPoolExecutor", "Lock", "RLock", "Thread",
              "OrderedDict", "defaultdict", "dict", "set", "list", "Event", "Queue"}


def _live(value: ast.expr | None) -> bool:
    if isinstance(value, ast.Dict | ast.List | ast.Set) and not (
            getattr(value, "keys", None) or getattr(value, "elts", None)):
        return True  # an empty container made to be filled
    if isinstance(value, ast.Call):
        func = value.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return name in LIVE_CALLS and not (name in {"dict", "set", "list"} and value.args)
    return False


def module_level_live_state(path: Path) -> list[str]:
    """Assignments at module or class level that make a container or pool to be
    filled while the process runs."""
    found = []
    tree = ast.parse(path.read_text())
    scopes = [tree.body, *(n.body for n in tree.body if isinstance(n, ast.ClassDef))]
    for body in scopes:
        for node in body:
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            targets = (node.targets if isinstance(node, ast.Assign) else
                       [node.target] if isinstance(node, ast.AnnAssign) else [])
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if _live(value) or "_instance" in names:
                found.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {names}")
    return found


def test_no_live_state_lives_at_module_or_class_level() -> None:
    sources = [*(PROJECT_ROOT / "esap_dash").rglob("*.py"),
               *(PROJECT_ROOT / "connectors").rglob("*.py")]
    assert len(sources) > 60
    found = [hit for path in sources for hit in module_level_live_state(path)]
    assert found == []


def test_the_rule_sees_live_state() -> None:
    source = ("import threading\nfrom concurrent.futures import ThreadPoolExecutor\n"
              "POOL = ThreadPoolExecutor(4)\n_SEEN: dict = {}\nNAMES = ('a',)\n"
              "class Shared:\n    _instance = None\n    _lock = threading.Lock()\n")
    path = PROJECT_ROOT / "var" / "runtime-rule-example.py"
    path.write_text(source)
    try:
        assert [hit.split(" ", 1)[1] for hit in module_level_live_state(path)] == [
            "['POOL']", "['_SEEN']", "['_instance']", "['_lock']"]
    finally:
        path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait(condition, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def test_a_closed_runtime_leaves_no_thread_cluster_or_connection(tmp_path: Path) -> None:
    session = current_runtime()
    database = f"sqlite:///{tmp_path / 'own.db'}"

    async def calls() -> tuple[set[threading.Thread], list[int]]:
        used = {await run_blocking(threading.current_thread)}
        outcomes = [o async for o in fan_out(
            {"a": lambda: (1, threading.current_thread()),
             "b": lambda: (2, threading.current_thread())}, deadline=10)]
        used |= {o.value[1] for o in outcomes}
        return used, sorted(o.value[0] for o in outcomes)

    seen_in: list[Runtime] = []
    with Runtime(threads=3) as runtime:
        assert current_runtime() is runtime
        used, values = contextvars.copy_context().run(asyncio.run, calls())
        assert values == [1, 2]
        assert all(t.name.startswith("esap-dash-call") for t in used)
        store = store_for(database)
        assert store is store_for(database)
        assert guard("http://service.example") is guard("http://service.example")
        client = LocalEngine().client()
        workers = list(client.run(os.getpid).values())
        client.close()
        runner = Runner.shared()
        assert runner is Runner.shared()
        runtime.run_in_thread(lambda: seen_in.append(current_runtime()), name="probe").join()
        assert set(runtime.parts) == {"calls", "stores", "guards", "local-dask", "runner"}
    assert seen_in == [runtime]  # a thread it starts sees it
    assert runtime.closed and runtime.parts == []
    assert current_runtime() is session  # the test session's again
    assert Runner.shared() is not runner
    assert store.engine.pool.checkedout() == 0
    assert _wait(lambda: not any(t.is_alive() for t in used)), used
    assert _wait(lambda: not any(_alive(pid) for pid in workers)), workers
    with pytest.raises(RuntimeError, match="closed"):
        runtime.part("calls", dict)


def test_a_part_that_fails_to_close_leaves_the_others_closed(caplog) -> None:
    closed = []

    class Broken:
        def close(self) -> None:
            raise OSError("disk gone")

    class Fine:
        def close(self) -> None:
            closed.append("fine")

    runtime = Runtime()
    runtime.part("fine", Fine)
    runtime.part("broken", Broken)
    runtime.part("local-dask", LocalDask)  # never started: closing it starts nothing
    runtime.close()
    runtime.close()  # twice does nothing
    assert closed == ["fine"]
    assert "broken failed to stop or close" in caplog.text
