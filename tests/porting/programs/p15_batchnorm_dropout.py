"""An MLP with BatchNorm1d and Dropout: train()/eval() switching, running statistics, a
(N, C, L) BatchNorm1d, state_dict keys, and reloading the trained model."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 32)
        self.bn1 = nn.BatchNorm1d(32)
        self.drop = nn.Dropout(0.2)
        self.fc2 = nn.Linear(32, 3)

    def forward(self, x):
        x = self.drop(F.relu(self.bn1(self.fc1(x))))
        return self.fc2(x)


def main():
    rng = np.random.default_rng(15)
    x = torch.from_numpy(rng.standard_normal((256, 10)).astype(np.float32) * 3 + 1)
    y = torch.from_numpy((rng.standard_normal((256, 10)) @ rng.standard_normal(10) > 0).astype(np.int64)
                         + (x[:, 0].numpy() > 1).astype(np.int64))
    model = MLP()
    start = {k: (torch.from_numpy(rng.uniform(-0.3, 0.3, tuple(v.shape)).astype(np.float32))
                 if k.startswith("fc") else v) for k, v in model.state_dict().items()}
    model.load_state_dict(start)

    # One training forward without dropout randomness in play: the BatchNorm statistics must agree.
    with torch.no_grad():
        model.train()
        model.bn1(model.fc1(x[:64]))
    first_mean = model.bn1.running_mean.tolist()
    first_var = model.bn1.running_var.tolist()
    model.load_state_dict(start)

    # eval() output before training is deterministic (dropout off, running stats used)
    model.eval()
    with torch.no_grad():
        eval_before = model(x[:8]).tolist()

    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _epoch in range(20):
        model.train()
        for i in range(0, 256, 64):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x[i:i + 64]), y[i:i + 64])
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(x).argmax(dim=1) == y).float().mean().item()

    seq_bn = nn.BatchNorm1d(4, momentum=None)
    for step in range(3):
        seq_bn(torch.from_numpy(rng.standard_normal((5, 4, 7)).astype(np.float32) + step))
    return {"first_running_mean": first_mean, "first_running_var": first_var, "eval_before": eval_before,
            "accuracy": accuracy, "batches": model.bn1.num_batches_tracked.item(),
            "keys": list(model.state_dict().keys()), "cumulative_mean": seq_bn.running_mean.tolist(),
            "cumulative_var": seq_bn.running_var.tolist(), "training_flag": model.training}


if __name__ == "__main__":
    print(main())
