"""The device boilerplate of countless scripts: pick "cuda" when available, build torch.device,
move the model and every batch with .to(device), and read tensor.device back."""

import numpy as np
import torch
import torch.nn as nn

device = "cuda" if torch.cuda.is_available() else "cpu"
print(f"Using {device} device")


def main():
    dev = torch.device(device)
    rng = np.random.default_rng(12)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).to(dev)
    model.load_state_dict({k: torch.from_numpy(rng.uniform(-0.5, 0.5, tuple(v.shape)).astype(np.float32))
                           for k, v in model.state_dict().items()})
    x = torch.from_numpy(rng.standard_normal((32, 4)).astype(np.float32)).to(device)
    y = x.sum(dim=1, keepdim=True).to(dev)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(50):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    on_cpu = str(next(model.parameters()).device) == "cpu" and x.device.type == "cpu"
    return {"device": device, "device_type": dev.type, "loss": loss.item(), "on_cpu": on_cpu,
            "cuda_count": torch.cuda.device_count()}


if __name__ == "__main__":
    print(main())
