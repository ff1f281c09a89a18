"""Serve the demo website until Ctrl-C, so a person can browse it.

**Reads:** nothing.  **Writes:** stdout (the addresses).
**Usage:**
    python -m demo.site --port 8000
    python -m demo.site --stories 60 --seed 7 --slow-seconds 0
    python -m demo.site --expected          # print the ground truth as JSON and exit
"""

import sys

import argparse
import json
import threading

from demo.site.content import MIN_STORIES
from demo.site.server import DemoSite


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line flags."""
    p = argparse.ArgumentParser(prog="python -m demo.site", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0: any free port; default 8000)")
    p.add_argument("--stories", type=int, default=40, help=f"number of demo stories (at least {MIN_STORIES})")
    p.add_argument("--seed", type=int, default=1234, help="demo story seed")
    p.add_argument("--slow-seconds", type=float, default=1.5, help="delay of the slow page (seconds)")
    p.add_argument("--flaky-failures", type=int, default=1, help="500 answers of the flaky page before it works")
    p.add_argument("--expected", action="store_true", help="print the ground truth (JSON, no texts) and exit")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start the site, print where it is, serve until interrupted. Exit codes: 0 ok, 2 bad flags or busy port."""
    args = parse_args(argv)
    try:
        site = DemoSite(stories=args.stories, seed=args.seed, slow_seconds=args.slow_seconds,
                        flaky_failures=args.flaky_failures, port=args.port)
        site.start()
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        if args.expected:
            truth = site.expected()
            for rec in truth["stories"].values():
                rec.pop("text")
            print(json.dumps(truth, indent=2, ensure_ascii=False))
            return 0
        print(f"Demo site:   {site.base_url}/")
        print(f"Search API:  {site.search_url}?q=stories&format=json")
        print(f"robots.txt:  {site.base_url}/robots.txt    sitemap: {site.base_url}/sitemap_index.xml")
        print("Ctrl-C to stop.", flush=True)
        threading.Event().wait()  # until KeyboardInterrupt
    except KeyboardInterrupt:
        print("stopped")
    finally:
        site.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
