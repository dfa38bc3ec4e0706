"""Test-suite settings shared by every test module."""

import os

from hypothesis import settings

# The property tests draw the same examples on every run, so a commit passes or fails the suite alone;
# HYPOTHESIS_PROFILE=explore draws fresh examples to look for new failures.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
