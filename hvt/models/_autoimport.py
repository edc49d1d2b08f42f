"""Import every module of a package so that its ``@MODELS.register_module()`` calls run."""
import importlib
import pkgutil


def import_submodules(package_name: str, package_path) -> list:
    names = []
    for info in sorted(pkgutil.iter_modules(package_path), key=lambda i: i.name):
        if not info.name.startswith('_'):
            importlib.import_module(f'{package_name}.{info.name}')
            names.append(info.name)
    return names
