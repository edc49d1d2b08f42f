import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_requirements(name):
    """Requirement lines of ``requirements/<name>``, comments and blanks dropped."""
    with open(osp.join(HERE, 'requirements', name)) as f:
        lines = (line.split('#', 1)[0].strip() for line in f)
        return [line for line in lines if line]


def read_version():
    scope = {}
    with open(osp.join(HERE, 'hvt', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='hvt',
    version=read_version(),
    description='Hybrid vision transformers (ViTAE, ViTAEv2, Dual-ViT, CETNet, iTPN) on OpenMMLab',
    long_description=open(osp.join(HERE, 'README.md')).read() if osp.exists(osp.join(HERE, 'README.md')) else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'demo')),
    # hvt/.mim links the configs and the model index into the package (the OpenMMLab layout), so
    # mmengine resolves `hvt::vitaev2/...py` from any folder; a wheel gets copies of the files
    package_data={'hvt': ['.mim/model-index.yml', '.mim/configs/**/*.py',
                          '.mim/configs/**/*.yml', '.mim/configs/**/*.md']},
    python_requires='>=3.8',
    install_requires=read_requirements('runtime.txt'),
    extras_require={
        'tests': read_requirements('tests.txt'),
        'mim': read_requirements('mminstall.txt'),
        'optional': read_requirements('optional.txt'),
        'all': read_requirements('mminstall.txt') + read_requirements('optional.txt'),
    },
    license='Apache-2.0',
    zip_safe=False,
)
