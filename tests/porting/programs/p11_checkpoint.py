"""Saving and loading a general checkpoint (model and optimizer state_dicts, epoch and loss in one
dict) to resume training, compared with a run that was never interrupted."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def make_model(seed):
    net = Net()
    rng = np.random.default_rng(seed)
    net.load_state_dict({k: torch.from_numpy(rng.uniform(-0.4, 0.4, tuple(v.shape)).astype(np.float32))
                         for k, v in net.state_dict().items()})
    return net


def train_epochs(net, optimizer, x, y, epochs):
    loss = None
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        optimizer.step()
    return loss


def main():
    rng = np.random.default_rng(11)
    x = torch.from_numpy(rng.standard_normal((64, 8)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 3, 64))

    reference = make_model(0)
    reference_opt = optim.Adam(reference.parameters(), lr=0.01)
    train_epochs(reference, reference_opt, x, y, 20)

    net = make_model(0)
    optimizer = optim.Adam(net.parameters(), lr=0.01)
    loss = train_epochs(net, optimizer, x, y, 10)
    EPOCH = 10
    PATH = "model.pt"
    torch.save({
        "epoch": EPOCH,
        "model_state_dict": net.state_dict(),
        "optimizer_state_dict": optimizer.state_dict(),
        "loss": loss,
    }, PATH)

    model = make_model(1)
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    checkpoint = torch.load(PATH, weights_only=True)
    model.load_state_dict(checkpoint["model_state_dict"])
    optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
    epoch = checkpoint["epoch"]
    loss = checkpoint["loss"]
    model.train()
    train_epochs(model, optimizer, x, y, 20 - epoch)

    same = all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), reference.state_dict().values()))
    model.eval()
    with torch.no_grad():
        final = F.cross_entropy(model(x), y).item()
    return {"epoch": epoch, "saved_loss": float(loss), "resumed_equals_uninterrupted": same, "final_loss": final,
            "optimizer_step": int(optimizer.state_dict()["state"][0]["step"])}


if __name__ == "__main__":
    print(main())
