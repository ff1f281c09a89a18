"""Test-wide settings: under CI, hypothesis runs derandomized so a green build stays green on re-run;
locally it keeps exploring new examples each run."""

import os

from hypothesis import settings

from tests.support.search_servers import paths, server  # noqa: F401  (fixtures shared by the search tests)

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
