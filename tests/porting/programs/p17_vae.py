"""pytorch/examples' variational auto-encoder: reparameterisation with randn_like, a BCE + KL loss,
Adam, and decoding samples drawn from the prior (synthetic binary images here)."""

import numpy as np
import torch
from torch import nn, optim
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def main():
    torch.manual_seed(1)
    rng = np.random.default_rng(17)
    prototypes = rng.uniform(size=(5, 784)) > 0.5
    images = (prototypes[rng.integers(0, 5, 512)] ^ (rng.uniform(size=(512, 784)) < 0.05)).astype(np.float32)
    train_loader = DataLoader(TensorDataset(torch.from_numpy(images), torch.zeros(512)), batch_size=128,
                              shuffle=True)
    model = VAE()
    model.load_state_dict({k: torch.from_numpy(rng.uniform(-0.05, 0.05, tuple(v.shape)).astype(np.float32))
                           for k, v in model.state_dict().items()})
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    history = []
    for epoch in range(1, 4):
        model.train()
        train_loss = 0
        for _batch_idx, (data, _) in enumerate(train_loader):
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = loss_function(recon_batch, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
        print(f"====> Epoch: {epoch} Average loss: {train_loss / len(train_loader.dataset):.4f}")
        history.append(train_loss / len(train_loader.dataset))
    with torch.no_grad():
        sample = torch.randn(64, 20)
        sample = model.decode(sample).cpu()
    return {"history": history, "sample_shape": list(sample.view(64, 1, 28, 28).shape),
            "sample_in_unit_interval": sample.min().item() >= 0 and sample.max().item() <= 1}


if __name__ == "__main__":
    print(main())
