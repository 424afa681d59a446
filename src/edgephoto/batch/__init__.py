"""Batch runs over photo libraries: a crash-safe journal, local worker processes, Ray.

`run_batch` (batch/run.py) is what `edgephoto run DIR...` hands a library to. The journal
(batch/journal.py) beside the outputs makes a run resumable: a run killed at any point and
started again does every photo exactly once.
"""

from __future__ import annotations
