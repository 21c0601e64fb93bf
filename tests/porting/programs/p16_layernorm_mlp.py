"""A residual MLP block with LayerNorm, GELU and Dropout, trained with AdamW and gradient clipping."""

import numpy as np
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim), nn.Dropout(0.0))

    def forward(self, x):
        return x + self.ff(self.norm(x))


def main():
    rng = np.random.default_rng(16)
    model = nn.Sequential(nn.Linear(6, 16), Block(16), Block(16), nn.LayerNorm(16), nn.Linear(16, 1))
    model.load_state_dict({k: (torch.from_numpy(rng.uniform(-0.3, 0.3, tuple(v.shape)).astype(np.float32))
                               if v.dim() == 2 else torch.zeros(v.shape) if k.endswith("bias") else v)
                           for k, v in model.state_dict().items()})
    x = torch.from_numpy(rng.standard_normal((128, 6)).astype(np.float32))
    y = torch.sin(x[:, :1]) + x[:, 1:2] * x[:, 2:3]
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    losses = []
    for step in range(100):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        if step % 20 == 19:
            losses.append(loss.item())
    return {"losses": losses}


if __name__ == "__main__":
    print(main())
