"""HVT: hybrid vision transformers on OpenMMLab."""
from .version import __version__

__all__ = ['__version__']
