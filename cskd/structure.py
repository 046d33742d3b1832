"""Category-structure metrics of a trained network on the test set (docs/structure.md).

Pure functions of the pooled embeddings ``h`` (``[N, D]``), the labels ``y`` (``[N]``) and the logits ``z`` (``[N, K]``)
of a student, and of the same test images' teacher embeddings and logits where a teacher is at hand. Every class
statistic is over the classes *present* in ``y`` (a class without a test sample has no center and is left out); C is
their number, N_c the samples of class c, mu_c = mean of its embeddings, mu_G = (1/C) sum_c mu_c. Everything is computed
in float64. A metric that is undefined for its input (no between-class spread, fewer classes than it needs, a constant
representation) is NaN, never a made-up number.

- NC1 (Papyan, Han & Donoho, PNAS 2020, Sec. "Results", the NC1 panel of Fig. 6): tr(Sigma_W Sigma_B^+) / C with
  Sigma_W = (1/N) sum_i (h_i - mu_{y_i})(h_i - mu_{y_i})^T and Sigma_B = (1/C) sum_c (mu_c - mu_G)(mu_c - mu_G)^T.
- Distance ratio: mean_i ||h_i - mu_{y_i}|| / mean_{c<k} ||mu_c - mu_k|| (Euclidean).
- Center cosine matrices (CSKD, Chen et al. ECCV 2020, Eq. 8, but over all test classes instead of one batch):
  M(c, k) = cos(mu_c, mu_k) for teacher and student; compared by the Pearson correlation of their off-diagonal
  entries (the upper triangle) and by the mean squared difference mean_{c,k} (M_s - M_t)^2 that Eq. 8-9 penalise.
- Linear CKA (Kornblith et al., ICML 2019, Eq. 5 with a linear kernel): ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F) with
  X, Y the column-centred student and teacher embeddings of the same images.
- Top-1 agreement: % of test images where argmax z_s = argmax z_t.
- Softened KL: mean_i KL(softmax(z_t,i / T) || softmax(z_s,i / T)) at T = 4 (Hinton et al. 2015), in nats, without
  the T^2 factor of the KD loss.
- ECE (Guo et al., ICML 2017, Eq. 3): sum_b (|B_b| / N) |acc(B_b) - conf(B_b)| over 15 equal-width bins of the
  student's top softmax probability, in %.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from cskd.runs_schema import STRUCTURE_COLUMNS

#: temperature of the softened outputs compared by ``softened_kl``
KL_TEMPERATURE = 4.0
#: equal-width confidence bins of ``expected_calibration_error``
ECE_BINS = 15
#: runs.csv / epoch CSV column of each metric (cskd/runs_schema.py); the teacher comparisons are empty without a teacher
STUDENT_ONLY: tuple[str, ...] = STRUCTURE_COLUMNS[:3]
TEACHER_COMPARISON: tuple[str, ...] = STRUCTURE_COLUMNS[3:]


def class_means(embedding: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """``([C, D] means of the classes present, in increasing label order; [N] index of each sample's class)``."""
    _, index, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    sums = embedding.new_zeros((counts.shape[0], embedding.shape[1])).index_add(0, index, embedding)
    return sums / counts.unsqueeze(1).to(embedding.dtype), index


def without_round_off(centred: Tensor, original: Tensor) -> Tensor:
    """``centred`` (a difference from a mean of ``original``'s rows) with the entries at the level of a mean's rounding
    error (|v| <= N * eps * max|original|) set to 0, so identical inputs give exactly zero spread."""
    tolerance = original.shape[0] * torch.finfo(original.dtype).eps * float(original.abs().max())
    return torch.where(centred.abs() <= tolerance, torch.zeros_like(centred), centred)


def centred_means(embedding: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(class means, their differences from mu_G without round-off, each sample's class index)`` in float64."""
    h = embedding.double()
    means, index = class_means(h, labels)
    return means, without_round_off(means - means.mean(dim=0), h), index


def nc1(embedding: Tensor, labels: Tensor) -> float:
    """tr(Sigma_W Sigma_B^+) / C (module docstring); NaN with fewer than two classes or coinciding class means.

    Sigma_B = V diag(s^2 / C) V^T from the SVD of the centred means (C x D), so Sigma_B^+ = V diag(C / s^2) V^T over the
    singular values above torch.linalg.pinv's default cut (max(C, D) * eps * s_max), and tr(Sigma_W Sigma_B^+) =
    sum_k (C / s_k^2) v_k^T Sigma_W v_k: no D x D matrix is formed.
    """
    means, centred, index = centred_means(embedding, labels)
    count = means.shape[0]
    if count < 2:
        return math.nan
    _, singular, directions = torch.linalg.svd(centred, full_matrices=False)
    if singular[0] == 0:
        return math.nan
    keep = singular > max(centred.shape) * torch.finfo(centred.dtype).eps * singular[0]
    singular, directions = singular[keep], directions[keep]
    within = embedding.double() - means[index]
    projected_variance = (within @ directions.T).pow(2).mean(dim=0)  # v_k^T Sigma_W v_k
    return float((count / singular.pow(2) * projected_variance).sum() / count)


def distance_ratio(embedding: Tensor, labels: Tensor) -> float:
    """Mean distance of a sample to its class mean over the mean distance between two class means; NaN with fewer
    than two classes or coinciding class means."""
    means, centred, index = centred_means(embedding, labels)
    count = means.shape[0]
    if count < 2:
        return math.nan
    within = (embedding.double() - means[index]).norm(dim=1).mean()
    rows, cols = torch.triu_indices(count, count, offset=1)
    between = (centred[rows] - centred[cols]).norm(dim=1).mean()
    return float(within / between) if between > 0 else math.nan


def center_cosines(embedding: Tensor, labels: Tensor) -> Tensor:
    """``[C, C]`` cosine similarities of the class means (Eq. 8 of CSKD over every class present); a zero mean has
    cosine 0 with every mean, itself included."""
    means, _ = class_means(embedding.double(), labels)
    unit = F.normalize(means, dim=1, eps=1e-12)
    return unit @ unit.T


def center_cosine_agreement(
    student_embedding: Tensor, teacher_embedding: Tensor, labels: Tensor
) -> tuple[float, float]:
    """``(Pearson correlation of the off-diagonal entries, mean squared difference of all entries)`` of the student's
    and the teacher's center cosine matrices. The correlation is NaN with fewer than three classes (one pair of
    classes) or when either matrix's off-diagonal entries are constant."""
    student, teacher = center_cosines(student_embedding, labels), center_cosines(teacher_embedding, labels)
    mse = float((student - teacher).pow(2).mean())
    count = student.shape[0]
    rows, cols = torch.triu_indices(count, count, offset=1)
    a, b = student[rows, cols], teacher[rows, cols]
    if a.numel() < 2:
        return math.nan, mse
    a, b = without_round_off(a - a.mean(), a), without_round_off(b - b.mean(), b)
    scale = a.norm() * b.norm()
    correlation = float((a @ b) / scale) if scale > 0 else math.nan
    return correlation, mse


def linear_cka(x: Tensor, y: Tensor) -> float:
    """Linear CKA of two representations of the same N samples (``[N, D1]``, ``[N, D2]``); NaN when either is
    constant over the samples."""
    x, y = x.double(), y.double()
    x, y = without_round_off(x - x.mean(dim=0), x), without_round_off(y - y.mean(dim=0), y)
    cross = (y.T @ x).pow(2).sum()
    scale = (x.T @ x).norm() * (y.T @ y).norm()
    return float(cross / scale) if scale > 0 else math.nan


def top1_agreement(student_logits: Tensor, teacher_logits: Tensor) -> float:
    """% of samples whose student and teacher top-1 classes are the same."""
    return 100.0 * float((student_logits.argmax(dim=1) == teacher_logits.argmax(dim=1)).double().mean())


def softened_kl(student_logits: Tensor, teacher_logits: Tensor, temperature: float = KL_TEMPERATURE) -> float:
    """mean_i KL(p_t || p_s) of the outputs softened at ``temperature`` (nats, no T^2 factor)."""
    log_s = F.log_softmax(student_logits.double() / temperature, dim=1)
    log_t = F.log_softmax(teacher_logits.double() / temperature, dim=1)
    return float((log_t.exp() * (log_t - log_s)).sum(dim=1).mean())


def expected_calibration_error(logits: Tensor, labels: Tensor, bins: int = ECE_BINS) -> float:
    """ECE in %: bins (i/bins, (i+1)/bins] of the top softmax probability (a confidence of exactly 0 would go to the
    first bin, but a softmax maximum is at least 1/K), each weighted by its share of the samples."""
    probabilities = F.softmax(logits.double(), dim=1)
    confidence, predicted = probabilities.max(dim=1)
    correct = (predicted == labels).double()
    bin_of = (torch.ceil(confidence * bins).long() - 1).clamp(0, bins - 1)
    gap = torch.zeros(bins, dtype=torch.float64, device=logits.device).index_add(0, bin_of, correct - confidence)
    return 100.0 * float(gap.abs().sum() / labels.shape[0])


def structure_metrics(
    embedding: Tensor,
    logits: Tensor,
    labels: Tensor,
    teacher_embedding: Tensor | None = None,
    teacher_logits: Tensor | None = None,
) -> dict[str, float]:
    """Every metric of :data:`STRUCTURE_COLUMNS` for one network on one test set; the teacher-comparison ones are
    NaN without a teacher. A network whose outputs are not all finite (a diverged run) has no structure: every metric
    is NaN, and the run is recorded as it is (failed), never with numbers computed from non-finite values."""
    embedding, logits = embedding.detach(), logits.detach()
    if not (embedding.isfinite().all() and logits.isfinite().all()):
        return dict.fromkeys(STRUCTURE_COLUMNS, math.nan)
    values = {
        "struct_nc1": nc1(embedding, labels),
        "struct_distance_ratio": distance_ratio(embedding, labels),
        "struct_ece": expected_calibration_error(logits, labels),
    }
    if teacher_embedding is None or teacher_logits is None:
        return values | dict.fromkeys(TEACHER_COMPARISON, math.nan)
    teacher_embedding, teacher_logits = teacher_embedding.detach(), teacher_logits.detach()
    if not (teacher_embedding.isfinite().all() and teacher_logits.isfinite().all()):
        return values | dict.fromkeys(TEACHER_COMPARISON, math.nan)
    correlation, mse = center_cosine_agreement(embedding, teacher_embedding, labels)
    return values | {
        "struct_center_corr": correlation,
        "struct_center_mse": mse,
        "struct_cka": linear_cka(embedding, teacher_embedding),
        "struct_agreement": top1_agreement(logits, teacher_logits),
        "struct_kl_t4": softened_kl(logits, teacher_logits),
    }
