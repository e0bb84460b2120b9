"""A broken invariant, as the checkers report it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Violation:
    invariant: str
    step: int
    explanation: str

    def __str__(self) -> str:
        return f"{self.invariant} violated at step {self.step}: {self.explanation}"
