"""What every `esm-contacts` command does alike: tables, warnings, JSON, pipes, --version,
progress, models."""

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from esm_contacts.cli import EXIT_BROKEN_PIPE, _print_json, build_parser, main

ROOT = Path(__file__).resolve().parent.parent
SEQUENCE = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"


def cli(*arguments, **kwargs):
    """The real ``esm-contacts`` process on this checkout."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), ESM_CONTACTS_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "esm_contacts.cli", *map(str, arguments)],
        capture_output=True,
        text=True,
        env=env,
        **kwargs,
    )


def strict_json(text):
    """json.loads that refuses NaN and Infinity, as RFC 8259 (and JavaScript's JSON.parse) do."""

    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


# --- one precision table --------------------------------------------------------


def without_names(text, names):
    """The lines of a table printout with the prediction's names replaced, so two printouts
    compare."""
    lines = []
    for line in text.splitlines():
        if line.startswith("# ") and ": L = " in line:
            line = "# NAME" + line[line.index(": L = ") :]
        for name in names:
            line = line.replace(name, "NAME".ljust(len(name)))
        lines.append(line)
    return lines


def test_predict_evaluate_prints_the_table_of_evaluate(tmp_path, capsys, shared_data, tiny_esm1b):
    """The same map, scored by `predict --evaluate` and by `evaluate` of its .npy: the same
    table."""
    structure = shared_data / "1hvr.pdb"
    out = tmp_path / "map.npy"
    assert (
        main(
            [
                "predict",
                str(structure),
                "--chain",
                "A",
                "--model",
                str(tiny_esm1b),
                "--device",
                "cpu",
                "--out",
                str(out),
                "--evaluate",
            ]
        )
        == 0
    )
    predicted = capsys.readouterr().out
    assert main(["evaluate", str(out), "--structure", str(structure), "--chain", "A"]) == 0
    evaluated = capsys.readouterr().out
    table = without_names(evaluated, [out.name])
    assert table[0].startswith(
        "# NAME: L = 99, 99 residues observed, precision in % (top L/k pairs, separation >= 6)"
    )
    assert table[1].split() == ["short", "|", "medium", "|", "long"]
    assert [c for c in table[2].split() if c != "|"] == ["L", "L/2", "L/5", "auc"] * 3
    assert without_names(predicted, ["1hvr_A"]) == table


# --- warnings ----------------------------------------------------------------------


def assert_warning_lines(stderr, command):
    warnings = [line for line in stderr.splitlines() if "warning" in line.lower()]
    assert warnings, stderr
    for line in warnings:
        assert line.startswith(f"esm-contacts {command}: warning: "), stderr
    # Python's format names the category and prints the warn() call's source line.
    assert (
        "UserWarning" not in stderr and "warnings.warn" not in stderr and "Traceback" not in stderr
    )


@pytest.mark.slow
def test_predict_warning_is_one_line(tiny_esm1b):
    """A sequence longer than the tiny model's 64-residue context: the windows warning, and no
    progress off a terminal."""
    result = cli("predict", SEQUENCE * 3, "--model", tiny_esm1b, "--device", "cpu")
    assert result.returncode == 0
    assert_warning_lines(result.stderr, "predict")
    assert "99 residues is longer than the model context (64)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # and so no "loading ..." line either


def test_train_regression_and_evaluate_warnings_are_lines(shared_data, tiny_esm2, tmp_path, capsys):
    """In-process too (main() is what the console script calls): each warning is printed once, as
    a line."""
    assert (
        main(
            [
                "train-regression",
                "--model",
                str(tiny_esm2),
                "--device",
                "cpu",
                "--C",
                "5",
                "--validation",
                "0",
                "--out",
                str(tmp_path / "w-contact-regression.pt"),
                "--memory-limit",
                "1e-9",
                "--structures",
                f"{shared_data / '1l2y.pdb'}:A",
                f"{shared_data / '1hvr.pdb'}:A",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert_warning_lines(err, "train-regression")
    assert err.count("over the 1 bytes memory limit") == 1


def test_warnings_print_as_they_happen_once_per_text(capsys, monkeypatch):
    """Two calls of main() in one process: Python's once-per-location registry does not hide the
    second."""
    import warnings

    from esm_contacts import cli as module

    def noisy(args):
        warnings.warn("first\nsecond line", UserWarning)
        warnings.warn("first\nsecond line", UserWarning)
        warnings.warn("internal", DeprecationWarning)
        print("done")
        return 0

    monkeypatch.setattr(module, "_run_models", noisy)
    for _ in range(2):
        assert main(["models"]) == 0
        captured = capsys.readouterr()
        assert (
            captured.err == "esm-contacts models: warning: first second line\n"
            and captured.out == "done\n"
        )


# --- strict JSON -----------------------------------------------------------------------


def test_json_helper_writes_null_for_nan_and_infinity(capsys):
    _print_json(
        {
            "a": float("nan"),
            "b": [np.float32(np.inf), -math.inf, np.float64(0.5)],
            "c": np.int64(3),
            "d": np.array([1.0, np.nan]),
            "e": (1, None),
        }
    )
    assert strict_json(capsys.readouterr().out) == {
        "a": None,
        "b": [None, None, 0.5],
        "c": 3,
        "d": [1.0, None],
        "e": [1, None],
    }


def test_evaluate_and_validate_json_are_strict(tmp_path, capsys, shared_data, tiny_esm2):
    """1l2y (20 residues) has no long-range pairs: undefined numbers must be null, not NaN."""
    structure = shared_data / "1l2y.pdb"
    out = tmp_path / "l2y.npy"
    assert (
        main(
            [
                "predict",
                str(structure),
                "--chain",
                "A",
                "--model",
                str(tiny_esm2),
                "--device",
                "cpu",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate",
                str(out),
                "--structure",
                str(structure),
                "--chain",
                "A",
                "--json",
                "--min-sep",
                "1",
            ]
        )
        == 0
    )
    report = strict_json(capsys.readouterr().out)
    assert report["length"] == 20
    assert main(["validate", str(out), str(structure), "--chain", "A", "--json"]) == 0
    text = capsys.readouterr().out
    assert "NaN" not in text and "Infinity" not in text
    assert isinstance(strict_json(text), list)


# --- closed pipe, --version ------------------------------------------------------------


@pytest.fixture()
def long_fasta(tmp_path):
    """300 residues: about 43,000 lines with --top all --min-sep 1, far more than a pipe buffers."""
    path = tmp_path / "long.fasta"
    path.write_text(f">long\n{(SEQUENCE * 10)[:300]}\n")
    return path


@pytest.mark.slow
def test_closed_pipe_ends_quietly(tiny_esm2, long_fasta):
    """`esm-contacts predict ... --top all | head -1`: status 141 (as SIGPIPE), nothing on
    stderr."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), ESM_CONTACTS_OFFLINE="1")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "esm_contacts.cli",
            "predict",
            str(long_fasta),
            "--model",
            str(tiny_esm2),
            "--device",
            "cpu",
            "--top",
            "all",
            "--min-sep",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    first = process.stdout.readline()
    process.stdout.close()  # what `head -1` does after its line
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == EXIT_BROKEN_PIPE == 141
    assert first == b"# long: 300 residues\n"
    assert stderr == ""


def test_version(capsys):
    from esm_contacts import __version__

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"esm-contacts {__version__}\n"
    assert cli("--version").stdout == f"esm-contacts {__version__}\n"


# --- models: what the cache holds -----------------------------------------------------


def test_cache_state_of_each_file(tmp_path, monkeypatch, capsys):
    from esm_contacts.checkpoints import cache_state, is_cached

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / "esm2_t6_8M_UR50D.pt").write_bytes(b"fake")  # weights only
    (folder / "esm2_t12_35M_UR50D.pt").write_bytes(b"fake")  # both
    (folder / "esm2_t12_35M_UR50D-contact-regression.pt").write_bytes(b"fake")
    (folder / "esm1_t6_43M_UR50S-contact-regression.pt").write_bytes(b"fake")  # regression only
    assert cache_state("esm2_t6_8M_UR50D") == "regression file missing"
    assert cache_state("esm2_t12_35M_UR50D") == "cached" and is_cached("esm2_t12_35M_UR50D")
    assert cache_state("esm1_t6_43M_UR50S") == "model file missing"
    assert cache_state("esm1b_t33_650M_UR50S") == "not downloaded" and not is_cached(
        "esm1b_t33_650M_UR50S"
    )
    assert main(["models"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows["esm2_t6_8M_UR50D"].endswith(
        f"regression file missing ({folder / 'esm2_t6_8M_UR50D-contact-regression.pt'})"
    )
    assert rows["esm2_t12_35M_UR50D"].endswith(f"cached in {folder}")
    assert rows["esm1_t6_43M_UR50S"].endswith(
        f"model file missing ({folder / 'esm1_t6_43M_UR50S.pt'})"
    )
    assert rows["esm1b_t33_650M_UR50S"].endswith("not downloaded")


# --- train-regression with no heads -------------------------------------------------------


def test_train_regression_with_no_heads_saves_nothing(shared_data, tiny_esm2, tmp_path, capsys):
    """On the tiny model, C = 0.15 (the default) zeroes every head: an error, unless
    --allow-empty."""
    from esm_contacts.regression import load_regression

    out = tmp_path / "empty-contact-regression.pt"
    arguments = [
        "train-regression",
        "--model",
        str(tiny_esm2),
        "--device",
        "cpu",
        "--out",
        str(out),
        "--validation",
        "0",
        "--structures",
        f"{shared_data / '1hvr.pdb'}:A",
        f"{shared_data / '1l2y.pdb'}:A",
    ]
    assert main(arguments) == 2
    captured = capsys.readouterr()
    assert "0 of 12 heads non-zero" in captured.out
    assert captured.err.count("\n") == 1 and captured.err.startswith(
        "esm-contacts train-regression: error: "
    )
    assert "all 12 heads at zero weight (C = 0.15)" in captured.err and "larger --C" in captured.err
    assert "--C 1.5" in captured.err and "--allow-empty" in captured.err
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert main(arguments + ["--allow-empty"]) == 0
    assert "saved regression" in capsys.readouterr().out
    assert not np.any(load_regression(out).weight)


# --- progress -----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["predict", "validate", "train-regression"])
def test_every_model_command_has_quiet(command):
    actions = {
        option
        for action in build_parser()._subparsers._group_actions[0].choices[command]._actions
        for option in action.option_strings
    }
    assert "--quiet" in actions


def run_on_terminal(arguments):
    """Run the command with stderr on a pseudo-terminal; progress shows at once (no 2 s delay)."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    code = (
        "import sys, esm_contacts.progress as p; p.PROGRESS_DELAY_S = 0; from esm_contacts.cli"
        f" import main; sys.exit(main({[str(a) for a in arguments]!r}))"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), ESM_CONTACTS_OFFLINE="1", COLUMNS="100")
    primary, secondary = pty.openpty()
    # A new pseudo-terminal is 0 columns wide, where tqdm draws nothing: give it a real size.
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=secondary, env=env
    )
    os.close(secondary)
    chunks = []
    while True:
        ready, _, _ = select.select([primary], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the terminal closes with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    return process.wait(timeout=60), b"".join(chunks).decode(errors="replace")


@pytest.mark.slow
def test_progress_on_a_terminal(tiny_esm1b):
    """Stage text for the model load and a bar of layers run (3 layers x 3 windows of the
    99-residue sequence)."""
    status, text = run_on_terminal(
        ["predict", SEQUENCE * 3, "--model", tiny_esm1b, "--device", "cpu"]
    )
    assert status == 0, text
    assert "loading tiny_esm1b.pt... done" in text
    assert "tiny_esm1b: 1 sequence(s), 3 windows" in text and "9/9" in text and "layer" in text


@pytest.mark.slow
def test_progress_silenced_by_quiet_and_off_a_terminal(tiny_esm1b):
    status, text = run_on_terminal(
        ["predict", SEQUENCE * 3, "--model", tiny_esm1b, "--device", "cpu", "--quiet"]
    )
    assert status == 0 and "loading" not in text and "layer" not in text
    assert "warning: " in text  # stderr is still the terminal: the warning comes through


@pytest.mark.slow
def test_progress_of_validate_on_a_terminal(shared_data, tiny_esm1b):
    status, text = run_on_terminal(
        [
            "validate",
            "--model",
            tiny_esm1b,
            "--device",
            "cpu",
            shared_data / "1hvr.pdb",
            "--chain",
            "A",
        ]
    )
    assert status == 0, text
    assert "loading tiny_esm1b.pt... done" in text and "layer" in text
    # The windows warning (99 residues, 64 of context) is a line of its own: the bar is cleared
    # before it ("\r" + blanks + "\r") and drawn again after it.
    segments = [segment.strip() for segment in re.split(r"[\r\n]+", text)]
    warning = [
        segment for segment in segments if segment.startswith("esm-contacts validate: warning: ")
    ]
    assert len(warning) == 1 and "sequence of 99 residues is longer" in warning[0]
    assert warning[0].endswith("(see ContactPredictor.coverage)")
    assert "UserWarning" not in text and "warnings.warn" not in text


@pytest.mark.slow
def test_failed_load_ends_the_stage_line(tmp_path):
    status, text = run_on_terminal(["predict", SEQUENCE, "--model", tmp_path / "absent.pt"])
    assert status == 2
    lines = text.splitlines()
    assert lines[0].strip() == "loading absent.pt..." and lines[1].startswith(
        "esm-contacts predict: error: "
    )
