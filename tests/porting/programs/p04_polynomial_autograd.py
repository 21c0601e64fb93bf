"""Learning PyTorch with examples, "PyTorch: Tensors and autograd", with both manual update idioms:
``with torch.no_grad(): w -= lr * w.grad`` and the older ``w.data -= lr * w.grad.data``."""

import numpy as np
import torch


def main():
    dtype = torch.float
    x = torch.linspace(-2, 2, 500, dtype=dtype)
    y = torch.exp(x) - 1

    rng = np.random.default_rng(2)
    start = rng.standard_normal(4) * 0.1
    a, b, c, d = (torch.tensor(float(v), dtype=dtype, requires_grad=True) for v in start)

    learning_rate = 1e-4
    losses = []
    for t in range(600):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum()
        if t % 50 == 49:
            losses.append(loss.item())
        loss.backward()
        if t < 300:
            with torch.no_grad():
                a -= learning_rate * a.grad
                b -= learning_rate * b.grad
                c -= learning_rate * c.grad
                d -= learning_rate * d.grad
                a.grad = None
                b.grad = None
                c.grad = None
                d.grad = None
        else:
            for w in (a, b, c, d):
                w.data -= learning_rate * w.grad.data
                w.grad.data.zero_()

    return {"losses": losses, "coefficients": [a.item(), b.item(), c.item(), d.item()],
            "leaf": a.is_leaf, "requires_grad": a.requires_grad}


if __name__ == "__main__":
    print(main())
