"""Reads job descriptions, one JSON string a line on standard input, with DIRAC's own JDL
reader (``ClassAdLight``, as DiracX runs it), and prints for each a JSON line: the
attribute names it read, or ``"hang"`` when it did not finish within two seconds.

Run with the Python of the stack's DiracX environment (tests/test_jdl.py)."""

import json
import signal
import sys

from DIRACCommon.Core.Utilities.ClassAd.ClassAdLight import ClassAd


class HangError(Exception):
    pass


def alarm(*_):
    raise HangError


signal.signal(signal.SIGALRM, alarm)
for line in sys.stdin:
    signal.alarm(2)
    try:
        names = sorted(ClassAd(json.loads(line)).getAttributes())
    except HangError:
        names = "hang"
    except Exception as exc:  # any other failure is an answer, not a hang
        names = f"error: {exc}"
    finally:
        signal.alarm(0)
    print(json.dumps(names), flush=True)
