"""The deblur network (seed 001 fig. 6 in seed 004's form): folding and export are exact,
with and without the noise plane, the blur model is what it says, training moves the weights
the right way."""

from __future__ import annotations

import numpy as np
import pytest

from burstlib.colour import srgb_decode, srgb_encode
from burstlib.synth.shake import (BlurRecipe, blur_pair, disk_kernel, random_kernel,
                                  shake_trajectory, trajectory_kernel)

torch = pytest.importorskip("torch")

from burstlib.nn.deblur_net import DeblurConfig, DeblurNet, fold_deblur  # noqa: E402
from burstlib.nn.graph import run_graph  # noqa: E402


def _random_net(config: DeblurConfig = DeblurConfig(), seed: int = 0) -> DeblurNet:
    torch.manual_seed(seed)
    net = DeblurNet(config)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return net.eval()


@pytest.mark.parametrize("config", [DeblurConfig(), DeblurConfig(channels=1, features=(8, 12),
                                                                 modules=(1, 2)),
                                    DeblurConfig(noise_plane=True),
                                    DeblurConfig(channels=1, features=(8, 12), modules=(1, 2),
                                                 noise_plane=True)])
def test_folding_is_exact(config):
    net = _random_net(config)
    x = torch.rand(1, config.inputs, 36, 44)
    with torch.no_grad():
        expected = net(x)[0].permute(1, 2, 0).numpy()
    assert expected.shape[2] == config.channels  # the noise plane goes in, never out
    graph = fold_deblur(net)
    # every multi-branch module is one conv in the graph; a noise plane adds the 1x1 that
    # picks the image planes for the residual
    assert graph.count("conv") == (4 + sum(config.modules) + config.modules[0]
                                   + int(config.noise_plane))
    assert np.abs(run_graph(graph, x[0].permute(1, 2, 0).numpy()) - expected).max() < 1e-4
    with torch.no_grad():
        assert (net.set_mode("fused")(x)[0].permute(1, 2, 0).numpy() - expected).__abs__().max() < 1e-4


@pytest.mark.parametrize("noise_plane", [False, True])
def test_tflite_export_matches_the_training_network(noise_plane):
    pytest.importorskip("ai_edge_litert.interpreter")
    from burstlib.nn.tflite_export import run_tflite, to_tflite
    net = _random_net(DeblurConfig(noise_plane=noise_plane))
    x = torch.rand(1, 3 + noise_plane, 40, 52)
    with torch.no_grad():
        expected = net(x)[0].permute(1, 2, 0).numpy()
    out = run_tflite(to_tflite(fold_deblur(net)), x[0].permute(1, 2, 0).numpy())
    assert np.abs(out - expected).max() < 1e-4


@pytest.mark.parametrize("noise_plane", [False, True])
def test_an_untrained_network_is_the_identity(noise_plane):
    """Training starts from "leave the frame alone": the residual's last conv is zero (with a
    noise plane: the image planes come out, whatever the plane says)."""
    net = DeblurNet(DeblurConfig(noise_plane=noise_plane)).eval()
    x = torch.rand(1, 3 + noise_plane, 16, 16)
    with torch.no_grad():
        assert torch.equal(net(x), x[:, :3])


def test_the_noise_plane_costs_few_weights():
    """Only the first conv grows (4 more input planes after space_to_depth); the size stays
    within the card's ~100k."""
    plain, sigma = DeblurNet(DeblurConfig()), DeblurNet(DeblurConfig(noise_plane=True))
    count = [sum(p.numel() for p in n.parameters()) for n in (plain, sigma)]
    assert count[1] - count[0] == 4 * 16 * 9
    assert fold_deblur(sigma.eval()).num_params() <= 100_000


def test_trajectory_kernels_are_normalised_and_as_long_as_asked():
    rng = np.random.default_rng(1)
    path = shake_trajectory(rng, 20.0)
    assert np.sum(np.abs(np.diff(path))) == pytest.approx(20.0, rel=1e-6)
    kernel = trajectory_kernel(path)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-5) and kernel.shape[0] % 2 == 1
    short = trajectory_kernel(path, 0.04)
    assert short.shape[0] <= kernel.shape[0]
    assert disk_kernel(2.0).sum() == pytest.approx(1.0, abs=1e-5)
    sharp = random_kernel(rng, BlurRecipe(sharp_share=1.0))
    assert sharp.shape == (1, 1)


def test_a_pair_is_blurred_in_linear_light_and_clipped():
    rng = np.random.default_rng(2)
    image = np.zeros((64, 64, 3), np.float32)
    image[:, 32:] = 1.0
    kernel = np.zeros((5, 5), np.float32)
    kernel[2, :] = 0.2  # a horizontal streak
    pair = blur_pair(image, rng, BlurRecipe(brightness=(1.0, 1.0)), kernel=kernel,
                     noise=(0.0, 0.0))
    assert np.allclose(pair.sharp, image, atol=1e-6)
    # halfway across the edge the LINEAR value is the mean: 0.4 of white -> sRGB 0.665
    assert pair.blurry[32, 31, 0] == pytest.approx(float(srgb_encode(np.float32(0.4))), abs=1e-3)
    assert np.allclose(srgb_decode(srgb_encode(np.float32([0.0, 0.2, 1.0]))), [0.0, 0.2, 1.0],
                       atol=1e-5)
