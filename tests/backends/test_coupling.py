"""Convolutional coupling (neuromod.backends.coupling): synapse lists, the dense
equivalent and the conv2d form against a plain loop over the formula, gradients, and
Brian2 synapses generated from the kernel delivering the same input."""
import numpy as np
import pytest
import torch

from neuromod.backends.coupling import conv_input, dense_matrix, kernel_synapses
from neuromod.errors import ParameterError


def loop_reference(K, s, shape, boundary):
    """The module's formula, term by term: I[co,y,x] = sum K[co,ci,dy,dx] s[ci,y+dy-r,x+dx-r]."""
    c_out, c_in, k, _ = K.shape
    h, w = shape
    r = (k - 1) // 2
    s = s.reshape(c_in, h, w)
    out = np.zeros((c_out, h, w))
    for co in range(c_out):
        for y in range(h):
            for x in range(w):
                for ci in range(c_in):
                    for dy in range(k):
                        for dx in range(k):
                            yy, xx = y + dy - r, x + dx - r
                            if boundary == "circular":
                                yy, xx = yy % h, xx % w
                            elif not (0 <= yy < h and 0 <= xx < w):
                                continue
                            out[co, y, x] += K[co, ci, dy, dx] * s[ci, yy, xx]
    return out.ravel()


CASES = [  # (c_out, c_in, k, (h, w), boundary)
    (1, 1, 3, (5, 7), "zero"), (1, 1, 3, (5, 7), "circular"), (2, 3, 5, (6, 5), "zero"),
    (2, 3, 5, (6, 5), "circular"), (1, 2, 3, (3, 3), "circular"), (3, 1, 1, (4, 2), "zero"),
]


@pytest.mark.parametrize("c_out,c_in,k,shape,boundary", CASES)
def test_every_form_equals_the_formula(c_out, c_in, k, shape, boundary):
    rng = np.random.default_rng(7)
    K = rng.normal(size=(c_out, c_in, k, k))
    K[rng.random(K.shape) < 0.2] = 0.0
    s = (rng.random(c_in * shape[0] * shape[1]) < 0.4).astype(float)
    want = loop_reference(K, s, shape, boundary)
    W = dense_matrix(K, shape, boundary)
    np.testing.assert_allclose(s @ W, want, atol=1e-12)
    got = conv_input(torch.tensor(s)[None], torch.tensor(K), shape, boundary)
    np.testing.assert_allclose(got.numpy()[0], want, atol=1e-12)
    pre, post, w = kernel_synapses(K, shape, boundary)
    assert pre.size <= np.count_nonzero(K) * shape[0] * shape[1]
    assert pre.min() >= 0 and pre.max() < s.size and post.max() < want.size


def test_gradients_through_spikes_and_kernel_match_the_dense_form():
    rng = np.random.default_rng(3)
    K = torch.tensor(rng.normal(size=(2, 2, 3, 3)), requires_grad=True)
    s = torch.tensor(rng.random((4, 2 * 4 * 5)), requires_grad=True)
    conv_input(s, K, (4, 5), "circular").pow(2).sum().backward()
    gK, gs = K.grad.clone(), s.grad.clone()
    # the same loss through the dense matrix, built differentiably from the kernel
    pre, post, _ = kernel_synapses(np.ones((2, 2, 3, 3)), (4, 5), "circular", drop_zeros=False)
    co, ci, dy, dx = np.indices((2, 2, 3, 3)).reshape(4, -1)
    per_entry = pre.size // co.size
    entry = np.repeat(np.arange(co.size), per_entry)
    K2 = K.detach().clone().requires_grad_(True)
    s2 = s.detach().clone().requires_grad_(True)
    W = torch.zeros(s.shape[1], 2 * 4 * 5, dtype=K.dtype).index_put(
        (torch.tensor(pre), torch.tensor(post)), K2.reshape(-1)[torch.tensor(entry)], accumulate=True)
    (s2 @ W).pow(2).sum().backward()
    np.testing.assert_allclose(gK.numpy(), K2.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(gs.numpy(), s2.grad.numpy(), rtol=1e-10)


def test_synapse_count_scales_with_the_kernel_not_the_map():
    pre, post, w = kernel_synapses(np.ones((1, 1, 3, 3)), (256, 256), "circular")
    assert pre.size == 9 * 256 * 256          # vs 4.3e9 entries of the dense matrix


@pytest.mark.parametrize("kernel,shape,boundary,match", [
    (np.ones((3, 3)), (4, 4), "zero", "shape"),
    (np.ones((1, 1, 2, 2)), (4, 4), "zero", "odd"),
    (np.ones((1, 1, 3, 5)), (4, 4), "zero", "square"),
    (np.ones((1, 1, 5, 5)), (3, 3), "circular", "at least"),
    (np.full((1, 1, 3, 3), np.nan), (4, 4), "zero", "NaN"),
    (np.ones((1, 1, 3, 3)), (0, 4), "zero", "positive"),
    (np.ones((1, 1, 3, 3)), (4, 4), "mirror", "boundary"),
])
def test_bad_kernels_and_shapes_are_one_line_errors(kernel, shape, boundary, match):
    with pytest.raises(ParameterError, match=match):
        kernel_synapses(kernel, shape, boundary)


def test_brian2_synapses_from_the_kernel_deliver_the_same_input():
    """Synapses generated from the kernel (one per entry and position) in Brian2 give
    each target neuron exactly the conv2d input of one volley of spikes."""
    import brian2 as b2
    rng = np.random.default_rng(11)
    shape, K = (4, 6), rng.normal(size=(2, 1, 3, 3))
    s = rng.random(shape[0] * shape[1]) < 0.5
    pre, post, w = kernel_synapses(K, shape, "circular")
    previous, b2.prefs.codegen.target = b2.prefs.codegen.target, "numpy"
    try:
        src = b2.SpikeGeneratorGroup(s.size, np.flatnonzero(s), np.zeros(s.sum()) * b2.ms)
        tgt = b2.NeuronGroup(2 * s.size, "v : 1")
        syn = b2.Synapses(src, tgt, "w : 1", on_pre="v += w")
        syn.connect(i=pre, j=post)
        syn.w = w
        b2.Network(src, tgt, syn).run(0.3 * b2.ms)
    finally:
        b2.prefs.codegen.target = previous
    want = conv_input(torch.tensor(s, dtype=torch.float64), torch.tensor(K), shape, "circular")
    np.testing.assert_allclose(tgt.v[:], want.numpy(), atol=1e-12)
