import itertools
import pytest
import torch
import torch.nn.functional as F

from pytest_scaling.models import (WIDTHS, GroupedCNN, count_params, forward_flops_per_example, init_member,
                                   layer_shapes, max_pool2)


def test_widths_grow_by_sqrt2():
    """From width 2 on; width 1, the family's floor, sits one step (×2) below it."""
    ratios = [b / a for a, b in itertools.pairwise(WIDTHS[1:])]
    assert WIDTHS[:2] == (1, 2) and all(1.3 <= r <= 1.55 for r in ratios)


def test_compute_roughly_doubles_per_width_step_at_large_width():
    large = [w for w in WIDTHS if w >= 16]
    for a, b in itertools.pairwise(large):
        assert 1.8 <= forward_flops_per_example(b) / forward_flops_per_example(a) <= 2.2


def test_flop_counter_matches_hand_count():
    w = 8  # 2·MACs: conv1 784·9·w, conv2 196·9·w·2w, head 98w·10
    assert forward_flops_per_example(w) == 2 * (784 * 9 * w + 196 * 9 * w * 2 * w + 98 * w * 10)


def test_param_count_matches_tensors():
    for w in (2, 11, 32):
        assert count_params(w) == sum(t.numel() for t in init_member(w, 0).values())


@pytest.mark.parametrize("width", [2, 11])  # odd and even widths
def test_grouped_model_equals_each_member_alone(width):
    torch.manual_seed(0)
    k = 3
    members = [init_member(width, seed) for seed in range(k)]
    x = torch.randn(k, 5, 1, 28, 28)
    grouped = GroupedCNN(width, members, torch.zeros(k), torch.device("cpu"))
    together = grouped.forward(x)
    for i, member in enumerate(members):
        alone = GroupedCNN(width, [member], torch.zeros(1), torch.device("cpu")).forward(x[i:i + 1])
        torch.testing.assert_close(together[i], alone[0], rtol=1e-4, atol=1e-5)
        reference = torch.nn.Sequential(  # the member as plain torch.nn layers
            torch.nn.Conv2d(1, width, 3, padding=1), torch.nn.MaxPool2d(2), torch.nn.ReLU(),
            torch.nn.Conv2d(width, 2 * width, 3, padding=1), torch.nn.MaxPool2d(2), torch.nn.ReLU(), torch.nn.Flatten())
        with torch.no_grad():
            for layer, name in ((reference[0], "conv1"), (reference[3], "conv2")):
                layer.weight.copy_(member[f"{name}.weight"])
                layer.bias.copy_(member[f"{name}.bias"])
            expected = reference(x[i]) @ member["head.weight"] + member["head.bias"]
        torch.testing.assert_close(together[i], expected, rtol=1e-4, atol=1e-4)


def test_dropout_is_per_member():
    width = 4
    members = [init_member(width, 0)] * 2
    model = GroupedCNN(width, members, torch.tensor([0.0, 0.5]), torch.device("cpu"))
    x = torch.randn(1, 8, 1, 28, 28).expand(2, -1, -1, -1, -1)
    out = model.forward(x, torch.Generator().manual_seed(0))
    model.training = False
    clean = model.forward(x)
    torch.testing.assert_close(out[0], clean[0])  # p = 0: untouched
    assert not torch.allclose(out[1], clean[1])  # p = 0.5: masked


def test_layer_shapes_have_member_axis_free():
    shapes = layer_shapes(4)
    assert shapes["conv2.weight"] == (8, 4, 3, 3) and shapes["head.weight"] == (8 * 49, 10)


@pytest.mark.parametrize("integer_valued", [False, True])  # integers force ties: the first maximum must win
def test_max_pool2_is_max_pool2d_to_the_bit(integer_valued):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(5, 6, 28, 28, generator=generator)
    if integer_valued:
        x = x.round()
    grad = torch.randn(5, 6, 14, 14, generator=generator)
    ours, reference = x.clone().requires_grad_(), x.clone().requires_grad_()
    out = max_pool2(ours)
    out.backward(grad)
    expected = F.max_pool2d(reference, 2)
    expected.backward(grad)
    assert torch.equal(out, expected) and torch.equal(ours.grad, reference.grad)
    with torch.no_grad():
        assert torch.equal(max_pool2(x), F.max_pool2d(x, 2))
