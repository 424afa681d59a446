"""The one CLI runner the command tests share: `run(argv, capsys) -> (exit code, stdout, stderr)`.

Importable from every test module because pytest puts tests/ (home of the root conftest.py) on
sys.path.
"""

from __future__ import annotations

import pytest

from edgephoto.cli.main import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
