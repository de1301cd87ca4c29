"""deimos_utils.runtime.keep_freed_memory / allocator_environ: a 64 MiB tensor, above glibc's
largest mmap threshold, comes from the heap instead of a fresh mapping, in the main thread and in a
thread started later; a process whose environment is allocator_environ() gets the same in a thread
that allocated before any call. Measured with glibc's own mallinfo2 (bytes in mapped blocks), each
case in a fresh process."""
import os
import platform
import subprocess
import sys
import textwrap

import pytest

from deimos_utils.runtime import allocator_environ

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc" or sys.platform != "linux",
                                reason="glibc's malloc only")

PROBE = textwrap.dedent("""
    import ctypes, sys, threading
    import torch
    from deimos_utils.runtime import keep_freed_memory

    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in
                    "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    mapped = []

    def step():
        before = libc.mallinfo2().hblkhd
        x = torch.ones(16 * 2**20)  # 64 MiB
        mapped.append(libc.mallinfo2().hblkhd - before)
        del x

    # one allocation at a time (hblkhd counts the whole process)
    first, ready = threading.Event(), threading.Event()
    early = threading.Thread(target=lambda: (step(), first.set(), ready.wait(), step()))
    if sys.argv[2] == "early":  # a thread that allocates before the call (a dask worker's task thread)
        early.start()
        first.wait()
    tuned = keep_freed_memory() if sys.argv[1] == "call" else None
    step()
    later = threading.Thread(target=step); later.start(); later.join()
    if sys.argv[2] == "early":
        ready.set(); early.join()
    # mapped: [early thread before,] main, later thread[, early thread after]
    print(tuned, *(m > 0 for m in mapped))
""")


def probe(how, early=True, **env):
    full = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "DEIMOS_KEEP_FREED_MEMORY"}
    out = subprocess.run([sys.executable, "-c", PROBE, how, "early" if early else "none"], env={**full, **env}, capture_output=True,
                         text=True, check=True, timeout=300).stdout.split()
    assert out[0] in ("True", "False", "None")
    return out[0], [w == "True" for w in out[1:]]


def untuned(mapped):
    """glibc as it comes maps every 64 MiB block."""
    return all(mapped)


def test_without_the_setting_large_blocks_are_mapped():
    tuned, mapped = probe("none")  # the reference: so that the tests below can fail
    assert tuned == "None" and untuned(mapped)


def test_the_call_serves_large_blocks_from_the_heap_in_the_main_thread_and_threads_it_starts():
    assert probe("call", early=False) == ("True", [False, False])
    # a thread that had its own arena before the call keeps it, and maps as before
    tuned, mapped = probe("call")
    assert tuned == "True" and mapped[0] and not mapped[1] and mapped[3]


def test_the_environment_covers_every_thread_from_the_start():
    env = allocator_environ()
    assert env == {"MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "2147483647"}
    assert probe("call", **env) == ("True", [False, False, False, False])


def test_it_can_be_turned_off():
    tuned, mapped = probe("call", DEIMOS_KEEP_FREED_MEMORY="0")
    assert tuned == "False" and untuned(mapped)
    assert subprocess.run([sys.executable, "-c", "from deimos_utils.runtime import allocator_environ as a; print(a())"],
                          env={**os.environ, "DEIMOS_KEEP_FREED_MEMORY": "0"}, capture_output=True, text=True,
                          check=True).stdout.strip() == "{}"
