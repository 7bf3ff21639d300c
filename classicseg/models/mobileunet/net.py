"""MobileUNet: the paper's trained specialist for dermoscopy, mammography (and OCT).

Architecture (docs/algorithms.md §11; the authors' ``utils/mobileunet.py``)
---------------------------------------------------------------------------
* encoder = MobileNetV2: stem (depthwise 3x3 stride 2 + BN + ReLU6 + pointwise 3 -> 32),
  inverted-residual stages ``(out, repeats, stride, expansion)`` listed in
  :data:`ENCODER_STAGES`, then a 1x1 conv 320 -> 1280;
* decoder = four inverted-residual blocks whose depthwise conv is a 4x4 stride-2
  *transposed* conv (1280 -> 96, 96 -> 32, 32 -> 24, 24 -> 16), each followed by adding the
  encoder feature map of that resolution, then a depthwise 4x4 transposed conv 16 -> 16 and
  a 1x1 conv 16 -> 1 logit. 256 x 256 in, 256 x 256 logits out.

At ``width=1`` it has exactly 13,341,349 parameters, as the reference code builds it (the
paper's 41.22 M is not what the code builds). 288,064 of them are the reference's quirk:
*every* block registers a 1x1 "shortcut" conv, but only stride-1 blocks whose channel count
changes ever use it (three of them); the others never receive a gradient. ``reference_layout=True``
(default) keeps them so counts and ``state_dict`` keys match the reference;
``reference_layout=False`` leaves the unused ones out (13,111,141 parameters, same function).

``width`` scales every channel count (rounded to a multiple of 8, as MobileNetV2 does) for
light variants; the shipped weights use small widths so each file is a few MB.

Inference (paper §2.8; docs/algorithms.md §11) -- :class:`MobileUNetSegmenter`: per box,
crop -> resize the longest side to 256 + zero-pad -> min-max -> predict -> resize back to the
crop -> threshold (logit > 0) -> post-process (largest component + fill holes; the box filter
is implied by painting the crop only) -> insert. Boxes are batched through the network.

Examples
--------
>>> import torch
>>> net = MobileUNet(width=0.25)
>>> net(torch.zeros(1, 3, 256, 256)).shape
torch.Size([1, 1, 256, 256])
>>> count_parameters(MobileUNet(width=1.0, device="meta"))
13341349
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch
from torch import nn

from .weights import WeightsError, read_verified_card, resolve_weights

__all__ = ["MobileUNet", "InvertedResidual", "count_parameters", "ENCODER_STAGES",
           "REFERENCE_PARAMETERS", "INPUT_SIZE", "load_checkpoint"]

#: (out_channels, repeats, first stride, expansion) of the MobileNetV2 encoder stages.
ENCODER_STAGES = ((16, 1, 1, 1), (24, 2, 2, 6), (32, 3, 2, 6), (64, 4, 2, 6),
                  (96, 3, 1, 6), (160, 3, 2, 6), (320, 1, 1, 6))
#: Parameter count of the reference code's model (width 1, reference layout).
REFERENCE_PARAMETERS = 13_341_349
INPUT_SIZE = 256


def _scaled(channels: int, width: float, divisor: int = 8) -> int:
    """MobileNetV2's channel rounding: nearest multiple of ``divisor``, never below 90 %."""
    v = channels * width
    out = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * v else out


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand -> depthwise -> 1x1 project (BN after each, ReLU6 after two).

    ``transposed=True`` makes the depthwise step a 4x4 stride-2 transposed conv (decoder).
    As in the reference, a stride-1 block always adds a shortcut -- projected by a 1x1 conv
    when the channel count changes -- and the expansion conv is kept even for expansion 1.
    """

    def __init__(self, in_ch: int, out_ch: int, *, stride: int, expansion: int,
                 transposed: bool = False, reference_layout: bool = True, device=None):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        hidden = int(in_ch * expansion)
        kw = dict(bias=False, device=device)
        if transposed:
            depthwise = nn.ConvTranspose2d(hidden, hidden, 4, stride, 1, groups=hidden, **kw)
        else:
            depthwise = nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, **kw)
        self.conv = nn.Sequential(
            nn.Conv2d(in_ch, hidden, 1, **kw), nn.BatchNorm2d(hidden, device=device),
            nn.ReLU6(inplace=True),
            depthwise, nn.BatchNorm2d(hidden, device=device), nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, out_ch, 1, **kw), nn.BatchNorm2d(out_ch, device=device),
        )
        self.use_shortcut = stride == 1
        self.project_shortcut = self.use_shortcut and in_ch != out_ch
        # The reference registers this conv in every block; only projecting blocks use it.
        if self.project_shortcut or reference_layout:
            self.conv1x1 = nn.Conv2d(in_ch, out_ch, 1, **kw)

    def forward(self, x):
        out = self.conv(x)
        if not self.use_shortcut:
            return out
        return out + (self.conv1x1(x) if self.project_shortcut else x)


class MobileUNet(nn.Module):
    """The paper's MobileUNet (MobileNetV2 encoder + transposed inverted-residual decoder).

    Parameters
    ----------
    width : float
        Channel multiplier (1.0 = the reference model, 13,341,349 parameters).
    out_channels : int
        Logit channels (1 for binary box segmentation).
    reference_layout : bool
        Keep the reference code's never-used shortcut convs (see the module docstring).
    device : torch device, optional
        Where to create the parameters (``"meta"`` builds without allocating memory).

    Examples
    --------
    >>> import torch
    >>> MobileUNet(width=0.25).eval()(torch.rand(2, 3, 256, 256)).shape
    torch.Size([2, 1, 256, 256])
    """

    def __init__(self, width: float = 1.0, *, out_channels: int = 1, reference_layout: bool = True,
                 device=None):
        super().__init__()
        if not (isinstance(width, (int, float)) and width > 0):
            raise ValueError(f"width must be a positive number, got {width!r}")
        self.width = float(width)
        self.reference_layout = bool(reference_layout)
        c = lambda n: _scaled(n, width)  # noqa: E731 -- one short rule used everywhere below
        blk = dict(reference_layout=reference_layout, device=device)

        # Stem: depthwise 3x3 stride 2 on the RGB input, then pointwise to 32 (both with bias).
        self.stem = nn.Sequential(
            nn.Conv2d(3, 3, 3, 2, 1, groups=3, device=device), nn.BatchNorm2d(3, device=device),
            nn.ReLU6(inplace=True), nn.Conv2d(3, c(32), 1, device=device))
        stages, in_ch = [], c(32)
        for out, repeats, stride, expansion in ENCODER_STAGES:
            blocks = [InvertedResidual(in_ch, c(out), stride=stride, expansion=expansion, **blk)]
            blocks += [InvertedResidual(c(out), c(out), stride=1, expansion=expansion, **blk)
                       for _ in range(repeats - 1)]
            stages.append(nn.Sequential(*blocks))
            in_ch = c(out)
        self.encoder = nn.ModuleList(stages)
        # no BN / activation, as in the reference
        self.head = nn.Conv2d(c(320), c(1280), 1, device=device)

        # Decoder: upsample x2 and add the encoder output of the same resolution.
        up = dict(stride=2, expansion=6, transposed=True, **blk)
        self.decoder = nn.ModuleList([
            InvertedResidual(c(1280), c(96), **up), InvertedResidual(c(96), c(32), **up),
            InvertedResidual(c(32), c(24), **up), InvertedResidual(c(24), c(16), **up)])
        self.final_up = nn.ConvTranspose2d(c(16), c(16), 4, 2, 1, groups=c(16), bias=False,
                                           device=device)
        self.out = nn.Conv2d(c(16), out_channels, 1, device=device)

    # encoder stages whose outputs are added to decoder outputs 1..4 (96, 32, 24, 16 channels)
    _SKIPS = (4, 2, 1, 0)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] % 32 or x.shape[3] % 32:
            raise ValueError(f"input must be (B, 3, H, W) with H, W multiples of 32, "
                             f"got {tuple(x.shape)}")
        feats = []
        x = self.stem(x)
        for stage in self.encoder:
            x = stage(x)
            feats.append(x)
        x = self.head(x)
        for block, skip in zip(self.decoder, self._SKIPS):
            x = block(x) + feats[skip]
        return self.out(self.final_up(x))

    def config(self) -> dict:
        """Constructor arguments, stored in model cards so a checkpoint rebuilds its network."""
        return {"width": self.width, "out_channels": self.out.out_channels,
                "reference_layout": self.reference_layout}


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (all of them, trainable or not)."""
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------- weights

def _safe_load(path: Path, load):
    """``load()``, with what torch raises for a truncated file or one carrying pickled code
    turned into a :class:`WeightsError` naming ``path`` (torch's own text would advise
    ``weights_only=False``, i.e. running that code: never)."""
    try:
        return load()
    except WeightsError:
        raise
    except pickle.UnpicklingError:
        raise WeightsError(f"{path}: holds pickled objects that are not tensors; refusing to "
                           "load them (a checkpoint written by classicseg holds tensors only)"
                           ) from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        raise WeightsError(f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}): "
                           "truncated or corrupt; retrain, or restore it from a backup") from None


def load_checkpoint(path, *, device="cpu") -> tuple["MobileUNet", dict]:
    """Load weights + model card, checking the SHA-256 first; returns ``(model, card)``.

    The ``.pt`` file holds only the ``state_dict`` and is read with ``weights_only=True``.
    """
    pt, card_path = resolve_weights(path)
    card = read_verified_card(pt, card_path)
    cfg = card.get("config", {})
    model = MobileUNet(float(cfg.get("width", 1.0)), out_channels=int(cfg.get("out_channels", 1)),
                       reference_layout=bool(cfg.get("reference_layout", True)))
    state = _safe_load(pt, lambda: torch.load(pt, map_location="cpu", weights_only=True))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise WeightsError(f"{pt}: weights do not fit the architecture in {card_path.name}: "
                           f"{e}") from None
    return model.to(device).eval(), card
