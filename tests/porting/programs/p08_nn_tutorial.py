""""What is torch.nn really?": logistic regression written from scratch (manual weights, a hand-made
log_softmax and nll, manual updates), then refactored step by step into F.cross_entropy,
nn.Module with nn.Parameter, nn.Linear, optim, TensorDataset and DataLoader, with a validation set."""

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset


def get_synthetic_mnist(rng, prototypes, n):
    labels = rng.integers(0, 10, n)
    x = np.clip(prototypes[labels] + 0.5 * rng.standard_normal((n, 784)), 0, 1).astype(np.float32)
    return x, labels


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(7)
    prototypes = rng.uniform(0, 1, (10, 784)).astype(np.float32)
    x_train, y_train = map(torch.tensor, get_synthetic_mnist(rng, prototypes, 1000))
    x_valid, y_valid = map(torch.tensor, get_synthetic_mnist(rng, prototypes, 200))
    n, c = x_train.shape

    start_weights = rng.standard_normal((784, 10)).astype(np.float32)
    weights = torch.from_numpy(start_weights.copy()) / math.sqrt(784)
    weights.requires_grad_()
    bias = torch.zeros(10, requires_grad=True)

    def log_softmax(x):
        return x - x.exp().sum(-1).log().unsqueeze(-1)

    def model(xb):
        return log_softmax(xb @ weights + bias)

    def nll(input, target):
        return -input[range(target.shape[0]), target].mean()

    loss_func = nll

    def accuracy(out, yb):
        preds = torch.argmax(out, dim=1)
        return (preds == yb).float().mean()

    bs, lr, epochs = 64, 0.1, 2
    for _epoch in range(epochs):
        for i in range((n - 1) // bs + 1):
            start_i = i * bs
            end_i = start_i + bs
            xb = x_train[start_i:end_i]
            yb = y_train[start_i:end_i]
            pred = model(xb)
            loss = loss_func(pred, yb)
            loss.backward()
            with torch.no_grad():
                weights -= weights.grad * lr
                bias -= bias.grad * lr
                weights.grad.zero_()
                bias.grad.zero_()
    scratch = {"loss": loss_func(model(x_train[:bs]), y_train[:bs]).item(),
               "accuracy": accuracy(model(x_train[:bs]), y_train[:bs]).item(),
               "cross_entropy_same": abs(F.cross_entropy(xb @ weights + bias, yb).item()
                                         - loss_func(model(xb), yb).item()) < 1e-5}

    class MnistLogistic(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(784, 10)

        def forward(self, xb):
            return self.lin(xb)

    def get_model():
        model = MnistLogistic()
        with torch.no_grad():
            model.lin.weight.copy_(torch.from_numpy(start_weights.T.copy()) / math.sqrt(784))
            model.lin.bias.zero_()
        return model, optim.SGD(model.parameters(), lr=lr)

    def loss_batch(model, loss_func, xb, yb, opt=None):
        loss = loss_func(model(xb), yb)
        if opt is not None:
            loss.backward()
            opt.step()
            opt.zero_grad()
        return loss.item(), len(xb)

    def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
        history = []
        for epoch in range(epochs):
            model.train()
            for xb, yb in train_dl:
                loss_batch(model, loss_func, xb, yb, opt)
            model.eval()
            with torch.no_grad():
                losses, nums = zip(*[loss_batch(model, loss_func, xb, yb) for xb, yb in valid_dl])
            val_loss = np.sum(np.multiply(losses, nums)) / np.sum(nums)
            print(epoch, val_loss)
            history.append(float(val_loss))
        return history

    def get_data(train_ds, valid_ds, bs, shuffle):
        return (DataLoader(train_ds, batch_size=bs, shuffle=shuffle),
                DataLoader(valid_ds, batch_size=bs * 2))

    train_ds, valid_ds = TensorDataset(x_train, y_train), TensorDataset(x_valid, y_valid)
    model, opt = get_model()
    train_dl, valid_dl = get_data(train_ds, valid_ds, bs, shuffle=False)
    ordered = fit(epochs, model, F.cross_entropy, opt, train_dl, valid_dl)

    model, opt = get_model()
    train_dl, valid_dl = get_data(train_ds, valid_ds, bs, shuffle=True)
    shuffled = fit(epochs, model, F.cross_entropy, opt, train_dl, valid_dl)
    valid_accuracy = accuracy(model(x_valid), y_valid).item()
    return {"scratch": scratch, "ordered": ordered, "shuffled": shuffled, "valid_accuracy": valid_accuracy}


if __name__ == "__main__":
    print(main())
