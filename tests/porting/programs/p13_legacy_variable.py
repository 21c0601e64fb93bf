"""Pre-0.4 PyTorch code, still everywhere in blog posts and course material: Variable,
torch.FloatTensor / torch.LongTensor constructors, torch.Tensor(list), .data updates."""

import numpy as np
import torch
import torch.nn as nn
from torch.autograd import Variable


def main():
    rng = np.random.default_rng(13)
    x = Variable(torch.FloatTensor(rng.standard_normal((20, 3)).tolist()))
    y = Variable(torch.LongTensor((rng.standard_normal(20) > 0).astype(int).tolist()), requires_grad=False)
    w = Variable(torch.Tensor(rng.uniform(-0.1, 0.1, (3, 2)).tolist()), requires_grad=True)
    b = Variable(torch.zeros(2), requires_grad=True)
    loss_fn = nn.CrossEntropyLoss()
    learning_rate = 0.5
    losses = []
    for _ in range(30):
        out = x.mm(w) + b
        loss = loss_fn(out, y)
        losses.append(loss.data.item())
        loss.backward()
        w.data.add_(-learning_rate * w.grad.data)
        b.data.add_(-learning_rate * b.grad.data)
        w.grad.data.zero_()
        b.grad.data.zero_()
    return {"losses": losses, "w": w.data.tolist(), "long": y.dtype == torch.long,
            "tensor_of_ints_is_float": torch.Tensor([1, 2]).dtype == torch.float32}


if __name__ == "__main__":
    print(main())
