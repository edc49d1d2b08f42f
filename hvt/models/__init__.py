"""HVT models. Importing this package registers every backbone, head, layer and algorithm in scope
``hvt``.

Configs of any OpenMMLab library reach them with::

    custom_imports = dict(imports=['hvt.models'], allow_failed_imports=False)
    model = dict(backbone=dict(type='hvt.ViTAEv2', arch='s'))
"""
from . import backbones, heads, layers, selfsup  # noqa: F401
