"""Learning PyTorch with examples, "PyTorch: Custom nn Modules" and "Control Flow + Weight Sharing":
nn.Parameter attributes, a string summary, SGD with momentum, and a network whose depth is drawn
with Python's random module at every forward pass."""

import math
import random

import numpy as np
import torch


class Polynomial3(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.randn(()))
        self.b = torch.nn.Parameter(torch.randn(()))
        self.c = torch.nn.Parameter(torch.randn(()))
        self.d = torch.nn.Parameter(torch.randn(()))

    def forward(self, x):
        return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

    def string(self):
        return f"y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + {self.d.item()} x^3"


class DynamicNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.randn(()))
        self.b = torch.nn.Parameter(torch.randn(()))
        self.c = torch.nn.Parameter(torch.randn(()))
        self.d = torch.nn.Parameter(torch.randn(()))
        self.e = torch.nn.Parameter(torch.randn(()))

    def forward(self, x):
        y = self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3
        for exp in range(4, random.randint(4, 6)):
            y = y + self.e * x ** exp
        return y


def load_numpy_weights(model, seed):
    rng = np.random.default_rng(seed)
    state = {name: torch.tensor(float(rng.standard_normal()) * 0.1) for name, _ in model.named_parameters()}
    model.load_state_dict(state)


def main():
    random.seed(0)
    x = torch.linspace(-math.pi / 2, math.pi / 2, 1000)
    y = torch.tanh(x)

    model = Polynomial3()
    load_numpy_weights(model, 4)
    criterion = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-5)
    poly_losses = []
    for t in range(400):
        y_pred = model(x)
        loss = criterion(y_pred, y)
        if t % 100 == 99:
            poly_losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    dynamic = DynamicNet()
    load_numpy_weights(dynamic, 5)
    optimizer = torch.optim.SGD(dynamic.parameters(), lr=1e-6, momentum=0.9)
    dynamic_losses = []
    for t in range(400):
        y_pred = dynamic(x)
        loss = criterion(y_pred, y)
        if t % 100 == 99:
            dynamic_losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    names = [name for name, _ in dynamic.named_parameters()]
    return {"poly_losses": poly_losses, "poly": [p.item() for p in model.parameters()],
            "dynamic_losses": dynamic_losses, "dynamic": [p.item() for p in dynamic.parameters()],
            "names": names, "summary_starts": model.string()[:4]}


if __name__ == "__main__":
    print(main())
