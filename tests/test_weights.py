"""Official weights by name (hvt/engine/weights.py, tools/misc/fetch_weights.py), offline.

A loopback HTTP server (127.0.0.1, started and stopped here) stands in for the official hosts
through ``HVT_WEIGHTS_MIRROR``; ``HVT_CACHE`` points at a temporary folder. The chain is driven
with the real tools: fetch_weights.py, then tools/test.py / tools/train.py on the tiny datasets.
"""
import dataclasses
import hashlib
import os
import os.path as osp
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

from toolkit import ROOT, cls_smoke_options, pose_smoke_options, run_tool, seg_smoke_options

from hvt.engine import weights  # noqa: E402

CLS_NAME = 'vitaev2-s_in1k'
CLS_CONFIG = 'configs/vitaev2/vitaev2-s_8xb128_in1k.py'
PRM_KEY = 'layers.0.RC.PRM.convs.0.0.weight'  # the first convolution, official name


class Server:
    """Serves ``routes[path] = bytes``; paths in ``truncated`` announce the full length but
    send half of it and close. ``hits`` counts the GETs per path."""

    def __init__(self):
        self.routes, self.truncated, self.hits = {}, set(), {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                body = server.routes.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                if self.path in server.truncated:
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}'
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def put(self, entry, data: bytes):
        path = f'/{entry.name}/{entry.file}'
        self.routes[path] = data
        return path

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / 'hvt-cache'
    monkeypatch.setenv('HVT_CACHE', str(root))
    monkeypatch.delenv(weights.MIRROR_ENV, raising=False)
    return root


def cache_files(root):
    return sorted(osp.relpath(osp.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def closed_port():
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def save_bytes(obj) -> bytes:
    import io
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


@pytest.fixture(scope='module')
def official_vitaev2_s():
    """A ViTAEv2-S checkpoint in the official layout: the EMA and plain weights under
    ``state_dict_ema`` / ``model``, backbone keys bare, the classifier as ``head.*``, plus the
    window attentions' index buffers the official code stores (HVT rebuilds them)."""
    from mmengine.config import Config
    from mmpretrain.registry import MODELS
    import hvt.models  # noqa: F401
    from mmengine.registry import DefaultScope
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        classifier = MODELS.build(Config.fromfile(osp.join(ROOT, CLS_CONFIG)).model)
    sd = {k[len('backbone.'):]: v.clone() for k, v in classifier.state_dict().items()
          if k.startswith('backbone.')}
    sd['head.weight'] = torch.randn_like(classifier.head.fc.weight)
    sd['head.bias'] = torch.randn_like(classifier.head.fc.bias)
    ema = {k: v + 0.001 if v.is_floating_point() else v for k, v in sd.items()}
    return dict(model=sd, state_dict_ema=ema, epoch=299)


# ---------------------------------------------------------------------------------- the catalog
def test_list_names_at_least_25_checkpoints_with_existing_configs():
    out = run_tool('misc/fetch_weights.py', '--list')
    lines = [ln for ln in out.splitlines() if ln and not ln.endswith('official checkpoints')]
    assert len(lines) >= 25, out
    names, kinds = set(), set()
    for ln in lines:
        name, kind, config = ln.split()[:3]
        names.add(name)
        kinds.update(kind.split('+'))
        assert osp.isfile(osp.join(ROOT, config)), ln
    assert len(names) == len(lines)
    assert CLS_NAME in names
    assert {'gdrive', 'baidu', 'http'} <= kinds, kinds
    assert f'{len(lines)} official checkpoints' in out
    # every source carries its file name and the link a person can open
    for entry in weights.catalog().values():
        for s in entry.sources:
            assert s.link().startswith('https://'), (entry.name, s)
            if s.type == 'baidu':
                assert s.password, entry.name


def test_every_catalog_config_builds(tmp_path, monkeypatch):
    """Each config the catalog names builds (meta device). The CLIP teachers are read when the
    model is built: a tiny CLIP model in OpenAI's layout stands in for them in the cache, so the
    configs resolve official:clip-vit-* through the cache, as after a fetch."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope, MODELS
    import hvt.models  # noqa: F401
    monkeypatch.setenv('HVT_CACHE', str(tmp_path))
    for entry in weights.catalog().values():
        if entry.name.startswith('clip-'):
            with open(osp.join(ROOT, entry.config)) as f:
                assert f"tokenizer_path='official:{entry.name}'" in f.read(), entry.config
            dst = weights.converted_path(entry)
            os.makedirs(osp.dirname(dst), exist_ok=True)
            torch.save(tiny_clip_state(), dst)
    built = set()
    for entry in weights.catalog().values():
        key = (entry.config, tuple(sorted(entry.cfg_options.items())))
        if key in built:
            continue
        built.add(key)
        cfg = Config.fromfile(osp.join(ROOT, entry.config))
        if entry.cfg_options:
            cfg.merge_from_dict(entry.cfg_options)
        with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmpretrain')):
            with torch.device('meta'):
                model = MODELS.build(cfg.model)
        assert sum(p.numel() for p in model.parameters()) > 0, entry.config
    assert len(built) >= 10


def tiny_clip_state():
    """A CLIP state dict of OpenAI's layout, small enough for a test (mmpretrain's CLIP builder
    infers every width and depth from the shapes)."""
    w, tw, layers, patch, grid, ctx, vocab, embed = 64, 64, 1, 16, 14, 77, 100, 16  # 1 head
    sd = {'visual.conv1.weight': torch.randn(w, 3, patch, patch),
          'visual.class_embedding': torch.randn(w),
          'visual.positional_embedding': torch.randn(grid * grid + 1, w),
          'visual.ln_pre.weight': torch.ones(w), 'visual.ln_pre.bias': torch.zeros(w),
          'visual.ln_post.weight': torch.ones(w), 'visual.ln_post.bias': torch.zeros(w),
          'visual.proj': torch.randn(w, embed),
          'positional_embedding': torch.randn(ctx, tw), 'token_embedding.weight':
          torch.randn(vocab, tw), 'ln_final.weight': torch.ones(tw),
          'ln_final.bias': torch.zeros(tw), 'text_projection': torch.randn(tw, embed),
          'logit_scale': torch.tensor(4.6)}
    for prefix, width in (('visual.transformer', w), ('transformer', tw)):
        for i in range(layers):
            b = f'{prefix}.resblocks.{i}.'
            sd.update({b + 'attn.in_proj_weight': torch.randn(3 * width, width) * 0.02,
                       b + 'attn.in_proj_bias': torch.zeros(3 * width),
                       b + 'attn.out_proj.weight': torch.randn(width, width) * 0.02,
                       b + 'attn.out_proj.bias': torch.zeros(width),
                       b + 'ln_1.weight': torch.ones(width), b + 'ln_1.bias': torch.zeros(width),
                       b + 'ln_2.weight': torch.ones(width), b + 'ln_2.bias': torch.zeros(width),
                       b + 'mlp.c_fc.weight': torch.randn(4 * width, width) * 0.02,
                       b + 'mlp.c_fc.bias': torch.zeros(4 * width),
                       b + 'mlp.c_proj.weight': torch.randn(width, 4 * width) * 0.02,
                       b + 'mlp.c_proj.bias': torch.zeros(width)})
    return sd


def test_unknown_name_lists_the_closest():
    with pytest.raises(KeyError) as info:
        weights.get_entry('official:vitaev2-s_in1')
    assert re.match(r"no official weight named 'vitaev2-s_in1'; closest: \['vitaev2-s_in1k'",
                    info.value.args[0]), info.value.args[0]
    # a model-zoo name finds its entry too
    assert weights.get_entry('vitaev2-s_8xb128_in1k').name == CLS_NAME


# ------------------------------------------------------------------------------------ the chain
def test_fetch_convert_resolve_and_test_a_classifier(server, cache, tmp_path, tiny_data,
                                                     official_vitaev2_s):
    entry = weights.get_entry(CLS_NAME)
    data = save_bytes(official_vitaev2_s)
    path = server.put(entry, data)
    env = {'HVT_CACHE': str(cache), weights.MIRROR_ENV: server.url}
    out = run_tool('misc/fetch_weights.py', CLS_NAME, env=env)
    assert server.hits[path] == 1
    digest = hashlib.sha256(data).hexdigest()
    assert f'sha256 {digest}' in out, out
    converted = weights.converted_path(entry)
    assert f'ready at {converted}' in out
    assert f'python tools/test.py {CLS_CONFIG} official:{CLS_NAME}' in out
    assert re.search(r'should reproduce: .*Top 1 Accuracy 82\.6', out), out
    # the official file is kept complete (no .part), the converted file is next to it
    assert cache_files(cache) == sorted([osp.join('downloads', CLS_NAME, entry.file),
                                         osp.join('checkpoints', CLS_NAME + '.pth')])
    # the EMA weights arrive under the classifier's names
    conv = torch.load(converted, map_location='cpu', weights_only=True)['state_dict']
    key = PRM_KEY
    torch.testing.assert_close(conv['backbone.' + key], official_vitaev2_s['state_dict_ema'][key])
    torch.testing.assert_close(conv['head.fc.weight'],
                               official_vitaev2_s['state_dict_ema']['head.weight'])

    # a second fetch reuses the cache: the server is not asked again
    run_tool('misc/fetch_weights.py', CLS_NAME, env=env)
    assert server.hits[path] == 1

    # tools/test.py with official:NAME, the mirror now unreachable: it reads the cached file
    work = tmp_path / 'test_cls'
    opts = cls_smoke_options(tiny_data, work, img_size=64, config=CLS_CONFIG)
    out = run_tool('test.py', CLS_CONFIG, f'official:{CLS_NAME}', '--cfg-options', *opts,
                   env={'HVT_CACHE': str(cache),
                        weights.MIRROR_ENV: f'http://127.0.0.1:{closed_port()}'})
    assert f'Load checkpoint from {converted}' in out, out[-3000:]
    assert re.search(r'accuracy/top1: \d+\.\d+', out), out[-3000:]


def test_python_api_and_init_cfg_resolve_official_names(server, cache, monkeypatch,
                                                        official_vitaev2_s):
    from hvt.apis import init_model
    entry = weights.get_entry(CLS_NAME)
    server.put(entry, save_bytes(official_vitaev2_s))
    monkeypatch.setenv(weights.MIRROR_ENV, server.url)
    model = init_model('vitaev2-s_8xb128_in1k', pretrained=True)
    ema = official_vitaev2_s['state_dict_ema']
    key = PRM_KEY
    torch.testing.assert_close(model.backbone.state_dict()[key], ema[key])
    torch.testing.assert_close(model.head.fc.bias, ema['head.bias'])

    # a backbone init_cfg that names the weight (what the downstream configs do)
    from mmpretrain.registry import MODELS
    backbone = MODELS.build(dict(type='hvt.ViTAEv2', arch='s', init_cfg=dict(
        type='Pretrained', checkpoint=f'official:{CLS_NAME}', prefix='backbone.')))
    backbone.init_weights()
    torch.testing.assert_close(backbone.state_dict()[key], ema[key])
    # and mmengine's own loader (load_from, its Pretrained initializer) reads the scheme
    from mmengine.runner.checkpoint import CheckpointLoader
    ckpt = CheckpointLoader.load_checkpoint(f'official:{CLS_NAME}', map_location='cpu')
    torch.testing.assert_close(ckpt['state_dict']['backbone.' + key], ema[key])
    # a plain local path keeps working
    assert weights.resolve('/some/local.pth') == '/some/local.pth'
    with pytest.raises(ValueError, match='pretrained=True needs a model-zoo name'):
        init_model(osp.join(ROOT, CLS_CONFIG), pretrained=True)


def test_downstream_config_initialises_from_an_official_name(server, cache, tmp_path, tiny_data,
                                                             official_vitaev2_s):
    """A downstream config's backbone init_cfg names official:vitaev2-s_in1k: tools/train.py
    fetches and converts it on first use, loads it (checked loader: nothing left unloaded), and
    tools/test.py evaluates the result."""
    config = 'configs/vitaev2/upernet_vitaev2-s_8xb2-160k_ade20k-512x512.py'
    from mmengine.config import Config
    init = Config.fromfile(osp.join(ROOT, config)).model.backbone.init_cfg
    assert init.checkpoint == f'official:{CLS_NAME}', init
    entry = weights.get_entry(CLS_NAME)
    path = server.put(entry, save_bytes(official_vitaev2_s))
    env = {'HVT_CACHE': str(cache), weights.MIRROR_ENV: server.url}
    work = tmp_path / 'seg'
    opts = seg_smoke_options(tiny_data, work, config, iters=2)
    out = run_tool('train.py', config, '--cfg-options', *opts, env=env)
    assert server.hits[path] == 1
    converted = weights.converted_path(entry)
    assert re.search(rf"tensors of 'official:{CLS_NAME} = {re.escape(converted)}' fit; "
                     r'0\.0% of the parameters not loaded', out), out[-4000:]
    ckpt = work / 'iter_2.pth'
    out = run_tool('test.py', config, ckpt, '--cfg-options', *opts, env=env)
    assert re.search(r'mIoU: \d+\.\d+', out), out[-3000:]


def official_ap10k_model():
    """A ViTAEv2-S AP-10K SimpleBaseline in the official layout (mmpose 0.x: ``backbone.*`` with the
    pose backbone's unused window tables, ``keypoint_head.*``), random weights. The key names are
    the literal official lists of tests/official_keys.py; only the shapes come from HVT's model."""
    import official_keys as ok
    from test_official_keys import build_meta, vitaev2_dropped_shapes, vitaev2_s_backbone
    shapes = {k: (tuple(v.shape), v.dtype) for k, v in
              build_meta(weights.get_entry(AP10K_NAME).config).state_dict().items()}
    names = ['backbone.' + k for k in vitaev2_s_backbone('pose')] + ok.MMPOSE0_TOPDOWN_HEAD
    dropped = vitaev2_dropped_shapes(names)
    gen = torch.Generator().manual_seed(0)
    state = {}
    for k in names:
        target = 'head.' + k[len('keypoint_head.'):] if k.startswith('keypoint_head.') else k
        shape, dtype = shapes.get(target) or (dropped[k], torch.float32)
        if k.endswith(('num_batches_tracked', 'relative_position_index')):
            state[k] = torch.zeros(shape, dtype=torch.long)
        elif k.endswith('running_var'):
            state[k] = torch.ones(shape)
        else:
            state[k] = torch.randn(shape, generator=gen) * 0.02
    return {'meta': {'mmpose_version': '0.24.0'}, 'state_dict': state}


AP10K_NAME = 'td-hm_vitaev2-s_8xb64-210e_ap10k-256x256'


def test_fetch_convert_and_test_an_official_downstream_model(server, cache, tmp_path, tiny_data):
    """The official AP-10K model (whole mmpose 0.x checkpoint) through the whole chain: download,
    conversion to mmpose 1.x keys, tools/test.py with official:NAME."""
    entry = weights.get_entry(AP10K_NAME)
    official = official_ap10k_model()
    path = server.put(entry, save_bytes(official))
    env = {'HVT_CACHE': str(cache), weights.MIRROR_ENV: server.url}
    out = run_tool('misc/fetch_weights.py', AP10K_NAME, env=env)
    assert server.hits[path] == 1
    assert re.search(r'should reproduce: .*AP 71\.8', out), out
    conv = torch.load(weights.converted_path(entry), map_location='cpu',
                      weights_only=True)['state_dict']
    torch.testing.assert_close(conv['head.final_layer.weight'],
                               official['state_dict']['keypoint_head.final_layer.weight'])
    torch.testing.assert_close(conv['backbone.' + PRM_KEY],
                               official['state_dict']['backbone.' + PRM_KEY])
    work = tmp_path / 'pose'
    opts = pose_smoke_options(tiny_data, work, entry.config)
    out = run_tool('test.py', entry.config, f'official:{AP10K_NAME}', '--cfg-options', *opts,
                   env=env)
    assert f'Load checkpoint from {weights.converted_path(entry)}' in out, out[-3000:]
    assert re.search(r'coco/AP: -?\d+\.\d+', out), out[-3000:]
    assert server.hits[path] == 1


def test_only_rank_0_downloads(server, cache, tmp_path, official_vitaev2_s):
    entry = weights.get_entry(CLS_NAME)
    path = server.put(entry, save_bytes(official_vitaev2_s))
    script = tmp_path / 'resolve.py'
    script.write_text(
        'import sys, torch.distributed as dist\n'
        'dist.init_process_group("gloo")\n'
        'from hvt.engine.weights import resolve\n'
        f'print("RESOLVED", dist.get_rank(), resolve("official:{CLS_NAME}"))\n'
        'dist.barrier()\ndist.destroy_process_group()\n')
    port = closed_port()
    procs = []
    for rank in range(2):
        env = dict(os.environ, HVT_CACHE=str(cache), PYTHONPATH=ROOT, RANK=str(rank),
                   WORLD_SIZE='2', MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
                   **{weights.MIRROR_ENV: server.url})
        procs.append(subprocess.Popen([sys.executable, str(script)], env=env, cwd=ROOT,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True))
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    converted = weights.converted_path(entry)
    for rank, out in enumerate(outs):
        assert f'RESOLVED {rank} {converted}' in out, out
    assert server.hits[path] == 1  # rank 0 downloaded; rank 1 waited and read the cache
    assert sum('downloading' in o for o in outs) == 1


# ---------------------------------------------------------------------------------- the failures
def _with_entry(monkeypatch, entry):
    monkeypatch.setitem(weights.catalog(), entry.name, entry)
    return entry


def test_truncated_download_leaves_nothing(server, cache, monkeypatch, official_vitaev2_s):
    entry = weights.get_entry(CLS_NAME)
    path = server.put(entry, save_bytes(official_vitaev2_s))
    server.truncated.add(path)
    monkeypatch.setenv(weights.MIRROR_ENV, server.url)
    with pytest.raises(weights.WeightsError,
                       match=rf"official weight '{CLS_NAME}': every source failed:\n.*"
                             r'(truncated|IncompleteRead|ChunkedEncodingError|corrupt)'):
        weights.fetch(CLS_NAME, log=lambda *a: None)
    assert cache_files(cache) == []


def test_wrong_checksum_leaves_nothing(server, cache, monkeypatch, official_vitaev2_s):
    entry = _with_entry(monkeypatch, dataclasses.replace(weights.get_entry(CLS_NAME),
                                                         sha256='0' * 64))
    server.put(entry, save_bytes(official_vitaev2_s))
    monkeypatch.setenv(weights.MIRROR_ENV, server.url)
    with pytest.raises(weights.WeightsError,
                       match=rf"'{CLS_NAME}': every source failed:\n.*sha256 mismatch for "
                             rf"{re.escape(entry.file)}: got [0-9a-f]{{64}}, the catalog has "
                             '0{64}'):
        weights.fetch(CLS_NAME, log=lambda *a: None)
    assert cache_files(cache) == []


def test_unreachable_host_leaves_nothing(cache, monkeypatch):
    monkeypatch.setenv(weights.MIRROR_ENV, f'http://127.0.0.1:{closed_port()}')
    with pytest.raises(weights.WeightsError,
                       match=rf"'{CLS_NAME}': every source failed:\n  http "
                             r'http://127\.0\.0\.1:\d+/.*ConnectionError'):
        weights.fetch(f'official:{CLS_NAME}', log=lambda *a: None)
    assert cache_files(cache) == []


def test_baidu_only_entry_prints_the_manual_steps(cache, tmp_path):
    baidu = [e for e in weights.catalog().values() if all(s.type == 'baidu' for s in e.sources)]
    assert baidu, 'the catalog has Baidu-only entries (Dual-ViT)'
    entry = baidu[0]
    proc = subprocess.run([sys.executable, 'tools/misc/fetch_weights.py', entry.name], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, HVT_CACHE=str(cache), PYTHONPATH=ROOT))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = proc.stderr
    src = entry.sources[0]
    assert f"official weight '{entry.name}' is published only on Baidu Netdisk" in err, err
    assert src.url in err and f'password: {src.password}' in err
    target = osp.join(str(cache), 'downloads', entry.name, entry.file)
    assert f'put the file at {target}' in err
    assert cache_files(cache) == []


def test_a_file_downloaded_by_hand_is_checked_and_converted(cache, tmp_path):
    """The Baidu path, finished: the user downloads the file and hands it over with --file; the
    conversion (and another form of the same download) then works as for any entry."""
    from test_dualvit import official_state_dict
    entry = weights.get_entry('dualvit-s-tl_in1k')
    assert entry.sources[0].type == 'baidu' and 'dense' in entry.forms
    official = tmp_path / entry.file
    sd = official_state_dict('s', token_label=True)
    torch.save({'model': sd}, official)
    env = {'HVT_CACHE': str(cache)}
    bad = tmp_path / 'broken.pth'
    bad.write_bytes(b'<html>not a checkpoint</html>')
    out = run_tool('misc/fetch_weights.py', entry.name, '--file', bad, env=env, check=False)
    assert f"checkpoint '{bad}' is corrupt or incomplete" in out, out
    assert cache_files(cache) == []
    out = run_tool('misc/fetch_weights.py', entry.name, '--file', official, env=env)
    assert f'ready at {weights.converted_path(entry)}' in out, out
    assert 'python tools/test.py configs/dualvit/dualvit-s-tl_8xb128_in1k.py' in out
    conv = torch.load(weights.converted_path(entry), weights_only=True)['state_dict']
    torch.testing.assert_close(conv['backbone.patch_embed1.proj.weight'],
                               sd['patch_embed1.proj.weight'])
    # the dense form converts the same download again, without asking for the file
    out = run_tool('misc/fetch_weights.py', f'{entry.name}:dense', env=env)
    dense = weights.converted_path(entry, 'dense')
    assert f'ready at {dense}' in out, out
    assert 'patch_embed1.proj.weight' in torch.load(dense, weights_only=True)['state_dict']
