"""The README's Python blocks run as written, from the project root, with a tiny model for
ESM-1b."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MODEL = "esm1b_t33_650M_UR50S"
HUB_MODEL = f"facebook/{MODEL}"  # replaced by a tiny Hugging Face directory


def python_blocks(text):
    """The body of every ```python fenced block, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


BLOCKS = python_blocks(README.read_text())


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 2 and all(MODEL in block for block in BLOCKS)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_has_no_placeholders(index):
    """Strings in the code are real (no "MKTAY..." sequences or "..." paths a reader must fill
    in)."""
    tree = ast.parse(BLOCKS[index])
    strings = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
    assert strings and not [s for s in strings if "..." in s and not s.startswith("../")]
    assert not any(
        isinstance(node, ast.Constant) and node.value is Ellipsis for node in ast.walk(tree)
    )


@pytest.mark.filterwarnings(
    "ignore:.*longer than the model context"
)  # the tiny model's context is 64
@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index, shared_data, tiny_esm1b, tiny_hf_esm1b, monkeypatch, capsys):
    """Each block on its own, in a fresh namespace, from the project root (so its ../shared/data
    paths resolve)."""
    monkeypatch.chdir(ROOT)
    code = (
        BLOCKS[index]
        .replace(f'"{HUB_MODEL}"', repr(str(tiny_hf_esm1b)))
        .replace(f'"{MODEL}"', repr(str(tiny_esm1b)))
    )
    assert code != BLOCKS[index]
    before = sorted(path.name for path in ROOT.iterdir())
    exec(compile(code, f"README.md python block {index + 1}", "exec"), {"__name__": "__readme__"})
    printed = capsys.readouterr().out
    if "print(" in code:
        assert "L/2" in printed  # the precision tables the blocks print
    assert (
        sorted(path.name for path in ROOT.iterdir()) == before
    )  # it writes nothing into the project
