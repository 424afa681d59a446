"""Parent side of one benchmark child process: JSON lines over pipes.

Every contender of a benchmark (an artifact, a whole-call runtime model, a peer tool) lives in
its own fresh process, started by a command line of its own (a peer may run in another venv).
All children speak one protocol: they reply `["ready", {...}]` once loaded, `["ms", [wall, cpu,
...]]` per `run` request, `["kept", path]` per `keep` request and `["done", {...}]` on `stop`;
a failure is `["error", [ExceptionClassName, message]]`.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Sequence
from typing import Any

from edgephoto import errors
from edgephoto.errors import EdgePhotoError


def rebuild(kind: str, message: str) -> EdgePhotoError:
    """The child's error as the same class (so the same exit code), carrying its message."""
    cls = getattr(errors, kind, EdgePhotoError)
    if not (isinstance(cls, type) and issubclass(cls, EdgePhotoError)):
        cls = EdgePhotoError
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    return error


class Worker:
    """One child process (a fresh interpreter: a real cold start), named `label` in errors."""

    def __init__(self, label: str, argv: Sequence[str], env: dict[str, str] | None = None, *,
                 memory_limit: int | None = None) -> None:
        """`memory_limit`: the child's address-space limit in bytes (RLIMIT_AS; POSIX only), so a
        tool that grabs more memory than the machine has fails alone instead of waking the OOM killer."""
        self.label = label
        self.log = tempfile.TemporaryFile(mode="w+")  # engine chatter; its tail explains a crash

        def limit() -> None:
            import resource

            assert memory_limit is not None
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

        self.process = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.log, text=True, bufsize=1, env=env,
                                        preexec_fn=limit if memory_limit else None)

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise self._died() from None

    def _died(self) -> EdgePhotoError:
        self.process.wait(timeout=10)
        self.log.seek(0)
        tail = [line.strip() for line in self.log.read().splitlines() if line.strip()][-1:]
        why = f": {tail[0][:300]}" if tail else ""
        return EdgePhotoError(f"{self.label}: benchmark process died "
                              f"(exit code {self.process.returncode}){why}")

    def receive(self, expected: str) -> Any:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise self._died()
        kind, payload = json.loads(line)
        if kind == "error":
            raise rebuild(*payload)
        if kind != expected:
            raise EdgePhotoError(f"{self.label}: expected '{expected}' from the benchmark process, got '{kind}'")
        return payload

    def ask(self, command: str, expected: str) -> Any:
        self.send(command)
        return self.receive(expected)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self.log.close()


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM; ru_maxrss carries the parent's peak across fork+exec)."""
    import resource
    import sys

    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
