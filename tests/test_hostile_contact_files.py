"""Attack suite, contact files: huge declared sizes, wrong dtypes, huge indices, garbage lines.

Every hostile file must give one line on stderr ("esm-contacts CMD: error: ...") and exit
code 2 in ``evaluate``, ``validate`` and ``evaluate-set``, a ``CmdException`` in PyMOL's
``esm_contacts_load``, a ValueError from :func:`esm_contacts.read_contacts`, and never a
MemoryError, a traceback or a huge allocation (checked in a child process: its peak
resident memory, ``VmHWM``, stays small).
"""

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from esm_contacts import io as contact_io
from esm_contacts.cli import main
from esm_contacts.formats import MAX_MAP_RESIDUES
from esm_contacts.io import read_contacts, write_contacts
from esm_contacts.messages import QUOTE_LIMIT, quote_input

ROOT = Path(__file__).resolve().parent.parent
#: A message may quote ~80 characters of input; with the path and the explanation a line
#: stays well below this.
MAX_MESSAGE = 400


def npy_header_only(path, descr, shape, data=b""):
    """A .npy file written by hand: a version 1.0 header declaring ``descr`` and ``shape``,
    then ``data`` (the bytes it really holds)."""
    header = repr({"descr": descr, "fortran_order": False, "shape": tuple(shape)}).encode("latin1")
    padding = 64 - (10 + len(header) + 1) % 64
    header += b" " * padding + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data)
    return path


def _structured(path):
    np.save(path, np.zeros((4, 4), dtype=[("a", "<i4"), ("b", "<f8")]))


def _object(path):
    np.save(path, np.array([[None, 1], [2, "x"]], dtype=object), allow_pickle=True)


#: name -> writer of a hostile file in a folder.
HOSTILE = {
    # Huge declared sizes: the header is read and checked before any data is allocated.
    "npy_1e6_header_128_bytes": lambda d: npy_header_only(d / "huge.npy", "<f4", (10**6, 10**6)),
    "npy_1e5_float64_short_data": lambda d: npy_header_only(
        d / "huge64.npy", "<f8", (10**5, 10**5), b"\0" * 4096
    ),
    "npy_3d_huge": lambda d: npy_header_only(d / "cube.npy", "<f4", (10**4, 10**4, 10**4)),
    "npy_negative_shape": lambda d: npy_header_only(
        d / "negative.npy", "<f4", (-2, -2), b"\0" * 64
    ),
    "npy_beyond_limit_claims_data": lambda d: npy_header_only(
        d / "limit.npy", "|u1", (MAX_MAP_RESIDUES + 1, MAX_MAP_RESIDUES + 1)
    ),
    # Non-real-numeric dtypes, each named in the message.
    "npy_string": lambda d: np.save(d / "string.npy", np.full((4, 4), "abc")),
    "npy_bytes": lambda d: np.save(d / "bytes.npy", np.full((4, 4), b"ab")),
    "npy_structured": lambda d: _structured(d / "structured.npy"),
    "npy_datetime": lambda d: np.save(
        d / "datetime.npy", np.full((4, 4), np.datetime64("2020-01-01"))
    ),
    "npy_timedelta": lambda d: np.save(
        d / "timedelta.npy", np.full((4, 4), np.timedelta64(3, "D"))
    ),
    "npy_object": lambda d: _object(d / "object.npy"),
    "npy_complex": lambda d: np.save(
        d / "complex.npy", np.full((4, 4), 0.5 + 0.5j, dtype=np.complex64)
    ),
    # Huge indices: checked against the sequence / MAX_MAP_RESIDUES before the map exists.
    "rr_huge_index": (
        lambda d: (d / "index.rr").write_text("PFRMAT RR\n1 1000000000 0 8 0.5\nEND\n")
    ),
    "rr_huge_index_with_sequence": (
        lambda d: (d / "index_seq.rr").write_text(
            "PFRMAT RR\nMKTAYIAKQR\n1 1000000000 0 8 0.5\nEND\n"
        )
    ),
    "rr_5000_digit_index": (
        lambda d: (d / "digits.rr").write_text(f"PFRMAT RR\n1 {'9' * 5000} 0 8 0.5\nEND\n")
    ),
    "rr_4000_digit_index": (
        lambda d: (d / "digits4000.rr").write_text(f"PFRMAT RR\n1 {'9' * 4000} 0 8 0.5\nEND\n")
    ),
    "csv_huge_index": (
        lambda d: (d / "index.csv").write_text(
            "i,j,res_i,res_j,probability\n1,1000000000,M,K,0.5\n"
        )
    ),
    "csv_huge_negative_index_with_sequence": (
        lambda d: (d / "negative.csv").write_text(
            "# sequence: MKTAYIAKQR\ni,j,res_i,res_j,probability\n-1000000000,5,M,Y,0.5\n"
        )
    ),
    # A huge sequence line: a 300,000-residue map would need 360 GB.
    "rr_300k_sequence": (
        lambda d: (d / "long.rr").write_text(f"PFRMAT RR\n{'A' * 300_000}\n1 9 0 8 0.5\nEND\n")
    ),
    "csv_300k_sequence": (
        lambda d: (d / "long.csv").write_text(
            f"# sequence: {'A' * 300_000}\ni,j,res_i,res_j,probability\n1,9,A,A,0.5\n"
        )
    ),
    # Garbage lines are quoted, cut to ~80 characters.
    "rr_long_garbage_line": (
        lambda d: (d / "garbage.rr").write_text(
            "PFRMAT RR\nMKTAYIAKQR\n" + " ".join(["junk"] * 1000) + "\nEND\n"
        )
    ),
    "rr_long_bad_probability": (
        lambda d: (d / "probability.rr").write_text(
            f"PFRMAT RR\nMKTAYIAKQR\n1 9 0 8 {'x' * 4000}\nEND\n"
        )
    ),
    "csv_2mb_line": (
        lambda d: (d / "garbage.csv").write_text(
            "i,j,res_i,res_j,probability\n" + "y" * 2_000_000 + "\n"
        )
    ),
    "csv_long_header": lambda d: (d / "header.csv").write_text("z" * 5000 + "\n1,9,A,A,0.5\n"),
}

#: name -> words the one-line message must hold.
EXPECTED = {
    "npy_1e6_header_128_bytes": ["1000000 x 1000000", "(4.0 TB)", "holds 0 bytes"],
    "npy_1e5_float64_short_data": ["100000 x 100000", "4096 bytes"],
    "npy_3d_huge": ["square (L, L)", "(10000, 10000, 10000)"],
    "npy_negative_shape": ["negative.npy", "square (L, L)", "(-2, -2)"],
    "npy_beyond_limit_claims_data": [f"{MAX_MAP_RESIDUES + 1} x {MAX_MAP_RESIDUES + 1}"],
    "npy_string": ["string", "<U3"],
    "npy_bytes": ["byte string", "S2"],
    "npy_structured": ["structured", "'a'"],
    "npy_datetime": ["datetime", "datetime64"],
    "npy_timedelta": ["timedelta", "timedelta64"],
    "npy_object": ["object", "dtype 'object'"],
    "npy_complex": ["complex", "complex64"],
    "rr_huge_index": [
        "line 2",
        "residue index 1000000000",
        "1000000000 x 1000000000",
        "(4.0 EB as float32)",
        f"at most {MAX_MAP_RESIDUES} residues",
    ],
    "rr_huge_index_with_sequence": ["line 3", "residue index 1000000000 out of range 1..10"],
    "rr_5000_digit_index": ["line 2", "is not an integer", "(5000 characters)"],
    "rr_4000_digit_index": ["line 2", "residue index 999999999999... (4000 digits)"],
    "csv_huge_index": ["line 2", "1000000000 x 1000000000"],
    "csv_huge_negative_index_with_sequence": ["line 3", "residue index -1000000000 out of range"],
    "rr_300k_sequence": ["sequence of 300000 letters", "300000 x 300000", "360.0 GB"],
    "csv_300k_sequence": ["sequence of 300000 letters", "300000 x 300000"],
    "rr_long_garbage_line": ["line 3", "expected 'i j 0 8 p'", "(4999 characters)"],
    "rr_long_bad_probability": ["line 3", "is not a number", "(4000 characters)"],
    "csv_2mb_line": ["line 2", "(2000000 characters)"],
    "csv_long_header": ["line 1", "expected the header", "(5000 characters)"],
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """{name: path} of every hostile file."""
    folder = tmp_path_factory.mktemp("hostile")
    paths = {}
    for name, make in HOSTILE.items():
        before = set(folder.iterdir())
        make(folder)
        (path,) = set(folder.iterdir()) - before
        paths[name] = path
    return paths


def check_line(error: str, name: str, command: str) -> None:
    assert error.count("\n") == 1, error[:2000]
    assert error.startswith(f"esm-contacts {command}: error: "), error[:2000]
    assert len(error) < MAX_MESSAGE, f"{len(error)} characters: {error[:2000]}"
    assert "Traceback" not in error and "MemoryError" not in error
    for word in EXPECTED[name]:
        assert word in error, f"{word!r} not in {error!r}"


@pytest.mark.parametrize("name", list(HOSTILE))
def test_evaluate_refuses_in_one_line(name, hostile, shared_data, capsys):
    code = main(
        [
            "evaluate",
            str(hostile[name]),
            "--structure",
            str(shared_data / "1hvr.pdb"),
            "--chain",
            "A",
        ]
    )
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    check_line(captured.err, name, "evaluate")


@pytest.mark.parametrize(
    "name",
    [
        "npy_1e6_header_128_bytes",
        "npy_complex",
        "npy_object",
        "rr_huge_index",
        "csv_huge_index",
        "rr_300k_sequence",
        "rr_long_garbage_line",
    ],
)
def test_validate_refuses_in_one_line(name, hostile, shared_data, capsys):
    code = main(["validate", str(hostile[name]), str(shared_data / "1hvr.pdb"), "--chain", "A"])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    check_line(captured.err, name, "validate")


@pytest.mark.parametrize(
    "name",
    [
        "npy_1e6_header_128_bytes",
        "npy_structured",
        "rr_huge_index_with_sequence",
        "csv_300k_sequence",
        "csv_2mb_line",
    ],
)
def test_evaluate_set_refuses_in_one_line(name, hostile, shared_data, tmp_path, capsys):
    listing = tmp_path / "list.tsv"
    listing.write_text(f"{hostile[name]}\t{shared_data / '1hvr.pdb'}\tA\n")
    code = main(["evaluate-set", str(listing)])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    check_line(captured.err, name, "evaluate-set")
    assert f"{listing}, line 1" in captured.err


@pytest.mark.parametrize("name", list(HOSTILE))
def test_read_contacts_raises_value_error(name, hostile):
    with pytest.raises(ValueError) as error:
        read_contacts(hostile[name])
    message = str(error.value)
    assert len(message) < MAX_MESSAGE and "\n" not in message
    for word in EXPECTED[name]:
        assert word in message


def test_nothing_huge_is_allocated(hostile, shared_data, tmp_path):
    """Every hostile file read in one child process: its peak memory stays small."""
    script = (
        "import json, sys\nfrom esm_contacts.cli import main\ncodes = [main(['evaluate', p,"
        " '--structure', sys.argv[1], '--chain', 'A']) for p in sys.argv[2:]]\nstatus ="
        " open('/proc/self/status').read().split('\\n')\npeak = next(int(line.split()[1]) for line"
        " in status if line.startswith('VmHWM'))\nprint(json.dumps({'codes': codes, 'peak_kb':"
        " peak}))\n"
    )
    if not Path("/proc/self/status").is_file():
        pytest.skip("no /proc/self/status on this system")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            str(shared_data / "1hvr.pdb"),
            *(str(hostile[name]) for name in HOSTILE),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["codes"] == [2] * len(HOSTILE)
    assert done.stderr.count("\n") == len(HOSTILE) and "Traceback" not in done.stderr
    # The interpreter with numpy and the package: ~100 MB; a 10^6 map would be 4 TB.
    assert result["peak_kb"] < 400_000, f"peak {result['peak_kb'] / 1024:.0f} MB"


def test_limit_is_documented():
    assert "MAX_MAP_RESIDUES" in contact_io.__doc__ and "MAX_MAP_RESIDUES" in read_contacts.__doc__
    assert MAX_MAP_RESIDUES == 40_000


# -- messages ---------------------------------------------------------------------


@pytest.mark.parametrize("text", ["x" * 81, "1 2 3 " * 1000, "y" * 2_000_000])
def test_quote_input_cuts_to_the_limit(text):
    quoted = quote_input(text)
    assert len(quoted) <= QUOTE_LIMIT + 40
    assert (
        quoted.startswith(repr(text.strip()[:QUOTE_LIMIT]))
        and f"({len(text.strip())} characters)" in quoted
    )


def test_quote_input_keeps_short_text_whole():
    assert quote_input("  1 2 0 8 0.5 ") == "'1 2 0 8 0.5'"


# -- writing out-of-range pairs ----------------------------------------------------------


@pytest.mark.parametrize(
    "pairs, words",
    [
        (([1, 10], [5, 3]), "pair (10, 3) lies outside the map's 0-based indices 0..9"),
        (([0, -1], [5, 3]), "pair (-1, 3) lies outside"),
        (([2], [10**9]), "pair (2, 1000000000) lies outside"),
        (([4], [4]), "pair (4, 4) pairs a residue with itself"),
        ((np.array([1.5]), np.array([3.0])), "pair indices must be integers"),
        (([1, 2], [3]), "pairs must be two 1-D index arrays of one length"),
    ],
)
@pytest.mark.parametrize("suffix", [".rr", ".csv"])
def test_write_contacts_refuses_pairs_outside_the_map(tmp_path, pairs, words, suffix):
    P = np.full((10, 10), 0.5, dtype=np.float32)
    path = tmp_path / f"out{suffix}"
    with pytest.raises(ValueError) as error:
        write_contacts(path, P, pairs=pairs)
    assert words in str(error.value) and str(path) in str(error.value)
    assert not path.exists() and list(tmp_path.iterdir()) == []


# -- PyMOL -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "npy_1e6_header_128_bytes",
        "npy_3d_huge",
        "npy_complex",
        "npy_datetime",
        "rr_huge_index",
        "csv_huge_index",
        "rr_300k_sequence",
        "csv_2mb_line",
    ],
)
def test_pymol_load_refuses_with_session_unchanged(name, hostile, pymol_cmd, shared_data):
    from pymol import CmdException

    from pymol_plugin import commands

    pymol_cmd.delete("all")
    pymol_cmd.load(str(shared_data / "1hvr.pdb"), "hvr")
    before = (pymol_cmd.get_names("all"), pymol_cmd.count_atoms("all"))
    with pytest.raises(CmdException) as error:
        commands.esm_contacts_load(str(hostile[name]), "hvr and chain A", _self=pymol_cmd)
    assert (pymol_cmd.get_names("all"), pymol_cmd.count_atoms("all")) == before
    message = str(error.value.message)
    assert "\n" not in message and len(message) < MAX_MESSAGE
    for word in EXPECTED[name]:
        assert word in message
