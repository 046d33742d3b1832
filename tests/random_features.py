"""Random :class:`~cskd.features.Features` of given shapes, the input of the method tests."""

import torch

from cskd.features import Features, FeatureSpec


def random_features(feature_spec: FeatureSpec, seed: int, *, grad: bool = True, batch: int = 5) -> Features:
    """Features of ``feature_spec``'s shapes from leaf tensors; stages are relu(pre_relu) as in a real network."""
    g = torch.Generator().manual_seed(seed)
    pre_relu = [
        torch.randn(batch, c, h, w, generator=g).requires_grad_(grad)
        for c, (h, w) in zip(feature_spec.stage_channels, feature_spec.stage_sizes, strict=True)
    ]
    return Features(
        stages=[p.relu() for p in pre_relu],
        embedding=torch.randn(batch, feature_spec.embedding_dim, generator=g).requires_grad_(grad),
        logits=torch.randn(batch, feature_spec.num_classes, generator=g).requires_grad_(grad),
        pre_relu=pre_relu,
    )
