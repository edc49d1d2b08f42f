"""``type='hvt.<Name>'`` builds from the default scope of every OpenMMLab library HVT targets."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings

import hvt.registry

SCOPES = {
    'mmpretrain': 'mmpretrain.registry',
    'mmdet': 'mmdet.registry',
    'mmseg': 'mmseg.registry',
    'mmpose': 'mmpose.registry',
}


@pytest.mark.parametrize('scope', sorted(SCOPES))
def test_build_hvt_module_from_library_scope(scope, tmp_path):
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text(
        f"default_scope = '{scope}'\n"
        "custom_imports = dict(imports=['hvt.models'], allow_failed_imports=False)\n"
        "layer = dict(type='hvt.Mlp', in_features=8, hidden_features=16)\n")
    cfg = Config.fromfile(str(cfg_file))  # runs custom_imports, as the tools do
    library_models = import_modules_from_strings(SCOPES[scope]).MODELS
    assert library_models.scope == scope
    init_default_scope(scope)
    layer = library_models.build(cfg.layer)
    assert type(layer).__module__ == 'hvt.models.layers.mlp'
    assert layer(torch.zeros(2, 8)).shape == (2, 8)
    # the library's registry did not receive a copy: it found hvt's through the shared root
    assert 'Mlp' not in library_models.module_dict or library_models.get('Mlp') is not type(layer)


def test_hvt_registries_are_children_of_mmengine_roots():
    from mmengine import registry as root
    assert hvt.registry.MODELS.scope == 'hvt'
    assert hvt.registry.MODELS.parent is root.MODELS
    assert hvt.registry.HOOKS.parent is root.HOOKS
    assert hvt.registry.DATASETS.parent is root.DATASETS
    assert hvt.registry.TRANSFORMS.parent is root.TRANSFORMS
    assert 'hvt' in root.MODELS.children


def test_unknown_hvt_type_names_the_key():
    import hvt.models  # noqa: F401
    with pytest.raises(KeyError, match='NoSuchBackbone'):
        hvt.registry.MODELS.build(dict(type='NoSuchBackbone'))
