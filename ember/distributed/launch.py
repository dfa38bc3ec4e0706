"""``ember launch -n N [--servers K] script.py args``: start N ranks under MPI's ``mpiexec``.

Each rank gets ``cores / N`` BLAS and OpenMP threads (unless already set), so ranks sharing a machine do not
oversubscribe it. Every line a rank prints is shown tagged ``[rank r]``. When a rank dies (a signal, an exit
code), the launcher names it and its cause; MPI then ends the other ranks.
"""

from __future__ import annotations

import argparse
import os
import re
import runpy
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

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


class _Tagger:
    """Prints complete lines of each rank's output file, tagged with the rank, as they grow."""

    def __init__(self, folder: str, nprocs: int):
        self.files = {(r, stream): os.path.join(folder, f"{stream}.{r}") for r in range(nprocs)
                      for stream in ("out", "err")}
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
            rank, stream = key
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


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, dead but not yet reaped by its parent, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


class _DeathWatch:
    """Records the order in which ranks die while the job runs. mpiexec kills the other ranks as soon as one
    dies, all with the same signal, so this order is what names the rank that failed.

    Each rank is watched through a pidfd (Linux), which wakes the launcher the moment the rank exits; a 50 ms
    poll could see the failed rank and the ranks mpiexec then killed in the same round, and guess wrong."""

    def __init__(self, folder: str):
        self.folder = folder
        self.order: list = []
        self.watched: dict = {}
        self.poller = select.poll() if hasattr(os, "pidfd_open") else None

    def wait(self, seconds: float) -> None:
        """Watch ranks that started since the last call, then wait up to ``seconds`` for one to die."""
        for pid in _pids(self.folder):
            if pid > 0 and pid not in self.watched and pid not in self.order:
                self._watch(pid)
        if self.poller is None:
            time.sleep(seconds)
            for pid in list(self.watched):
                if not _alive(pid):
                    self._died(pid)
            return
        for fd, _ in self.poller.poll(seconds * 1000):
            pid = next(p for p, f in self.watched.items() if f == fd)
            self._died(pid)

    def _watch(self, pid: int) -> None:
        if self.poller is None:
            self.watched[pid] = None
            return
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            self.order.append(pid)
            return
        self.watched[pid] = fd
        self.poller.register(fd, select.POLLIN)

    def _died(self, pid: int) -> None:
        fd = self.watched.pop(pid)
        if fd is not None:
            self.poller.unregister(fd)
            os.close(fd)
        self.order.append(pid)

    def close(self) -> None:
        for fd in self.watched.values():
            if fd is not None:
                os.close(fd)
        self.watched.clear()


def explain_failure(mpiexec_output: str, pids: dict, deaths: tuple = ()) -> str | None:
    """A line naming the rank that ended the job and why, from mpiexec's report (None if it names none).
    ``deaths``: rank pids in the order they were seen to die; when the report lists several failed
    processes, the first of them to die is named."""
    failed = {int(p): int(c) for p, c in re.findall(r"PID (\d+) RUNNING AT \S+\s*=\s*EXIT CODE: (\d+)",
                                                    mpiexec_output)}
    if not failed:
        return None
    pid = next((p for p in deaths if failed.get(p)), next(iter(failed)))
    code = failed[pid]
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
    cmd = [find_mpiexec(), "-n", str(nprocs), "-outfile-pattern", os.path.join(folder, "out.%r"),
           "-errfile-pattern", os.path.join(folder, "err.%r"),
           sys.executable, "-m", "ember.distributed.launch", "--rank-main", *argv]
    tagger = _Tagger(folder, nprocs)
    deaths = _DeathWatch(folder)
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
            deaths.wait(0.05)
        tagger.pump(final=True)
        rest = proc.stdout.read()
        if rest:
            report.append(rest)
        if proc.returncode != 0:
            line = _first_error(folder) or explain_failure(b"".join(report).decode(errors="replace"), _pids(folder),
                                                             tuple(deaths.order))
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
        deaths.close()
        shutil.rmtree(folder, ignore_errors=True)


def _rank_main(argv: list) -> None:
    """Inside each rank: note this rank's pid for the launcher, then run the script as ``__main__``."""
    folder = os.environ.get("EMBER_LAUNCH_DIR")
    rank = os.environ.get("PMI_RANK", "0")
    if folder:
        with open(os.path.join(folder, f"pid.{rank}"), "w") as f:
            f.write(str(os.getpid()))
    sys.argv = list(argv)
    try:
        runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as exc:
        if exc.code not in (None, 0):
            _report(folder, rank, f"exited with code {exc.code}")
        raise
    except BaseException as exc:
        _report(folder, rank, f"raised {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:400])
        raise


def _report(folder: str | None, rank: str, what: str) -> None:
    if folder:
        with open(os.path.join(folder, f"exit.{rank}"), "w") as f:
            f.write(what)


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
    try:
        return launch(opts.nprocs, [opts.script, *opts.args], opts.servers)
    except ValueError as exc:
        parser.error(str(exc).removeprefix("ember launch: "))
        return 2


if __name__ == "__main__":
    sys.exit(main())
