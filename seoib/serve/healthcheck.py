"""``python -m seoib.serve.healthcheck``: the container's health check (exit 0 healthy, 1 not).

Asks ``SEOIB_HEALTH_URL`` (default ``http://127.0.0.1:8470/livez``) with a 2 s
timeout. The probe needs no token; over HTTPS the certificate is not checked,
because the check runs beside the service on its loopback address, where the
certificate's name does not match.
"""

from __future__ import annotations

import os
import ssl
import sys
import urllib.error
import urllib.request

__all__ = ["main"]

DEFAULT_URL = "http://127.0.0.1:8470/livez"


def main() -> int:
    url = os.environ.get("SEOIB_HEALTH_URL") or DEFAULT_URL
    context = ssl._create_unverified_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as resp:
            healthy = resp.status == 200
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"seoib: unhealthy: {exc}", file=sys.stderr)
        return 1
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
