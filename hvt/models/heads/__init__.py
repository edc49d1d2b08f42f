"""HVT heads. Each file registers its modules in ``hvt.registry.MODELS``; all are imported here."""
from .._autoimport import import_submodules

__modules__ = import_submodules(__name__, __path__)
