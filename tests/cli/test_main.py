"""The command boundary (``classicseg.cli.main``): one clear line per error, never a traceback
unless asked, quiet on a closed pipe, ``python -m classicseg`` as the command."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from classicseg.cli import CommandError, _describe, main


def _cli(*args, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "classicseg", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, **kw)


def test_closed_pipe_exits_quietly():
    # The reader is gone before the command writes (what `... | head` does to a long listing).
    proc = subprocess.Popen([sys.executable, "-m", "classicseg", "samples", "list"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_os_error_names_the_file_without_traceback(tmp_path):
    not_a_dir = tmp_path / "file.txt"
    not_a_dir.write_text("x")
    proc = _cli("samples", "write", str(not_a_dir / "sub"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("classicseg samples: ") and "file.txt" in proc.stderr


@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_shows_the_traceback(tmp_path, how):
    not_a_dir = tmp_path / "file.txt"
    not_a_dir.write_text("x")
    args = ["samples", "write", str(not_a_dir / "sub")]
    proc = _cli("--debug", *args) if how == "flag" else _cli(*args, env={"CLASSICSEG_DEBUG": "1"})
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr and "classicseg samples: " in proc.stderr


def test_describe_kinds():
    assert _describe(CommandError("--s", "expected a positive integer, got '0'")) == (
        "--s: expected a positive integer, got '0'", 2)
    msg, status = _describe(PermissionError(13, "Permission denied", "out/run_log.jsonl"))
    assert (msg, status) == ("out/run_log.jsonl: Permission denied", 2)
    msg, status = _describe(KeyError("boom"))
    assert status == 1 and "internal error" in msg and "--debug" in msg


def test_main_returns_status_instead_of_raising(capsys):
    assert main(["evaluate", "/no/such/dir", "/no/such/either"]) == 2
    err = capsys.readouterr().err
    assert "classicseg evaluate: PRED_DIR /no/such/dir: no such directory" in err


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out
