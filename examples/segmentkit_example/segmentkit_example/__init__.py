"""segmentkit adapter for the imaginary "Smoke Signals" SMS platform (a worked example)."""

from .provider import ExampleProvider

__all__ = ["ExampleProvider"]
