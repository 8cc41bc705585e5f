"""Helpers every benchmark uses: questions, percentiles, memory, child processes, sizes."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rag.config import PROJECT_ROOT
from rag.errors import InputError, RagError

QUESTIONS = PROJECT_ROOT / "bench" / "questions.jsonl"


def load_questions(path: Path, limit: int) -> list[dict]:
    """Question objects (``question``, optional ``answers``) from a JSONL file."""
    items = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            if isinstance(item, dict) and isinstance(item.get("question"), str):
                items.append(item)
    if not items:
        raise InputError(f"{path} holds no questions; give a JSONL file with a 'question' per line")
    return items[:limit]


def percentiles(values: list[float]) -> dict:
    v = np.asarray(values, dtype=float)
    if not len(v):
        return dict(p50=None, p95=None, max=None)
    return dict(p50=round(float(np.percentile(v, 50)), 1), p95=round(float(np.percentile(v, 95)), 1),
                max=round(float(v.max()), 1))


# CPU features that decide how fast the models run here (OpenVINO computes in bf16 with AMX or
# AVX-512 BF16, in f32 elsewhere; VNNI speeds int8)
CPU_FEATURES = ("amx_bf16", "amx_int8", "avx512_bf16", "avx512_vnni", "avx_vnni", "avx512f", "avx2")


def cpu() -> dict:
    """The CPU's model name and the features of ``CPU_FEATURES`` it has (Linux /proc/cpuinfo; elsewhere
    the platform's processor string and no features), with the precision OpenVINO infers in."""
    import platform

    name, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                name = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    except OSError:
        pass
    try:
        import openvino as ov

        hint = ov.Core().get_property("CPU", "INFERENCE_PRECISION_HINT")
        precision = hint.get_type_name() if hasattr(hint, "get_type_name") else str(hint)
    except Exception:  # noqa: BLE001 - no OpenVINO, or a CPU plugin that does not say: not reported
        precision = None
    return dict(model=name, features=[f for f in CPU_FEATURES if f in flags], openvino_precision=precision)


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_child(args: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Run ``python -m rag.cli ARGS``: (wall seconds, its own peak RSS in MB, stdout)."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "-q", *args], stdout=subprocess.PIPE,
                                stderr=err, env=env or os.environ.copy(), cwd=PROJECT_ROOT)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)  # wait4: this child's rusage, not all children's
        wall = time.perf_counter() - t0
        proc.stdout.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            err.seek(0)
            raise RagError(f"'rag {' '.join(args)}' failed (exit {proc.returncode}): "
                               f"{err.read().decode(errors='replace')[-500:]}")
    return round(wall, 2), round(usage.ru_maxrss / 1024, 1), out.decode("utf-8")


def dir_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 1e6, 1)


def current(index_dir: Path) -> Path:
    from rag.index.store import current_generation

    return current_generation(index_dir)


def rss_now_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
