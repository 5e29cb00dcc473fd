"""The docs run: every shell command and Python block of README.md and the docs under sweeps/, in
order, in a fresh directory, as a new user would type them.

Fenced blocks marked ``bash`` or ``sh`` are shell commands (one per line, ``\\`` continues a line),
``python`` blocks are run as scripts; ``toml`` blocks that are specs must parse; ``text`` blocks
are shown, not run (cluster commands that need a running Ray head live there). A command ending in ``# exit N``
announces its exit status; every other command must exit 0. The set-up and test commands of the
README's "Two commands" (``pip install …``, ``python -m pytest``) are what run this test, so they
are skipped; the rest of those lines runs. Heavy tier: the commands start Ray several times.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, cli_env

DOCS = ["README.md", "sweeps/README.md", "sweeps/SCENARIOS.md"]
_FENCE = re.compile(r"^```(\w*)\s*$")
_EXIT = re.compile(r"#\s*exit\s+(\d+)\s*$")
_SKIP = ("pip install", "python -m pytest")


def blocks(doc: Path) -> list[tuple[str, int, str]]:
    """``(language, line number, text)`` of every fenced block of a Markdown file."""
    out, lang, start, buf = [], None, 0, []
    for n, line in enumerate(doc.read_text().splitlines(), 1):
        m = _FENCE.match(line.strip())
        if m and lang is None:
            lang, start, buf = m.group(1), n + 1, []
        elif line.strip() == "```" and lang is not None:
            out.append((lang, start, "\n".join(buf)))
            lang = None
        elif lang is not None:
            buf.append(line)
    return out


def steps(doc: Path) -> list[tuple[str, str, int, str]]:
    """``(kind, where, expected exit, text)`` for every runnable step of a doc, in order."""
    out = []
    for lang, start, text in blocks(doc):
        where = f"{doc.relative_to(REPO)}:{start}"
        if lang == "python":
            out.append(("python", where, 0, text))
        elif lang in ("bash", "sh"):
            for line in text.replace("\\\n", " ").splitlines():
                parts = [p.strip() for p in line.split("&&")]
                cmd = " && ".join(p for p in parts if p and not p.startswith(_SKIP))
                if not cmd or cmd.startswith("#"):
                    continue
                m = _EXIT.search(cmd)
                out.append(("shell", where, int(m.group(1)) if m else 0, cmd))
    return out


def test_the_docs_list_runnable_steps():
    """Fast check of the extraction itself: the README's commands are found, in order."""
    found = steps(REPO / "README.md")
    cmds = [t for k, _, _, t in found if k == "shell"]
    assert cmds[0].startswith("migsim sweep sweeps/quickstart.toml")
    assert any(c.startswith("migsim migrate") for c in cmds)
    assert any(e == 2 for _, _, e, _ in found)           # a documented bad-input example
    assert not any(c.startswith(_SKIP) for c in cmds)
    assert any(k == "python" for k, *_ in found)


@pytest.mark.parametrize("doc", DOCS)
def test_every_documented_spec_parses(doc):
    """``toml`` blocks that are specs (they set ``name``) parse as written (issue 10, item 11:
    the "Writing a spec" example of sweeps/README.md was rejected)."""
    from runner.scenario.spec import parse_scenario
    from runner.sweep.spec import parse_spec

    for lang, start, text in blocks(REPO / doc):
        if lang != "toml" or not re.search(r"^name\s*=", text, re.M):
            continue
        where = f"{doc}:{start}"
        spec = (parse_scenario(text, where) if re.search(r'^kind\s*=\s*"scenario"', text, re.M)
                else parse_spec(text, where, "doc"))
        assert spec.n_points > 0


@pytest.mark.slow
def test_every_documented_command_runs_in_order(tmp_path: Path) -> None:
    work = tmp_path / "user"
    work.mkdir()
    for sub in ("sweeps", "tests/data", "examples"):
        if (REPO / sub).is_dir():
            shutil.copytree(REPO / sub, work / sub)
    env = cli_env()
    for doc in DOCS:
        for kind, where, expected, text in steps(REPO / doc):
            if kind == "python":
                args = [sys.executable, "-c", text]
            else:
                args = ["bash", "-c", text]
            r = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True,
                               timeout=900)
            assert r.returncode == expected, (
                f"{where}: `{text[:200]}` exited {r.returncode}, the doc expects {expected}\n"
                f"stdout: {r.stdout[-1500:]}\nstderr: {r.stderr[-1500:]}")
            if r.returncode != 0:
                assert "Traceback" not in r.stderr, f"{where}: `{text}`: {r.stderr[-1500:]}"
