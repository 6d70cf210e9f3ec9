"""konvsync: declarative configuration sync for Konvert portals."""

__version__ = "0.1.0"
