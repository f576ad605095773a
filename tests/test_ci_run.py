""".ci/run asks apt-get only for missing system packages, and through sudo when not root.

Run with stand-ins on PATH (dpkg-query, id, apt-get, sudo) that log what they are asked.
"""

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def fake_system(tmp_path, missing, uid, sudo):
    """A PATH of stand-ins: dpkg-query (missing packages are not installed), id, apt-get, sudo,
    that log."""
    folder = tmp_path / "bin"
    folder.mkdir()
    log = tmp_path / "log"
    scripts = {
        "dpkg-query": (
            f'for p; do :; done; case " {" ".join(missing)} " in *" $p "*) exit 1;; esac; printf'
            " installed"
        ),
        "id": f"echo {uid}",
        "apt-get": f'echo "apt-get $*" >> {log}',
    }
    if sudo:
        scripts["sudo"] = f'echo "sudo $1" >> {log}; exec "$@"'
    for name, body in scripts.items():
        path = folder / name
        path.write_text(f"#!{shutil.which('bash')}\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    for tool in ("dirname", "env"):
        os.symlink(shutil.which(tool), folder / tool)
    return folder, log


@pytest.mark.parametrize(
    "missing, uid, sudo, status, calls",
    [
        ([], 1000, False, 0, []),  # all present: no apt-get, no root needed
        (
            ["xvfb", "libegl1"],
            0,
            False,
            0,
            ["apt-get update -qq", "apt-get install -y -qq --no-install-recommends xvfb libegl1"],
        ),
        (
            ["xauth"],
            1000,
            True,
            0,
            [
                "sudo env",
                "apt-get update -qq",
                "sudo env",
                "apt-get install -y -qq --no-install-recommends xauth",
            ],
        ),
        (["xauth"], 1000, False, 1, []),
    ],
)
def test_ci_run_installs_only_missing_packages(tmp_path, missing, uid, sudo, status, calls):
    folder, log = fake_system(tmp_path, missing, uid, sudo)
    result = subprocess.run(
        [shutil.which("bash"), str(ROOT / ".ci" / "run"), "--system-only"],
        capture_output=True,
        text=True,
        env={"PATH": str(folder)},
        timeout=60,
    )
    assert result.returncode == status, result.stderr
    assert (log.read_text().splitlines() if log.exists() else []) == calls
    if status:
        assert "needs root or sudo" in result.stderr
