#!/usr/bin/env bash
# Install HVT and the OpenMMLab stack it is verified against, on a CPU machine or any machine
# without a prebuilt mmcv for its torch. Idempotent: every step checks first and skips what is done.
#
#   tools/install.sh                      # creates and uses .venv/ in the repo root
#   PYTHON=/path/to/python tools/install.sh   # installs into that existing env (conda, venv, ...)
#   HVT_CACHE=/some/dir tools/install.sh      # where built wheels are kept (default ~/.cache/hvt)
#
# It handles the three build traps of this stack (see README "Install"):
#   1. mmcv 2.1.0 hard-codes -std=c++17, torch >= 2.10 headers need C++20 -> patched before building;
#   2. mmcv's setup.py imports pkg_resources, gone in setuptools 82 -> setuptools>=77.0.3,<82;
#   3. xtcocotools' wheel is built against numpy 1 -> rebuilt from its sdist against the installed numpy.
# The built mmcv and xtcocotools wheels are cached in $HVT_CACHE/wheels, so a fresh clone reuses them.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${HVT_CACHE:-$HOME/.cache/hvt}
WHEELS=$CACHE/wheels
TORCH_VERSION=${TORCH_VERSION:-2.14.1}
TORCHVISION_VERSION=${TORCHVISION_VERSION:-0.29.1}
MMCV_VERSION=2.1.0
XTCOCO_VERSION=1.14.3
mkdir -p "$WHEELS"

say() { printf '[hvt-install] %s\n' "$*"; }

if [ -n "${PYTHON:-}" ]; then
    PY=$PYTHON
    say "using existing environment: $PY"
else
    PY=$ROOT/.venv/bin/python
    if [ ! -x "$PY" ]; then
        say "creating virtual environment $ROOT/.venv"
        python3 -m venv "$ROOT/.venv"
    fi
fi
PIP=("$PY" -m pip --disable-pip-version-check --no-input)
has() { "$PY" -c "$1" >/dev/null 2>&1; }

if has "import hvt, mmcv.ops, mmdet, mmseg, mmpose, mmpretrain, xtcocotools.coco, gdown, requests, tqdm" \
        && [ -z "${HVT_FORCE_INSTALL:-}" ]; then
    # Fast path: everything is there; only re-link the package in case the clone moved.
    if [ "$("$PY" -c 'import hvt, os; print(os.path.dirname(os.path.dirname(hvt.__file__)))')" = "$ROOT" ]; then
        say "environment complete ($PY); nothing to do"
        exit 0
    fi
fi

say "build tools: setuptools>=77.0.3,<82 (mmcv needs pkg_resources), wheel, cython"
"${PIP[@]}" install -q 'setuptools>=77.0.3,<82' wheel 'cython>=3' ninja

if has "import torch, torchvision; assert torch.__version__.split('+')[0] == '$TORCH_VERSION'"; then
    say "torch $TORCH_VERSION already installed"
else
    say "installing torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION"
    "${PIP[@]}" install -q "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
fi

say "installing mmengine and the pure-Python dependencies"
"${PIP[@]}" install -q 'mmengine==0.10.7' numpy ftfy regex matplotlib pycocotools \
    addict yapf packaging Pillow pyyaml opencv-python 'pytest>=7.3' pytest-timeout \
    'gdown>=5.0' requests tqdm

torch_tag=$("$PY" -c "import torch; print(torch.__version__.split('+')[0])")
py_tag=$("$PY" -c "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')")

# build_cached NAME VERSION WHEEL_GLOB_KEY PATCH_FN EXTRA_ENV...
if has "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VERSION'"; then
    say "mmcv $MMCV_VERSION with ops already installed"
else
    mmcv_dir=$WHEELS/mmcv-$MMCV_VERSION-torch$torch_tag-$py_tag
    whl=$(ls "$mmcv_dir"/mmcv-*.whl 2>/dev/null | head -n1 || true)
    if [ -z "$whl" ]; then
        say "building mmcv $MMCV_VERSION with ops from source (about 7 minutes on 2 cores; cached afterwards in $mmcv_dir)"
        tmp=$(mktemp -d)
        "${PIP[@]}" download -q --no-binary :all: --no-deps "mmcv==$MMCV_VERSION" -d "$tmp"
        tar -xzf "$tmp"/mmcv-*.tar.gz -C "$tmp"
        src=$(ls -d "$tmp"/mmcv-$MMCV_VERSION)
        # trap 1: torch >= 2.10 headers refuse anything below C++20.
        sed -i 's/-std=c++14/-std=c++20/g; s/-std=c++17/-std=c++20/g' "$src/setup.py"
        mkdir -p "$mmcv_dir"
        (cd "$src" && CFLAGS="-g0 -O2" CXXFLAGS="-g0 -O2" MMCV_WITH_OPS=1 FORCE_CUDA=0 \
            MAX_JOBS=${MAX_JOBS:-$(nproc)} \
            "${PIP[@]}" wheel -q --no-build-isolation --no-deps -w "$mmcv_dir.partial" .)
        mv "$mmcv_dir.partial"/mmcv-*.whl "$mmcv_dir"/
        rm -rf "$tmp" "$mmcv_dir.partial"
        whl=$(ls "$mmcv_dir"/mmcv-*.whl | head -n1)
    else
        say "reusing cached mmcv wheel $whl"
    fi
    "${PIP[@]}" install -q --force-reinstall --no-deps "$whl"
fi

if has "import xtcocotools.coco"; then
    say "xtcocotools works with the installed numpy"
else
    xt_dir=$WHEELS/xtcocotools-$XTCOCO_VERSION-$py_tag-numpy$("$PY" -c 'import numpy; print(numpy.__version__.split(".")[0])')
    whl=$(ls "$xt_dir"/xtcocotools-*.whl 2>/dev/null | head -n1 || true)
    if [ -z "$whl" ]; then
        say "building xtcocotools $XTCOCO_VERSION against the installed numpy (trap 3)"
        mkdir -p "$xt_dir"
        "${PIP[@]}" wheel -q --no-build-isolation --no-binary xtcocotools --no-cache-dir --no-deps \
            "xtcocotools==$XTCOCO_VERSION" -w "$xt_dir"
        whl=$(ls "$xt_dir"/xtcocotools-*.whl | head -n1)
    else
        say "reusing cached xtcocotools wheel $whl"
    fi
    "${PIP[@]}" install -q --force-reinstall --no-deps "$whl"
fi

say "installing mmdet 3.3.0, mmsegmentation 1.2.2, mmpretrain 1.2.0, mmpose 1.3.2"
"${PIP[@]}" install -q 'mmdet==3.3.0' 'mmsegmentation==1.2.2' 'mmpretrain==1.2.0' 'mmpose==1.3.2' \
    "mmcv==$MMCV_VERSION" "xtcocotools==$XTCOCO_VERSION"

say "installing hvt (editable) from $ROOT"
"${PIP[@]}" install -q --no-build-isolation --no-deps -e "$ROOT"

"$PY" -c "import hvt, mmcv.ops, mmdet, mmseg, mmpose, mmpretrain, torch; \
print('[hvt-install] ok: hvt', hvt.__version__, '| torch', torch.__version__, '| mmcv', mmcv.__version__)"
