"""The README runs as written (issue 16): its sandbox walk-through, every ``python`` block and
every shell block marked ``<!-- readme-test: run -->``, in document order, against a real
``segmentkit sandbox`` subprocess and with the DSNs it prints; the "testing your app" blocks
run as real tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import segmentkit

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MARK = "<!-- readme-test: run -->"
BLOCK = re.compile(r"(<!-- readme-test: run -->\n)?```(\w*)\n(.*?)```", re.S)
SCRIPT = Path(sys.executable).with_name("segmentkit")


def blocks() -> list[tuple[str, bool, str]]:
    """(language, marked runnable, code) for every fenced block, in order."""
    text = README.read_text(encoding="utf-8")
    return [(lang, bool(mark), code) for mark, lang, code in BLOCK.findall(text)]


def walkthrough() -> list[tuple[str, str]]:
    """The blocks the walk-through runs: python ones without tests, marked shell ones."""
    out = []
    for lang, marked, code in blocks():
        if lang == "python" and "def test_" not in code:
            out.append(("python", code))
        elif lang in ("bash", "sh") and marked:
            out.append(("bash", code))
    return out


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[dict[str, str]]:
    """``segmentkit sandbox --env-file`` in a subprocess; yields the variables it exported."""
    env_file = tmp_path_factory.mktemp("sandbox") / "sandbox.env"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGMENTKIT_")}
    proc = subprocess.Popen(
        [str(SCRIPT), "sandbox", "--env-file", str(env_file), "--seconds", "600"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not env_file.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert env_file.exists(), "segmentkit sandbox wrote no env file within 60 s"
        exported = {}
        for line in env_file.read_text(encoding="utf-8").splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            exported[name] = value.strip("'")
        yield exported
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=10)


def test_readme_opens_with_the_install_line_and_names_the_two_make_commands():
    head = README.read_text(encoding="utf-8")[:1500]
    assert 'pip install "segmentkit[cli]"' in head
    assert "make demo" in head
    assert "make test" in head


def test_readme_has_runnable_blocks_of_both_kinds():
    kinds = [kind for kind, _ in walkthrough()]
    assert kinds.count("bash") >= 3
    assert kinds.count("python") >= 3


def test_readme_walkthrough_runs_as_written_against_the_sandbox(
    sandbox, tmp_path, monkeypatch, capsys
):
    (tmp_path / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    for key, value in sandbox.items():
        monkeypatch.setenv(key, value)
    env = dict(os.environ)
    env["PATH"] = f"{SCRIPT.parent}{os.pathsep}{env.get('PATH', '')}"
    transcript = []
    for n, (kind, code) in enumerate(walkthrough(), 1):
        if kind == "python":
            exec(compile(code, f"README.md block {n}", "exec"), {"__name__": "readme"})
            transcript.append(capsys.readouterr().out)
            continue
        proc = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", code],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, f"README shell block {n} failed:\n{code}\n{proc.stderr}"
        transcript.append(proc.stdout + proc.stderr)
    text = "\n".join(transcript)
    if os.environ.get("SEGMENTKIT_README_TRANSCRIPT"):
        Path(os.environ["SEGMENTKIT_README_TRANSCRIPT"]).write_text(text, encoding="utf-8")
    assert "plan: up to" in text  # the dry run states its request count
    assert "added 1, rejected 1" in text  # the library quick start
    assert "copy notificator 3 -> allstech 1: dry run" in text
    assert "exit code 1 (a wrong key)" in text
    assert "error: notificator: 401" in text
    assert "Traceback" not in text
    assert "would change" in text  # the example app's dry run
    assert (tmp_path / "members.csv").read_text(encoding="utf-8").startswith("id,email")
    for value in sandbox.values():
        creds = value.split("://", 1)[-1].split("@", 1)[0]
        for secret in creds.split(":"):
            if len(secret) >= 8:
                assert secret not in text, "a sandbox key was printed by a README command"


def test_readme_testing_examples_pass(segmentkit_fake):
    code = next(code for lang, _, code in blocks() if lang == "python" and "def test_" in code)
    namespace: dict[str, object] = {}
    exec(compile(code, str(README), "exec"), namespace)
    tests = [v for k, v in namespace.items() if k.startswith("test_") and callable(v)]
    assert len(tests) >= 2
    for test in tests:
        test(segmentkit_fake)


def test_readme_lists_every_installed_provider():
    text = README.read_text(encoding="utf-8")
    for info in segmentkit.available_providers():
        if info.distribution == "segmentkit":
            assert f"`{info.name}`" in text, f"README provider table misses {info.name}"


@pytest.mark.parametrize("hook", ["segmentkit_register_providers", "segmentkit_event"])
def test_readme_mentions_every_hook(hook):
    assert hook in README.read_text(encoding="utf-8")
