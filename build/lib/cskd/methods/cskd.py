"""Category structure knowledge distillation: Chen, Zheng, Shen, Zeng, Zhou, Zhao, "Improving Knowledge Distillation
via Category Structure", ECCV 2020 (LNCS 12373, pp. 205-219), and the authors' code (github.com/xeanzheng/CSKD).

Notation: a batch of n samples, grouped by their ground-truth labels into the c classes present; F^t, F^s the
teacher's and the student's maps of a chosen stage, flattened per sample; sigma a 1x1 convolution from the student's
to the teacher's channels (when the two maps differ in size, the larger is average-pooled to the smaller first).

``variant="paper"`` (Eq. 6-10 as printed):
    C^i = mean_j F^i_j                                       (Eq. 6, plain mean, nothing normalised)
    Psi(F^i) = {F^i_j - C^i}_j                                (Eq. 7, offsets from the class center)
    M(i, k) = cos(C^i, C^k)                                  (Eq. 8, c x c over the classes present)
    intra = beta / c * sum_i || Psi(F^{it}) - Psi(sigma(F^{is})) ||   (Frobenius over all offsets of class i)
    inter = gamma * || M^t - M^s ||                          (Frobenius; M^s from the student's own, unprojected maps)
    L = alpha * CE + (1 - alpha) * MSE(z_s, z_t) + intra + inter        (Eq. 9-10, MSE = mean over batch and classes)
Defaults alpha = 0.1, beta = 0.01, gamma = 0.2 (the paper). The ambiguities of the text are options whose default is
the literal reading: the norms are unsquared (``norm``), c counts the classes present in the batch
(``class_count``), alpha multiplies CE (``alpha_on``), the last stage is used (``layers``; several stages are summed).
``intra=False`` / ``inter=False`` drop a term (Table 4's ablation); with both off the loss is exactly ``kd`` with
``form="mse"`` (Table 4's "neither" row equals Table 3's KD row).

``variant="code"``: the loss of the authors' train_cifar.py (read for its facts; this is an independent implementation):
    sigma(F^s) is used in *both* terms; per-sample intra centers come from the samples the network classifies
    correctly (teacher centers from the teacher's argmax, student centers from the student's, detached; a sample
    whose class has no correct sample is its own center); offsets are compared by a mean squared error;
    feature intra = mean((F^t - C^t) - (sigma(F^s) - sg[C^s]))^2 / (C*H*W)  (C, H, W of the teacher map),
    logit intra   = mean((z_t - Z^t) - (z_s - sg[Z^s]))^2 / K  (Z: plain class-mean logits, K classes),
    center        = center_weight * mean(z_s - sg[Z^s])^2      (pulls each logit vector to its class mean),
    feature inter = mean(M^t - M^{sigma(s)})^2 / c,  logit inter = mean(M^t_z - M^s_z)^2 / c  (plain class means),
    intra = beta * (feature intra + logit intra),  inter = gamma * (feature inter + logit inter),
    L = alpha * CE + (1 - alpha) * 1e-5 * MSE(z_s, z_t) + intra + center + inter,
where sg[.] is a stop-gradient (detach), with the code's constants as defaults: alpha = 0.9 (on CE), beta = 0.002,
gamma = 0.04, center_weight = 0.1.
``intra=False`` also drops the center term (the code adds it to its intra loss). Not part of the loss, so left to
the recipe: the code drops the learning rate at epochs 80 and 120 only and re-creates SGD every epoch. Left to the
suite: the code normalises CIFAR-10 and CIFAR-100 alike with mean (0.4914, 0.4822, 0.4465) and std (0.2023, 0.1994,
0.2010), which a suite gets with ``normalization: authors_code`` (the default normalises each dataset with its own
statistics).
Two facts of the code this implementation does not reproduce: (1) the teacher's feature map is not a stage output
but the output of the pickled teacher's own 1x1 convolution ``branch4`` (trained with the teacher, 1024 channels)
applied to its last stage, the student's being its ``branch4`` = sigma; here the teacher's map is its last stage
output and sigma the method's own adapter; (2) the teacher is never put in eval mode (the code loads the pickled
model and calls ``train()`` / ``eval()`` on the student only), so it runs in the mode it was pickled in: in train
mode, its BatchNorm layers use batch statistics and keep updating their running averages during distillation; here
the teacher always runs in eval mode.
Departures from the code: cosines use a norm floor (COSINE_EPS) where the code divides by the raw norms; the code
computes class statistics with Python loops, here they are vectorised.

Both variants compute the structure terms (sigma included) in float32 with autocast off, so bf16/fp16 training
cannot overflow them. Edge cases (both variants): a class with one sample has zero offsets (its intra term is 0 with
gradient 0, the norm being taken through a square root whose gradient at 0 is 0); absent classes have no row; a
one-class batch has a 1 x 1 matrix (inter = 0); a zero center has cosine 0 with every center.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from torch import Tensor, nn

from cskd.features import Features, FeatureSpec
from cskd.methods.adapters import conv1x1, match_spatial
from cskd.methods.base import Method, register_method
from cskd.methods.category_structure import (
    ClassGroups,
    centers_of_correct,
    class_centers,
    cosine_matrix,
    group_by_label,
    group_sums,
)
from cskd.methods.losses import cross_entropy, full_precision, logit_mse, sqrt_with_zero_gradient
from cskd.methods.validation import (
    require_choice,
    require_fraction,
    require_non_negative,
    resolve_stage,
    stage_list,
)

VARIANTS = ("paper", "code")
NORMS = ("l2", "squared_l2")
CLASS_COUNTS = ("present", "all")
ALPHA_TERMS = ("ce", "kd")
#: the official code scales its logit-MSE term by 1e-5 (``loss_KD = 0.00001 * MSE(t_out, s_out)``)
CODE_KD_SCALE = 1e-5
PAPER_DEFAULTS = {"alpha": 0.1, "beta": 0.01, "gamma": 0.2}
CODE_DEFAULTS = {"alpha": 0.9, "beta": 0.002, "gamma": 0.04, "center_weight": 0.1}


@dataclass(frozen=True)
class LayerMaps:
    """One layer's flattened float32 maps ``[B, C*H*W]``: the teacher's and the student's own; and, when sigma is
    used, the teacher's matched to the student's spatial size and sigma of the (pooled) student's."""

    teacher: Tensor
    student: Tensor
    matched_teacher: Tensor | None = None
    projected: Tensor | None = None


@register_method("cskd")
class CategoryStructure(Method):
    """CSKD (Chen et al., ECCV 2020): transfer of intra- and inter-category structure, as printed or as coded."""

    option_help: ClassVar[dict[str, str]] = {
        "variant": "'paper' = Eq. 6-10 as printed; 'code' = the loss of the authors' train_cifar.py "
        "(github.com/xeanzheng/CSKD)",
        "intra": "use the intra-category term (Table 4 ablation; the paper's method uses both terms)",
        "inter": "use the inter-category term (Table 4 ablation; the paper's method uses both terms)",
        "alpha": "alpha of Eq. 10; default None = 0.1 (paper, Sec. 4) or 0.9 (code: alpha = 0.9 on CE)",
        "alpha_on": "the term alpha multiplies, the other gets 1 - alpha: 'ce' = Eq. 10 as printed (and the code); "
        "'kd' = CE weight 1 - alpha, the code's convention applied to the paper's alpha = 0.1",
        "beta": "weight of the intra term; default None = 0.01 (paper) or 0.002 (code)",
        "gamma": "weight of the inter term; default None = 0.2 (paper) or 0.04 (code)",
        "norm": "paper variant: 'l2' = the unsquared norms printed in Eq. 9 (default), 'squared_l2' = squared; "
        "not accepted by the code variant (MSE)",
        "class_count": "paper variant: c in beta / c, 'present' = classes in the batch (default), 'all' = classes "
        "of the dataset; not accepted by the code variant",
        "center_weight": "code variant: weight of the code's extra pull of logits to their class mean; default "
        "None = 0.1 (code); not accepted by the paper variant (no such term)",
        "layers": "stage(s) whose maps carry the structure, one index or a list (negative counts from the deepest, "
        "several are summed); default -1 = the last stage, as the authors' code",
    }

    def __init__(
        self,
        student: FeatureSpec,
        teacher: FeatureSpec | None,
        *,
        variant: Literal["paper", "code"] = "paper",
        intra: bool = True,
        inter: bool = True,
        alpha: float | None = None,
        alpha_on: Literal["ce", "kd"] = "ce",
        beta: float | None = None,
        gamma: float | None = None,
        norm: Literal["l2", "squared_l2"] | None = None,
        class_count: Literal["present", "all"] | None = None,
        center_weight: float | None = None,
        layers: int | Sequence[int] = -1,
    ) -> None:
        super().__init__(student, teacher)
        require_choice("variant", variant, VARIANTS)
        require_choice("alpha_on", alpha_on, ALPHA_TERMS)
        defaults = PAPER_DEFAULTS if variant == "paper" else CODE_DEFAULTS
        alpha = defaults["alpha"] if alpha is None else alpha
        self.beta = defaults["beta"] if beta is None else beta
        self.gamma = defaults["gamma"] if gamma is None else gamma
        require_fraction("alpha", alpha)
        require_non_negative("beta", self.beta)
        require_non_negative("gamma", self.gamma)
        if variant == "code":
            for name, value in (("norm", norm), ("class_count", class_count)):
                if value is not None:
                    raise ValueError(
                        f"option {name!r} applies to variant 'paper' only (variant 'code' normalises as the authors' "
                        f"code does): remove it or use variant 'paper'"
                    )
            self.center_weight = CODE_DEFAULTS["center_weight"] if center_weight is None else center_weight
            require_non_negative("center_weight", self.center_weight)
        else:
            if center_weight is not None:
                raise ValueError(
                    "option 'center_weight' applies to variant 'code' only (the paper has no center term): "
                    "remove it or use variant 'code'"
                )
            self.norm = "l2" if norm is None else norm
            self.class_count = "present" if class_count is None else class_count
            require_choice("norm", self.norm, NORMS)
            require_choice("class_count", self.class_count, CLASS_COUNTS)
        self.variant = variant
        self.intra = bool(intra)
        self.inter = bool(inter)
        self.ce_weight, self.kd_weight = (alpha, 1 - alpha) if alpha_on == "ce" else (1 - alpha, alpha)
        if variant == "code":
            self.kd_weight *= CODE_KD_SCALE
        chosen = stage_list("layers", layers)
        self.student_layers = [resolve_stage("layers", i, student.num_stages) for i in chosen]
        self.teacher_layers = [resolve_stage("layers", i, teacher.num_stages) for i in chosen]
        if len(set(self.student_layers)) != len(chosen):
            raise ValueError(f"option 'layers' lists a stage twice: {list(chosen)}")
        #: sigma, one 1x1 convolution per layer, student -> teacher channels (none when no term uses it)
        self.sigma = nn.ModuleList()
        if self.intra or (variant == "code" and self.inter):
            self.sigma.extend(
                conv1x1(student.stage_channels[s], teacher.stage_channels[t])
                for s, t in zip(self.student_layers, self.teacher_layers, strict=True)
            )

    def forward(self, student: Features, teacher: Features | None, labels: Tensor) -> dict[str, Tensor]:
        terms = {
            "ce": self.ce_weight * cross_entropy(student.logits, labels),
            "kd": self.kd_weight * logit_mse(student.logits, teacher.logits),
        }
        if self.intra or self.inter:
            groups = group_by_label(labels)
            with full_precision(labels):
                if self.variant == "paper":
                    terms |= self._paper_terms(student, teacher, groups)
                else:
                    terms |= self._code_terms(student, teacher, labels, groups)
        return terms

    def _maps(self, student: Features, teacher: Features, k: int) -> LayerMaps:
        """The maps of the k-th chosen layer, sigma applied when it is used."""
        teacher_map = teacher.stages[self.teacher_layers[k]].detach()
        student_map = student.stages[self.student_layers[k]]
        if not self.sigma:
            return LayerMaps(teacher_map.float().flatten(1), student_map.float().flatten(1))
        pooled_student, matched_teacher = match_spatial(student_map, teacher_map)
        return LayerMaps(
            teacher_map.float().flatten(1),
            student_map.float().flatten(1),
            matched_teacher.float().flatten(1),
            self.sigma[k](pooled_student.float()).flatten(1),
        )

    def _norm(self, squares: Tensor) -> Tensor:
        """The paper variant's norm of a difference, from its sum of squares."""
        return sqrt_with_zero_gradient(squares) if self.norm == "l2" else squares

    def _paper_terms(self, student: Features, teacher: Features, groups: ClassGroups) -> dict[str, Tensor]:
        """Eq. 9 as printed."""
        count = groups.num if self.class_count == "present" else self.student_spec.num_classes
        intra = inter = 0.0
        for k in range(len(self.student_layers)):
            maps = self._maps(student, teacher, k)
            if self.intra:
                teacher_offsets = maps.matched_teacher - class_centers(maps.matched_teacher, groups)[groups.index]
                student_offsets = maps.projected - class_centers(maps.projected, groups)[groups.index]
                squares = group_sums((teacher_offsets - student_offsets).pow(2).sum(dim=1), groups)
                intra = intra + self._norm(squares).sum()
            if self.inter:
                teacher_matrix = cosine_matrix(class_centers(maps.teacher, groups))
                student_matrix = cosine_matrix(class_centers(maps.student, groups))
                inter = inter + self._norm((teacher_matrix - student_matrix).pow(2).sum())
        terms = {}
        if self.intra:
            terms["intra"] = self.beta / count * intra
        if self.inter:
            terms["inter"] = self.gamma * inter
        return terms

    def _code_terms(
        self, student: Features, teacher: Features, labels: Tensor, groups: ClassGroups
    ) -> dict[str, Tensor]:
        """The authors' train_cifar.py loss (module docstring)."""
        student_logits = student.logits.float()
        teacher_logits = teacher.logits.detach().float()
        teacher_correct = teacher_logits.argmax(dim=1) == labels
        student_correct = student_logits.argmax(dim=1) == labels
        teacher_logit_centers = class_centers(teacher_logits, groups)
        student_logit_centers = class_centers(student_logits, groups)
        intra = inter = 0.0
        for k in range(len(self.student_layers)):
            maps = self._maps(student, teacher, k)
            teacher_flat, projected = maps.matched_teacher, maps.projected
            if self.intra:
                teacher_offsets = teacher_flat - centers_of_correct(teacher_flat, groups, teacher_correct)
                student_offsets = projected - centers_of_correct(projected, groups, student_correct).detach()
                intra = intra + (teacher_offsets - student_offsets).pow(2).mean() / teacher_flat.shape[1]
            if self.inter:
                teacher_matrix = cosine_matrix(class_centers(teacher_flat, groups))
                student_matrix = cosine_matrix(class_centers(projected, groups))
                inter = inter + (teacher_matrix - student_matrix).pow(2).mean() / groups.num
        terms = {}
        if self.intra:
            student_to_center = student_logits - student_logit_centers[groups.index].detach()
            teacher_to_center = teacher_logits - teacher_logit_centers[groups.index]
            logit_intra = (teacher_to_center - student_to_center).pow(2).mean() / teacher_logits.shape[1]
            terms["intra"] = self.beta * (intra + logit_intra)
            terms["center"] = self.center_weight * student_to_center.pow(2).mean()
        if self.inter:
            logit_matrices = cosine_matrix(teacher_logit_centers) - cosine_matrix(student_logit_centers)
            terms["inter"] = self.gamma * (inter + logit_matrices.pow(2).mean() / groups.num)
        return terms
