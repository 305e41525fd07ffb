"""The error a bad network spec raises: file, key path, allowed values, a guess."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from harness.errors import ConfigError


class SpecError(ConfigError):
    """A network spec is wrong; the message names the file and the key path."""

    def __init__(
        self,
        source: str,
        key_path: str,
        problem: str,
        *,
        allowed: Iterable[str] = (),
        suggestion: str | None = None,
    ) -> None:
        self.source = source
        self.key_path = key_path
        self.problem = problem
        self.allowed = tuple(allowed)
        self.suggestion = suggestion
        where = f"{source}: {key_path}" if key_path else source
        message = f"{where}: {problem}"
        if self.allowed:
            message += f" (allowed: {', '.join(self.allowed)})"
        hint = f"did you mean {suggestion!r}?" if suggestion else None
        super().__init__(message, hint=hint)


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate ``word`` was most likely meant to be, if any is close."""
    options = list(candidates)
    lowered = {option.lower().replace("-", "_"): option for option in options}
    exact = lowered.get(word.lower().replace("-", "_"))
    if exact is not None:
        return exact
    matches = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if matches:
        return matches[0]
    matches = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[matches[0]] if matches else None
