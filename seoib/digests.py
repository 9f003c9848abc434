"""SHA-256 for the rule set's digest and the rules cache's key, cheap to import.

Every start digests the rule files and the package to find its cache entry.
hashlib's sha256 is OpenSSL's, and importing hashlib loads libcrypto (about
2.5 ms of a cold ``seoib policy``). CPython's own SHA-256 module - what hashlib
itself falls back to without OpenSSL - gives the same digests and loads in a
tenth of that; it is used where this interpreter has it.
"""

from __future__ import annotations

__all__ = ["sha256"]

try:
    from _sha256 import sha256  # CPython <= 3.11
except ImportError:  # pragma: no cover - depends on the interpreter
    try:
        from _sha2 import sha256  # type: ignore[no-redef]  # CPython >= 3.12
    except ImportError:
        from hashlib import sha256  # type: ignore[assignment,no-redef]
