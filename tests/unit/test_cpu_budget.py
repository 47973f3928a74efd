"""``bench cluster --instance-cpu``: each instance in a cgroup of its own with the quota asked for,
joined before the program starts; refused with the reason where no CPU controller is there.

The cgroup file systems are stood in for by plain folders laid out as the kernel lays them out
(writing a file there is what setting a quota is)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from config.cpu_budget import CpuBudget, CpuBudgetUnavailable


def _v1(root: Path) -> Path:
    cpu = root / "cpu"
    cpu.mkdir(parents=True)
    (cpu / "cpu.cfs_quota_us").write_text("-1")
    return cpu


def _v2(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids")
    (root / "cgroup.subtree_control").write_text("")
    return root


def test_v1_sets_the_period_and_quota_of_each_instance_group(tmp_path: Path) -> None:
    cpu = _v1(tmp_path)
    budget = CpuBudget(0.4, root=tmp_path)
    first, second = budget.group(0), budget.group(1)
    assert first.parent == second.parent and first.parent.parent == cpu
    assert (first / "cpu.cfs_quota_us").read_text() == "40000"
    assert (first / "cpu.cfs_period_us").read_text() == "100000"
    assert first != second


def test_v2_enables_the_cpu_controller_and_sets_cpu_max(tmp_path: Path) -> None:
    root = _v2(tmp_path / "unified")
    budget = CpuBudget(0.5, root=root)
    group = budget.group(0)
    assert (group / "cpu.max").read_text() == "50000 100000"
    assert (root / "cgroup.subtree_control").read_text() == "+cpu"
    assert (group.parent / "cgroup.subtree_control").read_text() == "+cpu"


def test_the_program_joins_its_group_before_it_runs(tmp_path: Path) -> None:
    _v1(tmp_path)
    budget = CpuBudget(0.25, root=tmp_path)
    out = tmp_path / "pid"
    argv = budget.command(0, ["/bin/sh", "-c", f'echo $$ > "{out}"'])
    subprocess.run(argv, check=True, timeout=10)
    group = budget.groups[0]
    # the shell wrote its pid into the group, then became the program: the same process
    assert (group / "cgroup.procs").read_text().strip() == out.read_text().strip()


def test_throttled_time_is_read_from_v1_and_v2_stats(tmp_path: Path) -> None:
    _v1(tmp_path / "a")
    v1 = CpuBudget(0.5, root=tmp_path / "a")
    (v1.group(0) / "cpu.stat").write_text("nr_periods 30\nnr_throttled 30\nthrottled_time 1500000000\n")
    assert v1.throttled_s() == 1.5
    v2 = CpuBudget(0.5, root=_v2(tmp_path / "b"))
    (v2.group(0) / "cpu.stat").write_text("usage_usec 9\nthrottled_usec 2250000\n")
    assert v2.throttled_s() == 2.25


def test_close_removes_the_groups(tmp_path: Path) -> None:
    cpu = _v1(tmp_path)
    budget = CpuBudget(0.5, root=tmp_path)
    group = budget.group(0)
    for name in list(group.iterdir()):  # the kernel's files vanish with the group; plain files must go by hand here
        name.unlink()
    budget.close()
    assert [p.name for p in cpu.iterdir()] == ["cpu.cfs_quota_us"]


def test_no_cpu_controller_or_an_absurd_budget_is_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(CpuBudgetUnavailable, match="no cgroup CPU controller"):
        CpuBudget(0.5, root=tmp_path)
    _v1(tmp_path)
    with pytest.raises(CpuBudgetUnavailable, match="outside"):
        CpuBudget(0, root=tmp_path)
    with pytest.raises(CpuBudgetUnavailable, match="outside"):
        CpuBudget(10_000, root=tmp_path)
