"""Tensors tutorial: creating tensors, attributes, operations, the NumPy bridge."""

import numpy as np
import torch


def main():
    data = [[1, 2], [3, 4]]
    x_data = torch.tensor(data)
    np_array = np.array(data)
    x_np = torch.from_numpy(np_array)
    x_ones = torch.ones_like(x_data)
    x_float = torch.tensor(np.arange(6, dtype=np.float32).reshape(2, 3)) / 4

    shape = (2, 3)
    ones_tensor = torch.ones(shape)
    zeros_tensor = torch.zeros(shape)

    tensor = torch.from_numpy(np.linspace(-1, 1, 16, dtype=np.float32).reshape(4, 4))
    first_row = tensor[0].tolist()
    first_column = tensor[:, 0].tolist()
    last_column = tensor[..., -1].tolist()
    tensor[:, 1] = 0
    t1 = torch.cat([tensor, tensor, tensor], dim=1)

    y1 = tensor @ tensor.T
    y2 = tensor.matmul(tensor.T)
    z1 = tensor * tensor
    agg = tensor.sum()
    agg_item = agg.item()

    tensor.add_(5)
    n = np.ones(5)
    t = torch.from_numpy(n)
    np.add(n, 1, out=n)  # the change in the NumPy array reflects in the tensor

    stacked = torch.stack([x_float, x_float * 2], dim=0)
    viewed = stacked.view(2, -1).reshape(4, 3).transpose(0, 1)
    means = stacked.mean(dim=(0, 2)).tolist()
    arg = stacked.argmax(dim=2).tolist()
    clamped = torch.clamp(x_float - 0.5, min=0.0, max=0.75)

    return {
        "x_data": x_data.tolist(), "x_np": x_np.tolist(), "x_ones": x_ones.tolist(),
        "int_dtype_is_long": x_data.dtype == torch.long, "float_dtype": x_float.dtype == torch.float32,
        "shape": list(ones_tensor.shape) + list(zeros_tensor.shape),
        "first_row": first_row, "first_column": first_column, "last_column": last_column,
        "t1_shape": list(t1.shape), "y_equal": torch.equal(y1, y2), "y1": y1.tolist(), "z1": z1.tolist(),
        "agg": agg_item, "after_add": tensor.tolist(), "bridge": t.tolist(),
        "viewed": viewed.tolist(), "means": means, "argmax": arg, "clamped": clamped.tolist(),
        "numel": stacked.numel(), "dim": stacked.dim(), "size1": stacked.size(1),
    }


if __name__ == "__main__":
    print(main())
