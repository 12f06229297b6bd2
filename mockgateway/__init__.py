"""mockgateway: a faithful local emulator of the OmniHuman v1.5 lipsync video API."""

__version__ = "0.1.0"

__all__ = ["__version__"]
