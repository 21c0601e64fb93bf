"""Custom Dataset classes combined with ConcatDataset, split with random_split (fractions, a seeded
torch.Generator) and Subset, and a training loop over the DataLoaders; the usual
``len(loader.dataset)`` bookkeeping."""

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Subset, random_split


class Blobs(Dataset):
    def __init__(self, centre, label, n, seed):
        rng = np.random.default_rng(seed)
        self.x = (rng.standard_normal((n, 2)) * 0.7 + centre).astype(np.float32)
        self.label = label

    def __len__(self):
        return len(self.x)

    def __getitem__(self, idx):
        return torch.from_numpy(self.x[idx]), self.label


def main():
    torch.manual_seed(0)
    parts = [Blobs((0, 0), 0, 120, 1), Blobs((2, 2), 1, 100, 2), Blobs((-2, 2), 2, 80, 3)]
    full = ConcatDataset(parts)
    generator = torch.Generator().manual_seed(42)
    train_set, val_set, test_set = random_split(full, [0.7, 0.15, 0.15], generator=generator)
    small = Subset(train_set, list(range(0, len(train_set), 2)))

    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    rng = np.random.default_rng(22)
    model.load_state_dict({k: torch.from_numpy(rng.uniform(-0.5, 0.5, tuple(v.shape)).astype(np.float32))
                           for k, v in model.state_dict().items()})
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    train_loader = DataLoader(train_set, batch_size=16, shuffle=True)
    history = []
    for _epoch in range(10):
        model.train()
        running = 0.0
        for xb, yb in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            running += loss.item() * xb.shape[0]
        history.append(running / len(train_loader.dataset))

    def accuracy(dataset):
        correct = 0
        model.eval()
        with torch.no_grad():
            for xb, yb in DataLoader(dataset, batch_size=32):
                correct += (model(xb).argmax(1) == yb).sum().item()
        return correct / len(dataset)

    first_x, first_y = full[0]
    last_x, last_y = full[-1]
    return {"sizes": [len(full), len(train_set), len(val_set), len(test_set), len(small)],
            "cumulative_sizes": full.cumulative_sizes, "first": [first_x.tolist(), first_y],
            "last": [last_x.tolist(), last_y], "disjoint": len(set(train_set.indices) | set(val_set.indices)
                                                                  | set(test_set.indices)) == len(full),
            "final_loss": history[-1], "val_accuracy": accuracy(val_set), "test_accuracy": accuracy(test_set),
            "train_accuracy": accuracy(small)}


if __name__ == "__main__":
    print(main())
