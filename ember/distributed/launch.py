"""``ember launch -n N [--servers K] script.py args``: start N ranks under MPI's ``mpiexec``.

Each rank gets ``cores / N`` BLAS and OpenMP threads (unless already set), so ranks sharing a machine do not
oversubscribe it. Every line a rank prints is shown tagged ``[rank r]``. When a rank dies (a signal, an exit
code), the launcher names it and its cause; MPI then ends the other ranks.

A rank writes its output into files of the launch folder itself, not through mpiexec: when a rank aborts the
job, mpiexec ends the processes that forward the ranks' output, and what they had not yet forwarded (another
rank's traceback, often) was lost. mpiexec's own files of each rank's output still catch what a rank prints
before it redirects its output (an interpreter that fails to start).
"""

from __future__ import annotations

import argparse
import os
import re
import runpy
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from ember.distributed.env import world_from_env

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def find_mpiexec() -> str:
    """The ``mpiexec`` beside this Python (the ``mpich`` wheel puts it there), else the one on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = beside if os.path.exists(beside) else shutil.which("mpiexec")
    if found is None:
        raise RuntimeError("ember launch: mpiexec not found; install the dist extra (pip install -e '.[dist]')")
    return found


def rank_environment(nprocs: int, servers: int, cores: int | None = None) -> dict:
    """Variables every rank gets: thread counts that share the cores, and the server count."""
    cores = cores or os.cpu_count() or 1
    env = {var: str(max(1, cores // nprocs)) for var in _THREAD_VARS if var not in os.environ}
    env["EMBER_NUM_SERVERS"] = str(servers)
    return env


def _output_file(folder: str, stream: str, rank, by_rank: bool) -> str:
    """The file of one rank's ``stream`` ("out" or "err"): written by the rank itself, or by mpiexec."""
    return os.path.join(folder, f"{'rank-' if by_rank else ''}{stream}.{rank}")


class _Tagger:
    """Prints complete lines of each rank's output files, tagged with the rank, as they grow."""

    def __init__(self, folder: str, nprocs: int):
        self.files = {(r, stream, by_rank): _output_file(folder, stream, r, by_rank) for r in range(nprocs)
                      for stream in ("out", "err") for by_rank in (False, True)}
        self.offsets = dict.fromkeys(self.files, 0)
        self.partial = dict.fromkeys(self.files, b"")

    def pump(self, final: bool = False) -> None:
        for key, path in self.files.items():
            try:
                with open(path, "rb") as f:
                    f.seek(self.offsets[key])
                    chunk = f.read()
            except FileNotFoundError:
                continue
            self.offsets[key] += len(chunk)
            data = self.partial[key] + chunk
            *lines, rest = data.split(b"\n")
            if final and rest:
                lines, rest = lines + [rest], b""
            self.partial[key] = rest
            rank, stream, _ = key
            target = sys.stdout if stream == "out" else sys.stderr
            for line in lines:
                target.write(f"[rank {rank}] {line.decode(errors='replace')}\n")
            target.flush()


def _pids(folder: str) -> dict:
    pids = {}
    for name in os.listdir(folder):
        if name.startswith("pid."):
            with open(os.path.join(folder, name)) as f:
                pids[int(f.read().strip() or -1)] = int(name.split(".")[1])
    return pids


def _first_error(folder: str) -> str | None:
    """The failure a rank reported about itself (an exception, an exit code), the earliest first."""
    reports = [os.path.join(folder, name) for name in os.listdir(folder) if name.startswith("exit.")]
    if not reports:
        return None
    first = min(reports, key=os.path.getmtime)
    with open(first) as f:
        what = f.read().strip()
    return f"ember launch: rank {first.rsplit('.', 1)[1]} {what}; the other ranks were ended"


def explain_failure(mpiexec_output: str, pids: dict) -> str | None:
    """A line naming the rank that ended the job and why, from mpiexec's report (None if it names none).
    Only a fallback: a rank's guard process reports its own death first (see ``_guard``)."""
    failed = re.findall(r"PID (\d+) RUNNING AT \S+\s*=\s*EXIT CODE: (\d+)", mpiexec_output)
    if not failed:
        return None
    pid, code = (int(field) for field in failed[0])
    who = f"rank {pids[pid]}" if pid in pids else "a rank"
    signal_match = re.search(r"\(signal (\d+)\)", mpiexec_output)
    if signal_match:
        number = int(signal_match.group(1))
        cause = f"was killed by signal {number} ({signal.Signals(number).name})"
    else:
        cause = f"exited with code {code}"
    return f"ember launch: {who} (pid {pid}) {cause}; the other ranks were ended"


def launch(nprocs: int, argv: list, servers: int = 0) -> int:
    """Run ``python argv...`` as ``nprocs`` MPI ranks; returns the job's exit code."""
    if nprocs < 1:
        raise ValueError(f"ember launch: -n must be at least 1, got {nprocs}")
    if not 0 <= servers < nprocs:
        raise ValueError(f"ember launch: --servers must be in [0, {nprocs}), got {servers}")
    if not argv:
        raise ValueError("ember launch: give a script (and its arguments) to run")
    folder = tempfile.mkdtemp(prefix="ember-launch-")
    env = dict(os.environ, **rank_environment(nprocs, servers), EMBER_LAUNCH_DIR=folder)
    cmd = [find_mpiexec(), "-n", str(nprocs), "-outfile-pattern", _output_file(folder, "out", "%r", False),
           "-errfile-pattern", _output_file(folder, "err", "%r", False),
           sys.executable, "-m", "ember.distributed.launch", "--rank-main", *argv]
    tagger = _Tagger(folder, nprocs)
    proc = None
    try:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        report = []
        os.set_blocking(proc.stdout.fileno(), False)
        while proc.poll() is None:
            tagger.pump()
            chunk = proc.stdout.read()
            if chunk:
                report.append(chunk)
            time.sleep(0.05)
        tagger.pump(final=True)
        rest = proc.stdout.read()
        if rest:
            report.append(rest)
        if proc.returncode != 0:
            line = _first_error(folder) or explain_failure(b"".join(report).decode(errors="replace"), _pids(folder))
            if line:
                print(line, file=sys.stderr)
        return proc.returncode
    except KeyboardInterrupt:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        tagger.pump(final=True)
        return 130
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _rank_main(argv: list) -> None:
    """Inside each rank: note this rank's pid for the launcher, then run the script as ``__main__`` in a child
    process watched by this one (see ``_guard``)."""
    folder = os.environ.get("EMBER_LAUNCH_DIR")
    rank = os.environ.get("PMI_RANK", "0")
    if folder:
        with open(os.path.join(folder, f"pid.{rank}"), "w") as f:
            f.write(str(os.getpid()))
        _write_output_into(folder, rank)
        if hasattr(os, "fork"):
            _guard(folder, rank)
    _set_torchrun_variables()
    sys.argv = list(argv)
    # as `python script.py` (and torchrun) run it: the script's folder first on sys.path, so that it imports the
    # modules beside it (this process was started with -m, which put the working directory there)
    sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))
    try:
        runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as exc:
        if exc.code not in (None, 0):
            _report(folder, rank, f"exited with code {exc.code}")
        raise
    except BaseException as exc:
        detail = str(exc).splitlines()[0] if str(exc) else ""
        _report(folder, rank, f"raised {type(exc).__name__}{': ' + detail if detail else ''}"[:400])
        raise


def _set_torchrun_variables() -> None:
    """``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and ``LOCAL_WORLD_SIZE`` as torchrun sets them, from MPI's own, so
    that scripts written for torchrun read their place in the job (values inherited from the shell are
    replaced: they would be the same on every rank)."""
    world = world_from_env()
    local_size = os.environ.get("MPI_LOCALNRANKS", str(world.world_size))
    for key, value in (("RANK", world.rank), ("WORLD_SIZE", world.world_size), ("LOCAL_RANK", world.local_rank),
                       ("LOCAL_WORLD_SIZE", local_size)):
        os.environ[key] = str(value)


def _write_output_into(folder: str, rank: str) -> None:
    """Point this process's stdout and stderr (file descriptors 1 and 2, so MPI's own messages too) at its files
    in the launch folder: what it writes is there even if the job is aborted a moment later."""
    for stream, fd, py in (("out", 1, sys.stdout), ("err", 2, sys.stderr)):
        py.flush()
        target = os.open(_output_file(folder, stream, rank, True), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(target, fd)
        os.close(target)


def _guard(folder: str, rank: str) -> None:
    """Fork; the child returns and runs the script, this process waits for it and ends the same way.

    A rank killed by a signal cannot say so itself, and mpiexec, which then kills the other ranks with the same
    signal, may name any of them. The guard sees its own child's death before mpiexec learns of it (mpiexec
    watches the guard), so the report it writes is always the first, and always names the right rank."""
    guard = os.getpid()
    child = os.fork()
    if child == 0:
        _die_with_parent(guard)
        return

    # mpiexec and terminals signal the whole process group, so the child gets these itself; the guard only
    # outlives it to report how it ended (and the child dies with the guard if the guard alone is killed).
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    _, status = os.waitpid(child, 0)
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        if not os.path.exists(os.path.join(folder, f"exit.{rank}")):
            _report(folder, rank, f"(pid {child}) was killed by signal {signum} ({signal.Signals(signum).name})")
        if signum != signal.SIGKILL:
            import resource

            resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
            signal.signal(signum, signal.SIG_DFL)
        os.kill(guard, signum)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when its parent, the guard, dies (if the guard alone is killed)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _report(folder: str | None, rank: str, what: str) -> None:
    """Write this rank's ``exit.<rank>`` report whole or not at all (a rank killed while writing it leaves none,
    so the report its guard then writes is the one read)."""
    if folder:
        partial = os.path.join(folder, f"partial-exit.{rank}")
        with open(partial, "w") as f:
            f.write(what)
        os.replace(partial, os.path.join(folder, f"exit.{rank}"))


def main(argv: list | None = None) -> int:
    """The ``ember launch`` command line."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--rank-main":
        _rank_main(argv[1:])
        return 0
    parser = argparse.ArgumentParser(prog="ember launch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--nprocs", type=int, required=True, help="number of ranks to start")
    parser.add_argument("--servers", type=int, default=0,
                        help="how many of the ranks are parameter servers (the last ones; default 0)")
    parser.add_argument("script", help="the Python script every rank runs")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    opts = parser.parse_args(argv)
    if not os.path.isfile(opts.script):  # found before the ranks start, not by each of them
        parser.error(f"script {opts.script}: no such file")
    try:
        return launch(opts.nprocs, [opts.script, *opts.args], opts.servers)
    except ValueError as exc:
        parser.error(str(exc).removeprefix("ember launch: "))
        return 2


if __name__ == "__main__":
    sys.exit(main())
