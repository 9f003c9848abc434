"""Names from a plan reach reports escaped for each format.

A VM group may be named with ESC, other control characters or a newline: in a
terminal that would recolour the screen or forge a report line, and XML 1.0
cannot hold most control characters at all (the JUnit file would not parse).
JSON and SARIF need nothing here: ``json.dumps`` escapes every control character.
"""

from __future__ import annotations

import re

__all__ = ["terminal_safe", "xml_safe"]

# XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(line: str) -> str:
    """One line for a terminal: every non-printable character (ESC, CR, newline) escaped."""
    if line.isprintable():
        return line
    return "".join(c if c.isprintable() else _escape(c) for c in line)


def xml_safe(text: str) -> str:
    """Text XML 1.0 can hold: characters it forbids become visible escapes."""
    return _NOT_XML.sub(lambda m: _escape(m.group()), text)
