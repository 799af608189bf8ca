"""The built package size of each Lambda function, from ``sam build`` (run: ``make package-size``).

Builds the template into a temporary folder with the SAM CLI (``.venv-tools/bin/sam``,
or ``sam`` on PATH) and a Python 3.12 interpreter on PATH (the functions'
runtime; pyenv's 3.12 is put first when there is one), no container: SAM's
pip builder fetches the arm64 (manylinux aarch64) wheels of
``functions/requirements.txt`` whatever this machine's architecture. Prints,
per function, its unzipped size and its size zipped as ``sam package``
zips it (deflate), and the layers it mounts (they count towards Lambda's
250 MB unzipped limit). Needs PyPI; writes nothing in the checkout
(``--cached`` keeps its dependency cache in the temporary folder).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT_UNZIPPED = 250 * 1000 * 1000


def _sam() -> str:
    local = ROOT / ".venv-tools" / "bin" / "sam"
    found = str(local) if local.exists() else shutil.which("sam")
    if found is None:
        raise SystemExit("package_size: no SAM CLI; run `make tools` (or put sam on PATH)")
    return found


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    pyenv = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin")))
    if pyenv:
        env["PATH"] = os.pathsep.join([pyenv[-1], env.get("PATH", "")])
    if shutil.which("python3.12", path=env["PATH"]) is None:
        raise SystemExit("package_size: sam build needs python3.12 on PATH (the runtime)")
    return env


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _zipped(folder: Path, scratch: Path) -> int:
    archive = scratch / f"{folder.name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                out.write(path, path.relative_to(folder).as_posix())
    return archive.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from stepline.definition import load_template

    template = load_template(ROOT / "template.yaml")
    resources = template["Resources"]
    results: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "functions": {},
    }
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        build = scratch / "build"
        command = [
            _sam(), "build", "--template-file", str(ROOT / "template.yaml"),
            "--build-dir", str(build), "--cached", "--cache-dir", str(scratch / "cache"),
        ]  # fmt: skip
        subprocess.run(command, cwd=scratch, env=_environment(), check=True)
        for logical_id, resource in resources.items():
            if resource.get("Type") != "AWS::Serverless::Function":
                continue
            folder = build / logical_id
            layers = [
                name
                for name, other in resources.items()
                if other.get("Type") == "AWS::Serverless::LayerVersion"
                and name in json.dumps(resource.get("Properties", {}).get("Layers") or [])
            ]
            layer_bytes = sum(
                _size(ROOT / resources[name]["Properties"]["ContentUri"]) for name in layers
            )
            unzipped, zipped = _size(folder), _zipped(folder, scratch)
            figures = {
                "unzipped_bytes": unzipped,
                "zipped_bytes": zipped,
                "layers": layers,
                "layers_unzipped_bytes": layer_bytes,
            }
            results["functions"][logical_id] = figures  # type: ignore[index]
            total = unzipped + layer_bytes
            print(
                f"{logical_id:32} unzipped {unzipped / 1e6:6.1f} MB  zipped "
                f"{zipped / 1e6:6.1f} MB  layers {layer_bytes / 1e6:5.2f} MB"
                f"  (with layers {total / 1e6:.1f} of 250 MB: "
                f"{'within' if total <= LIMIT_UNZIPPED else 'OVER'})"
            )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"package-size-{results['when']}.json".replace(":", "")).write_text(
        json.dumps(results, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
