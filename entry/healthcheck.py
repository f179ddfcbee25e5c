"""`python -m entry.healthcheck`: the container's HEALTHCHECK, exit 0 when this host's API answers `ok`.

The image has no curl; this asks `GET /api/health` on the address and port the service was given
(FACEGATE_HOST / FACEGATE_PORT; a wildcard address is reached on the loopback) and exits 1 on
`starting`, `degraded`, an error or no answer within the timeout.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

from control.hosts import WILDCARDS


def health_url(environ: dict[str, str]) -> str:
    """Where this host's own API answers its health route."""
    host = environ.get("FACEGATE_HOST", "")
    host = "127.0.0.1" if host in WILDCARDS else host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{environ.get('FACEGATE_PORT') or 5001}/api/health"


def main(timeout_s: float = 4.0) -> int:
    url = health_url(dict(os.environ))
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:
            status = json.load(answer).get("status")
    except urllib.error.HTTPError as exc:  # 503 while starting or degraded
        status = json.load(exc).get("status") if exc.headers.get_content_type() == "application/json" else exc.code
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    print(f"{url}: {status}")
    return 0 if status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
