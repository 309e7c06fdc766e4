"""The convolutional baseline of McIntosh et al. (2016) behind the retina estimator
interface.

Input: the last ``history`` frames (default 40) as channels of one image. Two
convolutions (``channels`` maps each; the first kernel ``min(15, size)``, the second
``min(9, what is left)``, so the 15 x 15 / 9 x 9 of the paper on 50 x 50 frames
shrink with small frames), Gaussian noise of standard deviation ``noise`` (0.1)
added after each convolution while training, ReLU, then a dense read-out and a
softplus: the expected spike count of each unit per frame. Trained on the Poisson
likelihood of the frame counts with Adam through :func:`neuromod.training.fit`
(early stopping on the last ``val_fraction`` of the training frames). Spikes are
Poisson at the model bin, the frame's rate spread evenly over its bins (no
refractoriness: the model is a rate model). A frame-vector stimulus ``(frames, D)``
is read as a 1 x D image.
"""
import numpy as np

from neuromod.errors import ParameterError
from neuromod.retina.base import RetinaModel

__all__ = ["CNN"]


def _torch():
    import torch
    return torch


def _net(history, shape, channels, noise, n_units):
    torch = _torch()
    H, W = shape
    k1 = max(1, min(15, H, W) // 2 + 1) if min(H, W) < 15 else 15
    H1, W1 = H - k1 + 1, W - k1 + 1
    k2 = max(1, min(9, H1, W1) // 2 + 1) if min(H1, W1) < 9 else 9
    H2, W2 = H1 - k2 + 1, W1 - k2 + 1

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = torch.nn.Conv2d(history, channels, k1)
            self.c2 = torch.nn.Conv2d(channels, channels, k2)
            self.fc = torch.nn.Linear(channels * H2 * W2, n_units)
            self.noise = noise
            self.kernels = (k1, k2)

        def forward(self, x, generator=None):
            from neuromod.backends.noise import normals
            h = self.c1(x)
            if self.training and self.noise:
                h = h + self.noise * normals(h.shape, generator, h.device, h.dtype)
            h = torch.relu(h)
            h = self.c2(h)
            if self.training and self.noise:
                h = h + self.noise * normals(h.shape, generator, h.device, h.dtype)
            h = torch.relu(h)
            return torch.nn.functional.softplus(self.fc(h.flatten(1)))
    return Net()


class CNN(RetinaModel):
    """McIntosh et al. 2016's CNN (see the module).

    Parameters
    ----------
    history : int
        Frames of stimulus history (40).
    channels : int
        Maps per convolution (8).
    noise : float
        Training noise after each convolution (0.1).
    epochs, lr, batch_size, patience, val_fraction : training options.
    """
    kind = "cnn"

    def __init__(self, history=40, channels=8, noise=0.1, epochs=40, lr=1e-3, batch_size=256,
                 patience=6, val_fraction=0.1, device="cpu"):
        if history < 1 or channels < 1 or noise < 0 or not 0 <= val_fraction < 1:
            raise ParameterError("history and channels must be >= 1, noise >= 0, "
                                 "val_fraction in [0, 1)")
        self.options = dict(history=int(history), channels=int(channels), noise=float(noise),
                            epochs=int(epochs), lr=float(lr), batch_size=int(batch_size),
                            patience=patience, val_fraction=float(val_fraction))
        self.device = device
        self.net = None

    def _images(self, stimulus):
        S = np.asarray(stimulus, dtype=np.float32)
        S = S.reshape(S.shape[0], 1, -1) if S.ndim == 2 else S
        return (S - self.stim_mean) / self.stim_std

    def _padded(self, S):
        """The frames with ``history - 1`` zero frames before the first."""
        torch = _torch()
        h = self.options["history"]
        return torch.cat([torch.zeros((h - 1,) + tuple(S.shape[1:]), dtype=S.dtype), S])

    def _windows(self, padded, idx):
        """The ``history`` frames up to and including each frame in ``idx`` (zeros
        before the start) of :meth:`_padded` frames: ``(len(idx), history, H, W)``."""
        torch = _torch()
        return padded[idx[:, None] + torch.arange(self.options["history"])[None, :]]

    def _fit(self, recording, counts, seed=0, epochs=None, checkpoint=None, resume=False,
             progress=False):
        torch = _torch()
        from neuromod.training import TrainOptions, fit, seeded
        o = self.options
        S = np.asarray(recording.train_stimulus, dtype=np.float32)
        self.stim_mean, self.stim_std = float(S.mean()), float(S.std() or 1.0)
        img = torch.as_tensor(self._images(S))
        self.shape = tuple(img.shape[1:])
        padded = self._padded(img)
        K = int(round(self.frame_dt / self.bin_size))
        F = img.shape[0]
        y = counts[:F * K].reshape(F, K, -1).sum(1)
        self.seed = int(seed)
        self.net = seeded(self.seed, lambda: _net(o["history"], self.shape, o["channels"],
                                                  o["noise"], y.shape[1]))
        n_val = int(round(o["val_fraction"] * F))
        frames = np.arange(F, dtype=np.float32)

        def nll(net, xb, yb, gen):
            rate = net(self._windows(padded, xb.long()), generator=gen).clamp_min(1e-8)
            return (rate - yb * torch.log(rate)).sum(1).mean()

        options = TrainOptions(epochs=int(epochs or o["epochs"]), batch_size=o["batch_size"],
                               lr=o["lr"], optimizer="adam", seed=self.seed, device=self.device,
                               patience=o["patience"] if n_val else None)
        val = (frames[F - n_val:], y[F - n_val:]) if n_val else None
        res = fit(self.net, (frames[:F - n_val], y[:F - n_val]), val, options,
                  checkpoint=checkpoint, resume=resume,
                  identity={"model": "cnn", "bin_size": self.bin_size,
                            **{k: v for k, v in o.items() if k != "epochs"},
                            "data": recording.name}, progress=progress,
                  objective=lambda net, xb, yb, gen: (nll(net, xb, yb.double(), gen), None),
                  val_score=lambda net, xv, yv, gen: -float(nll(net, xv, yv.double(), gen)))
        self.history = res.history
        self.net.eval()

    def frame_rates(self, stimulus):
        """Expected spikes per frame ``(frames, units)``."""
        torch = _torch()
        img = torch.as_tensor(self._images(stimulus))
        padded = self._padded(img)
        with torch.no_grad():
            out = [self.net(self._windows(padded, torch.arange(i, min(i + 1024, img.shape[0]))))
                   for i in range(0, img.shape[0], 1024)]
        return torch.cat(out).double().numpy()

    def intensity(self, stimulus, counts=None, frame_dt=None):
        K = int(round(self.frame_dt / self.bin_size))
        lam = np.repeat(self.frame_rates(stimulus), K, axis=0) / K
        R = 1 if counts is None else np.asarray(counts).shape[0]
        return np.broadcast_to(lam, (R,) + lam.shape).copy()

    def sample(self, stimulus, n_trials, seed=0, frame_dt=None):
        lam = self.intensity(stimulus)[0]
        return np.random.default_rng(seed).poisson(lam, (int(n_trials),) + lam.shape)

    def config(self):
        return {**self.options, "seed": self.seed, "stim_mean": self.stim_mean,
                "stim_std": self.stim_std, "shape": list(self.shape),
                "n_units": int(self.net.fc.out_features)}

    def arrays(self):
        return {k: v.detach().cpu() for k, v in self.net.state_dict().items()}

    @classmethod
    def from_saved(cls, config, arrays):
        keys = ("history", "channels", "noise", "epochs", "lr", "batch_size", "patience",
                "val_fraction")
        m = cls(**{k: config[k] for k in keys})
        m.seed, m.stim_mean, m.stim_std = config["seed"], config["stim_mean"], config["stim_std"]
        m.shape = tuple(config["shape"])
        m.net = _net(m.options["history"], m.shape, m.options["channels"], m.options["noise"],
                     config["n_units"])
        m.net.load_state_dict(arrays)
        m.net.eval()
        return m
