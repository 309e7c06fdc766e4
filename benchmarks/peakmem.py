"""Resident-memory probes shared by the benchmark scripts (Linux ``/proc``; elsewhere
``resource.getrusage``): the current resident set, and its peak since a reset."""


def status_kb(key):
    """A ``/proc/self/status`` field in kB (``VmRSS``, ``VmHWM``), None where absent."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak():
    """Reset the kernel's resident-set high-water mark; False where not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return status_kb("VmHWM") is not None
    except OSError:
        return False


def peak_kb(reset_ok):
    """The peak resident set (kB): since the reset, or of the whole process."""
    if reset_ok:
        return status_kb("VmHWM")
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def rss_kb():
    """The current resident set (kB), or the process's peak where it cannot be read."""
    kb = status_kb("VmRSS")
    if kb is None:
        import resource
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb
