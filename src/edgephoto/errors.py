"""The one exception tree. Library code raises these; only the CLI turns them into messages.

Each child carries the facts a user needs (the op, the target, the extra, the measured numbers)
and an exit code, so the CLI can map every failure to a distinct, documented status.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable, Sequence
from types import ModuleType
from typing import Any


def nearest(name: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The valid name closest to a mistyped one, or None when nothing is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(name: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str:
    """The " Did you mean 'x'?" that refusals append, or an empty string."""
    close = nearest(name, choices, cutoff=cutoff)
    return f" Did you mean '{close}'?" if close else ""


class EdgePhotoError(Exception):
    """Base of every error edgephoto raises on purpose."""

    exit_code = 1


class UnknownNameError(EdgePhotoError, KeyError):
    """A name (model, target, backend, task, ...) that no registry holds."""

    exit_code = 2

    def __init__(self, kind: str, name: str, choices: Iterable[str]) -> None:
        self.kind, self.name, self.choices = kind, name, sorted(choices)
        self.suggestion = nearest(name, self.choices, cutoff=0.5)
        hint = did_you_mean(name, self.choices, cutoff=0.5)
        super().__init__(f"unknown {kind} '{name}'.{hint} Valid: {', '.join(self.choices)}")

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


class InvalidOptionError(EdgePhotoError, ValueError):
    """An option or value that the chosen target/backend/task does not accept."""

    exit_code = 2


class MissingExtraError(EdgePhotoError, ImportError):
    """An optional dependency is missing; names the extra that installs it."""

    exit_code = 3

    def __init__(self, module: str, extra: str, why: str = "") -> None:
        self.module, self.extra = module, extra
        what = f" (needed for {why})" if why else ""
        super().__init__(
            f"'{module}' is not installed{what}: pip install 'edgephoto[{extra}]'"
        )


def require(module: str, extra: str, what: str = "", *, alternatives: Sequence[str] = ()) -> ModuleType:
    """Import an optional dependency, or raise MissingExtraError naming the extra to install.

    Call it inside the function that needs the module, so importing edgephoto stays light.
    `alternatives` are tried in order when `module` is missing (an older package of the same
    engine). The error names the package that is really missing: a dependency of `module` may
    be the one.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        for other in alternatives:
            try:
                return importlib.import_module(other)
            except ImportError:
                continue
        missing = (exc.name or module).split(".")[0]
        raise MissingExtraError(missing, extra, what) from exc


class InputFileError(EdgePhotoError, ValueError):
    """A model or image file that is missing, corrupt, truncated or of the wrong kind."""

    exit_code = 4

    def __init__(self, path: object, problem: str) -> None:
        self.path, self.problem = str(path), problem
        super().__init__(f"{path}: {problem}")


class UnsupportedOpError(EdgePhotoError):
    """A graph op that a target (or source loader) cannot express."""

    exit_code = 5

    def __init__(self, op: str, target: str, detail: str = "") -> None:
        self.op, self.target = op, target
        more = f": {detail}" if detail else ""
        super().__init__(f"op '{op}' is not supported by target '{target}'{more}")


class ConversionError(EdgePhotoError):
    """A converter failed for a reason other than a named unsupported op."""

    exit_code = 5


class HashMismatchError(EdgePhotoError):
    """A file whose sha256 is not the pinned one."""

    exit_code = 6

    def __init__(self, path: object, expected: str, actual: str) -> None:
        self.path, self.expected, self.actual = str(path), expected, actual
        super().__init__(f"{path}: sha256 {actual[:16]}… does not match pinned {expected[:16]}…")


class WeightsNotFoundError(EdgePhotoError):
    """No weight source worked; lists every source tried and why it failed."""

    exit_code = 7

    def __init__(self, model: str, tried: Sequence[str]) -> None:
        self.model, self.tried = model, list(tried)
        super().__init__(f"no weights for '{model}'; tried: " + "; ".join(self.tried))


class ParityError(EdgePhotoError):
    """A converted artifact disagrees with its source beyond tolerance."""

    exit_code = 8

    def __init__(self, message: str, measured: dict[str, Any]) -> None:
        self.measured = measured
        super().__init__(message)


class AccuracyDropError(EdgePhotoError):
    """Quantization cost more of the task metric than the allowed limit."""

    exit_code = 9

    def __init__(self, metric: str, drop: float, limit: float, measured: dict[str, Any], why: str = "") -> None:
        self.metric, self.drop, self.limit, self.measured = metric, drop, limit, measured
        message = f"accuracy drop on {metric}: {drop:.4g} exceeds the limit {limit:.4g}"
        super().__init__(f"{message} ({why})" if why else message)


class OutputError(EdgePhotoError, OSError):
    """An output location that cannot be written."""

    exit_code = 10


class DeviceError(EdgePhotoError):
    """A device or delegate that is not present on this machine."""

    exit_code = 11


class LicenceNotAcceptedError(EdgePhotoError):
    """A non-permissive model was requested without the explicit accept flag."""

    exit_code = 12

    def __init__(self, model: str, licence: str) -> None:
        self.model, self.licence = model, licence
        super().__init__(
            f"'{model}' is licensed {licence} (not permissive); pass --accept-licence {licence} "
            "to use it"
        )


class EdgePhotoWarning(UserWarning):
    """Something the user should know but that does not stop the work (e.g. a device fallback).

    Library code warns with this category instead of printing; filter it with
    `warnings.simplefilter("error", EdgePhotoWarning)` to make every fallback fatal.
    """
