"""Hypothesis without its per-example deadline: tests assert behaviour, never time (the
containment proof in lint builds automata, and a shared machine makes any deadline flaky)."""

from hypothesis import settings

settings.register_profile("no-deadline", deadline=None)
settings.load_profile("no-deadline")
