"""TinyViT image encoder of LiteMedSAM, written out plainly in torch.

LiteMedSAM distils SAM's ViT-B encoder into MobileSAM's TinyViT variant: a 256x256x3
image becomes a 256x64x64 embedding. This is our own readable implementation; module
and parameter names follow the official checkpoint (``image_encoder.*`` keys of
``lite_medsam.pth``), so it loads with ``strict=True``. Nothing from timm is used.

Layout (LiteMedSAM hyper-parameters, the defaults below)::

    patch_embed   1x1 conv-BN 3->32, GELU, 1x1 conv-BN 32->64     (stride 1: 256x256)
    layers.0      2 MBConv blocks (64 ch), PatchMerging 64->128, stride 2 -> 128x128
    layers.1      2 TinyViT blocks (4 heads, window 7), PatchMerging 128->160, stride 2 -> 64x64
    layers.2      6 TinyViT blocks (5 heads, window 14), PatchMerging 160->320, stride 1
    layers.3      2 TinyViT blocks (10 heads, window 7)
    neck          1x1 conv 320->256, LayerNorm2d, 3x3 conv, LayerNorm2d

The operations are kept in the official order (same views, same matmul association),
so the un-fused encoder reproduces the official embeddings bit for bit on CPU.
:func:`fuse_conv_bn` folds every conv-BN pair into one convolution for speed.

Examples
--------
>>> import torch
>>> enc = TinyViT().eval()
>>> enc(torch.zeros(1, 3, 256, 256)).shape  # doctest: +SKIP
torch.Size([1, 256, 64, 64])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .sam_modules import sam_modeling

__all__ = ["TinyViT", "Conv2dBN", "fuse_conv_bn"]


class Conv2dBN(nn.Sequential):
    """Convolution without bias followed by BatchNorm (checkpoint names ``c`` and ``bn``)."""

    def __init__(self, in_chans: int, out_chans: int, kernel_size: int = 1, stride: int = 1,
                 padding: int = 0, groups: int = 1) -> None:
        super().__init__()
        self.add_module("c", nn.Conv2d(in_chans, out_chans, kernel_size, stride, padding,
                                       groups=groups, bias=False))
        self.add_module("bn", nn.BatchNorm2d(out_chans))

    def fuse(self) -> nn.Conv2d:
        """One convolution equal to conv followed by BN in inference mode."""
        return torch.nn.utils.fuse_conv_bn_eval(self.c.eval(), self.bn.eval())


class PatchEmbed(nn.Module):
    """Two 1x1 conv-BN layers: LiteMedSAM keeps full resolution (no patchify stride)."""

    def __init__(self, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.seq = nn.Sequential(Conv2dBN(in_chans, embed_dim // 2), nn.GELU(),
                                 Conv2dBN(embed_dim // 2, embed_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seq(x)


class MBConv(nn.Module):
    """Inverted residual: expand 1x1, depthwise 3x3, project 1x1, add input, GELU."""

    def __init__(self, chans: int, expand_ratio: float) -> None:
        super().__init__()
        hidden = int(chans * expand_ratio)
        self.conv1 = Conv2dBN(chans, hidden)
        self.conv2 = Conv2dBN(hidden, hidden, 3, 1, 1, groups=hidden)
        self.conv3 = Conv2dBN(hidden, chans)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.gelu(self.conv1(x))
        y = F.gelu(self.conv2(y))
        return F.gelu(self.conv3(y) + x)


class PatchMerging(nn.Module):
    """Change width (1x1), resample (depthwise 3x3 with ``stride``), mix (1x1); tokens out."""

    def __init__(self, resolution: tuple[int, int], dim: int, out_dim: int, stride: int) -> None:
        super().__init__()
        self.resolution = resolution
        self.conv1 = Conv2dBN(dim, out_dim)
        self.conv2 = Conv2dBN(out_dim, out_dim, 3, stride, 1, groups=out_dim)
        self.conv3 = Conv2dBN(out_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3:  # tokens (B, H*W, C) -> (B, C, H, W), as a view like the original
            h, w = self.resolution
            x = x.view(len(x), h, w, -1).permute(0, 3, 1, 2)
        x = F.gelu(self.conv1(x))
        x = F.gelu(self.conv2(x))
        x = self.conv3(x)
        return x.flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention inside one window, with a learned relative-position bias.

    The bias for positions p and q depends on |p - q| per axis only:
    ``attention_biases[head, |dy| * window + |dx|]``. It is gathered from the parameter on
    every call (cheap), so it can never go stale after ``load_state_dict``.
    """

    def __init__(self, dim: int, num_heads: int, window: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)  # rows interleaved per head: [q_h | k_h | v_h]
        self.proj = nn.Linear(dim, dim)
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, window * window))
        yx = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window),
                                        indexing="ij")).flatten(1)       # (2, window^2)
        offset = (yx[:, :, None] - yx[:, None, :]).abs()                   # (2, N, N)
        self.register_buffer("bias_index", offset[0] * window + offset[1], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        qkv = self.qkv(self.norm(x)).view(b, n, self.num_heads, -1)
        q, k, v = qkv.split(self.head_dim, dim=3)
        q, k, v = q.permute(0, 2, 1, 3), k.permute(0, 2, 1, 3), v.permute(0, 2, 1, 3)
        bias = self.attention_biases[:, self.bias_index]
        attn = ((q @ k.transpose(-2, -1)) * self.scale + bias).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, -1))


class Mlp(nn.Module):
    """LayerNorm, Linear (4x), GELU, Linear."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(self.norm(x))))


class TinyViTBlock(nn.Module):
    """Window attention (residual), depthwise 3x3 conv-BN (no residual), MLP (residual).

    Windows do not overlap and are not shifted. The token grid is zero-padded bottom/right
    to a multiple of the window; padded tokens are not masked (they take part as keys and
    values after the attention's LayerNorm), exactly as in the original.
    """

    def __init__(self, dim: int, resolution: tuple[int, int], num_heads: int, window: int,
                 mlp_ratio: float = 4.0, local_conv_size: int = 3) -> None:
        super().__init__()
        self.resolution = resolution
        self.window = window
        self.attn = Attention(dim, num_heads, window)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.local_conv = Conv2dBN(dim, dim, local_conv_size, 1, local_conv_size // 2, groups=dim)

    def _window_attention(self, x: torch.Tensor) -> torch.Tensor:
        h, w = self.resolution
        b, n, c = x.shape
        ws = self.window
        if h == ws and w == ws:
            return self.attn(x)
        pad_b, pad_r = (ws - h % ws) % ws, (ws - w % ws) % ws
        x = F.pad(x.view(b, h, w, c), (0, 0, 0, pad_r, 0, pad_b))
        ph, pw = h + pad_b, w + pad_r
        nh, nw = ph // ws, pw // ws
        windows = x.view(b, nh, ws, nw, ws, c).transpose(2, 3).reshape(b * nh * nw, ws * ws, c)
        x = self.attn(windows)
        x = x.view(b, nh, nw, ws, ws, c).transpose(2, 3).reshape(b, ph, pw, c)
        return x[:, :h, :w].contiguous().view(b, n, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = self.resolution
        b, n, c = x.shape
        x = x + self._window_attention(x)
        x = self.local_conv(x.transpose(1, 2).reshape(b, c, h, w))
        x = x.reshape(b, c, n).transpose(1, 2)
        return x + self.mlp(x)


class ConvLayer(nn.Module):
    """Stage 0: MBConv blocks, then a PatchMerging downsample."""

    def __init__(self, dim: int, resolution: tuple[int, int], depth: int, out_dim: int,
                 stride: int, expand_ratio: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([MBConv(dim, expand_ratio) for _ in range(depth)])
        self.downsample = PatchMerging(resolution, dim, out_dim, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for blk in self.blocks:
            x = blk(x)
        return self.downsample(x)


class BasicLayer(nn.Module):
    """Stages 1-3: TinyViT blocks on tokens, then an optional PatchMerging downsample."""

    def __init__(self, dim: int, resolution: tuple[int, int], depth: int, num_heads: int,
                 window: int, out_dim: int | None, stride: int, mlp_ratio: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([TinyViTBlock(dim, resolution, num_heads, window, mlp_ratio)
                                     for _ in range(depth)])
        self.downsample = (PatchMerging(resolution, dim, out_dim, stride)
                           if out_dim is not None else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for blk in self.blocks:
            x = blk(x)
        return x if self.downsample is None else self.downsample(x)


class TinyViT(nn.Module):
    """LiteMedSAM's image encoder: (B, 3, S, S) float -> (B, 256, S/4, S/4) embedding.

    Parameters
    ----------
    img_size : int
        Input side length (256 for LiteMedSAM).
    embed_dims, depths, num_heads, window_sizes : sequences of 4 ints
        Width, number of blocks, attention heads and window size per stage.
    strides : 3 ints
        Stride of the PatchMerging after stages 0, 1, 2. LiteMedSAM uses (2, 2, 1); the
        original code hard-codes the final stride 1 through the output width 320.
    mlp_ratio, mbconv_expand_ratio : float
        Hidden width factors of the MLPs and the MBConv blocks.
    out_chans : int
        Width of the neck (the embedding the SAM mask decoder expects).
    """

    def __init__(self, img_size: int = 256, in_chans: int = 3,
                 embed_dims=(64, 128, 160, 320), depths=(2, 2, 6, 2), num_heads=(2, 4, 5, 10),
                 window_sizes=(7, 7, 14, 7), strides=(2, 2, 1), mlp_ratio: float = 4.0,
                 mbconv_expand_ratio: float = 4.0, out_chans: int = 256) -> None:
        super().__init__()
        self.patch_embed = PatchEmbed(in_chans, embed_dims[0])
        self.layers = nn.ModuleList()
        side = img_size
        for i, dim in enumerate(embed_dims):
            last = i == len(embed_dims) - 1
            out_dim = None if last else embed_dims[i + 1]
            stride = 1 if last else strides[i]
            if i == 0:
                layer = ConvLayer(dim, (side, side), depths[0], out_dim, stride,
                                  mbconv_expand_ratio)
            else:
                layer = BasicLayer(dim, (side, side), depths[i], num_heads[i], window_sizes[i],
                                   out_dim, stride, mlp_ratio)
            self.layers.append(layer)
            side //= stride
        self.out_size = side
        LayerNorm2d = sam_modeling().common.LayerNorm2d  # same eps (1e-6) as the original
        self.neck = nn.Sequential(
            nn.Conv2d(embed_dims[-1], out_chans, kernel_size=1, bias=False),
            LayerNorm2d(out_chans),
            nn.Conv2d(out_chans, out_chans, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(out_chans),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        for layer in self.layers:
            x = layer(x)
        b, _, c = x.shape
        x = x.view(b, self.out_size, self.out_size, c).permute(0, 3, 1, 2)
        return self.neck(x)


def fuse_conv_bn(module: nn.Module) -> nn.Module:
    """Replace every :class:`Conv2dBN` inside ``module`` by one fused ``nn.Conv2d`` (in place).

    Valid for inference only (BatchNorm uses its running statistics). Returns ``module``.
    Outputs change by float rounding only (~1e-6 on the embedding).
    """
    for name, child in module.named_children():
        if isinstance(child, Conv2dBN):
            setattr(module, name, child.fuse())
        else:
            fuse_conv_bn(child)
    return module
