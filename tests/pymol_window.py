"""Run a driver script inside PyMOL's real Qt window on Xvfb: the GUI tests' one launcher."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_in_pymol_window(driver: str, tmp_path: Path, size, timeout: int, **variables) -> tuple:
    """Install the plugin into a fresh HOME, run `driver` in ``pymol`` under ``xvfb-run``.

    The driver writes ``$ESM_GUI_OUT/report.json`` (with ``"ok"``) and any images there;
    `variables` become environment variables of PyMOL. ``ESM_CONTACTS_GUI_IMAGES=DIR``
    keeps the images.

    Returns
    -------
    report : dict
        The driver's report, once ``report["ok"]`` is asserted.
    out : Path
        The folder the driver wrote.
    log : str
        What PyMOL printed.
    """
    for tool in ("xvfb-run", "Xvfb"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install xvfb): no virtual X server")
    home, out = tmp_path / "home", tmp_path / "out"
    home.mkdir()
    out.mkdir()
    env = dict(
        os.environ,
        HOME=str(home),
        ESM_GUI_OUT=str(out),
        LIBGL_ALWAYS_SOFTWARE="1",
        XDG_RUNTIME_DIR=str(tmp_path),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **{name: str(value) for name, value in variables.items()},
    )
    env.pop("APPDATA", None)
    # The real window on Xvfb: another test module may have chosen Qt's offscreen platform.
    env.pop("QT_QPA_PLATFORM", None)
    command = [sys.executable, "-m", "esm_contacts.cli", "pymol-install"]
    install = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert install.returncode == 0, install.stderr
    script = tmp_path / "driver.py"
    script.write_text(driver)
    width, height = size
    command = [shutil.which("xvfb-run"), "-a", "-s", "-screen 0 1600x1000x24", sys.executable, "-m",
               "pymol", "-q", "-W", str(width), "-H", str(height), str(script)]  # fmt: skip
    run = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, cwd=tmp_path
    )
    report_file = out / "report.json"
    assert report_file.is_file(), f"PyMOL exited {run.returncode}:\n{run.stdout}\n{run.stderr}"
    report = json.loads(report_file.read_text())
    keep = os.environ.get("ESM_CONTACTS_GUI_IMAGES")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for image in out.glob("*.png"):
            shutil.copy(image, Path(keep) / image.name)
    assert report["ok"], report.get("error")
    return report, out, run.stdout


def write_noisy_rr(structure_path: Path, path: Path) -> Path:
    """An RR file for chain A of a homodimer: true, homodimer-only and false contacts spread
    over the probability bins (30, 8 and 12 pairs), low noise elsewhere."""
    import numpy as np

    import esm_contacts as ec

    structure = ec.load_structure(structure_path)
    T, X = ec.true_contacts(structure, "A"), ec.homodimer_contacts(structure, "A")
    i, j = np.triu_indices(T.shape[0], k=6)
    rng = np.random.default_rng(5)
    P = np.triu(rng.random(T.shape) * 0.2, 1)
    for mask, count, low, high in (
        ((T[i, j] == 1), 30, 0.55, 1.0),
        ((T[i, j] == 0) & (X[i, j] == 1), 8, 0.45, 0.8),
        ((T[i, j] == 0) & (X[i, j] == 0), 12, 0.22, 0.7),
    ):
        chosen = rng.permutation(np.flatnonzero(mask))[:count]
        P[i[chosen], j[chosen]] = np.linspace(low, high, count)
    ec.write_contacts(
        path, (P + P.T).astype(np.float32), sequence=ec.chain_sequence(structure, "A")
    )
    return path
