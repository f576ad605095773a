"""The project's own attack suite: hostile, huge and broken input (issue 10).

One section per class of attack, several cases each. Every case goes through the
command line (exit code 2, exactly one stderr line ``esm-contacts CMD: error: ...``, no
traceback), the Python API (a ValueError or TypeError with a message) or PyMOL (a
CmdException, session unchanged).

1. Valid input that was refused: text that cannot be a path is a sequence.
2. Hangs: FIFOs, character devices and sockets are refused before they are opened,
   the message saying what the path is.
3. Memory: structure files are read with a size cap (decompressed), so a gzip bomb
   or ``/dev/zero`` cannot exhaust memory.
4. Crafted checkpoints: the loader checks what it unpickled (keys, types, shapes
   against the architecture) and says so in one line naming the file.
5. Wrong types at the public Python entry points.

A regression must show as a failure, not a hang: a watchdog releases any FIFO a reader
is blocked on after ``HANG_SECONDS`` and fails the test, and subprocesses run with
``timeout=30`` and an address-space limit.
"""

import contextlib
import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import esm_contacts as ec
from esm_contacts.checkpoints import CheckpointError, UnsafeCheckpointError
from esm_contacts.cli import main
from esm_contacts.models import load_model
from esm_contacts.msa import read_msa
from esm_contacts.predictor import ContactPredictor
from esm_contacts.regression import METADATA_KEY, load_regression
from esm_contacts.structure import MAX_STRUCTURE_BYTES_ENV, load_assembly, load_structure

ROOT = Path(__file__).resolve().parent.parent
HANG_SECONDS = 20
SUBPROCESS_TIMEOUT = 30
#: Address-space limit of the subprocesses that read /dev/zero (the CLI needs ~0.2 GB).
SUBPROCESS_MEMORY = 2 << 30
SEQUENCE = "MKTAYIAKQRQISFVKSHFSRQ"
KINDS = ("FIFO", "character device", "socket")


# -- helpers ------------------------------------------------------------------------------


@contextlib.contextmanager
def no_hang(*fifos):
    """Fail instead of hanging: after HANG_SECONDS, keep opening each FIFO for writing
    (which releases a reader blocked on it) and fail the test."""
    done, fired = threading.Event(), threading.Event()

    def release():
        if done.wait(HANG_SECONDS):
            return
        fired.set()
        while not done.is_set():
            for fifo in fifos:
                with contextlib.suppress(OSError):
                    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            time.sleep(0.05)

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        if fired.is_set():
            pytest.fail(
                f"blocked on a FIFO for more than {HANG_SECONDS} s: {', '.join(map(str, fifos))}"
            )


def cli_error(capsys, argv, *fifos) -> str:
    """Run the CLI in-process; it must fail with exit 2 and one stderr line. Returns the line."""
    argv = [str(a) for a in argv]
    with no_hang(*fifos):
        code = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"esm-contacts {argv[0]}: error: "), lines[0]
    return lines[0]


def run_cli(*argv, env=None):
    """The CLI as a subprocess with a timeout and an address-space limit."""
    import resource

    def limit_memory():
        resource.setrlimit(resource.RLIMIT_AS, (SUBPROCESS_MEMORY, SUBPROCESS_MEMORY))

    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "esm_contacts.cli", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        env=environment,
        preexec_fn=limit_memory,
    )


@pytest.fixture
def special(tmp_path):
    """make(kind, name): a FIFO, a character device (a link to /dev/null) or a socket at
    tmp_path/name."""
    folders = []

    def make(kind: str, name: str) -> Path:
        path = tmp_path / name
        if kind == "FIFO":
            os.mkfifo(path)
        elif kind == "character device":
            path.symlink_to(os.devnull)
        elif kind == "socket":
            # AF_UNIX addresses hold ~107 bytes: bind in a short folder, link to it.
            folders.append(tempfile.mkdtemp(prefix="esmc-", dir="/tmp"))
            address = os.path.join(folders[-1], "s")
            with socket.socket(socket.AF_UNIX) as sock:
                sock.bind(address)
            path.symlink_to(address)
        else:
            raise ValueError(kind)
        return path

    yield make
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def small(shared_data, tmp_path):
    """A real structure (1L2Y, 20 residues, chain A) and a prediction of its chain as RR."""
    structure = load_structure(shared_data / "1l2y.pdb")
    sequence = ec.chain_sequence(structure, "A")
    T = ec.true_contacts(structure, "A")
    P = np.where(T == 1, 0.9, 0.1).astype(np.float32)
    np.fill_diagonal(P, 0)
    pred = tmp_path / "pred.rr"
    ec.write_contacts(pred, P, sequence=sequence)
    return shared_data / "1l2y.pdb", pred


# -- 1. valid input that was refused ----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:sequence of .* residues is longer than the model context")
@pytest.mark.parametrize("length", [256, 300, 1000])
def test_long_sequence_on_the_command_line_is_a_sequence(tmp_path, capsys, tiny_esm1b, length):
    """Longer than a file name may be (255 bytes): "[Errno 36] File name too long" before."""
    sequence = (SEQUENCE * 50)[:length]
    out = tmp_path / "long.rr"
    assert (
        main(
            ["predict", sequence, "--model", str(tiny_esm1b), "--device", "cpu", "--out", str(out)]
        )
        == 0
    )
    assert f"{length} residues" in capsys.readouterr().err
    P, written = ec.read_contacts(out)
    assert written == sequence and P.shape == (length, length)


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["evaluate", "{pred}", "--structure", "A" * 300, "--chain", "A"],
            f"{'A' * 300}: no such file",
        ),
        (["predict", SEQUENCE, "--model", "M" * 300], "unknown model"),
        (["validate", "{pred}", "A" * 300, "--chain", "A"], f"{'A' * 300}: no such file"),
    ],
)
def test_text_too_long_for_a_path_is_not_an_os_error(capsys, small, argv, message):
    _, pred = small
    line = cli_error(capsys, [a.replace("{pred}", str(pred)) for a in argv])
    assert message in line and "Errno" not in line


# -- 2. hangs: FIFOs, devices, sockets --------------------------------------------------------


def _list_with_structure(special_path, c):
    listing = c.tmp / "list.tsv"
    listing.write_text(f"{c.pred}\t{special_path}\tA\n")
    return listing


#: role: (name of the special file, argv given its path s and the context c: structure, pred, model,
#: tmp).
CLI_ROLES = {
    "evaluate --structure": (
        "s.pdb",
        lambda s, c: ["evaluate", c.pred, "--structure", s, "--chain", "A"],
    ),
    "evaluate PRED": (
        "p.rr",
        lambda s, c: ["evaluate", s, "--structure", c.structure, "--chain", "A"],
    ),
    "validate PRED": ("p.rr", lambda s, c: ["validate", s, c.structure, "--chain", "A"]),
    "validate MODEL": ("m.pdb", lambda s, c: ["validate", c.pred, s, "--chain", "A"]),
    "evaluate-set LIST": ("list.tsv", lambda s, c: ["evaluate-set", s]),
    "evaluate-set structure": ("s.cif", lambda s, c: ["evaluate-set", _list_with_structure(s, c)]),
    "train-regression": (
        "t.pdb",
        lambda s, c: [
            "train-regression",
            "--model",
            c.model,
            "--structures",
            f"{s}:A",
            "--out",
            c.tmp / "r.pt",
        ],
    ),
    "predict INPUT": ("in.fasta", lambda s, c: ["predict", s, "--model", c.model]),
    "predict --msa": ("a.a3m", lambda s, c: ["predict", SEQUENCE, "--model", c.model, "--msa", s]),
    "predict --model": ("c.pt", lambda s, c: ["predict", SEQUENCE, "--model", s]),
    "predict --regression": (
        "r.pt",
        lambda s, c: ["predict", SEQUENCE, "--model", c.model, "--regression", s],
    ),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("role", list(CLI_ROLES))
def test_cli_refuses_special_files(tmp_path, capsys, special, small, tiny_esm1b, role, kind):
    structure, pred = small
    name, build = CLI_ROLES[role]
    path = special(kind, name)
    context = SimpleNamespace(structure=structure, pred=pred, model=tiny_esm1b, tmp=tmp_path)
    line = cli_error(capsys, build(path, context), path)
    assert f"{path}: is a {kind}, not a regular file" in line


API_READERS = {
    "load_structure": ("s.pdb", load_structure),
    "load_assembly": ("s.cif", load_assembly),
    "read_contacts": ("p.rr", ec.read_contacts),
    "read_msa": ("a.a3m", read_msa),
    "load_model": ("c.pt", load_model),
    "load_regression": ("r.pt", load_regression),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reader", list(API_READERS))
def test_api_refuses_special_files(special, reader, kind):
    name, read = API_READERS[reader]
    path = special(kind, name)
    with no_hang(path), pytest.raises(ValueError, match=f"is a {kind}, not a regular file"):
        read(path)


def test_symlink_to_a_regular_file_is_read(tmp_path, small):
    """The control: only what a link points to counts."""
    structure, pred = small
    (tmp_path / "link.pdb").symlink_to(structure)
    linked = load_structure(tmp_path / "link.pdb")
    assert ec.chain_sequence(linked, "A") == ec.chain_sequence(load_structure(structure), "A")


def test_empty_input_is_called_empty(capsys):
    line = cli_error(capsys, ["predict", ""])
    assert "the input is empty" in line and "folder" not in line


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "{pred}", "--structure", "/dev/zero", "--chain", "A"],
        ["validate", "{pred}", "/dev/zero", "--chain", "A"],
    ],
)
def test_dev_zero_as_a_structure(small, argv):
    """Read whole, /dev/zero never ends: refused before it is opened (subprocess: the old
    behaviour ran out of memory)."""
    _, pred = small
    result = run_cli(*(a.replace("{pred}", str(pred)) for a in argv))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "/dev/zero: is a character device, not a regular file" in lines[0]


# -- PyMOL --------------------------------------------------------------------------------------


@pytest.fixture
def helix(pymol_cmd):
    """A one-chain object: its homodimer partners would come from an assembly file."""
    pymol_cmd.delete("all")
    pymol_cmd.fab("A" * 20, "hel", ss=1, chain="A")
    yield pymol_cmd
    pymol_cmd.delete("all")


def pymol_refuses(cmd, call, *fifos) -> str:
    from pymol import CmdException

    before = (cmd.get_names("all"), cmd.count_atoms("all"))
    with no_hang(*fifos), pytest.raises(CmdException) as error:
        call()
    assert (cmd.get_names("all"), cmd.count_atoms("all")) == before
    return str(error.value.message)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("argument", ["assembly", "model", "msa"])
def test_pymol_esm_contacts_refuses_special_files(helix, special, tiny_esm1b, argument, kind):
    from pymol_plugin import commands

    path = special(kind, {"assembly": "a.cif", "model": "m.pt", "msa": "a.a3m"}[argument])
    options = {"model": str(tiny_esm1b), "device": "cpu", argument: str(path)}
    message = pymol_refuses(
        helix, lambda: commands.esm_contacts("hel", _self=helix, **options), path
    )
    assert f"is a {kind}, not a regular file" in message


@pytest.mark.parametrize("kind", KINDS)
def test_pymol_load_refuses_special_contact_files(helix, special, kind):
    from pymol_plugin import commands

    path = special(kind, "p.rr")
    message = pymol_refuses(
        helix, lambda: commands.esm_contacts_load(str(path), "hel", _self=helix), path
    )
    assert f"is a {kind}, not a regular file" in message


# -- 3. memory: structure files read with a size cap
# ------------------------------------------------

CAP = 1_000_000


def gzip_bomb(path: Path, size: int) -> Path:
    """`size` bytes of spaces, gzipped (about 1000:1), written a MiB at a time."""
    block = b" " * (1 << 20)
    with gzip.open(path, "wb", compresslevel=1) as stream:
        for _ in range(size >> 20):
            stream.write(block)
    return path


@pytest.fixture
def bomb(tmp_path):
    return gzip_bomb(tmp_path / "bomb.pdb.gz", 64 << 20)


@pytest.mark.parametrize("cap, shown", [(CAP, "1.0 MB"), (48 << 20, "50.3 MB")])
def test_gzip_bomb_is_refused_in_bounded_memory(bomb, cap, shown):
    """64 MiB of spaces in 64 KiB of gzip: refused, and the memory it took stays near
    one 1 MiB chunk, whatever the cap."""
    tracemalloc.start()
    try:
        with pytest.raises(
            ValueError,
            match=(
                f"bomb.pdb.gz: more than {shown} once decompressed; a structure file "
                f"may have at most {shown}"
            ),
        ):
            load_structure(bomb, max_bytes=cap)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, (
        f"peak {peak / 2**20:.1f} MiB while refusing a 64 MiB bomb with a {shown} cap"
    )


@pytest.mark.parametrize("command", ["evaluate", "validate", "predict"])
def test_cli_refuses_gzip_bomb_with_the_environment_cap(
    monkeypatch, capsys, small, bomb, tiny_esm1b, command
):
    _, pred = small
    monkeypatch.setenv(MAX_STRUCTURE_BYTES_ENV, str(CAP))
    argv = {
        "evaluate": ["evaluate", pred, "--structure", bomb, "--chain", "A"],
        "validate": ["validate", pred, bomb, "--chain", "A"],
        "predict": ["predict", bomb, "--model", tiny_esm1b],
    }[command]
    line = cli_error(capsys, argv)
    assert (
        "bomb.pdb.gz: more than 1.0 MB once decompressed" in line
        and MAX_STRUCTURE_BYTES_ENV in line
    )


def test_uncompressed_file_over_the_cap(tmp_path, monkeypatch, capsys, small):
    _, pred = small
    big = tmp_path / "big.pdb"
    big.write_bytes(b"REMARK\n" * 300_000)  # 2.1 MB
    monkeypatch.setenv(MAX_STRUCTURE_BYTES_ENV, str(CAP))
    line = cli_error(capsys, ["evaluate", pred, "--structure", big, "--chain", "A"])
    assert "big.pdb: the file has 2.1 MB; a structure file may have at most 1.0 MB" in line


def test_cap_is_on_the_decompressed_size(shared_data):
    """Exactly the decompressed size loads; a byte less is refused."""
    path = shared_data / "1A8O.cif.gz"
    size = len(gzip.decompress(path.read_bytes()))
    assert len(load_structure(path, max_bytes=size)) == len(load_structure(path))
    with pytest.raises(ValueError, match="once decompressed"):
        load_structure(path, max_bytes=size - 1)
    with pytest.raises(ValueError, match="once decompressed"):
        load_assembly(path, max_bytes=size - 1)


@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5"])
def test_bad_cap_in_the_environment_is_named(monkeypatch, capsys, small, value):
    structure, pred = small
    monkeypatch.setenv(MAX_STRUCTURE_BYTES_ENV, value)
    line = cli_error(capsys, ["evaluate", pred, "--structure", structure, "--chain", "A"])
    assert f"{MAX_STRUCTURE_BYTES_ENV} {value!r}: give a positive whole number of bytes" in line


def test_pymol_assembly_gzip_bomb(helix, monkeypatch, bomb, tiny_esm1b):
    from pymol_plugin import commands

    monkeypatch.setenv(MAX_STRUCTURE_BYTES_ENV, str(CAP))
    message = pymol_refuses(
        helix,
        lambda: commands.esm_contacts(
            "hel", model=str(tiny_esm1b), device="cpu", assembly=str(bomb), _self=helix
        ),
    )
    assert "more than 1.0 MB once decompressed" in message


# -- 4. crafted checkpoints
# -------------------------------------------------------------------------


def _load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)  # the tests' own tiny files


def _key(state: dict, suffix: str) -> str:
    return next(key for key in state if key.endswith(suffix))


def craft(folder: Path, source: Path, name: str, model=None, regression=None) -> Path:
    """Copy a tiny checkpoint pair to folder/name.pt, with `model(data)` / `regression(data)`
    applied."""
    folder.mkdir(exist_ok=True)
    data, head = _load(source), _load(source.with_name(f"{source.stem}-contact-regression.pt"))
    for change, target in ((model, data), (regression, head)):
        if change:
            change(target)
    torch.save(data, folder / f"{name}.pt")
    torch.save(head, folder / f"{name}-contact-regression.pt")
    return folder / f"{name}.pt"


def _set(mapping, key, value):
    mapping[key] = value


def _tensor(suffix: str, value):
    """A change that replaces the parameter ending in `suffix`."""
    return lambda data: _set(data["model"], _key(data["model"], suffix), value)


def _header(field: str, value, esm2: bool = False):
    """A change of a hyper-parameter of the args (ESM-1b) or cfg (ESM-2) header."""
    return lambda data: setattr(data["cfg"]["model"] if esm2 else data["args"], field, value)


def _drop_layer(index: int):
    return lambda data: [
        data["model"].pop(key) for key in list(data["model"]) if f".layers.{index}." in key
    ]


CRAFTED = {
    # name: (base, change of the checkpoint, change of the regression, message)
    "embed_tokens_wrong_shape": (
        "esm1b",
        _tensor("embed_tokens.weight", torch.zeros(3, 32)),
        None,
        "embed_tokens.weight has shape (3, 32)",
    ),
    "fc1_wrong_shape": (
        "esm1b",
        _tensor("layers.0.fc1.weight", torch.zeros(5, 5)),
        None,
        "layers.0.fc1.weight has shape (5, 5)",
    ),
    "esm2_cfg_is_a_list": (
        "esm2",
        lambda d: _set(d, "cfg", [1, 2]),
        None,
        "'cfg' is not fair-esm's ESM-2 configuration",
    ),
    "args_not_namespace": ("esm1b", lambda d: _set(d, "args", [1]), None, "architecture None"),
    "float_layer_count": ("esm1b", _header("encoder_layers", 3.0), None, "encoder_layers is 3.0"),
    "string_head_count": (
        "esm1b",
        _header("encoder_attention_heads", "4"),
        None,
        "encoder_attention_heads is '4'",
    ),
    # Built as the header says, this would allocate gigabytes before failing.
    "huge_embedding_in_header": (
        "esm2",
        _header("encoder_embed_dim", 10**6, esm2=True),
        None,
        "embed_tokens.weight has shape (33, 32)",
    ),
    "layer_missing": ("esm1b", _drop_layer(2), None, "the header says 3 layers"),
    "state_is_a_tensor": (
        "esm1b",
        lambda d: _set(d, "model", torch.zeros(3)),
        None,
        "'model' is a Tensor",
    ),
    "parameter_is_a_string": ("esm1b", _tensor("embed_tokens.weight", "x"), None, "to a str"),
    "regression_model_is_a_tensor": (
        "esm1b",
        None,
        lambda r: _set(r, "model", torch.zeros(3)),
        "'model' is a Tensor",
    ),
    "regression_bias_missing": (
        "esm1b",
        None,
        lambda r: r["model"].pop("contact_head.regression.bias"),
        "not a contact-regression file",
    ),
}


@pytest.mark.parametrize("case", list(CRAFTED))
def test_crafted_checkpoint_one_line(tmp_path, capsys, tiny_esm1b, tiny_esm2, case):
    base, model, regression, message = CRAFTED[case]
    path = craft(
        tmp_path / "crafted",
        {"esm1b": tiny_esm1b, "esm2": tiny_esm2}[base],
        case,
        model,
        regression,
    )
    line = cli_error(capsys, ["predict", SEQUENCE, "--model", path, "--device", "cpu"])
    assert case in line and message in line
    with pytest.raises(CheckpointError, match=case):
        load_model(path)


def test_regression_of_another_model_one_line(capsys, tiny_esm1b, tiny_esm1):
    """ESM-1 tiny: 2 layers x 4 heads; ESM-1b tiny: 3 x 4."""
    other = tiny_esm1.with_name("tiny_esm1-contact-regression.pt")
    line = cli_error(
        capsys,
        ["predict", SEQUENCE, "--model", tiny_esm1b, "--regression", other, "--device", "cpu"],
    )
    assert f"{other}: contact regression of shape weight (1, 8)" in line
    assert f"{tiny_esm1b} has 3 layers x 4 heads (needs weight (1, 12)" in line


@pytest.fixture
def saved_regression(tmp_path, tiny_esm1b):
    predictor = ContactPredictor.from_pretrained(str(tiny_esm1b), device="cpu")
    return predictor.regression().save(tmp_path / "own-contact-regression.pt")


@pytest.mark.parametrize(
    "metadata, message",
    [
        ({"layers": 3.0, "heads": 4}, "layers is 3.0"),
        ({"layers": 3, "heads": "4"}, "heads is '4'"),
        ({"layers": -3, "heads": -4}, "layers is -3"),
        ({"model": 5}, "metadata 'model' is a int"),
        ("not json", "is not JSON"),
        ([1, 2], "a JSON list, not an object"),
    ],
)
def test_regression_metadata_is_checked(saved_regression, metadata, message):
    data = _load(saved_regression)
    data[METADATA_KEY] = metadata if isinstance(metadata, str) else json.dumps(metadata)
    torch.save(data, saved_regression)
    with pytest.raises(CheckpointError, match=message) as error:
        load_regression(saved_regression)
    assert str(saved_regression) in str(error.value)


def test_regression_model_tensor_in_the_api(saved_regression):
    data = _load(saved_regression)
    data["model"] = torch.zeros(12)
    torch.save(data, saved_regression)
    with pytest.raises(CheckpointError, match="'model' is a Tensor"):
        load_regression(saved_regression)


# Pickles a weights-only unpickler refuses: a global that runs code, an opcode outside its subset.
UNSAFE = {
    "global": (b"cos\nsystem\n(S'true'\ntR.", "the Python object os.system"),
    "opcode": (b"(S'true'\nios\nsystem\n.", "the pickle operation STRING"),
}


@pytest.mark.parametrize("case", list(UNSAFE))
@pytest.mark.parametrize("where", ["--model", "--regression"])
def test_unsafe_checkpoint_refused_without_torch_advice(tmp_path, capsys, tiny_esm1b, case, where):
    payload, refused = UNSAFE[case]
    evil = tmp_path / "evil.pt"
    evil.write_bytes(payload)
    shutil.copy(
        tiny_esm1b.with_name("tiny_esm1b-contact-regression.pt"),
        tmp_path / "evil-contact-regression.pt",
    )
    model = evil if where == "--model" else tiny_esm1b
    argv = ["predict", SEQUENCE, "--model", model, "--device", "cpu"]
    if where == "--regression":
        argv += ["--regression", evil]
    line = cli_error(capsys, argv)
    assert (
        f"{evil}: refused to load" in line and refused in line and "not loaded, for safety" in line
    )
    assert "weights_only" not in line
    with pytest.raises(UnsafeCheckpointError) as error:
        ec.checkpoints.safe_load(evil)
    assert "weights_only" not in str(error.value)


# -- 5. wrong types at the Python API
# ---------------------------------------------------------------


@pytest.fixture(scope="module")
def predictor(checkpoint_dir):
    return ContactPredictor.from_pretrained(str(checkpoint_dir / "tiny_esm1b.pt"), device="cpu")


PREDICTOR_CALLS = {
    "predict_batch of a bare string": (
        lambda p: p.predict_batch("MKTAYIAKQR"),
        TypeError,
        "use predict",
    ),
    "predict_batch of None": (
        lambda p: p.predict_batch(None),
        TypeError,
        "list of sequences, not NoneType",
    ),
    "predict of an int": (
        lambda p: p.predict(123),
        TypeError,
        "must be a str of one-letter codes, not int",
    ),
    "predict of bytes": (lambda p: p.predict(b"MKT"), TypeError, "not bytes"),
    "predict_msa num_seqs float": (
        lambda p: p.predict_msa([("q", "MKT")], num_seqs=2.5),
        TypeError,
        "num_seqs must be a whole number",
    ),
    "predict_msa num_seqs text": (
        lambda p: p.predict_msa([("q", "MKT")], num_seqs="x"),
        TypeError,
        "num_seqs must be a whole number",
    ),
    "predict_msa of an int": (
        lambda p: p.predict_msa(123),
        TypeError,
        "msa must be an alignment file",
    ),
    "predict_msa_sizes of a string": (
        lambda p: p.predict_msa_sizes([("q", "MKT")], sizes="16"),
        TypeError,
        "sizes must be a list",
    ),
    "with_regression of an int": (
        lambda p: p.with_regression(5),
        TypeError,
        "ContactRegression or a file path",
    ),
}


@pytest.mark.parametrize("case", list(PREDICTOR_CALLS))
def test_predictor_wrong_types(predictor, case):
    call, error, message = PREDICTOR_CALLS[case]
    with pytest.raises(error, match=message):
        call(predictor)


@pytest.mark.parametrize(
    "options, error, message",
    [
        (
            {"max_length": -5},
            ValueError,
            "max_length must be between 1 and 64, got -5 .the model's context is 64",
        ),
        ({"max_length": 0}, ValueError, "max_length must be between 1 and 64, got 0"),
        ({"max_length": 5000}, ValueError, "max_length must be between 1 and 64, got 5000"),
        ({"max_length": 2.5}, TypeError, "max_length must be a whole number"),
        ({"max_tokens": -1}, ValueError, "max_tokens must be at least 1"),
    ],
)
def test_from_pretrained_options(tiny_esm1b, options, error, message):
    with pytest.raises(error, match=message):
        ContactPredictor.from_pretrained(str(tiny_esm1b), device="cpu", **options)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: load_structure(None),
            "expected a structure file path or PDB ID .str or path-like., got NoneType",
        ),
        (lambda: load_structure(5), "got int"),
        (lambda: ec.read_contacts(None), "expected the path of the file"),
        (lambda: read_msa(None), "expected the path of the alignment file"),
        (
            lambda: ContactPredictor.from_pretrained(None),
            "expected a model name or checkpoint path, got NoneType",
        ),
        (
            lambda: ContactPredictor.from_pretrained("m.pt", regression=5),
            "contact-regression file, got int",
        ),
    ],
)
def test_paths_of_the_wrong_type(call, message):
    with pytest.raises(TypeError, match=message):
        call()
