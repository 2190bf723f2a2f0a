"""Job descriptions from users reach DiracX only when they read under our strict JDL
grammar, which DIRAC's own reader (run here from the stack's DiracX, out of process
and with a deadline) never hangs on."""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

import pytest

from connectors.jdl import check_jdl
from esap_dash.core.config import PROJECT_ROOT

#: Descriptions on which DIRAC's JDL reader loops forever (and DiracX's server with it).
HANGS = ('[ Executable = "echo"; Foo = [a] ]',
         '[ Executable = "echo"; Sub = [ B = 1 ] ; C = 2; ]',
         '[ Executable = "echo"; Arguments = "x[y ]',
         '[ Executable = "echo"; Requirements = other.Site == "X" && [1] ]',
         '[Executable = "echo"; Arguments = "a [b";]')
READER = Path(__file__).with_name("dirac_reader.py")
DIRACX_PYTHON = Path(os.environ.get("ESAP_DASH_VAR", PROJECT_ROOT / "var"),
                     "venvs", "diracx", "bin", "python")


def dirac_reads(descriptions: list[str]) -> list[list[str] | str]:
    """What DIRAC's own reader makes of each description: its attribute names, an
    error, or ``"hang"``."""
    proc = subprocess.run([str(DIRACX_PYTHON), str(READER)], capture_output=True,
                          text=True, timeout=60 + 3 * len(descriptions),
                          input="".join(json.dumps(d) + "\n" for d in descriptions))
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def grammar_description(rng: random.Random) -> str:
    """A random description that the grammar reads (what users may send)."""
    def value(depth: int = 0) -> str:
        pick = rng.randrange(8 if depth < 3 else 4)
        simple = [f'"{rng.choice(["echo", "a b", "/esap/x.fits", "%s", "LCG.Local.org", ""])}"',
                  str(rng.choice([0, 1, 600, 2.5, 1e3])), rng.choice(["true", "other.Site", "x"]),
                  "{" + ", ".join(f'"f{i}"' for i in range(rng.randrange(4))) + "}"]
        if pick < 4:
            return simple[pick]
        op = rng.choice(["==", "!=", "&&", "||", "<=", "+", "*", "=?="])
        if pick == 7:
            return f"!({value(depth + 1)})"
        return f"{simple[rng.randrange(4)]} {op} ({value(depth + 1)})"
    names = rng.sample(["Executable", "Arguments", "CPUTime", "Site", "Requirements",
                        "InputData", "Parameters", "JobName", "Tags"], rng.randrange(1, 6))
    body = ";\n  ".join(f"{n} = {value()}" for n in names)
    return f"[\n  {body}{rng.choice([';', ''])}\n]"


#: Pieces of descriptions, hostile ones among them, that the fuzzer strings together.
PIECES = ('[', ']', '[', ']', '"', ';', '=', ' ', '\n', '{', '}', ',', '(', ')', '&&', '==',
          'Executable', 'Arguments', ' = ', '"echo"', '"x[y"', '"a;b"', '1', 'other.Site',
          '\u00e9', '\\', '\t', '%s', '[ B = 1 ]', '"', ';]', '=]', '[=', 'true', '.', '-')


def fuzz(rng: random.Random, count: int) -> list[str]:
    """Descriptions of the grammar, each changed in one to three places: a hostile
    piece put in, a few characters taken out, or one character replaced."""
    made = []
    for _ in range(count):
        text = grammar_description(rng)
        for _ in range(rng.randrange(1, 4)):
            at = rng.randrange(len(text) + 1)
            change = rng.randrange(3)
            if change == 0:
                text = text[:at] + rng.choice(PIECES) + text[at:]
            elif change == 1:
                text = text[:at] + text[at + rng.randrange(1, 4):]
            else:
                text = text[:at] + rng.choice(PIECES)[:1] + text[at + 1:]
        made.append(text)
    return made


@pytest.mark.parametrize("jdl", HANGS)
def test_what_hangs_dirac_does_not_read(jdl) -> None:
    with pytest.raises(ValueError, match="JDL syntax error"):
        check_jdl(jdl)


@pytest.mark.parametrize(("jdl", "said"), [
    ('[Executable = "caf\u00e9";]', "non-ASCII"),
    ('[Executable = "echo"; Executable = "ls";]', "given twice"),
    ('[Executable = "echo" Arguments = "a";]', "expected ';' after the value of Executable"),
    ('[Executable = "echo";] [', "text after the description"),
    ('[Executable = {{"a"}};]', "a list holds strings"),
    ("[A = " + "(" * 30 + "1" + ")" * 30 + ";]", "nested deeper"),
    ("x" * 100_001, "over 100,000 characters")])
def test_a_refusal_says_where_and_why(jdl, said) -> None:
    with pytest.raises(ValueError, match=said):
        check_jdl(jdl)


def test_dirac_reads_what_the_grammar_reads_and_never_hangs_on_it(local_stack) -> None:
    """The fuzz: random descriptions from the grammar and random strings of hostile
    pieces; DIRAC's reader finishes on every one we would send, and reads the same
    attributes from the grammar's; the known hangs do hang it (the harness sees one)."""
    rng = random.Random(20261203)
    valid = [grammar_description(rng) for _ in range(300)]
    soup = fuzz(rng, 3000)
    accepted = []
    for jdl in soup:
        try:
            check_jdl(jdl)
        except ValueError:
            continue
        accepted.append(jdl)
    assert len(accepted) > 300  # many changed descriptions still read: the fuzz bites
    assert [sorted(check_jdl(j)) for j in valid] == dirac_reads(valid)
    read = dirac_reads(accepted)
    assert "hang" not in read, [j for j, r in zip(accepted, read, strict=True) if r == "hang"]
    assert dirac_reads(list(HANGS[:2])) == ["hang", "hang"]
