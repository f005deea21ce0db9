"""Knowledge distillation (Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural Network", 2015): the
student learns from the teacher's softened outputs, softmax(z / T), besides the hard labels:

    loss = alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * CE(student, labels)

(T^2 keeps the soft term's gradients on the scale of the hard one's as T grows). torch is imported here only.
"""
from __future__ import annotations


def distillation_loss(student_logits, teacher_logits, labels, temperature: float = 4.0, alpha: float = 0.9):
    import torch.nn.functional as F
    t = float(temperature)
    soft = F.kl_div(F.log_softmax(student_logits / t, dim=1), F.softmax(teacher_logits / t, dim=1),
                    reduction="batchmean") * (t * t)
    return alpha * soft + (1.0 - alpha) * F.cross_entropy(student_logits, labels)


def distill(student, teacher, batches, epochs: int = 10, lr: float = 1e-3, temperature: float = 4.0,
            alpha: float = 0.9, schedule=None):
    """Trains `student` against the frozen `teacher` (Adam; schedule: the lr's, as in compress.gradual.fit)
    over a re-iterable of (x, labels). Returns it."""
    import torch
    from .gradual import fit
    teacher.eval()

    def loss(out, x, y):
        with torch.no_grad():
            t = teacher(x)
        return distillation_loss(out, t, y, temperature, alpha)
    return fit(student, batches, loss, epochs, lr, schedule)
