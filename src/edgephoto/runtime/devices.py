"""What this machine offers: platform, CPU facts, and per engine its version, devices and
accelerators (providers, delegates, OpenVINO devices, Core ML compute units).

`probe()` is data (JSON-ready); `edgephoto doctor` renders it. Each backend's own `probe`
does the engine-specific part, so a new backend is probed by adding its file.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

# CPU flags worth knowing for int8/fp16/bf16 kernels (x86 /proc/cpuinfo names, ARM "Features")
INTERESTING_FLAGS = (
    "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
    "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16",
    "neon", "asimd", "asimdhp", "asimddp", "fphp", "i8mm", "bf16", "sve", "sve2",
)


def _cpuinfo(text: str) -> dict[str, Any]:
    """model name and flags from /proc/cpuinfo text (x86 'flags', ARM 'Features')."""
    model, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and not model:
            model = value.strip()
        elif key in ("flags", "features"):
            flags.update(value.split())
    return {"model": model, "flags": flags}


def cpu_facts(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """Arch, cores (total and usable by this process), model and the flags that matter."""
    facts: dict[str, Any] = {
        "arch": platform.machine(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "model": platform.processor() or "",
    }
    flags: set[str] = set()
    try:
        parsed = _cpuinfo(cpuinfo.read_text())
        facts["model"] = parsed["model"] or facts["model"]
        flags = parsed["flags"]
    except OSError:
        pass  # macOS/Windows: no /proc; engines still report what they use
    facts["flags"] = [f for f in INTERESTING_FLAGS if f in flags]
    facts["features"] = {
        "avx2": "avx2" in flags,
        "avx512": any(f.startswith("avx512") for f in flags),
        "vnni": bool(flags & {"avx512_vnni", "avx_vnni", "asimddp"}),
        "bf16": bool(flags & {"avx512_bf16", "amx_bf16", "bf16"}),
        "fp16": bool(flags & {"avx512_fp16", "asimdhp", "fphp"}),
        "neon": bool(flags & {"neon", "asimd"}),
    }
    return facts


def _distribution_version(module: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, packages_distributions, version

    for dist in packages_distributions().get(module, []):
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    return None


def probe_engine(name: str) -> dict[str, Any]:
    """One backend: installed?, version, devices (device -> accelerator), accelerators found.

    An engine that is installed but fails to answer is reported with its error, not raised.
    """
    from edgephoto.runtime.backends import BACKENDS, engine_installed

    info = BACKENDS.get(name)
    entry: dict[str, Any] = {
        "engine": info.engine_module,
        "extra": info.extra,
        "platforms": list(info.platforms),
        "usable": False,
        "installed": engine_installed(name),  # the legacy tflite_runtime serves litert too
        "version": _distribution_version(info.engine_module),
        "devices": {},
        "accelerators": [],
        "error": None,
    }
    if not entry["installed"]:
        entry["version"] = None
    if sys.platform not in info.platforms:
        entry["error"] = f"runs on {', '.join(info.platforms)} only"
        return entry
    if not entry["installed"]:
        entry["error"] = f"not installed: pip install 'edgephoto[{info.extra}]'"
        return entry
    if info.probe is None:
        return entry
    try:
        found = info.probe()
    except Exception as exc:  # an engine's own failure is a fact to report
        entry["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return entry
    entry.update(found)
    entry["usable"] = True
    return entry


def probe() -> dict[str, Any]:
    """Everything `edgephoto doctor` shows, as JSON-ready data."""
    from edgephoto.runtime.backends import BACKENDS
    from edgephoto.version import __version__

    return {
        "edgephoto": __version__,
        "platform": {
            "system": sys.platform,
            "release": platform.release(),
            "machine": platform.machine(),
            "python": platform.python_version(),
            "libc": " ".join(platform.libc_ver()).strip(),
        },
        "cpu": cpu_facts(),
        "engines": {name: probe_engine(name) for name in BACKENDS.names()},
    }
