"""A real install: the wheel builds and, installed (not editable) in a fresh venv, finds its suites from any folder."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_every_package_of_the_checkout_is_listed_in_pyproject():
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "cskd").rglob("__init__.py")}
    assert found <= listed, f"packages missing from pyproject.toml [tool.setuptools] packages: {found - listed}"


@pytest.mark.slow
def test_installed_package_lists_suites_and_plans_from_another_folder(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels)],
        check=True,
        cwd=tmp_path,
        timeout=600,
    )
    (wheel,) = wheels.glob("cskd-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "cskd/benchmarks/quick.yaml" in names and "cskd/benchmarks/paper_results.csv" in names
    assert "cskd/reference/teachers/cifar10-jpeg_cifar_resnet34_w0_25.pt" in names  # the teacher quick names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    target = next((venv / "lib").glob("python*/site-packages"))
    subprocess.run(  # installed by this interpreter's pip into the fresh venv; no download (dependencies: below)
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        timeout=600,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CSKD_SUITES")}
    env["PYTHONPATH"] = os.pathsep.join(site.getsitepackages())  # torch & co. (their .pth files, the editable
    # checkout's among them, are not read from PYTHONPATH)

    def cskd(*args: str) -> str:
        done = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "cskd", *args], cwd=elsewhere, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import cskd; print(cskd.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(str(target)), where  # the installed copy, not the checkout
    assert "quick" in cskd("list", "suites") and "table1" in cskd("list", "suites")
    plan = cskd("run", "quick", "--dry-run", "--data-dir", str(tmp_path / "no-data"))  # a dry run fetches nothing
    assert "suite quick [full]" in plan and "estimated hours" in plan, plan
