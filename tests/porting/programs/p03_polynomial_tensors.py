"""Learning PyTorch with examples, "PyTorch: Tensors": fit sin(x) by a third-order polynomial with
hand-written gradients."""

import math

import numpy as np
import torch


def main():
    dtype = torch.float
    device = torch.device("cpu")

    x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
    y = torch.sin(x)

    rng = np.random.default_rng(1)
    a, b, c, d = (torch.tensor(float(v), device=device, dtype=dtype) for v in rng.standard_normal(4))

    learning_rate = 1e-6
    losses = []
    for t in range(2000):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum().item()
        if t % 100 == 99:
            losses.append(loss)

        grad_y_pred = 2.0 * (y_pred - y)
        grad_a = grad_y_pred.sum()
        grad_b = (grad_y_pred * x).sum()
        grad_c = (grad_y_pred * x ** 2).sum()
        grad_d = (grad_y_pred * x ** 3).sum()

        a -= learning_rate * grad_a
        b -= learning_rate * grad_b
        c -= learning_rate * grad_c
        d -= learning_rate * grad_d

    print(f"Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3")
    return {"losses": losses, "coefficients": [a.item(), b.item(), c.item(), d.item()]}


if __name__ == "__main__":
    print(main())
