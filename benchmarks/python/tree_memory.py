"""Non-reclaimable memory of a whole process tree, and a job runner that kills the tree above a cap.

"Non-reclaimable" = RssAnon + RssShmem of every process in the tree (from /proc/PID/status), summed
at one instant. File-backed pages (RssFile: the executable, shared libraries, and memory-mapped data
files such as the engine's disk tier) are left out: they are page cache that the kernel can write
back and drop under pressure, so they do not decide whether a model fits in memory. Swap is not
counted either (check /proc/meminfo: this harness is meant for machines without swap).

Standard library only, so the harness that imports it stays small and does not import torch.
"""

import os
import signal
import subprocess
import time

PAGE_KIB = 1024


def _children_map():
    """ppid -> [pid] for every process now alive (thread-group leaders only, as /proc lists them)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                text = stat.read()
        except OSError:
            continue  # exited between listdir and open
        # The command name (field 2) is in parentheses and may itself contain spaces or ')'.
        after_name = text[text.rfind(b")") + 2:].split()
        children.setdefault(int(after_name[1]), []).append(int(entry))
    return children


def descendants(root):
    """root and every process below it."""
    children = _children_map()
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        found.append(pid)
        frontier.extend(children.get(pid, []))
    return found


def process_memory(pid):
    """{'name', 'anon', 'shmem', 'file'} in bytes for one process, or None once it has exited."""
    fields = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("Name", "RssAnon", "RssShmem", "RssFile"):
                    fields[key] = value.strip()
    except OSError:
        return None
    if "RssAnon" not in fields:  # a zombie has no memory lines
        return None

    def kib(key):
        return int(fields.get(key, "0 kB").split()[0]) * PAGE_KIB

    return {"name": fields.get("Name", "?"), "anon": kib("RssAnon"), "shmem": kib("RssShmem"), "file": kib("RssFile")}


def tree_sample(root):
    """One instant of the tree: totals and the per-process figures behind them."""
    processes = {}
    for pid in descendants(root):
        memory = process_memory(pid)
        if memory is not None:
            processes[pid] = memory
    non_reclaimable = sum(m["anon"] + m["shmem"] for m in processes.values())
    resident = sum(m["anon"] + m["shmem"] + m["file"] for m in processes.values())
    return {"non_reclaimable": non_reclaimable, "resident": resident, "processes": processes}


def mem_available_bytes():
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * PAGE_KIB
    raise RuntimeError("/proc/meminfo has no MemAvailable line")


def kill_tree(root):
    """SIGKILL root and everything below it, leaves first (by pid: only processes this job started)."""
    for pid in reversed(descendants(root)):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.killpg(root, signal.SIGKILL)  # the job runs in its own session: anything re-parented away
    except (ProcessLookupError, PermissionError):
        pass


def run_capped(command, cap_bytes, log_path, timeout_s, env=None, cwd=None, interval_s=0.2,
               machine_floor_bytes=0):
    """Runs command (its own session), sampling the tree every interval_s. Returns a dict:
    outcome: 'exited' (see returncode), 'over_cap', 'timeout' or 'machine_low' (the machine's
    MemAvailable fell below machine_floor_bytes: another program's doing, no verdict on the job);
    peak_non_reclaimable / peak_resident bytes and the per-process figures of the peak sample;
    samples, wall_s."""
    with open(log_path, "wb") as log:
        job = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                               start_new_session=True)
    start = time.monotonic()
    peak = {"non_reclaimable": 0, "resident": 0, "processes": {}}
    peak_resident = 0
    samples = 0
    outcome = "exited"
    try:
        while job.poll() is None:
            sample = tree_sample(job.pid)
            samples += 1
            peak_resident = max(peak_resident, sample["resident"])
            if sample["non_reclaimable"] > peak["non_reclaimable"]:
                peak = sample
            if sample["non_reclaimable"] > cap_bytes:
                outcome = "over_cap"
            elif machine_floor_bytes and mem_available_bytes() < machine_floor_bytes:
                outcome = "machine_low"
            elif time.monotonic() - start > timeout_s:
                outcome = "timeout"
            if outcome != "exited":
                kill_tree(job.pid)
                break
            time.sleep(interval_s)
    finally:
        if job.poll() is None:
            kill_tree(job.pid)  # also on KeyboardInterrupt: leave nothing running
        job.wait()
    return {
        "outcome": outcome,
        "returncode": job.returncode,
        "peak_non_reclaimable_bytes": peak["non_reclaimable"],
        "peak_resident_bytes": peak_resident,
        "peak_processes": [{"pid": pid, **m} for pid, m in sorted(peak["processes"].items())],
        "samples": samples,
        "wall_s": time.monotonic() - start,
    }
