"""Auditory models: the gammatone cochlear filterbank and spiketrum spike coding."""
from neuromod.auditory.erb import erb, hz_to_erb_rate, erb_rate_to_hz, erb_space
from neuromod.auditory.gammatone import (bandwidth_factor, GammatoneFilterbank, KernelDictionary,
                                         gammatone_impulse_response)

__all__ = ["erb", "hz_to_erb_rate", "erb_rate_to_hz", "erb_space", "bandwidth_factor",
           "GammatoneFilterbank", "KernelDictionary", "gammatone_impulse_response"]
