"""Position-keeping helpers for statement text: comment and string masking, and file locations.

Masking replaces comments (and optionally string literal contents) with spaces while keeping
every newline, so offsets found in the masked text are offsets in the statement as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from velo_tui.engine.errors import InputError, SourceLocation


@dataclass(frozen=True)
class TextOrigin:
    """Start position of a piece of statement text in its SQL file (1-based line and column)."""

    file: Path | str
    line: int
    column: int

    def locate(self, text: str, offset: int) -> SourceLocation:
        """Return the file location of character `offset` of `text`, which starts at this origin."""
        offset = max(0, min(offset, len(text)))
        before = text[:offset]
        newlines = before.count("\n")
        if newlines == 0:
            return SourceLocation(self.file, self.line, self.column + offset)
        return SourceLocation(self.file, self.line + newlines, offset - before.rfind("\n"))

    def advance(self, text: str, offset: int) -> TextOrigin:
        """Return the origin of `text[offset:]`."""
        location = self.locate(text, offset)
        return TextOrigin(self.file, location.line or self.line, location.column or self.column)


def mask(text: str, origin: TextOrigin, *, strings: bool = True) -> str:
    """Blank out comments, and with `strings` the contents of '...' literals, keeping offsets.

    Double-quoted and backquoted identifiers are kept as written. An unterminated string,
    identifier or block comment raises `InputError` at the place where it opens.
    """
    out = list(text)
    i = 0
    length = len(text)
    while i < length:
        char = text[i]
        if text.startswith("--", i):
            end = text.find("\n", i)
            end = length if end == -1 else end
            _blank(out, i, end)
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end == -1:
                raise InputError(
                    "block comment '/*' is never closed; add the closing '*/'",
                    origin.locate(text, i),
                )
            _blank(out, i, end + 2)
            i = end + 2
        elif char in "'\"`":
            end = _closing_quote(text, i, char)
            if end == -1:
                opening = "string literal" if char == "'" else "quoted identifier"
                raise InputError(
                    f"{opening} opened with {char} is never closed; add the closing {char}",
                    origin.locate(text, i),
                )
            if strings and char == "'":
                _blank(out, i + 1, end)
            i = end + 1
        else:
            i += 1
    return "".join(out)


def _closing_quote(text: str, start: int, quote: str) -> int:
    """Return the offset of the quote that closes the one at `start`; a doubled quote escapes."""
    i = start + 1
    while True:
        end = text.find(quote, i)
        if end == -1:
            return -1
        if text.startswith(quote * 2, end):
            i = end + 2
            continue
        return end


def _blank(out: list[str], start: int, end: int) -> None:
    for index in range(start, end):
        if out[index] != "\n":
            out[index] = " "


def paren_depths(masked: str) -> list[int]:
    """Return the parenthesis nesting depth at each character of masked text."""
    depths = []
    depth = 0
    for char in masked:
        if char == ")":
            depth -= 1
        depths.append(depth)
        if char == "(":
            depth += 1
    return depths


def unquote_identifier(name: str) -> str:
    """Strip SQL identifier quotes ("name" or `name`) and undo doubled quotes inside."""
    if len(name) >= 2 and name[0] == name[-1] and name[0] in "\"`":
        return name[1:-1].replace(name[0] * 2, name[0])
    return name
