"""The bad-input corpus (tests/data/bad_specs/): each spec fails with one clear line naming the
file, the field, the value and what is allowed; exit status 2; nothing written.

Each corpus file starts with ``# expect: REGEX`` (what the message must contain). The real
``migsim`` CLI runs as a subprocess for every file (all started at once, then checked one by one).
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

CORPUS = sorted((Path(__file__).resolve().parents[2] / "data" / "bad_specs").glob("*.toml"))


def expectation(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name}: first line must be '# expect: REGEX'"
    return first.removeprefix("# expect: ")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory, run_cli) -> dict[str, tuple]:
    """Run ``migsim sweep BAD --out DIR`` for the whole corpus, four at a time."""

    # directories first: mktemp is not safe to call from several threads at once
    works = {p: tmp_path_factory.mktemp(p.stem) for p in CORPUS}

    def one(path: Path) -> tuple:
        work = works[path]
        out = work / "out"
        return run_cli(["sweep", path, "--out", out], cwd=work, timeout=120), work, out

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip((p.name for p in CORPUS), pool.map(one, CORPUS)))


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 20


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_bad_spec_fails_cleanly(path: Path, outcomes: dict[str, tuple]) -> None:
    res, work, out = outcomes[path.name]
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    line = lines[0]
    assert line.startswith(f"migsim: error: {path}: "), line
    assert re.search(expectation(path), line), f"{line!r} does not match {expectation(path)!r}"
    assert "Traceback" not in res.stderr and res.stdout == ""
    assert not out.exists(), "a bad spec must not create the output directory"
    assert not (work / "results").exists()


def test_missing_spec_file(run_cli, tmp_path: Path) -> None:
    res = run_cli(["sweep", tmp_path / "nope.toml"], cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip() == f"migsim: error: {tmp_path / 'nope.toml'}: no such spec file"
    assert not (tmp_path / "results").exists()
