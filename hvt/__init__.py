"""HVT: hybrid vision transformers on OpenMMLab."""
from .version import __version__


def _register_config_package():
    """Let mmengine resolve ``hvt::<family>/<config>.py`` (``_base_`` of a config anywhere, and
    ``Config.fromfile``), the way it resolves ``mmdet::``: mmengine looks the package up in its
    fixed module-to-package table and reads ``<package>/.mim/configs`` (symlinks to the
    repository's ``configs/`` and ``model-index.yml``). mmengine 0.10 needs two more answers from
    HVT, given below; everything stays as it is for the other packages."""
    try:
        from mmengine.config import config, utils
    except ImportError:  # mmengine not installed: nothing to register
        return
    utils.MODULE2PACKAGE.setdefault('hvt', 'hvt')
    # mmengine finds a package's folder through pkg_resources, which points an editable install
    # (PEP 660, `pip install -e .`) at site-packages instead of the clone: answer for hvt itself
    find = config.get_installed_path
    if not getattr(find, '_hvt', False):
        import os.path as osp

        def get_installed_path(package):
            if package == 'hvt':
                return osp.dirname(osp.abspath(__file__))
            return find(package)

        get_installed_path._hvt = True
        config.get_installed_path = get_installed_path
    # mmengine tags every typed dict of a `pkg::` base with `_scope_=pkg`, so that mmdet's configs
    # build in mmdet. HVT's configs carry their own `default_scope` (mmpretrain, mmdet, mmseg,
    # mmpose) and already name HVT's modules `hvt.X`: a `_scope_='hvt'` would send
    # `ImageClassifier` to the wrong registry. Read `hvt::` bases like local ones.
    path_of = config.Config._get_cfg_path
    if not getattr(path_of, '_hvt', False):

        def _get_cfg_path(cfg_path, filename):
            path, scope = path_of(cfg_path, filename)
            return path, (None if scope == 'hvt' else scope)

        _get_cfg_path._hvt = True
        config.Config._get_cfg_path = staticmethod(_get_cfg_path)
    # mmengine warns (printing the whole entry) for every model-index entry without a config
    # file; HVT's three HiViT baselines are built from a model dict in their metafile instead
    import warnings
    warnings.filterwarnings('ignore', message='There is not `Config` define in')


_register_config_package()

__all__ = ['__version__']
