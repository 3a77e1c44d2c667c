"""What the benchmarks measure alike: an operation's own peak memory in a fresh child process."""

from __future__ import annotations

import resource


def peak_rss_kb() -> int:
    """This process's peak resident set, KiB. On Linux ``VmHWM`` of /proc/self/status: the
    ``ru_maxrss`` of a child started by subprocess is at least its parent's RSS at the fork (the
    kernel carries the old address space's high-water mark across execve), so it would report
    the benchmark's own memory, not the operation's. Elsewhere ``ru_maxrss`` (KiB on Linux and
    BSD; the child is then best started from a small parent)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
