"""Learning-rate schedulers in a training loop: StepLR, ExponentialLR, CosineAnnealingLR (stepped
per epoch, read with get_last_lr) and ReduceLROnPlateau (stepped with the validation loss)."""

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.optim import lr_scheduler


def run(make_scheduler, plateau=False):
    rng = np.random.default_rng(14)
    x = torch.from_numpy(rng.standard_normal((128, 5)).astype(np.float32))
    true_w = torch.from_numpy(rng.standard_normal((5, 1)).astype(np.float32))
    y = x @ true_w + 0.1 * torch.from_numpy(rng.standard_normal((128, 1)).astype(np.float32))
    model = nn.Linear(5, 1)
    model.load_state_dict({"weight": torch.zeros(1, 5), "bias": torch.zeros(1)})
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = make_scheduler(optimizer)
    criterion = nn.MSELoss()
    lrs, losses = [], []
    for _epoch in range(12):
        for i in range(0, 128, 32):
            optimizer.zero_grad()
            loss = criterion(model(x[i:i + 32]), y[i:i + 32])
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            val_loss = criterion(model(x), y).item()
        if plateau:
            scheduler.step(val_loss)
            lrs.append(optimizer.param_groups[0]["lr"])
        else:
            scheduler.step()
            lrs.append(scheduler.get_last_lr()[0])
        losses.append(val_loss)
    return {"lrs": lrs, "losses": losses}


def main():
    return {
        "step": run(lambda opt: lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)),
        "exponential": run(lambda opt: lr_scheduler.ExponentialLR(opt, gamma=0.8)),
        "cosine": run(lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=12, eta_min=0.001)),
        "plateau": run(lambda opt: lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=1),
                       plateau=True),
    }


if __name__ == "__main__":
    print(main())
