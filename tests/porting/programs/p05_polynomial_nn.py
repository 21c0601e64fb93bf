"""Learning PyTorch with examples, "PyTorch: nn": polynomial features, nn.Sequential with
nn.Flatten, MSELoss(reduction='sum') and a manual parameter update; then "PyTorch: optim"."""

import numpy as np
import torch


def fit(optimizer_name):
    x = torch.linspace(-1.5, 1.5, 400)
    y = torch.tanh(2 * x)
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)

    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
    rng = np.random.default_rng(3)
    model.load_state_dict({"0.weight": torch.from_numpy(rng.uniform(-0.5, 0.5, (1, 3)).astype(np.float32)),
                           "0.bias": torch.from_numpy(rng.uniform(-0.5, 0.5, 1).astype(np.float32))})
    loss_fn = torch.nn.MSELoss(reduction="sum")

    learning_rate = 1e-4
    optimizer = None if optimizer_name == "manual" else torch.optim.RMSprop(model.parameters(), lr=1e-3)
    losses = []
    for t in range(500):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        if t % 100 == 99:
            losses.append(loss.item())
        if optimizer is None:
            model.zero_grad()
            loss.backward()
            with torch.no_grad():
                for param in model.parameters():
                    param -= learning_rate * param.grad
        else:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    linear_layer = model[0]
    return {"losses": losses, "bias": linear_layer.bias.item(),
            "weights": [linear_layer.weight[:, i].item() for i in range(3)]}


def main():
    return {"manual": fit("manual"), "rmsprop": fit("rmsprop")}


if __name__ == "__main__":
    print(main())
