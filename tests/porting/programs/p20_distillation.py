"""Knowledge distillation (the PyTorch tutorial's recipe): a student trained on hard labels plus the
teacher's softened distribution through KL divergence with reduction='batchmean' and temperature
T, and a cosine-similarity alignment of hidden representations (F.normalize, nn.CosineSimilarity)."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(12, hidden), nn.ReLU(), nn.Linear(hidden, 8))
        self.classifier = nn.Linear(8, 4)

    def forward(self, x):
        h = self.features(x)
        return self.classifier(h), h


def init(model, rng):
    model.load_state_dict({k: torch.from_numpy(rng.uniform(-0.3, 0.3, tuple(v.shape)).astype(np.float32))
                           for k, v in model.state_dict().items()})
    return model


def main():
    rng = np.random.default_rng(20)
    x = torch.from_numpy(rng.standard_normal((200, 12)).astype(np.float32))
    y = torch.from_numpy(np.argmax(rng.standard_normal((12, 4)).T @ x.numpy().T, axis=0))
    teacher, student = init(Net(64), rng), init(Net(16), rng)

    optimizer = torch.optim.Adam(teacher.parameters(), lr=0.01)
    for _ in range(100):
        optimizer.zero_grad()
        F.cross_entropy(teacher(x)[0], y).backward()
        optimizer.step()
    teacher.eval()

    T, soft_target_loss_weight, ce_loss_weight = 2.0, 0.25, 0.75
    cosine_loss = nn.CosineSimilarity(dim=1)
    kl = nn.KLDivLoss(reduction="batchmean")
    optimizer = torch.optim.SGD(student.parameters(), lr=0.1, momentum=0.9)
    history = []
    for epoch in range(60):
        optimizer.zero_grad()
        with torch.no_grad():
            teacher_logits, teacher_hidden = teacher(x)
        student_logits, student_hidden = student(x)
        soft_targets = F.softmax(teacher_logits / T, dim=-1)
        soft_prob = F.log_softmax(student_logits / T, dim=-1)
        soft_targets_loss = kl(soft_prob, soft_targets) * (T ** 2)
        label_loss = F.cross_entropy(student_logits, y)
        align = 1 - cosine_loss(F.normalize(student_hidden), F.normalize(teacher_hidden)).mean()
        loss = soft_target_loss_weight * soft_targets_loss + ce_loss_weight * label_loss + 0.1 * align
        loss.backward()
        optimizer.step()
        if epoch % 10 == 9:
            history.append([loss.item(), soft_targets_loss.item(), align.item()])
    with torch.no_grad():
        agreement = (student(x)[0].argmax(1) == teacher(x)[0].argmax(1)).float().mean().item()
        log_target = F.kl_div(F.log_softmax(student(x)[0], 1), F.log_softmax(teacher(x)[0], 1),
                              reduction="sum", log_target=True).item()
        similarity = F.cosine_similarity(student(x)[1], teacher(x)[1], dim=1, eps=1e-8)[:5].tolist()
    return {"history": history, "agreement": agreement, "kl_log_target": log_target, "similarity": similarity}


if __name__ == "__main__":
    print(main())
