"""`make`'s virtualenv step mends what a failed `python3 -m venv` left (a
python and no pip, as on a Debian without python3.X-venv), instead of
skipping it on every later run."""

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "config/scripts/ensure-venv.sh"


def test_a_virtualenv_without_pip_is_made_again(tmp_path):
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    os.symlink(sys.executable, venv / "bin/python")

    subprocess.run(["bash", str(SCRIPT), str(venv), "python3"], check=True, timeout=120)

    assert (venv / "bin/pip").exists()
    subprocess.run([str(venv / "bin/pip"), "--version"], check=True, capture_output=True, timeout=60)


def test_a_missing_python_is_named(tmp_path):
    run = subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path / ".venv"), "python-that-is-not-there"],
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert run.returncode == 1
    assert "python-that-is-not-there is not installed" in run.stderr
