"""Contrastive representation distillation: Tian, Krishnan, Isola, "Contrastive Representation Distillation",
ICLR 2020 (arXiv:1910.10699).

Embeddings g_S(s) = normalise(W_S s + b_S) and g_T(t) = normalise(W_T t + b_T) (feat_dim wide) of the student's and
the teacher's pooled pre-logit vectors. With M the training-set size and N negatives per positive, the critic
    h(T, S) = exp(g_T(t)^T g_S(s) / tau) / (exp(g_T(t)^T g_S(s) / tau) + N / M)
is trained by the NCE bound of their Eq. 18 (maximised; here its negative is minimised):
    L_critic = - E_{q(T,S | C=1)} [log h(T, S)] - N * E_{q(T,S | C=0)} [log(1 - h(T, S))].
As the authors' code (RepDistiller crd/criterion.py and crd/memory.py, the benchmark's implementation):
* two memory banks of M unit vectors (feat_dim each), one per network, start uniform in [-1/sqrt(D/3), 1/sqrt(D/3)]
  and after every step set the entries of the batch's samples to normalise(m * entry + (1 - m) * new embedding);
* for each sample i (mode "exact"), its positive is bank entry i and its N negatives are bank entries of samples of
  *other* classes drawn uniformly; the teacher's embedding is scored against the student bank and the student's
  embedding against the teacher bank: P = exp(v^T bank_j / tau) / Z, with Z = mean(exp(.)) * M fixed on the first batch;
* with eps = 1e-7, each side's loss is
      - 1/B sum_i [ log(P_i0 / (P_i0 + N/M + eps)) + sum_{k=1..N} log((N/M) / (P_ik + N/M + eps)) ],
  and L_CRD is the sum of the two sides (the student-anchored and the teacher-anchored critic).
Total, with the benchmark's CE/KD weights: L = gamma * CE + alpha * T^2 * KL(p_t^T || p_s^T) + beta * L_CRD.
"CRD+KD" is ``kd_weight: 1`` (RepDistiller's script: -a 1 -b 0.8).
Defaults (RepDistiller train_student.py and scripts/run_cifar_distill.sh, mdistiller's CRD config): feat_dim 128,
N = 16384 (--nce_k), tau = 0.07 (--nce_t), m = 0.5 (--nce_m), beta = 0.8 (-b 0.8), gamma = 1, alpha = 0.

State, checkpoint and resume: the two banks and the two Z constants are registered buffers, so they are part of the
method's ``state_dict`` that the engine saves after every epoch; negatives come from the method's own generator
(``rng``, seeded by the engine and saved with the checkpoint), and the initial banks from the same generator when the
engine binds the training set. A resumed run therefore continues with exactly the banks, constants and random stream
of an uninterrupted one. The banks need the training set: ``bind_training_set(labels)`` (the engine calls it with the
labels of the samples the loader indexes) fixes M and the classes of the negatives, and ``forward`` takes each
sample's index in that set (``indices=``).
Departures: negatives are drawn *with* replacement (RepDistiller draws a sample's negatives without replacement when
there are enough); only the "exact" positive mode (the benchmark's) is implemented.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cskd.features import Features, FeatureSpec
from cskd.methods.base import Method, register_method
from cskd.methods.combine import KD_OPTION_HELP, CombinesWithKD
from cskd.methods.losses import full_precision
from cskd.methods.validation import require_fraction, require_int_at_least, require_non_negative, require_positive

#: RepDistiller's epsilon in the NCE ratios
NCE_EPS = 1e-7


def nce_loss(scores: Tensor, noise: float) -> Tensor:
    """The NCE loss of one side: ``scores`` ``[B, 1 + N]`` are the normalised P of the positive (column 0) and the
    N negatives; ``noise`` = N / M."""
    positive, negatives = scores[:, 0], scores[:, 1:]
    log_positive = torch.log(positive / (positive + noise + NCE_EPS))
    log_negatives = torch.log(noise / (negatives + noise + NCE_EPS))
    return -(log_positive.sum() + log_negatives.sum()) / scores.shape[0]


class Embed(nn.Module):
    """Linear map to ``feat_dim`` followed by L2 normalisation."""

    def __init__(self, in_features: int, feat_dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, feat_dim)

    def forward(self, x: Tensor) -> Tensor:
        return F.normalize(self.linear(x.float().flatten(1)), dim=1)


@register_method("crd")
class ContrastiveRepresentation(CombinesWithKD, Method):
    """Contrastive representation distillation (Tian et al., ICLR 2020): NCE against memory banks of embeddings."""

    needs_sample_indices = True
    option_help: ClassVar[dict[str, str]] = {
        "crd_weight": "beta: weight of L_CRD; default 0.8 (RepDistiller -b 0.8, mdistiller FEAT_WEIGHT 0.8)",
        "feat_dim": "width of the embeddings and memory banks; default 128 (RepDistiller --feat_dim, mdistiller)",
        "negatives": "N, negatives per positive; default 16384 (RepDistiller --nce_k, mdistiller NCE.K)",
        "nce_temperature": "tau of the critic; default 0.07 (RepDistiller --nce_t, mdistiller NCE.TEMPERATURE)",
        "momentum": "m of the memory update; default 0.5 (RepDistiller --nce_m, mdistiller NCE.MOMENTUM)",
        **KD_OPTION_HELP,
    }

    def __init__(
        self,
        student: FeatureSpec,
        teacher: FeatureSpec | None,
        *,
        crd_weight: float = 0.8,
        feat_dim: int = 128,
        negatives: int = 16384,
        nce_temperature: float = 0.07,
        momentum: float = 0.5,
        ce_weight: float = 1.0,
        kd_weight: float = 0.0,
        temperature: float = 4.0,
    ) -> None:
        super().__init__(student, teacher)
        require_non_negative("crd_weight", crd_weight)
        require_int_at_least("feat_dim", feat_dim, 1)
        require_int_at_least("negatives", negatives, 1)
        require_positive("nce_temperature", nce_temperature)
        require_fraction("momentum", momentum)
        self.set_kd_options(ce_weight, kd_weight, temperature)
        self.embed_student = Embed(student.embedding_dim, feat_dim)
        self.embed_teacher = Embed(teacher.embedding_dim, feat_dim)
        self.crd_weight = crd_weight
        self.feat_dim = feat_dim
        self.negatives = negatives
        self.nce_temperature = nce_temperature
        self.momentum = momentum
        #: the training set's labels and, per class, where its samples start in the class-sorted order (CPU)
        self.train_labels: Tensor | None = None
        self._by_class: Tensor | None = None
        self._class_start: Tensor | None = None
        self._class_count: Tensor | None = None
        #: whether both Z are known to be fixed (saves a device sync per step once they are)
        self._z_fixed = False

    def bind_training_set(self, labels: Tensor) -> None:
        """Allocate the memory banks for the ``M = len(labels)`` training samples and index the classes."""
        labels = labels.detach().to("cpu", torch.int64)
        if labels.dim() != 1 or labels.numel() < 2 or labels.unique().numel() < 2:
            raise ValueError(
                f"method 'crd' needs a training set of at least two classes to draw negatives from other classes; "
                f"got labels of shape {list(labels.shape)} with {labels.unique().numel()} class(es)"
            )
        size = labels.numel()
        device = self.embed_student.linear.weight.device
        bound = 1 / math.sqrt(self.feat_dim / 3)
        for name in ("memory_student", "memory_teacher"):
            bank = torch.rand(size, self.feat_dim, generator=self.rng) * 2 * bound - bound
            self.register_buffer(name, bank.to(device))
        # the normalising constants Z, fixed on the first batch (negative: not fixed yet)
        self.register_buffer("z_student", torch.tensor(-1.0, device=device))
        self.register_buffer("z_teacher", torch.tensor(-1.0, device=device))
        num_classes = int(labels.max()) + 1
        self.train_labels = labels
        self._by_class = torch.argsort(labels, stable=True)
        self._class_count = torch.bincount(labels, minlength=num_classes)
        self._class_start = torch.cumsum(self._class_count, 0) - self._class_count

    def draw_contrast_indices(self, indices: Tensor) -> Tensor:
        """``[B, 1 + N]`` (on the CPU): each sample's own index, then N indices of samples of other classes drawn
        uniformly with replacement from the method's generator."""
        labels = self.train_labels[indices]
        others = (self.train_labels.numel() - self._class_count[labels]).to(torch.float64)
        uniform = torch.rand(indices.shape[0], self.negatives, generator=self.rng, dtype=torch.float64)
        rank = (uniform * others[:, None]).floor().to(torch.int64).minimum(others[:, None].to(torch.int64) - 1)
        # rank r among the samples of other classes = position r in the class-sorted order, skipping the own class
        start, count = self._class_start[labels][:, None], self._class_count[labels][:, None]
        negatives = self._by_class[rank + count * (rank >= start)]
        return torch.cat([indices[:, None], negatives], dim=1)

    def _scores(self, anchor: Tensor, bank: Tensor, contrast: Tensor, z: Tensor) -> Tensor:
        """P = exp(anchor . bank[contrast] / tau) / Z, Z fixed to mean * M on the first call."""
        entries = bank[contrast.flatten()].view(*contrast.shape, self.feat_dim)
        scores = torch.exp((entries @ anchor.unsqueeze(2)).squeeze(2) / self.nce_temperature)
        if not self._z_fixed and z.item() < 0:
            z.fill_(scores.detach().mean().item() * bank.shape[0])
        return scores / z

    @torch.no_grad()
    def _update_memory(self, bank: Tensor, indices: Tensor, embedding: Tensor) -> None:
        mixed = bank[indices] * self.momentum + embedding.detach() * (1 - self.momentum)
        bank[indices] = F.normalize(mixed, dim=1)

    def forward(
        self, student: Features, teacher: Features | None, labels: Tensor, *, indices: Tensor | None = None
    ) -> dict[str, Tensor]:
        if self.train_labels is None:
            raise RuntimeError(
                "method 'crd' has no memory bank: call bind_training_set(labels) first (the engine does it)"
            )
        if indices is None:
            raise ValueError("method 'crd' needs each sample's index in the training set: pass indices=")
        device = self.memory_student.device
        contrast = self.draw_contrast_indices(indices.detach().cpu()).to(device)
        indices = indices.to(device)
        with full_precision(labels):
            v_student = self.embed_student(student.embedding)
            v_teacher = self.embed_teacher(teacher.embedding.detach())
            student_side = self._scores(v_student, self.memory_teacher, contrast, self.z_student)
            teacher_side = self._scores(v_teacher, self.memory_student, contrast, self.z_teacher)
            noise = self.negatives / self.memory_student.shape[0]
            loss = nce_loss(student_side, noise) + nce_loss(teacher_side, noise)
            self._z_fixed = True
            self._update_memory(self.memory_student, indices, v_student)
            self._update_memory(self.memory_teacher, indices, v_teacher)
        return self.classification_terms(student.logits, teacher.logits, labels) | {"crd": self.crd_weight * loss}
