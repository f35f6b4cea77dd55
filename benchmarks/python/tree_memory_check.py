"""Checks the meter behind benchmarks/largest_model.py against memory of known kinds (stdlib only).

A job of three generations (launcher -> child -> grandchild) holds, all at once:
  - the grandchild: 256 MiB of anonymous memory (touched),
  - the child: 128 MiB of shared memory (a /dev/shm file, mapped and touched: RssShmem),
  - the launcher: 256 MiB of a regular file on disk, mapped and read (RssFile: page cache).
The meter must see the first two in every process of the tree and leave the third out:
non-reclaimable within [384, 384 + 3 x interpreter] MiB, resident at least 384 + 200 MiB. Then the
same job under a 200 MiB cap must end 'over_cap' with every process of the tree gone.

    python3 benchmarks/python/tree_memory_check.py        # exit status 0 when every check holds
"""

import mmap
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tree_memory  # noqa: E402

MIB = 1 << 20
ANON_MIB, SHMEM_MIB, FILE_MIB = 256, 128, 256
INTERPRETER_MIB = 40  # one python3 process's own anonymous memory, generously
HOLD_S = 3.0


def touch(buffer, size):
    for offset in range(0, size, 4096):
        buffer[offset] = 1


def grandchild():
    block = bytearray(ANON_MIB * MIB)
    touch(block, len(block))
    time.sleep(HOLD_S)


def child(shm_path):
    with open(shm_path, "r+b") as f:
        f.truncate(SHMEM_MIB * MIB)
        shared = mmap.mmap(f.fileno(), SHMEM_MIB * MIB)
    touch(shared, SHMEM_MIB * MIB)
    pid = os.fork()
    if pid == 0:
        grandchild()
        os._exit(0)
    os.waitpid(pid, 0)


def launcher(data_path, shm_path):
    with open(data_path, "rb") as f:
        mapped = mmap.mmap(f.fileno(), FILE_MIB * MIB, prot=mmap.PROT_READ)
    total = sum(mapped[offset] for offset in range(0, FILE_MIB * MIB, 4096))  # fault every page in
    pid = os.fork()
    if pid == 0:
        child(shm_path)
        os._exit(0)
    os.waitpid(pid, 0)
    return total


def run(cap_bytes, data_path, shm_path, log_path):
    command = [sys.executable, os.path.abspath(__file__), "job", data_path, shm_path]
    return tree_memory.run_capped(command, cap_bytes, log_path, timeout_s=60, interval_s=0.1)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "job":
        launcher(sys.argv[2], sys.argv[3])
        return 0
    failures = []
    with tempfile.TemporaryDirectory(prefix="tree_memory_check-", dir="/var/tmp") as folder:
        data_path = os.path.join(folder, "data.bin")
        with open(data_path, "wb") as f:
            f.write(os.urandom(MIB) * FILE_MIB)
        shm_path = os.path.join("/dev/shm", f"tree_memory_check-{os.getpid()}")
        open(shm_path, "wb").close()
        try:
            free = run(64 << 30, data_path, shm_path, os.path.join(folder, "free.log"))
            low = ANON_MIB + SHMEM_MIB
            high = low + 3 * INTERPRETER_MIB
            seen = free["peak_non_reclaimable_bytes"] / MIB
            resident = free["peak_resident_bytes"] / MIB
            names = len(free["peak_processes"])
            print(f"uncapped: {free['outcome']} rc {free['returncode']}, non-reclaimable {seen:.0f} MiB "
                  f"(expect {low}-{high}), resident {resident:.0f} MiB (expect >= {low + 200}), {names} processes")
            if free["outcome"] != "exited" or free["returncode"] != 0:
                failures.append("the uncapped job did not exit cleanly")
            if not low <= seen <= high:
                failures.append(f"non-reclaimable {seen:.0f} MiB outside [{low}, {high}]")
            if resident < low + 200:
                failures.append(f"resident {resident:.0f} MiB: the mapped file's pages were not seen")
            if names != 3:
                failures.append(f"the peak sample saw {names} processes, expected 3")

            capped = run(200 * MIB, data_path, shm_path, os.path.join(folder, "capped.log"))
            pids = [p["pid"] for p in capped["peak_processes"]]
            alive = [pid for pid in pids if tree_memory.process_memory(pid) is not None]
            print(f"capped at 200 MiB: {capped['outcome']}, peak {capped['peak_non_reclaimable_bytes'] / MIB:.0f} MiB, "
                  f"{len(alive)} of {len(pids)} processes left")
            if capped["outcome"] != "over_cap":
                failures.append(f"the capped job ended '{capped['outcome']}', expected 'over_cap'")
            if alive:
                failures.append(f"processes {alive} survived the kill")
        finally:
            os.remove(shm_path)
    for failure in failures:
        print("FAIL: " + failure)
    print("ok" if not failures else f"{len(failures)} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
