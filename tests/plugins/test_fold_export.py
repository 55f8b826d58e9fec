"""burstlib.nn: 004's multi-branch net, its exact folding to the graph IR and the TFLite export.

Every comparison is against the PyTorch model in eval mode (BatchNorm with non-trivial running
statistics), on odd-sized images, borders included, at 1e-4 float32 max abs.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from burstlib.nn.fold import (FoldStrategy, crd_to_dcr, fold_model,  # noqa: E402
                              fold_plan, unfolded_graph)
from burstlib.nn.graph import (Graph, Node, depth_to_space, load_graph,  # noqa: E402
                               run_graph, save_graph, space_to_depth)
from burstlib.nn.net import BRANCH_KINDS, NetConfig, RepNet, reference_weights  # noqa: E402

TOL = 1e-4
SIZE = (17, 23)  # odd, non-square: borders and odd sizes
ALL = ("conv3", "conv1-conv3", "conv5", "sobelx", "sobely", "laplacian", "identity")


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one thread is ~100x faster than two fighting for a loaded 2-core CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_net(seed: int = 0, **overrides) -> RepNet:
    """A tiny net (C=8, P=2) with every parameter and BN statistic randomised, so that no
    fold rule can pass by accident (BN identity-like, edge scales near zero, alpha shared)."""
    torch.manual_seed(seed)
    config = dict(in_channels=1, out_channels=1, features=8, num_modules=2, scale=2,
                  head="up", branches=ALL)
    config.update(overrides)
    net = RepNet(NetConfig(**config))
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith(".scale"):  # edge filters: ECBSR starts them at 1e-3
                p.normal_(0.0, 0.3)
            elif "act" in name:
                p.uniform_(-0.5, 0.5)
            elif name == "input_scale":
                p.uniform_(0.5, 2.0)
            elif p.dim() == 1:  # conv, edge and BN biases
                p.normal_(0.0, 0.2)
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.data.uniform_(0.5, 1.5)
                m.running_mean.normal_(0.0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return net.eval()


def image(channels: int, size: tuple[int, int] = SIZE, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).random((*size, channels), dtype=np.float32)


def torch_run(net: RepNet, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        y = net(torch.from_numpy(x).permute(2, 0, 1)[None])
    return y[0].permute(1, 2, 0).numpy()


def error(graph: Graph, net: RepNet, x: np.ndarray) -> float:
    ref = torch_run(net, x)
    out = run_graph(graph, x)
    assert out.shape == ref.shape
    assert np.abs(ref).max() > 0.05  # a non-trivial output, so the comparison means something
    return float(np.abs(out - ref).max())


def assert_folds(net: RepNet, strategy="all", size=SIZE) -> Graph:
    x = image(net.config.in_channels, size)
    folded = fold_model(net, strategy)
    assert error(folded, net, x) < TOL
    assert error(unfolded_graph(net), net, x) < TOL
    return folded


# --- folding, option by option ----------------------------------------------------------------

@pytest.mark.parametrize("bn", [False, True], ids=["plain", "bn"])
@pytest.mark.parametrize("kind", BRANCH_KINDS)
def test_each_branch_kind_folds_exactly(kind, bn):
    # With conv3 beside it the module has N = 2 and the kind's kernel is padded into the sum.
    net = make_net(branches=(kind, "conv3"), with_bn=bn)
    folded = assert_folds(net)
    assert folded.count("conv") == 2 + 2  # one conv per module, plus first and last


@pytest.mark.parametrize("bn", [False, True], ids=["plain", "bn"])
@pytest.mark.parametrize("strategy", [
    FoldStrategy("all"), FoldStrategy("all", q=2), FoldStrategy("all", q=3),
    FoldStrategy("all", group="by_kernel_scale"),
    FoldStrategy("random", seed=3), FoldStrategy("random", m=4, q=2, seed=5),
    FoldStrategy("by_kernel_scale"), FoldStrategy("by_kernel_scale", q=2),
    FoldStrategy("by_kernel_scale", scale=5),
    FoldStrategy("by_count"), FoldStrategy("by_count", q=2), FoldStrategy("by_count", count=1),
], ids=lambda s: "-".join(f"{f.name}={getattr(s, f.name)}" for f in dataclasses.fields(s)
                          if getattr(s, f.name) != f.default or f.name == "select"))
def test_each_strategy_folds_exactly(strategy, bn):
    assert_folds(make_net(with_bn=bn), strategy)


def test_per_module_strategies_and_branch_sets():
    net = make_net(num_modules=3, with_bn=True, expand=2,
                   branches=(ALL, ("conv1", "conv1-conv5", "identity"), ("conv3", "sobelx")))
    strategies = [FoldStrategy("by_count", q=2), "random", FoldStrategy("all")]
    folded = assert_folds(net, strategies)
    assert folded.count("conv") < unfolded_graph(net).count("conv")


@pytest.mark.parametrize("head,scale", [("up", 2), ("up", 3), ("up", 4), ("down", 2),
                                        ("down", 3), ("none", 1)])
@pytest.mark.parametrize("out_channels", [1, 3])
def test_heads_fold_exactly(head, scale, out_channels):
    size = (18, 24) if head == "down" else SIZE  # space-to-depth needs multiples of the scale
    net = make_net(head=head, scale=scale, out_channels=out_channels, with_bn=True)
    folded = assert_folds(net, FoldStrategy("all", q=2), size)
    assert folded.count("depth_to_space") == (head == "up")
    assert folded.count("space_to_depth") == (head == "down")


@pytest.mark.parametrize("in_channels,out_channels,learn", [
    (1, 1, False), (3, 3, False), (8, 1, False), (8, 3, True), (3, 1, True)])
def test_input_channels_and_reference_weighting_fold_exactly(in_channels, out_channels, learn):
    weights = reference_weights(in_channels, reference=3.0) if in_channels > 1 else None
    net = make_net(in_channels=in_channels, out_channels=out_channels, input_scale=weights,
                   learn_input_scale=learn)
    folded = assert_folds(net)
    assert folded.count("mul_const") == 0  # folded into the first conv ...
    assert unfolded_graph(net).count("mul_const") == (weights is not None or learn)  # ... not here


def test_reference_weights():
    assert reference_weights(3, channels_per_frame=2, reference=2.5) == (2.5, 2.5, 1, 1, 1, 1)


@pytest.mark.parametrize("skip_after", [0, 1, None])
def test_feature_connection_position(skip_after):
    net = make_net(skip_after=skip_after)
    folded = assert_folds(net)
    assert folded.count("add") == (skip_after != 0)
    if skip_after is not None:  # the connection changes the output: the option is not a no-op
        other = make_net(skip_after=2 if skip_after == 0 else 0)
        x = image(1)
        assert np.abs(torch_run(net, x) - torch_run(other, x)).max() > 1e-3


def test_folds_after_training_with_batch_statistics():
    net = make_net(with_bn=True, out_channels=3, in_channels=3, scale=2)
    means = [m.running_mean.clone() for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    net.train()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    rng = torch.Generator().manual_seed(0)
    for _ in range(3):
        x = torch.rand(4, 3, 16, 16, generator=rng)
        loss = torch.nn.functional.l1_loss(net(x), torch.rand(4, 3, 32, 32, generator=rng))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    net.eval()
    moved = [m.running_mean for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(not torch.equal(a, b) for a, b in zip(means, moved))
    assert_folds(net, FoldStrategy("by_kernel_scale", q=2))


# --- the tests can fail ---------------------------------------------------------------------

def test_a_wrong_folded_weight_is_detected():
    net = make_net(with_bn=True)
    folded = fold_model(net)
    x = image(1)
    assert error(folded, net, x) < TOL
    conv = [n for n in folded.nodes if n.op == "conv"][1]
    conv.params["weight"][0, 0, 0, 0] += 1e-2  # one tap of one corner of one module
    assert error(folded, net, x) > TOL


def test_1x1_bias_is_exact_at_the_border():
    # A 1x1 -> 3x3 branch with a large 1x1 bias: zero-padding the 1x1 output (instead of
    # padding with its bias) is right inside the image and wrong on the one-pixel border.
    net = make_net(branches=("conv1-conv3",), num_modules=1, head="none", scale=1)
    stage1, stage2 = net.body[0].branches[0].stages
    with torch.no_grad():
        stage1.conv.bias.fill_(5.0)
    x = image(1)
    ref = torch_run(net, x)
    good = unfolded_graph(net)
    assert np.abs(run_graph(good, x) - ref).max() < TOL
    assert np.abs(run_graph(fold_model(net), x) - ref).max() < TOL
    # The naive export: the 1x1 keeps its bias, the 3x3 keeps its own.
    naive = load_graph_copy(good)
    one, three = [n for n in naive.nodes if n.op == "conv"][1:3]
    b0 = stage1.conv.bias.detach().double().numpy()
    one.params["bias"] = b0.astype(np.float32)
    three.params["bias"] = (three.params["bias"] - np.einsum("ohwi,i->o", three.params["weight"],
                                                             b0)).astype(np.float32)
    diff = np.abs(run_graph(naive, x) - ref)
    # The error sits on the module's one-pixel border; the last conv spreads it one further.
    assert diff[5:-5, 5:-5].max() < TOL
    assert diff.max() > 0.1


def load_graph_copy(graph: Graph) -> Graph:
    return Graph([Node(n.op, n.name, n.inputs, {k: v.copy() for k, v in n.params.items()},
                       dict(n.attrs)) for n in graph.nodes])


# --- pixel shuffle orders ---------------------------------------------------------------------

@pytest.mark.parametrize("channels,block", [(1, 2), (3, 2), (3, 3), (3, 4), (8, 2)])
def test_crd_to_dcr_matches_pixel_shuffle(channels, block):
    x = np.random.default_rng(0).random((5, 7, channels * block * block), dtype=np.float32)
    perm = crd_to_dcr(channels, block)
    shuffled = torch.nn.functional.pixel_shuffle(torch.from_numpy(x).permute(2, 0, 1)[None],
                                                 block)[0].permute(1, 2, 0).numpy()
    assert np.array_equal(depth_to_space(x[..., perm], block), shuffled)
    if channels > 1:  # the orders really differ: the permutation is needed
        assert not np.array_equal(depth_to_space(x, block), shuffled)
    y = np.random.default_rng(1).random((5 * block, 7 * block, channels), dtype=np.float32)
    unshuffled = torch.nn.functional.pixel_unshuffle(
        torch.from_numpy(y).permute(2, 0, 1)[None], block)[0].permute(1, 2, 0).numpy()
    assert np.array_equal(space_to_depth(y, block), unshuffled[..., perm])
    assert np.array_equal(depth_to_space(space_to_depth(y, block), block), y)


# --- the SESR-style training mode -------------------------------------------------------------

def test_fused_mode_gives_the_branch_output_in_eval():
    net = make_net(with_bn=True, out_channels=3)
    x = image(1)
    ref = torch_run(net, x)
    assert np.abs(torch_run(net.set_mode("fused"), x) - ref).max() < TOL


def test_fused_mode_trains_like_the_branches():
    nets = [make_net(seed=4, out_channels=3).train().set_mode(m) for m in ("branches", "fused")]
    x = torch.rand(2, 1, 17, 23, generator=torch.Generator().manual_seed(0))
    grads = []
    for net in nets:
        out = net(x)
        out.square().mean().backward()
        grads.append({k: p.grad.clone() for k, p in net.named_parameters()})
        grads[-1]["out"] = out.detach()
    assert grads[0].keys() == grads[1].keys()
    for key in grads[0]:
        scale = max(float(grads[0][key].abs().max()), 1e-6)
        assert float((grads[0][key] - grads[1][key]).abs().max()) < 1e-4 * scale + 1e-6, key


def test_fused_mode_refuses_batch_statistics():
    net = make_net(with_bn=True).train().set_mode("fused")
    with pytest.raises(RuntimeError, match="running statistics"):
        net(torch.rand(1, 1, 8, 8))


# --- plans ------------------------------------------------------------------------------------

def test_fold_plans_follow_the_rules():
    net = make_net()  # ALL = conv3, conv1-conv3, conv5, sobelx, sobely, laplacian, identity
    assert fold_plan(net, "all") == [[list(range(7))]] * 2
    assert fold_plan(net, FoldStrategy("by_kernel_scale")) == [[[0, 1, 3, 4, 5]]] * 2
    assert fold_plan(net, FoldStrategy("by_kernel_scale", scale=5)) == [[[2]]] * 2
    assert fold_plan(net, FoldStrategy("by_count")) == [[[1, 3, 4, 5]]] * 2  # most kernels: 2
    assert fold_plan(net, FoldStrategy("by_count", count=1)) == [[[0, 2]]] * 2
    assert fold_plan(net, FoldStrategy("all", group="by_kernel_scale")) == \
        [[[6], [0, 1, 3, 4, 5], [2]]] * 2
    assert fold_plan(net, FoldStrategy("all", q=3))[0] == [[0, 1, 2], [3, 4], [5, 6]]
    random = fold_plan(net, FoldStrategy("random", m=3, seed=7))
    assert random == fold_plan(net, FoldStrategy("random", m=3, seed=7))  # reproducible
    assert all(len(groups) == 1 and len(groups[0]) == 3 for groups in random)
    assert fold_plan(net, ["all", FoldStrategy("by_count", count=9)]) == [[list(range(7))], []]
    with pytest.raises(ValueError):
        fold_plan(net, FoldStrategy("random", m=2, q=3))
    with pytest.raises(ValueError):
        fold_plan(net, ["all"])
    with pytest.raises(ValueError):
        FoldStrategy("all", q=2, group="by_kernel_scale")


def test_q_branches_stay_parallel():
    net = make_net(num_modules=1, skip_after=0)
    for q in (1, 2, 3):
        folded = fold_model(net, FoldStrategy("all", q=q))
        assert folded.count("conv") == 2 + q and folded.count("add") == q - 1
    assert fold_model(net, FoldStrategy("by_count", count=9)).count("conv") == \
        unfolded_graph(net).count("conv")  # nothing selected: the module as trained


# --- the graph IR -----------------------------------------------------------------------------

def test_graph_npz_roundtrip(tmp_path):
    net = make_net(head="down", in_channels=3, input_scale=(2.0, 1.0, 1.0))
    for graph in (fold_model(net, FoldStrategy("all", q=2)), unfolded_graph(net)):
        path = save_graph(graph, tmp_path / "net.weights")
        assert path.exists()  # the name is kept as given
        loaded = load_graph(path)
        assert [(n.op, n.name, n.inputs, n.attrs) for n in loaded.nodes] == \
            [(n.op, n.name, n.inputs, n.attrs) for n in graph.nodes]
        x = image(3, (18, 24))
        assert np.array_equal(run_graph(loaded, x), run_graph(graph, x))


def test_graph_validation_names_the_node():
    graph = unfolded_graph(make_net())
    graph.nodes[1].params["bias"] = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match=graph.nodes[1].name):
        graph.validate()
    with pytest.raises(ValueError, match="multiple"):
        fold_model(make_net(head="down")).shapes(17, 23)


def test_package_imports_without_torch():
    code = ("import sys, burstlib.nn; g = burstlib.nn.Graph; "
            "assert 'torch' not in sys.modules and 'ai_edge_litert' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- TFLite -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tflite():
    pytest.importorskip("ai_edge_litert.interpreter")
    from burstlib.nn import tflite_export
    return tflite_export


@pytest.mark.parametrize("overrides,strategy,sizes", [
    (dict(in_channels=8, out_channels=3, input_scale=reference_weights(8), with_bn=True),
     "all", [SIZE, (9, 12)]),
    (dict(scale=4, with_bn=True), FoldStrategy("by_kernel_scale", q=2), [SIZE, (6, 5)]),
    (dict(head="down", scale=2, in_channels=3, out_channels=3), "all", [(18, 24), (10, 6)]),
    (dict(head="none", scale=1, out_channels=3, learn_input_scale=True, num_modules=3,
          skip_after=1), ["random", "by_count", FoldStrategy("all", q=2)], [SIZE, (8, 31)]),
], ids=["up2-8in-bn", "up4-q2", "down2", "none-mixed"])
def test_tflite_matches_torch_at_two_sizes(tflite, tmp_path, overrides, strategy, sizes):
    net = make_net(**overrides)
    for graph in (fold_model(net, strategy), unfolded_graph(net)):
        path = tflite.save_tflite(graph, tmp_path / "net.tflite")
        for size in sizes:  # one file, dynamic H and W
            x = image(net.config.in_channels, size)
            ref = torch_run(net, x)
            out = tflite.run_tflite(path, x, num_threads=1)
            assert out.shape == ref.shape
            assert np.abs(out - ref).max() < TOL
        batched = tflite.run_tflite(path.read_bytes(), x[None], num_threads=1)
        assert np.abs(batched[0] - ref).max() < TOL


def test_tflite_file_structure(tflite):
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.interpreter import Interpreter
    net = make_net(in_channels=3, out_channels=3, with_bn=True)
    graph = fold_model(net)
    content = tflite.to_tflite(graph)
    assert content[4:8] == b"TFL3"
    details = Interpreter(model_content=content).get_input_details()[0]
    assert list(details["shape"]) == [1, 1, 1, 3]
    assert list(details["shape_signature"]) == [1, -1, -1, 3]
    model = schema.ModelT.InitFromPackedBuf(content, 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    ops = [names[model.operatorCodes[op.opcodeIndex].builtinCode]
           for op in model.subgraphs[0].operators]
    assert sorted(set(ops)) == ["ADD", "CONV_2D", "DEPTH_TO_SPACE", "PRELU"]
    assert ops.count("CONV_2D") == graph.count("conv") == 4
    tensors = model.subgraphs[0].tensors
    for op in model.subgraphs[0].operators:
        if names[model.operatorCodes[op.opcodeIndex].builtinCode] == "CONV_2D":
            assert len(op.inputs) == 3  # always a bias
            assert op.builtinOptions.padding == schema.Padding.SAME
        if names[model.operatorCodes[op.opcodeIndex].builtinCode] == "PRELU":
            assert list(tensors[op.inputs[1]].shape) == [1, 1, 8]
    # A perturbed export is caught by the same comparison.
    last_conv = [n for n in graph.nodes if n.op == "conv"][-1]
    last_conv.params["bias"][0] += 1e-2
    x = image(3)
    assert np.abs(tflite.run_tflite(tflite.to_tflite(graph), x, num_threads=1)
                  - torch_run(net, x)).max() > TOL
