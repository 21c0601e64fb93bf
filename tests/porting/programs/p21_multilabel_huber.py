"""A two-headed model with the smooth activations (SiLU, Mish, ELU, Softplus, Softsign): multi-label
tagging with nn.MultiLabelSoftMarginLoss (class weights) and a robust regression head with
nn.HuberLoss and nn.SmoothL1Loss, trained with Adagrad over a DataLoader."""

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(6, 24), nn.SiLU(), nn.Linear(24, 24), nn.Mish(),
                                   nn.Linear(24, 16), nn.ELU(alpha=0.5))
        self.tags = nn.Linear(16, 5)
        self.value = nn.Sequential(nn.Linear(16, 8), nn.Softplus(beta=2.0), nn.Linear(8, 8), nn.Softsign(),
                                   nn.Linear(8, 1))

    def forward(self, x):
        h = self.trunk(x)
        return self.tags(h), self.value(h).squeeze(1)


def main():
    rng = np.random.default_rng(21)
    x = rng.standard_normal((300, 6)).astype(np.float32)
    tags = (x @ rng.standard_normal((6, 5)) > 0.3).astype(np.float32)
    value = (x[:, 0] * 2 - x[:, 1] ** 2 + rng.standard_t(2, 300) * 0.3).astype(np.float32)
    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(tags), torch.from_numpy(value)),
                        batch_size=50)
    model = TwoHeads()
    model.load_state_dict({k: torch.from_numpy(rng.uniform(-0.4, 0.4, tuple(v.shape)).astype(np.float32))
                           for k, v in model.state_dict().items()})
    tag_loss = nn.MultiLabelSoftMarginLoss(weight=torch.tensor([1.0, 2.0, 1.0, 0.5, 1.0]))
    huber = nn.HuberLoss(delta=0.5)
    smooth = nn.SmoothL1Loss(beta=0.5)
    optimizer = torch.optim.Adagrad(model.parameters(), lr=0.05)
    history = []
    for _epoch in range(15):
        total = 0.0
        for xb, tb, vb in loader:
            optimizer.zero_grad()
            logits, pred = model(xb)
            loss = tag_loss(logits, tb) + huber(pred, vb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
        history.append(total / len(loader.dataset))
    model.eval()
    with torch.no_grad():
        logits, pred = model(torch.from_numpy(x))
        tag_accuracy = ((logits > 0).float() == torch.from_numpy(tags)).float().mean().item()
        smooth_value = smooth(pred, torch.from_numpy(value)).item()
        huber_none = nn.HuberLoss(reduction="none", delta=0.5)(pred[:4], torch.from_numpy(value[:4])).tolist()
    return {"history": history, "tag_accuracy": tag_accuracy, "smooth_l1": smooth_value, "huber_none": huber_none,
            "repr": repr(model.value)}


if __name__ == "__main__":
    print(main())
