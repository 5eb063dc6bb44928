"""Deformable convolution without torchvision, for ``scripts/export_aliked.py`` (torch only, never at run time).

ALIKED's only use of torchvision is ``ops.deform_conv2d`` (and two one-line
conv helpers).  :func:`install_torchvision_stand_in` puts a stand-in
``torchvision`` in ``sys.modules``; its ``deform_conv2d`` is
:func:`reference_deform_conv2d` (a port of torchvision's CPU kernel) for the
torch reference, or :func:`deform_conv2d_grid_sample` (one ``grid_sample`` and
a matmul, which ONNX and onnxruntime's CPU provider have) for the export.
:func:`check_deform_conv` prints how far apart they are.
"""

from __future__ import annotations

import sys
import types


def _taps(offset, h: int, w: int, kh: int, kw: int, padding: tuple[int, int]):
    """Sampling positions ``(y, x)``, each ``(B, kh*kw, H, W)``, of a stride-1 deformable conv."""
    import torch

    b = offset.shape[0]
    off = offset.reshape(b, kh * kw, 2, h, w)  # torchvision's layout: (dy, dx) per tap, taps row-major
    ys = torch.arange(h, dtype=offset.dtype).reshape(1, 1, h, 1)
    xs = torch.arange(w, dtype=offset.dtype).reshape(1, 1, 1, w)
    ki = torch.arange(kh, dtype=offset.dtype).repeat_interleave(kw).reshape(1, kh * kw, 1, 1)
    kj = torch.arange(kw, dtype=offset.dtype).repeat(kh).reshape(1, kh * kw, 1, 1)
    y = ys - padding[0] + ki + off[:, :, 0]
    x = xs - padding[1] + kj + off[:, :, 1]
    return y, x


def reference_deform_conv2d(input, offset, weight, bias=None, stride=1, padding=(0, 0), dilation=1, mask=None):
    """torchvision's ``deform_conv2d`` (stride 1, dilation 1, one offset group, no mask), ported from its CPU kernel.

    Each tap samples ``input`` bilinearly at ``(y, x)``; a position with
    ``y <= -1``, ``y >= H``, ``x <= -1`` or ``x >= W`` gives 0, and so does
    each corner outside the image (``bilinear_interpolate`` in
    ``torchvision/csrc/ops/cpu/deform_conv2d_kernel.cpp``).
    """
    import torch

    if mask is not None or stride not in (1, (1, 1)) or dilation not in (1, (1, 1)):
        raise NotImplementedError("only what ALIKED uses: stride 1, dilation 1, no mask")
    padding = (padding, padding) if isinstance(padding, int) else tuple(padding)
    b, c, h, w = input.shape
    o, _, kh, kw = weight.shape
    y, x = _taps(offset, h, w, kh, kw, padding)  # (B, K, H, W)
    valid = (y > -1) & (y < h) & (x > -1) & (x < w)
    y0, x0 = torch.floor(y), torch.floor(x)
    ly, lx = y - y0, x - x0
    flat = input.reshape(b, c, h * w)

    def corner(yy, xx):
        inside = valid & (yy >= 0) & (yy <= h - 1) & (xx >= 0) & (xx <= w - 1)
        idx = (yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)).long().reshape(b, 1, -1).expand(b, c, -1)
        vals = torch.gather(flat, 2, idx).reshape(b, c, *yy.shape[1:])
        return vals * inside.unsqueeze(1)

    cols = (
        corner(y0, x0) * ((1 - ly) * (1 - lx)).unsqueeze(1)
        + corner(y0, x0 + 1) * ((1 - ly) * lx).unsqueeze(1)
        + corner(y0 + 1, x0) * (ly * (1 - lx)).unsqueeze(1)
        + corner(y0 + 1, x0 + 1) * (ly * lx).unsqueeze(1)
    )  # (B, C, K, H, W)
    out = torch.einsum("bckhw,ock->bohw", cols, weight.reshape(o, c, kh * kw))
    return out if bias is None else out + bias.reshape(1, -1, 1, 1)


def deform_conv2d_grid_sample(input, offset, weight, bias=None, stride=1, padding=(0, 0), dilation=1, mask=None):
    """The same with one ``grid_sample`` (bilinear, zeros, ``align_corners=True``) over all taps: exportable to ONNX."""
    import torch
    import torch.nn.functional as F

    padding = (padding, padding) if isinstance(padding, int) else tuple(padding)
    b, c, h, w = input.shape
    o, _, kh, kw = weight.shape
    y, x = _taps(offset, h, w, kh, kw, padding)  # (B, K, H, W)
    gx = 2 * x / (w - 1) - 1 if w > 1 else x * 0
    gy = 2 * y / (h - 1) - 1 if h > 1 else y * 0
    grid = torch.stack([gx, gy], dim=-1).reshape(b, kh * kw * h, w, 2)
    cols = F.grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    cols = cols.reshape(b, c * kh * kw, h * w)  # channel-major, then tap: matches weight.reshape(o, c * k)
    out = torch.matmul(weight.reshape(o, c * kh * kw), cols).reshape(b, o, h, w)
    return out if bias is None else out + bias.reshape(1, -1, 1, 1)


def install_torchvision_stand_in(deform) -> None:
    """A ``torchvision`` module holding only what ALIKED imports (``ops.deform_conv2d``, ``models.resnet.conv*``)."""
    from torch import nn

    tv = types.ModuleType("torchvision")
    ops = types.ModuleType("torchvision.ops")
    models = types.ModuleType("torchvision.models")
    resnet = types.ModuleType("torchvision.models.resnet")
    ops.deform_conv2d = deform
    resnet.conv1x1 = lambda i, o, stride=1: nn.Conv2d(i, o, kernel_size=1, stride=stride, bias=False)
    resnet.conv3x3 = lambda i, o, stride=1, groups=1, dilation=1: nn.Conv2d(
        i, o, 3, stride=stride, padding=dilation, groups=groups, bias=False, dilation=dilation
    )
    tv.ops, tv.models, models.resnet = ops, models, resnet
    sys.modules.update({"torchvision": tv, "torchvision.ops": ops, "torchvision.models": models})
    sys.modules["torchvision.models.resnet"] = resnet


def use_deform(fn) -> None:
    """Point the stand-in's (and so ALIKED's) ``deform_conv2d`` at ``fn``."""
    sys.modules["torchvision.ops"].deform_conv2d = fn


def check_deform_conv() -> None:
    """The grid-sample form equals the kernel port; zero offsets equal a plain conv; a shift is a shift."""
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 8, 13, 17, generator=g)
    wt = torch.randn(5, 8, 3, 3, generator=g)
    off = torch.randn(1, 18, 13, 17, generator=g) * 3
    a = reference_deform_conv2d(x, off, wt, padding=(1, 1))
    b = deform_conv2d_grid_sample(x, off, wt, padding=(1, 1))
    zero = torch.zeros_like(off)
    plain = F.conv2d(x, wt, padding=1)
    shift = zero.clone()
    shift[:, 0::2] = 1.0  # every tap one row down == the conv of the image moved up by one row
    moved = F.conv2d(F.pad(x, (0, 0, 0, 1))[:, :, 1:], wt, padding=1)  # (row 0 differs: its top tap is x[0], not 0)
    print(f"deform conv: grid_sample vs kernel port {float((a - b).abs().max()):.2e}")
    print(
        f"deform conv: zero offsets vs conv2d {float((reference_deform_conv2d(x, zero, wt, padding=1) - plain).abs().max()):.2e}"
    )
    print(
        f"deform conv: dy=1 vs shifted conv2d {float((reference_deform_conv2d(x, shift, wt, padding=1) - moved)[:, :, 1:].abs().max()):.2e}"
    )
