"""Regenerate the committed wire stubs from the `.proto` files beside this module.

Run as `python -m agent_runner.proto.codegen` (what `make proto` does). The test
suite calls `generate()` into a temporary folder and compares, so committed
stubs can never drift from their sources. Needs the `dev` extra (grpcio-tools).
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent
# Protos import each other as "agent_runner/proto/...", so the include root is
# the folder that holds the `agent_runner` package: generated imports then read
# `from agent_runner.proto... import ...` and no top-level `ai` package exists.
INCLUDE_ROOT = PROTO_DIR.parent.parent


def proto_files() -> list[Path]:
    return sorted(PROTO_DIR.rglob("*.proto"))


def generate(out_dir: Path) -> None:
    """Write `_pb2.py`, `_pb2.pyi` and `_pb2_grpc.py` for every proto into `out_dir`."""
    from grpc_tools import protoc  # dev-only dependency, imported on use

    well_known = resources.files("grpc_tools") / "_proto"
    sources = [str(path.relative_to(INCLUDE_ROOT)) for path in proto_files()]
    out_dir.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"--proto_path={INCLUDE_ROOT}",
        f"--proto_path={well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *sources,
    ]
    exit_code = protoc.main(args)
    if exit_code != 0:
        raise RuntimeError(f"protoc failed with exit code {exit_code} (see its output above)")


def main() -> int:
    generate(INCLUDE_ROOT)
    print(f"regenerated stubs for {len(proto_files())} proto files under {PROTO_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
