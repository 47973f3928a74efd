"""Hold each bench instance to the same CPU budget: a Linux cgroup CPU quota per instance.

Why: on a machine with fewer cores than instances, the instances of ``bench cluster`` compete
for the same cores, so "three instances over one" measures the machine rather than whether
the instances share work without getting in each other's way. Held to the same fraction of a
core each, as each would be on its own small machine, one instance and three get the same
budget per instance, and the ratio shows whether three do three times the work.

Linux cgroups, as root: v2 (``cpu.max``, with the ``cpu`` controller on the unified
hierarchy) or v1 (``cpu.cfs_quota_us``). Anything else is refused with ``CpuBudgetUnavailable``
saying why, before any instance starts.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

PERIOD_US = 100_000
CGROUP_ROOT = Path("/sys/fs/cgroup")


class CpuBudgetUnavailable(RuntimeError):
    """This machine or user cannot hold processes to a CPU quota."""


class CpuBudget:
    """One cgroup per instance, each allowed ``cores`` of CPU time (e.g. 0.5: half a core)."""

    def __init__(self, cores: float, root: Path = CGROUP_ROOT) -> None:
        if not 0.01 <= cores <= (os.cpu_count() or 1):
            raise CpuBudgetUnavailable(f"a budget of {cores} cores is outside 0.01..{os.cpu_count()}")
        self.cores = cores
        self.quota_us = round(cores * PERIOD_US)
        self._parent, self._version = self._hierarchy(root)
        self._base = self._parent / f"frontdesk-bench-{uuid.uuid4().hex[:8]}"
        self.groups: list[Path] = []

    @staticmethod
    def _hierarchy(root: Path) -> tuple[Path, int]:
        controllers = root / "cgroup.controllers"
        if controllers.exists() and "cpu" in controllers.read_text().split():
            return root, 2
        if (root / "cpu" / "cpu.cfs_quota_us").exists():
            return root / "cpu", 1
        raise CpuBudgetUnavailable(f"no cgroup CPU controller under {root} (cgroup v2 with 'cpu', or v1 'cpu')")

    def group(self, index: int) -> Path:
        """A new cgroup for one instance, with its quota set; processes join it by ``command``."""
        try:
            if not self.groups:
                self._base.mkdir()
                if self._version == 2:  # the quota is a controller of the parent's children
                    (self._parent / "cgroup.subtree_control").write_text("+cpu")
                    (self._base / "cgroup.subtree_control").write_text("+cpu")
            path = self._base / f"instance-{index}-{len(self.groups)}"
            path.mkdir()
            if self._version == 2:
                (path / "cpu.max").write_text(f"{self.quota_us} {PERIOD_US}")
            else:
                (path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
                (path / "cpu.cfs_quota_us").write_text(str(self.quota_us))
        except OSError as exc:
            raise CpuBudgetUnavailable(f"cannot set a CPU quota in {self._base}: {exc} (run as root)") from exc
        self.groups.append(path)
        return path

    def command(self, index: int, argv: list[str]) -> list[str]:
        """``argv`` run inside a new group of its own: the shell joins it, then becomes the
        program, so the instance and every worker it forks are held to the budget from the start."""
        path = self.group(index)
        return ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(path), *argv]

    def throttled_s(self) -> float:
        """Seconds the groups' processes were held back by their quota, all groups together."""
        total = 0.0
        for path in self.groups:
            with contextlib.suppress(OSError):
                for line in (path / "cpu.stat").read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "throttled_usec":
                        total += int(value) / 1e6
                    elif key == "throttled_time":  # v1: nanoseconds
                        total += int(value) / 1e9
        return round(total, 2)

    def close(self) -> None:
        """Remove the groups (their processes have exited: an empty group is removed, a busy one stays)."""
        for path in [*self.groups, self._base]:
            with contextlib.suppress(OSError):
                path.rmdir()
        self.groups.clear()
