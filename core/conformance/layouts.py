"""Built-in parameter layouts (names and shapes) for conformance runs and the CLI.

* ``tiny`` — a few small tensors incl. BatchNorm ``gamma``/``beta`` (MindSpore's default
  weight-decay filter) and one tensor eligible for gradient centralization
  (``shape[1] % 16 == 0``); used by the golden trajectories and unit tests.
* ``guide`` — the network of MindSpore's "Learning Rate and Optimizer" guide
  (two Conv2d+BatchNorm2d blocks and a Dense layer, MindSpore parameter names).
* ``lenet5`` — LeNet-5 (MindSpore model zoo names), 61,684 parameters (convolutions without bias, as MindSpore's).
* ``block`` — the matrices of a small transformer block (token embedding, attention,
  MLP; tall, square and wide), for algorithms that take 2-D parameters only (Muon).
* ``resnet50`` — the 161 trainable tensors of ResNet-50 (torchvision names), 25.6M
  parameters.
"""
from __future__ import annotations

from .streams import Layout

__all__ = ["LAYOUTS", "get_layout", "tiny", "guide", "lenet5", "block", "resnet50"]

tiny: Layout = (
    ("conv1.weight", (4, 3, 2, 2)),
    ("bn1.gamma", (4,)),
    ("bn1.beta", (4,)),
    ("conv2.weight", (2, 16, 1, 2)),
    ("fc.weight", (3, 8)),
    ("fc.bias", (3,)),
)

guide: Layout = (
    ("layer1.0.weight", (12, 3, 3, 3)),
    ("layer1.1.gamma", (12,)),
    ("layer1.1.beta", (12,)),
    ("layer2.0.weight", (4, 12, 3, 3)),
    ("layer2.1.gamma", (4,)),
    ("layer2.1.beta", (4,)),
    ("fc.weight", (10, 100)),
    ("fc.bias", (10,)),
)

lenet5: Layout = (
    ("conv1.weight", (6, 1, 5, 5)),
    ("conv2.weight", (16, 6, 5, 5)),
    ("fc1.weight", (120, 400)),
    ("fc1.bias", (120,)),
    ("fc2.weight", (84, 120)),
    ("fc2.bias", (84,)),
    ("fc3.weight", (10, 84)),
    ("fc3.bias", (10,)),
)

block: Layout = (
    ("token_embedding.weight", (16, 8)),
    ("attn.qkv.weight", (24, 8)),
    ("attn.proj.weight", (8, 8)),
    ("mlp.fc1.weight", (32, 8)),
    ("mlp.fc2.weight", (8, 32)),
)


def _resnet50() -> Layout:
    shapes: list[tuple[str, tuple[int, ...]]] = [("conv1.weight", (64, 3, 7, 7)), ("bn1.weight", (64,)),
                                                 ("bn1.bias", (64,))]
    inplanes = 64
    for stage, (planes, blocks) in enumerate(((64, 3), (128, 4), (256, 6), (512, 3)), start=1):
        for b in range(blocks):
            prefix = f"layer{stage}.{b}"
            shapes += [
                (f"{prefix}.conv1.weight", (planes, inplanes, 1, 1)),
                (f"{prefix}.bn1.weight", (planes,)), (f"{prefix}.bn1.bias", (planes,)),
                (f"{prefix}.conv2.weight", (planes, planes, 3, 3)),
                (f"{prefix}.bn2.weight", (planes,)), (f"{prefix}.bn2.bias", (planes,)),
                (f"{prefix}.conv3.weight", (planes * 4, planes, 1, 1)),
                (f"{prefix}.bn3.weight", (planes * 4,)), (f"{prefix}.bn3.bias", (planes * 4,)),
            ]
            if b == 0:
                shapes += [
                    (f"{prefix}.downsample.0.weight", (planes * 4, inplanes, 1, 1)),
                    (f"{prefix}.downsample.1.weight", (planes * 4,)),
                    (f"{prefix}.downsample.1.bias", (planes * 4,)),
                ]
            inplanes = planes * 4
    shapes += [("fc.weight", (1000, 2048)), ("fc.bias", (1000,))]
    return tuple(shapes)


resnet50: Layout = _resnet50()

LAYOUTS: dict[str, Layout] = {"tiny": tiny, "guide": guide, "lenet5": lenet5, "block": block, "resnet50": resnet50}


def get_layout(name: str) -> Layout:
    """A built-in layout by name."""
    try:
        return LAYOUTS[name]
    except KeyError:
        raise ValueError(f"unknown layout {name!r}. Built-in layouts: {sorted(LAYOUTS)}") from None
