"""A normal (non-editable) install runs the main job from anywhere, under one import name."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# One worker runs the module: its tests share one wheel, and two builds of the checkout at once
# collide in its build/ directory (seen with 3 workers: "Failed building wheel for loadscope").
pytestmark = pytest.mark.xdist_group("install")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("loadscope-*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_holds_one_import_name_and_the_demo_runbooks(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {
        name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")
    }
    assert top_level == {"loadscope"}
    assert "loadscope/examples/demo.yml" in names
    assert "loadscope/examples/churn.yml" in names
    assert "loadscope/py.typed" in names
    assert any(name.endswith(".tcss") for name in names)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_an_installed_wheel_runs_the_demo_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # The dependencies come from this test run's environment (a path entry: its .pth files, and
    # so the editable loadscope, are not loaded); loadscope itself only from the wheel.
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", wheel],
        check=True,
        capture_output=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(
        [str(python), "-c", "import loadscope; print(loadscope.__file__)"],
        cwd=elsewhere,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(str(site)), where
    demo = subprocess.run(
        [str(env_dir / "bin" / "loadscope"), "demo", "--headless", "-d", "2s"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert demo.returncode == 0, demo.stderr
    assert "demo:catalog" in demo.stdout  # a step of the packaged demo runbook ran
