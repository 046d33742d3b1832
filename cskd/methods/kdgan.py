"""Adversarial distillation after KDGAN: Wang, Zhang, Sun, Qi, "KDGAN: Knowledge Distillation with Generative
Adversarial Networks", NeurIPS 2018, with the teacher fixed.

KDGAN is a three-player game between a classifier (the student) C, a teacher T and a discriminator D that tells true
(input, label) pairs from pairs whose label is sampled from C or T. With the teacher fixed, the game left is
    max_D  E_y~true[log D(x, y)] + alpha * E_y~p_s[log(1 - D(x, y))] + (1 - alpha) * E_y~p_t[log(1 - D(x, y))]
    min_C  alpha * E_y~p_s[log(1 - D(x, y))] + L_distill(p_s, p_t)      (+ CE, see below)
Labels y are one-hot for the true label and Gumbel-softmax relaxed samples of p_s, p_t (temperature tau), so the
adversarial gradient reaches the student through its sample (Wang et al.'s continuous relaxation of the
Gumbel-max trick). D(x, y) = sigmoid(MLP([e_t(x); y])) sees x through the teacher's pooled embedding e_t(x).

Each training ``forward`` first takes one step of D's own Adam optimiser on the batch (detached inputs, float32, no
autocast), then returns the student's terms:
    "ce":  ce_weight * CE(z_s, y)
    "kd":  distill_weight * T^2 * KL(p_t^T || p_s^T)
    "adv": alpha * mean log(1 - D(e_t(x), y_s))       (D's parameters frozen for this term)
Gumbel noise comes from ``self.rng``, drawn for the student's sample first and the teacher's second.

Departures from Wang et al. (every one of them):
* the teacher is fixed: no teacher update, no teacher adversarial loss, no distillation loss from the student to
  the teacher (L_DS^t), so KDGAN's mutual teacher/student learning is absent;
* a cross-entropy term on the true labels is added to the student loss (in KDGAN the classifier sees the labels only
  through D; the authors pretrain it with cross-entropy and their code keeps a 0.7-weighted hard loss);
* nothing is pretrained: D and the student start from scratch and are trained together, one D step per student step
  on the same batch (the authors pretrain C, T and D and alternate epochs of D and C);
* D is a two-layer MLP on the teacher's embedding and a label vector, not a network of its own on the image;
* one relaxed sample per example and per network (the authors' code draws several labels per example and uses them
  as rewards, a policy-gradient estimate, instead of the relaxation);
* L_distill is Hinton's T^2 * KL (the authors' code defaults to an L2 loss on logits, 'mimic');
* the adversarial term keeps the minimax (saturating) form log(1 - D) of the paper's value function.
Defaults and their sources: alpha = 0.5 (authors' code, intelltch_weight 0.5), ce_weight 0.7 / distill_weight 0.3
(authors' code, kd_hard_pct 0.7 / kd_soft_pct 0.3), T = 3 (authors' code, temperature 3.0), D's Adam lr 1e-3
(authors' MNIST flags, dis_learning_rate 1e-3 with optimizer adam); tau = 1 and the 256-unit hidden layer are this
implementation's choices.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from cskd.features import Features, FeatureSpec
from cskd.methods.base import Method, register_method
from cskd.methods.losses import cross_entropy, full_precision, soft_target_kl
from cskd.methods.validation import require_fraction, require_int_at_least, require_non_negative, require_positive


def gumbel_softmax_sample(logits: Tensor, tau: float, generator: torch.Generator) -> Tensor:
    """softmax((z + g) / tau) with g = -log(-log u), u ~ U(0, 1) drawn on the CPU from ``generator``."""
    uniform = torch.rand(logits.shape, generator=generator).clamp_min(torch.finfo(torch.float32).tiny)
    gumbel = -torch.log(-torch.log(uniform)).to(logits.device)
    return F.softmax((logits.float() + gumbel) / tau, dim=1)


class LabelDiscriminator(nn.Module):
    """D(x, y): the logit that the label vector ``y`` is the true label of the input with embedding ``e``."""

    def __init__(self, embedding_dim: int, num_classes: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(embedding_dim + num_classes, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, embedding: Tensor, labels: Tensor) -> Tensor:
        return self.net(torch.cat([embedding, labels], dim=1)).squeeze(1)


@register_method("kdgan")
class KDGAN(Method):
    """KDGAN (Wang et al., NeurIPS 2018) with a fixed teacher: KD plus an adversarial label discriminator."""

    option_help: ClassVar[dict[str, str]] = {
        "alpha": "share of the student's samples among D's fake pairs (the teacher's get 1 - alpha) and weight of "
        "the student's adversarial term (Wang et al.'s value function); default 0.5 from the authors' code",
        "ce_weight": "weight of the student's cross-entropy on true labels (added to KDGAN); default 0.7 = the "
        "authors' code's kd_hard_pct",
        "distill_weight": "weight of the distillation term T^2 * KL; default 0.3 = the authors' code's kd_soft_pct",
        "temperature": "distillation temperature T; default 3 from the authors' code",
        "gumbel_temperature": "tau of the Gumbel-softmax label samples; default 1.0 (this implementation's choice)",
        "disc_lr": "learning rate of D's own Adam optimiser; default 1e-3 from the authors' MNIST flags",
        "disc_hidden": "hidden units of D's two-layer MLP; default 256 (this implementation's choice)",
    }

    def __init__(
        self,
        student: FeatureSpec,
        teacher: FeatureSpec | None,
        *,
        alpha: float = 0.5,
        ce_weight: float = 0.7,
        distill_weight: float = 0.3,
        temperature: float = 3.0,
        gumbel_temperature: float = 1.0,
        disc_lr: float = 1e-3,
        disc_hidden: int = 256,
    ) -> None:
        super().__init__(student, teacher)
        require_fraction("alpha", alpha)
        require_non_negative("ce_weight", ce_weight)
        require_non_negative("distill_weight", distill_weight)
        require_positive("temperature", temperature)
        require_positive("gumbel_temperature", gumbel_temperature)
        require_positive("disc_lr", disc_lr)
        require_int_at_least("disc_hidden", disc_hidden, 1)
        if student.num_classes != teacher.num_classes:
            raise ValueError(
                f"kdgan needs the same classes for student and teacher, got {student.num_classes} and "
                f"{teacher.num_classes}"
            )
        self.alpha = alpha
        self.ce_weight = ce_weight
        self.distill_weight = distill_weight
        self.temperature = temperature
        self.gumbel_temperature = gumbel_temperature
        self.discriminator = LabelDiscriminator(teacher.embedding_dim, teacher.num_classes, disc_hidden)
        self.disc_lr = disc_lr
        self._disc_optimizer: torch.optim.Adam | None = None

    @property
    def disc_optimizer(self) -> torch.optim.Adam:
        """D's Adam optimiser, made on first use: making an optimiser imports torch._dynamo (seconds), and the
        planning commands build every method only to check its options."""
        if self._disc_optimizer is None:
            self._disc_optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=self.disc_lr)
        return self._disc_optimizer

    def trainable_parameters(self) -> Iterator[nn.Parameter]:
        """Nothing: the discriminator is optimised privately, by its own optimiser."""
        return iter(())

    def get_extra_state(self) -> dict[str, Any]:
        return {"disc_optimizer": self.disc_optimizer.state_dict()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.disc_optimizer.load_state_dict(state["disc_optimizer"])

    def discriminator_step(
        self, embedding: Tensor, true_labels: Tensor, student_sample: Tensor, teacher_sample: Tensor
    ) -> None:
        """One Adam step of D on detached inputs: real pairs vs alpha-weighted student and teacher samples."""
        with torch.enable_grad(), full_precision(embedding):
            real = self.discriminator(embedding, true_labels)
            fake_student = self.discriminator(embedding, student_sample)
            fake_teacher = self.discriminator(embedding, teacher_sample)
            loss = (
                F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                + self.alpha * F.binary_cross_entropy_with_logits(fake_student, torch.zeros_like(fake_student))
                + (1 - self.alpha) * F.binary_cross_entropy_with_logits(fake_teacher, torch.zeros_like(fake_teacher))
            )
            self.disc_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.disc_optimizer.step()

    def adversarial_loss(self, embedding: Tensor, student_sample: Tensor) -> Tensor:
        """alpha * mean log(1 - D(e, y_s)), through D with frozen (detached) parameters."""
        frozen = {name: p.detach() for name, p in self.discriminator.named_parameters()}
        with full_precision(embedding):
            logits = functional_call(self.discriminator, frozen, (embedding, student_sample))
        return self.alpha * (-F.softplus(logits)).mean()

    def forward(self, student: Features, teacher: Features | None, labels: Tensor) -> dict[str, Tensor]:
        embedding = teacher.embedding.detach().float()
        student_sample = gumbel_softmax_sample(student.logits, self.gumbel_temperature, self.rng)
        teacher_sample = gumbel_softmax_sample(teacher.logits.detach(), self.gumbel_temperature, self.rng)
        if self.training:
            true_labels = F.one_hot(labels, student.logits.shape[1]).float()
            self.discriminator_step(embedding, true_labels, student_sample.detach(), teacher_sample)
        return {
            "ce": self.ce_weight * cross_entropy(student.logits, labels),
            "kd": self.distill_weight * soft_target_kl(student.logits, teacher.logits, self.temperature),
            "adv": self.adversarial_loss(embedding, student_sample),
        }
