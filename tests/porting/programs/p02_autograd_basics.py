"""Autograd tutorial: a one-layer network, gradients, no_grad, detach, Jacobian-vector products."""

import numpy as np
import torch
import torch.nn.functional as F


def main():
    rng = np.random.default_rng(0)
    x = torch.ones(5)  # input tensor
    y = torch.zeros(3)  # expected output
    w = torch.tensor(rng.standard_normal((5, 3)).astype(np.float32), requires_grad=True)
    b = torch.tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True)
    z = torch.matmul(x, w) + b
    loss = F.binary_cross_entropy_with_logits(z, y)
    print(f"Gradient function for z = {z.grad_fn}")
    print(f"Gradient function for loss = {loss.grad_fn}")

    loss.backward()
    w_grad, b_grad = w.grad.tolist(), b.grad.tolist()

    z = torch.matmul(x, w) + b
    tracked = z.requires_grad
    with torch.no_grad():
        z = torch.matmul(x, w) + b
    untracked = z.requires_grad
    z_det = (torch.matmul(x, w) + b).detach()

    inp = torch.eye(4, 5, requires_grad=True)
    out = (inp + 1).pow(2).t()
    out.backward(torch.ones_like(out), retain_graph=True)
    first_call = inp.grad.tolist()
    out.backward(torch.ones_like(out))
    second_call = inp.grad.tolist()
    inp.grad.zero_()
    out = (inp + 1).pow(2).t()
    out.backward(torch.ones_like(out))
    after_zero = inp.grad.tolist()

    return {"loss": loss.item(), "w_grad": w_grad, "b_grad": b_grad, "tracked": tracked,
            "untracked": untracked, "detached": z_det.requires_grad, "first_call": first_call,
            "second_call": second_call, "after_zero": after_zero}


if __name__ == "__main__":
    print(main())
