"""fastnn.onnx.export: every supported layer, checked by onnx.checker (full check) and run by
onnx's ReferenceEvaluator (and onnxruntime where installed) against fastnn's own forward."""

from __future__ import annotations

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export needs the onnx package (pip install 'fastnn[interop]')")

from onnx.reference import ReferenceEvaluator  # noqa: E402

import fastnn  # noqa: E402
import fastnn.onnx as fonnx  # noqa: E402
from fastnn import nn  # noqa: E402

try:
    import onnxruntime
except ImportError:  # pragma: no cover - CI installs it with the interop extra
    onnxruntime = None

RNG = np.random.default_rng(0)


def floats(*shape, dtype=np.float32):
    return (RNG.normal(size=shape) * 2).astype(dtype)


def ids(*shape, high=10, pad_share=0.0):
    out = RNG.integers(1, high, size=shape).astype(np.int64)
    if pad_share:
        out[RNG.random(shape) < pad_share] = 0
    return out


def expected(model, inputs):
    model.eval()
    with fastnn.no_grad():
        return fonnx.run_reference(model, *[fastnn.from_numpy(a) for a in inputs]).numpy()


def run_everywhere(model, example, batch_inputs, tmp_path, opset=18, atol=1e-5):
    """Export with `example`, then compare on `batch_inputs` (another batch size when dynamic)."""
    path = tmp_path / "model.onnx"
    proto = fonnx.export(model, example, path, opset=opset)
    loaded = onnx.load(str(path))
    onnx.checker.check_model(loaded, full_check=True)
    assert loaded.opset_import[0].version == opset
    names = [i.name for i in loaded.graph.input]
    feeds = dict(zip(names, batch_inputs))
    want = expected(model, batch_inputs)
    got = ReferenceEvaluator(proto).run(None, feeds)[0]
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=atol)
    if onnxruntime is not None:
        try:
            session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # an onnxruntime build without this opset
            pytest.skip(f"onnxruntime {onnxruntime.__version__} cannot load opset {opset}: {exc}")
        np.testing.assert_allclose(session.run(None, feeds)[0], want, rtol=1e-5, atol=atol)
    return proto


ACTIVATIONS = [nn.ReLU(), nn.Sigmoid(), nn.Tanh(), nn.LeakyReLU(0.2), nn.GELU(), nn.GELU(approximate="tanh"),
               nn.Hardtanh(-0.5, 1.5), nn.Softmax(dim=1), nn.LogSoftmax(dim=-1), nn.Identity(), nn.Dropout(0.3)]


@pytest.mark.parametrize("opset", [18, 20])
@pytest.mark.parametrize("layer", ACTIVATIONS, ids=lambda m: repr(m))
def test_activation_layers(layer, opset, tmp_path):
    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), layer, nn.Linear(5, 3))
    proto = run_everywhere(model, (floats(4, 6),), (floats(7, 6),), tmp_path, opset)
    ops = {n.op_type for n in proto.graph.node}
    assert "Gemm" in ops
    if isinstance(layer, nn.GELU):
        assert ("Gelu" in ops) == (opset >= 20)
        assert ("Erf" in ops) == (opset < 20 and layer.approximate == "none")
    if isinstance(layer, (nn.Dropout, nn.Identity)):
        assert ops == {"Gemm", "Identity"}  # removed; the one Identity names the output
    if isinstance(layer, nn.Hardtanh):
        assert "Clip" in ops


def test_gemm_has_trans_b_and_pytorch_layout(tmp_path):
    model = nn.Linear(4, 3)
    proto = run_everywhere(model, (floats(2, 4),), (floats(5, 4),), tmp_path)
    gemm = next(n for n in proto.graph.node if n.op_type == "Gemm")
    assert {a.name: a.i for a in gemm.attribute} == {"transB": 1}
    weight = next(i for i in proto.graph.initializer if i.name == gemm.input[1])
    assert tuple(weight.dims) == (3, 4)


def test_linear_without_bias_and_on_3d_input(tmp_path):
    run_everywhere(nn.Linear(4, 3, bias=False), (floats(2, 4),), (floats(3, 4),), tmp_path)
    run_everywhere(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), (floats(2, 5, 4),), (floats(3, 5, 4),), tmp_path)


def test_float64_model(tmp_path):
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh()).double()
    run_everywhere(model, (floats(2, 4, dtype=np.float64),), (floats(6, 4, dtype=np.float64),), tmp_path)


def test_residual_is_add(tmp_path):
    model = nn.Sequential(nn.Linear(4, 8), nn.Residual(nn.Sequential(nn.Linear(8, 8), nn.GELU())), nn.Linear(8, 2))
    proto = run_everywhere(model, (floats(3, 4),), (floats(5, 4),), tmp_path)
    assert "Add" in {n.op_type for n in proto.graph.node}


@pytest.mark.parametrize("start,end", [(1, -1), (2, 3), (0, 1), (1, 2)])
def test_flatten(start, end, tmp_path):
    model = nn.Flatten(start, end)
    run_everywhere(model, (floats(2, 3, 4, 5),), (floats(6, 3, 4, 5),), tmp_path)


def test_embedding_is_gather(tmp_path):
    model = nn.Sequential(nn.Embedding(10, 4, padding_idx=0), nn.Flatten(), nn.Linear(12, 2))
    proto = run_everywhere(model, (ids(2, 3),), (ids(5, 3),), tmp_path)
    assert proto.graph.node[0].op_type == "Gather"


@pytest.mark.parametrize("mode", ["mean", "sum"])
@pytest.mark.parametrize("padding_idx", [None, 0])
def test_embedding_bag_padded_matrix(mode, padding_idx, tmp_path):
    bag = nn.EmbeddingBag(10, 4, mode=mode, padding_idx=padding_idx)
    batch = ids(6, 5, pad_share=0.4)
    batch[0] = 0  # an empty bag (every id is padding) gives zeros
    run_everywhere(nn.Sequential(bag, nn.Linear(4, 2)), (ids(2, 5),), (batch,), tmp_path)


@pytest.mark.parametrize("mode", ["mean", "sum"])
@pytest.mark.parametrize("padding_idx", [None, 0])
def test_embedding_bag_with_offsets(mode, padding_idx, tmp_path):
    bag = nn.EmbeddingBag(10, 4, mode=mode, padding_idx=padding_idx)
    flat = ids(11, pad_share=0.3)
    offsets = np.array([0, 3, 3, 7, 10], dtype=np.int64)  # bag 1 is empty
    run_everywhere(nn.Sequential(bag, nn.ReLU()), (ids(4), np.array([0, 2], dtype=np.int64)), (flat, offsets),
                   tmp_path)


def test_sentiment_dan_shape(tmp_path):
    """examples/sentiment_dan.py's DAN: EmbeddingBag(mean, padding) -> [Dropout, Linear, ReLU] x 2 ->
    Dropout -> Linear(2), exported with ids + offsets as the example feeds it, and as a padded matrix."""
    vectors = floats(50, 16)
    embedding = nn.EmbeddingBag.from_pretrained(vectors, mode="mean", padding_idx=0)
    classifier = nn.Sequential(nn.Dropout(0.3), nn.Linear(16, 12), nn.ReLU(), nn.Dropout(0.3), nn.Linear(12, 12),
                               nn.ReLU(), nn.Dropout(0.3), nn.Linear(12, 2))
    model = nn.Sequential(embedding, classifier)
    flat = ids(20, high=50, pad_share=0.1)
    run_everywhere(model, (ids(5, high=50), np.array([0, 2], dtype=np.int64)),
                   (flat, np.array([0, 4, 9, 15], dtype=np.int64)), tmp_path)
    run_everywhere(model, (ids(2, 7, high=50),), (ids(9, 7, high=50, pad_share=0.3),), tmp_path)


def test_ner_window_shape(tmp_path):
    """examples/ner_window.py's tagger on one table: Embedding of the 5-token window -> Flatten ->
    Dropout -> Linear -> Tanh -> Dropout -> Linear(tags)."""
    model = nn.Sequential(nn.Embedding(100, 8, padding_idx=0), nn.Flatten(), nn.Dropout(0.2), nn.Linear(40, 16),
                          nn.Tanh(), nn.Dropout(0.2), nn.Linear(16, 9))
    run_everywhere(model, (ids(3, 5, high=100),), (ids(17, 5, high=100),), tmp_path)


def test_dynamic_batch_off_fixes_the_shape(tmp_path):
    proto = fonnx.export(nn.Linear(3, 2), floats(4, 3), tmp_path / "m.onnx", dynamic_batch=False)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [4, 3]
    proto = fonnx.export(nn.Linear(3, 2), floats(4, 3), tmp_path / "m.onnx")
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_unsupported_module_is_named(tmp_path):
    class Custom(nn.Module):
        def forward(self, x):
            return x

    model = nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.ReLU(), Custom()), nn.Linear(3, 1))
    with pytest.raises(TypeError, match=r"module '1\.1' of type Custom"):
        fonnx.export(model, floats(2, 3), tmp_path / "m.onnx")
    assert not os.path.exists(tmp_path / "m.onnx")


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="opset"):
        fonnx.export(nn.Linear(3, 1), floats(2, 3), tmp_path / "m.onnx", opset=7)
    with pytest.raises(ValueError, match="does not run on example_input"):
        fonnx.export(nn.Linear(3, 1), floats(2, 4), tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="dim is required"):
        fonnx.export(nn.Sequential(nn.Linear(3, 2), nn.Softmax()), floats(2, 3), tmp_path / "m.onnx")
    with pytest.raises(TypeError, match="Tensor or a NumPy array"):
        fonnx.export(nn.Linear(3, 1), [[1.0, 2.0, 3.0]], tmp_path / "m.onnx")
    path = tmp_path / "keep.onnx"
    path.write_bytes(b"old")
    with pytest.raises(TypeError):
        fonnx.export(nn.Sequential(nn.Linear(3, 1), nn.Module()), floats(2, 3), path)
    assert path.read_bytes() == b"old"


def test_export_checkpoint_of_fastnn_train(tmp_path):
    """A .fnn file written by `fastnn train` exports; the ONNX output equals `fastnn predict`'s network."""
    from fastnn.cli import main

    rng = np.random.default_rng(1)
    rows = ["a,b,colour,label"]
    for _ in range(120):
        a, b = rng.normal(size=2)
        rows.append(f"{a:.4f},{b:.4f},{rng.choice(['red', 'blue'])},{'yes' if a + b > 0 else 'no'}")
    csv = tmp_path / "d.csv"
    csv.write_text("\n".join(rows) + "\n")
    model_path = tmp_path / "m.fnn"
    assert main(["train", str(csv), "--target", "label", "--epochs", "2", "--hidden", "8,4",
                 "--out", str(model_path), "--no-progress"]) == 0
    proto = fonnx.export_checkpoint(model_path, tmp_path / "m.onnx")
    saved = fastnn.load(model_path)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert '"target": "label"' in meta["fastnn.preprocessor"]
    x = floats(5, int(saved["n_in"]))
    layers = [nn.Linear(int(saved["n_in"]), 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2)]
    net = nn.Sequential(*layers)
    net.load_state_dict(saved["model"])
    got = ReferenceEvaluator(proto).run(None, {"input": x})[0]
    np.testing.assert_allclose(got, expected(net, (x,)), rtol=1e-5, atol=1e-5)
    (tmp_path / "other.fnn").write_bytes(b"junk")
    with pytest.raises(ValueError):
        fonnx.export_checkpoint(tmp_path / "other.fnn", tmp_path / "o.onnx")
