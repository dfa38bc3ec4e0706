"""Distributed training over MPI: collectives, data parallel, the launcher and faults (run under ``ember launch``)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ember.distributed import launch
from ember.distributed.env import SERVER, WORKER, world_from_env
from ember.nn import Module

pytest.importorskip("mpi4py")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(ROOT, "tests", "distributed")
try:
    launch.find_mpiexec()
    HAVE_MPIEXEC = True
except RuntimeError:
    HAVE_MPIEXEC = False
needs_mpiexec = pytest.mark.skipif(not HAVE_MPIEXEC, reason="mpiexec not installed (the dist extra)")


def run(n: int, script: str, *args: str, timeout: float = 120, servers: int = 0) -> tuple[int, str, str, float]:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "ember.distributed.launch", "-n", str(n), "--servers", str(servers),
                           script, *args],
                          capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
    return proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start


def write(tmp_path, body: str) -> str:
    path = tmp_path / "job.py"
    path.write_text("import ember, ember.distributed as dist\n" + body)
    return str(path)


@needs_mpiexec
@pytest.mark.parametrize("n", [4])
def test_collectives_on_every_rank(n):
    code, out, err, _ = run(n, os.path.join(SCRIPTS, "collectives.py"))
    assert code == 0, err
    assert sorted(line.split("] ", 1)[1] for line in out.splitlines()) == [
        f"collectives ok on rank {r} of {n}" for r in range(n)]


def test_torch_nn_parallel_names_the_data_parallel_wrappers():
    import ember
    from ember.nn.parallel import DataParallel, DistributedDataParallel

    assert DistributedDataParallel is ember.distributed.DistributedDataParallel
    assert DataParallel is ember.nn.DataParallel
    assert ember.nn.parallel.DistributedDataParallel is DistributedDataParallel


@needs_mpiexec
def test_pytorch_collectives_subgroups_point_to_point_and_objects():
    """reduce / gather / scatter / reduce_scatter / all_to_all, bitwise and bool reductions, new_group with job
    ranks, isend / irecv / batch_isend_irecv and the object collectives, on 3 ranks."""
    code, out, err, _ = run(3, os.path.join(SCRIPTS, "torch_collectives.py"))
    assert code == 0, err
    assert out.count("torch collectives ok") == 3


@needs_mpiexec
@pytest.mark.parametrize("n", [2])
def test_data_parallel_equals_one_process(n):
    """MLP and CNN, eager with DDP (buckets, no_sync accumulation) and Model.fit, against one process."""
    code, out, err, _ = run(n, os.path.join(SCRIPTS, "ddp_parity.py"))
    assert code == 0, err
    assert out.count("data parallel ok") == n


@needs_mpiexec
def test_sharded_table_with_admission_trains_as_one_table():
    """Ids repeated within a rank's batch count once per lookup at their owner, as in one process (each distinct
    id counted once: CountThreshold(2) kept out ids that one table admits); Probability admission admits the ids
    one table does (each shard drew from its own generator: other ids admitted)."""
    code, out, err, _ = run(2, os.path.join(SCRIPTS, "sharded_admission.py"))
    assert code == 0, err
    assert out.count("sharded admission ok") == 2


@needs_mpiexec
def test_distributed_tables_check_that_the_ranks_build_them_alike():
    """A storage dtype, seed, admission or capacity differing on one rank was accepted silently, and seed=None drew
    a seed per rank (no single table); construction refuses the first on every rank, naming the setting and both
    values, and takes rank 0's drawn seeds, as DistributedDataParallel takes rank 0's weights."""
    code, out, err, _ = run(3, os.path.join(SCRIPTS, "table_settings.py"), servers=1)
    assert code == 0, err
    assert out.count("table settings ok") == 2


@needs_mpiexec
def test_parameter_server_rows_follow_a_cast_of_the_model():
    """model.double() left a PSEmbedding's rows float32 where a HashEmbedding's are float64; they follow the cast."""
    code, out, err, _ = run(3, os.path.join(SCRIPTS, "ps_cast.py"), servers=1)
    assert code == 0, err
    assert out.count("ps cast ok") == 2


@needs_mpiexec
def test_parameter_server_without_keys_in_a_step_still_steps_its_optimizer():
    """Two servers, steps whose ids all live on the first: the second's SparseAdam counts those steps too."""
    code, out, err, _ = run(3, os.path.join(SCRIPTS, "ps_idle_shard.py"), servers=2)
    assert code == 0, err
    assert out.count("ps idle shard ok") == 1


@needs_mpiexec
def test_parameter_server_table_with_admission_trains_as_one_table():
    """A pull counts every lookup of its keys (prefetched or not), and a push neither counts them again nor
    admits them (a key looked up once was admitted by its push and updated); two workers' pulls of one lookup
    count together (the first to arrive read the default value of an id both look up once, 0.7 off); the gradient of
    a lookup that read an id's default value is dropped, though the step's next lookup admits it (it was pushed to
    the admitted row, 0.28 off); dist.checkpoint refuses the served table (it wrote a checkpoint without its rows)."""
    code, out, err, _ = run(3, os.path.join(SCRIPTS, "ps_admission.py"), servers=1)
    assert code == 0, err
    assert out.count("ps admission ok") == 2


@needs_mpiexec
def test_parameter_server_table_with_probability_admission_admits_as_one_table():
    """Probability admission drew from each server shard's generator, which saw other ids than one table's (two
    servers admitted other ids than one table); its draws depend on the id and the step only."""
    code, out, err, _ = run(4, os.path.join(SCRIPTS, "ps_admission.py"), "probability", servers=2)
    assert code == 0, err
    assert out.count("ps admission ok") == 2


@needs_mpiexec
def test_parameter_server_lookup_under_no_grad_in_training_creates_rows_as_one_table():
    """A training-mode lookup under no_grad() read the default value of unseen ids (0 where one table reads their
    new rows, 1.1 off) and neither created nor counted them; it admits, creates and counts them as one table."""
    code, out, err, _ = run(3, os.path.join(SCRIPTS, "ps_no_grad_lookup.py"), servers=1)
    assert code == 0, err
    assert out.count("ps no-grad lookup ok") == 2


@needs_mpiexec
def test_parameter_server_prefetch_stands_for_the_next_training_lookup():
    """A second prefetch() before the lookup read the first one's rows for its ids (ids 7, 8, 9 got the rows of 1,
    2, 3), and an evaluation read or a lookup of other ids after a prefetch dropped its rows and pulled again,
    counting the ids twice (admitted a lookup early, 1.08 off); the evaluation read keeps the prefetched rows for
    their lookup, the other two are RuntimeErrors. A lookup of the step in progress after a prefetch() made during it
    waited for the timeout, whose message blamed the other workers; it is a RuntimeError at once."""
    code, out, err, _ = run(3, os.path.join(SCRIPTS, "ps_prefetch.py"), servers=1)
    assert code == 0, err
    assert out.count("ps prefetch ok") == 2


@needs_mpiexec
def test_data_parallel_refuses_a_replicated_hash_table():
    """DistributedDataParallel and a multi-rank Model.fit refuse a hash table that is not sharded (its gradients'
    row numbers meant other ids on the other rank: the wrong rows were updated); a sharded one trains."""
    code, out, err, _ = run(2, os.path.join(SCRIPTS, "ddp_hash_table.py"))
    assert code == 0, err
    assert out.count("ddp hash table ok") == 2


@needs_mpiexec
def test_fit_metrics_in_a_multi_rank_job_are_those_of_the_whole_epoch():
    """AUC, precision, recall, F1 and accuracy over every rank's batches together (they were the mean of the
    ranks' values: a wrong AUC); a metric without mergeable state is averaged over the ranks."""
    code, out, err, _ = run(2, os.path.join(SCRIPTS, "fit_metrics.py"))
    assert code == 0, err
    assert out.count("fit metrics ok") == 2


@needs_mpiexec
def test_data_parallel_training_forwards_start_from_rank_0_s_buffers():
    """broadcast_buffers: one broadcast per training forward (none in eval, none without buffers), eagerly, under
    ember.jit and in Model.fit (eager and compiled); broadcast_buffers=False keeps each rank's own."""
    code, out, err, _ = run(2, os.path.join(SCRIPTS, "ddp_buffers.py"))
    assert code == 0, err
    assert out.count("ddp buffers ok") == 2


@needs_mpiexec
def test_data_parallel_after_a_cast_or_a_replaced_parameter_remakes_its_buckets():
    """ddp.double(), ddp.to(float32), ddp.half() and a parameter replaced after the wrapping: gradients of the new
    dtype, averaged over the ranks."""
    code, out, err, _ = run(2, os.path.join(SCRIPTS, "ddp_recast.py"))
    assert code == 0, err
    assert out.count("ddp recast ok") == 2


@needs_mpiexec
@pytest.mark.parametrize("n", [2, 3])
def test_sync_batch_norm_on_slices_of_a_batch_equals_batch_norm_on_the_whole(n):
    """nn.SyncBatchNorm against torch's BatchNorm on the concatenated batch (uneven slices): outputs, running
    statistics, input and parameter gradients; one collective each way; a converted network in a DDP step, eager
    and under ember.jit."""
    pytest.importorskip("torch")
    code, out, err, _ = run(n, os.path.join(SCRIPTS, "sync_batch_norm.py"))
    assert code == 0, err
    assert out.count("sync batch norm ok") == n


@needs_mpiexec
def test_compiled_data_parallel_steps_equal_one_process():
    """A TF-1 Session, ember.jit and Model.fit(compile=True) on 2 ranks: the data_parallel pass."""
    code, out, err, _ = run(2, os.path.join(SCRIPTS, "compiled_parity.py"))
    assert code == 0, err
    assert out.count("compiled data parallel ok") == 2


@needs_mpiexec
def test_fit_shares_the_data_among_the_group_s_ranks_whatever_the_environment_says(tmp_path):
    script = write(tmp_path, "import os\nimport numpy as np\nfrom ember import nn\n"
                             "from ember.callbacks import Callback\nfrom ember.model import Model\n"
                             "os.environ.update(WORLD_SIZE='1', RANK='0')  # another launcher's, say\n"
                             "dist.init_process_group(timeout=30)\n"
                             "class Count(Callback):\n    seen = 0\n"
                             "    def on_batch_end(self, step, logs=None):\n        Count.seen += 1\n"
                             "net = nn.Linear(4, 2)\n"
                             "model = Model(net, 'cross_entropy', ember.optim.SGD(net.parameters(), lr=0.1))\n"
                             "model.fit(np.zeros((16, 4), np.float32), np.zeros(16, np.int64), batch_size=4, "
                             "verbose=0, callbacks=[Count()])\n"
                             "print('batches', Count.seen)\n")
    code, out, err, _ = run(2, script)
    assert code == 0, err
    assert out.count("batches 2") == 2, out  # 16 samples, 2 ranks, 4 a batch


def test_data_parallel_pass_buckets_gradients_before_the_first_update(monkeypatch):
    import ember
    import ember.distributed  # noqa: F401  (registers the all_reduce op)
    from ember.graph.ir import UPDATE, Graph
    from ember.passes import data_parallel as dp
    from ember.passes.autodiff import TrainRequest

    monkeypatch.setattr(dp, "BUCKET_BYTES", 8 * 4 * 4)  # 32 float32: w (8x4) alone, then b1 + b2 together
    graph = Graph()
    x = graph.input("x", (5, 8), "float32")
    w, b1, b2 = (graph.input(n, s, "float32") for n, s in (("w", (8, 4)), ("b1", (4,)), ("b2", (4,))))
    with graph.building():
        loss = ((x @ w + b1 + b2) ** 2.0).sum()
    rule = ember.optim.functional.sgd_update
    graph.requests.append(TrainRequest(loss, [w, b1, b2], rule, {"lr": 0.1}, [{}, {}, {}]))
    graph = dp.data_parallel(ember.passes.autodiff(graph))
    names = [node.op.name for node in graph.nodes]
    first_update = min(i for i, node in enumerate(graph.nodes) if node.op is UPDATE)
    reduces = [i for i, name in enumerate(names) if name == "all_reduce"]
    assert len(reduces) == 2 and max(reduces) < first_update
    assert all(graph.nodes[i].attrs == {"op": "avg"} for i in reduces)
    graph.verify()


@needs_mpiexec
def test_checkpoint_written_at_4_ranks_loads_at_2_and_1(tmp_path):
    script = os.path.join(SCRIPTS, "checkpoint_reshard.py")
    code, _, err, _ = run(4, script, "save", str(tmp_path / "ckpt"))
    assert code == 0, err
    files = sorted(os.listdir(tmp_path / "ckpt"))
    assert files == ["manifest.json"] + [f"shard-0000{r}-of-00004.emb" for r in range(4)]
    for n in (2, 1):
        code, out, err, _ = run(n, script, "check", str(tmp_path / "ckpt"))
        assert code == 0, err
        assert out.count("from 4") == n


@needs_mpiexec
@pytest.mark.parametrize("n", [2, 4])
def test_sharded_deepfm_trains_as_one_process(n):
    """ember.recsys.DeepFM with both hash tables sharded (26 fields and a bag field): losses, dense weights,
    rows with Adagrad slots and predictions equal one process on the global batch (checked in the script)."""
    code, out, err, _ = run(n, os.path.join(SCRIPTS, "deepfm_sharded.py"))
    assert code == 0, err
    assert out.count("deepfm sharded ok") == n


def ps_aucs(staleness: int, *seeds: int) -> dict:
    """{seed: (auc, single-process auc)} of DeepFM trained by 2 workers with 2 parameter servers."""
    code, out, err, _ = run(4, os.path.join(SCRIPTS, "deepfm_ps.py"), str(staleness), *map(str, seeds), servers=2)
    assert code == 0, err
    found = {}
    for line in out.splitlines():
        if f"staleness {staleness} auc" in line:
            words = line.split()
            found[int(words[words.index("seed") + 1])] = (float(words[words.index("auc") + 1]),
                                                           float(words[words.index("single") + 1]))
    assert sorted(found) == sorted(seeds), out
    return found


@needs_mpiexec
def test_parameter_servers_sync_deepfm_equals_one_process():
    """2 workers + 2 servers, synchronous: losses, dense weights, served rows and predictions equal one process
    on the global batch (checked inside the script), and so does the AUC."""
    auc, single = ps_aucs(0, 0)[0]
    assert abs(auc - single) < 1e-4 and auc > 0.7


@needs_mpiexec
def test_parameter_servers_async_deepfm_is_within_0_005_auc():
    """Asynchronous (staleness 2) DeepFM on the synthetic Criteo-shaped set lands within 0.005 AUC of the
    single-process (= synchronous) model on every seed; measured over 8 seeds x 5 runs: |gap| <= 0.0009."""
    for seed, (auc, single) in ps_aucs(2, 0, 1).items():
        assert single > 0.7
        assert abs(auc - single) < 0.005, (seed, auc, single)


@needs_mpiexec
def test_a_launched_script_imports_the_modules_beside_it(tmp_path):
    """As `python script.py` and torchrun: the script's folder, not the launcher's working directory, is first on
    sys.path."""
    (tmp_path / "helper.py").write_text("VALUE = 42\n")
    script = tmp_path / "main.py"
    script.write_text("from helper import VALUE\nprint('helper', VALUE)\n")
    code, out, err, _ = run(2, str(script))
    assert code == 0, err
    assert out.count("helper 42") == 2


@needs_mpiexec
def test_failing_rank_is_named_with_its_error(tmp_path):
    script = write(tmp_path, "dist.init_process_group(timeout=10)\nif dist.get_rank() == 1:\n"
                             "    raise KeyError('no such feature')\ndist.barrier()\n")
    code, _, err, elapsed = run(2, script)
    assert code != 0 and elapsed < 30
    assert "ember launch: rank 1 raised KeyError: 'no such feature'" in err


@needs_mpiexec
def test_what_a_rank_printed_before_aborting_the_job_is_shown(tmp_path):
    # mpiexec's forwarding of the ranks' output ends with the job: output it had not passed on was lost
    script = write(tmp_path, "import sys, time\nfrom mpi4py import MPI\ndist.init_process_group(timeout=20)\n"
                             "if dist.get_rank() == 0:\n"
                             "    print(''.join(f'out {i}\\n' for i in range(20000)), end='', flush=True)\n"
                             "    sys.stderr.write(''.join(f'err {i}\\n' for i in range(20000)))\n"
                             "    sys.stderr.flush()\n    MPI.COMM_WORLD.Abort(3)\n"
                             "time.sleep(20)\n")
    code, out, err, elapsed = run(2, script)
    assert code != 0 and elapsed < 30
    assert [line for line in out.splitlines() if line.startswith("[rank 0] out")] == [
        f"[rank 0] out {i}" for i in range(20000)]
    assert [line for line in err.splitlines() if line.startswith("[rank 0] err")] == [
        f"[rank 0] err {i}" for i in range(20000)]


@needs_mpiexec
@pytest.mark.parametrize("signame", ["SIGKILL", "SIGTERM"])
def test_killed_rank_is_named_and_the_job_ends(tmp_path, signame):
    pid_file = tmp_path / "rank0.pid"
    script = write(tmp_path, "import os, signal\ndist.init_process_group(timeout=20)\n"
                             f"if dist.get_rank() == 0:\n    open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
                             f"if dist.get_rank() == 1:\n    os.kill(os.getpid(), signal.{signame})\n"
                             "dist.all_reduce(ember.ones(3))\nimport time; time.sleep(60)\n")
    code, _, err, elapsed = run(2, script)
    number = int(getattr(signal, signame))
    assert code != 0 and elapsed < 30
    assert re.search(rf"ember launch: rank 1 \(pid \d+\) was killed by signal {number} \({signame}\)", err), err
    survivor = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while running(survivor) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(survivor), "rank 0 outlived the job"


def running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@needs_mpiexec
def test_hung_rank_times_out_naming_it(tmp_path):
    script = write(tmp_path, "import time\ndist.init_process_group(timeout=2)\n"
                             "if dist.get_rank() == 1:\n    time.sleep(120)\n"
                             "dist.all_reduce(ember.ones(3))\n")
    code, _, err, elapsed = run(2, script)
    assert code != 0 and elapsed < 30
    assert "DistributedError: all_reduce: rank 0 waited 2 s" in err and "rank(s) [1] did not arrive" in err


@needs_mpiexec
def test_ddp_comm_hooks_average_as_pytorch_s_default_hooks():
    code, out, err, _ = run(2, os.path.join(SCRIPTS, "ddp_comm_hook.py"))
    assert code == 0, out + err
    assert out.count("ddp comm hooks ok") == 2


@needs_mpiexec
def test_a_work_s_wait_is_bounded_by_its_timeout(tmp_path):
    script = write(tmp_path, "import datetime, time\ndist.init_process_group(timeout=60)\n"
                             "if dist.get_rank() == 1:\n    time.sleep(120)\n"
                             "dist.irecv(ember.zeros(3), src=1).wait(timeout=datetime.timedelta(seconds=1))\n")
    code, _, err, elapsed = run(2, script)
    assert code != 0 and elapsed < 30
    assert "DistributedError: recv: rank 0 waited 1 s" in err


@needs_mpiexec
def test_ctrl_c_ends_the_job(tmp_path):
    # each rank gets the interrupt once (a second one would cut its handler short), and the rank whose handler
    # ends first waits for the other's before the job ends
    # 'started' is printed inside the try: the interrupt can arrive before print returns
    script = write(tmp_path, "import time\ndist.init_process_group(timeout=60)\n"
                             "try:\n    print('started', flush=True)\n"
                             "    while True:\n        dist.all_reduce(ember.ones(3))\n        time.sleep(0.01)\n"
                             "except KeyboardInterrupt:\n    time.sleep(0.2 + 1.5 * dist.get_rank())\n"
                             "    print('handled', flush=True)\n    raise\n")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "ember.distributed.launch", "-n", "2", script], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        started = 0
        while started < 2:
            line = proc.stdout.readline()
            assert line, "the job ended before both ranks started"
            started += "started" in line
        proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        rest, _ = proc.communicate(timeout=30)
        assert proc.returncode != 0 and time.monotonic() - start < 30
        assert "[rank 0] handled" in rest and "[rank 1] handled" in rest, rest
    finally:
        if proc.poll() is None:
            proc.kill()


@needs_mpiexec
def test_an_interrupt_on_one_rank_still_ends_the_job_within_the_timeout(tmp_path):
    script = write(tmp_path, "dist.init_process_group(timeout=2)\ndist.all_reduce(ember.ones(3))\n"
                             "if dist.get_rank() == 1:\n    raise KeyboardInterrupt\n"
                             "while True:\n    dist.all_reduce(ember.ones(3))\n")
    code, _, err, elapsed = run(2, script)
    assert code != 0 and elapsed < 30  # rank 1 waits the timeout for rank 0, which never comes, then ends the job
    assert "ember launch: rank 1 raised KeyboardInterrupt;" in err, err


@needs_mpiexec
def test_mismatched_shapes_are_an_error_on_every_rank(tmp_path):
    script = write(tmp_path, "dist.init_process_group(timeout=10)\n"
                             "dist.all_reduce(ember.ones(3 + dist.get_rank()))\n")
    code, _, err, elapsed = run(2, script)
    assert code != 0 and elapsed < 30
    assert ("DistributedError: all_reduce: ranks disagree on call #1: rank 0 called all_reduce #1 on shape [3]; "
            "rank 1 called all_reduce #1 on shape [4]") in err


@needs_mpiexec
@pytest.mark.parametrize("call, expected", [
    ("dist.all_reduce(ember.ones(3, dtype='float32' if dist.get_rank() == 0 else 'float64'))",
     "rank 0 called all_reduce #1 on shape [3] of dtype float32; rank 1 called all_reduce #1 on shape [3] of dtype "
     "float64"),
    ("dist.all_reduce(ember.ones(3), op='sum' if dist.get_rank() == 0 else 'max')",
     "rank 0 called all_reduce #1 on shape [3] with op sum; rank 1 called all_reduce #1 on shape [3] with op max"),
    # rows of different widths: all_to_all would scramble them, not fail
    ("w = 3 + 2 * dist.get_rank()\ndist.all_to_all_single(ember.zeros((2, w)), ember.ones((2, w)))",
     "rank 0 called all_to_all #1 on shape [?, 3]; rank 1 called all_to_all #1 on shape [?, 5]"),
    # a reduce's op and dst, and a gather's or scatter's root: every rank's description was the same
    ("dist.reduce(ember.ones(3), dst=dist.get_rank())",
     "rank 0 called reduce #1 on shape [3] to dst 0; rank 1 called reduce #1 on shape [3] to dst 1"),
    ("dist.reduce(ember.ones(3), op='sum' if dist.get_rank() == 0 else 'max')",
     "rank 0 called reduce #1 on shape [3] with op sum; rank 1 called reduce #1 on shape [3] with op max"),
    ("dist.gather(ember.ones(2), [ember.ones(2), ember.ones(2)], dst=dist.get_rank())",
     "rank 0 called gather #1 on shape [2] to dst 0; rank 1 called gather #1 on shape [2] to dst 1"),
    ("dist.scatter(ember.ones(2), [ember.ones(2), ember.ones(2)], src=dist.get_rank())",
     "rank 0 called scatter #1 on shape [2] from src 0; rank 1 called scatter #1 on shape [2] from src 1"),
], ids=["dtype", "op", "row shape", "reduce dst", "reduce op", "gather dst", "scatter src"])
def test_ranks_that_differ_in_dtype_op_root_or_row_shape_get_an_error_naming_it(tmp_path, call, expected):
    code, _, err, elapsed = run(2, write(tmp_path, f"dist.init_process_group(timeout=10)\n{call}\n"))
    assert code != 0 and elapsed < 30
    assert expected in err, err



@needs_mpiexec
def test_destroy_process_group_takes_a_group_as_pytorch_s(tmp_path):
    """destroy_process_group(group) was a TypeError; a new_group's group is destroyed alone, the default group (None
    or group.WORLD) with every new_group's, and a destroyed group's calls raise, naming the call (get_rank too: it
    returned the old rank)."""
    script = write(tmp_path, """
import pytest
dist.init_process_group(timeout=10)
sub, alone = dist.new_group([0, 1]), dist.new_group([1])
dist.destroy_process_group(alone)  # a no-op on rank 0, outside it
dist.destroy_process_group(sub)
with pytest.raises(ValueError, match=r"^all_reduce: the process group was destroyed"):
    dist.all_reduce(ember.ones(2), group=sub)
with pytest.raises(ValueError, match="already destroyed"):
    dist.destroy_process_group(sub)
with pytest.raises(ValueError, match=r"^get_rank: the process group was destroyed"):
    dist.get_rank(sub)
with pytest.raises(ValueError, match=r"^get_process_group_ranks: the process group was destroyed"):
    dist.get_process_group_ranks(sub)
assert dist.get_world_size(sub) == 2  # PyTorch's still answers the destroyed group's size
t = ember.ones(2)
dist.all_reduce(t)
assert t.tolist() == [2.0, 2.0]
sub, world = dist.new_group([0, 1]), dist.group.WORLD
dist.destroy_process_group(dist.group.WORLD)
assert not dist.is_initialized()
for group in (sub, world):
    with pytest.raises(ValueError, match=r"^get_rank: the process group was destroyed"):
        dist.get_rank(group)
with pytest.raises(ValueError, match=r"^broadcast: the process group was destroyed"):
    dist.broadcast(ember.ones(2), 0, group=sub)
dist.init_process_group(timeout=10)
dist.all_reduce(t)
print("destroyed ok", t.tolist())
""")
    code, out, err, _ = run(2, script)
    assert code == 0, err
    assert out.count("destroyed ok [4.0, 4.0]") == 2, out

@needs_mpiexec
def test_max_and_min_give_nan_where_any_rank_has_one(tmp_path):
    """MPI's MAX and MIN compared floats with <, so a NaN won or lost by the ranks' order, and the two ranks got
    different results ([1, nan] and [nan, 1]); any rank's NaN gives NaN, as torch.maximum / minimum."""
    script = write(tmp_path, """
import numpy as np
dist.init_process_group(timeout=20)
rank = dist.get_rank()
mine = [np.nan, 1.0, -np.inf, 3.0] if rank == 0 else [1.0, -np.nan, 2.0, -5.0]
theirs = [1.0, np.nan, 2.0, -5.0] if rank == 0 else [np.nan, 1.0, -np.inf, 3.0]
for name in ("float32", "float64", "float16", "bfloat16"):
    for op, pick in ((dist.ReduceOp.MAX, np.maximum), (dist.ReduceOp.MIN, np.minimum)):
        expected = pick(np.array(mine), np.array(theirs)).tolist()
        t = ember.tensor(np.array(mine, dtype=np.float32)).to(getattr(ember, name))
        dist.all_reduce(t, op=op)
        assert np.array_equal(t.float().numpy(), expected, equal_nan=True), (name, op, t.tolist())
        t = ember.tensor(np.array(mine, dtype=np.float32)).to(getattr(ember, name))
        dist.reduce(t, dst=1, op=op)
        assert rank == 0 or np.array_equal(t.float().numpy(), expected, equal_nan=True), (name, op, t.tolist())
print("nan ok")
""")
    code, out, err, _ = run(2, script)
    assert code == 0, err
    assert out.count("nan ok") == 2, out


def test_order_keys_sort_as_the_floats():
    import numpy as np

    from ember.distributed.group import ReduceOp, _float_keys, _floats_of_keys

    for dtype in (np.float32, np.float64):
        tiny = np.finfo(dtype).smallest_subnormal
        floats = np.array([-np.inf, -1e30, -1.0, -tiny, -0.0, 0.0, tiny, 1.0, 1e30, np.inf], dtype=dtype)
        keys = _float_keys(floats, ReduceOp.MAX)
        assert (np.diff(keys) > 0).all() and _floats_of_keys(keys).tobytes() == floats.tobytes()
        nans = np.array([np.nan, -np.nan], dtype=dtype)
        assert (_float_keys(nans, ReduceOp.MAX) > keys[-1]).all() and (_float_keys(nans, ReduceOp.MIN) < keys[0]).all()
        assert np.isnan(_floats_of_keys(_float_keys(nans, ReduceOp.MIN))).all()


@needs_mpiexec
def test_ddp_join_trains_ranks_with_uneven_batches_as_pytorchs(tmp_path):
    """DistributedDataParallel had no join(): a rank with fewer batches left the other waiting in its all-reduce.
    Rank 0 trains 5 batches and rank 1 two; the results are PyTorch's DDP join's (gloo, same data)."""
    script = write(tmp_path, """
import numpy as np, pytest
dist.init_process_group(timeout=20)
rank = dist.get_rank()
rng = np.random.default_rng(0)
w, b = rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal(2).astype(np.float32)
data = {r: [(rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((4, 2)).astype(np.float32))
            for _ in range(n)] for r, n in ((0, 5), (1, 2))}

def train(batches, **join):
    net = ember.nn.Sequential(ember.nn.Linear(3, 2), ember.nn.BatchNorm1d(2))
    net[0].weight.array[...], net[0].bias.array[...] = w, b
    ddp = dist.DistributedDataParallel(net)
    opt = ember.optim.SGD(ddp.parameters(), lr=0.1)
    with ddp.join(**join):
        for x, y in batches:
            opt.zero_grad()
            ((ddp(ember.tensor(x)) - ember.tensor(y)) ** 2).mean().backward()
            opt.step()
    return net

torch_gives = {  # PyTorch 2 DDP(Linear(3, 2), BatchNorm1d(2)).join(divide_by_initial_world_size=...)
    True: ([[-0.0307802, -0.1007178, 0.6716207], [0.0529250, -0.5707368, 0.3328278]], [0.0292261, 0.0301787],
           [0.5427290, 0.3976586]),
    False: ([[-0.1050098, -0.1245106, 0.6919686], [0.0618253, -0.5948308, 0.3160320]], [0.0552978, 0.0110190],
            [0.5342673, 0.4006911]),
}
for divide, (weight, bn_bias, running_mean) in torch_gives.items():
    net = train(data[rank], divide_by_initial_world_size=divide)
    np.testing.assert_allclose(net[0].weight.detach().numpy(), weight, atol=1e-5)
    np.testing.assert_allclose(net[1].bias.detach().numpy(), bn_bias, atol=1e-5)
    np.testing.assert_allclose(net[1].running_mean.numpy(), running_mean, atol=1e-5)
with pytest.raises(RuntimeError, match="rank.s. .1. ran out of inputs"):
    train(data[rank][:3], throw_on_early_termination=True)
print("join ok")
""")
    code, out, err, _ = run(2, script)
    assert code == 0, err
    assert out.count("join ok") == 2, out


def test_world_from_launcher_environments():
    assert world_from_env({}) == (0, 1, 0, 0)
    assert world_from_env({"PMI_RANK": "1", "PMI_SIZE": "4", "MPI_LOCALRANKID": "1"})[:3] == (1, 4, 1)
    assert world_from_env({"SLURM_PROCID": "3", "SLURM_NTASKS": "4", "SLURM_LOCALID": "0"})[:3] == (3, 4, 0)
    assert world_from_env({"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "3"})[:3] == (2, 3, 2)
    world = world_from_env({"EMBER_RANK": "3", "EMBER_WORLD_SIZE": "4", "EMBER_NUM_SERVERS": "1", "RANK": "0",
                            "WORLD_SIZE": "2"})
    assert world.rank == 3 and world.world_size == 4 and world.role == SERVER
    assert world._replace(rank=2).role == WORKER
    with pytest.raises(ValueError, match="rank 5 of a world of 4"):
        world_from_env({"EMBER_RANK": "5", "EMBER_WORLD_SIZE": "4"})
    with pytest.raises(ValueError, match="EMBER_NUM_SERVERS=4"):
        world_from_env({"EMBER_RANK": "0", "EMBER_WORLD_SIZE": "4", "EMBER_NUM_SERVERS": "4"})
    with pytest.raises(ValueError, match="PMI_RANK='x'"):
        world_from_env({"PMI_RANK": "x", "PMI_SIZE": "2"})


def test_launcher_shares_cores_and_explains_failures(monkeypatch):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    env = launch.rank_environment(2, servers=1, cores=2)
    assert env["OPENBLAS_NUM_THREADS"] == "1" and env["OMP_NUM_THREADS"] == "1" and env["EMBER_NUM_SERVERS"] == "1"
    assert launch.rank_environment(4, 0, cores=16)["OMP_NUM_THREADS"] == "4"
    report = ("=   BAD TERMINATION OF ONE OF YOUR APPLICATION PROCESSES\n=   PID 4242 RUNNING AT node7\n"
              "=   EXIT CODE: 9\n=   CLEANING UP\nYOUR APPLICATION TERMINATED WITH THE EXIT STRING: Killed (signal 9)")
    assert launch.explain_failure(report, {4242: 3}) == (
        "ember launch: rank 3 (pid 4242) was killed by signal 9 (SIGKILL); the other ranks were ended")
    assert "exited with code 2" in launch.explain_failure(report.replace("EXIT CODE: 9", "EXIT CODE: 2").replace(
        "Killed (signal 9)", ""), {})
    assert launch.explain_failure("all fine", {}) is None
    # mpiexec may list several ranks it ended: without a rank's own report, the first listed is named
    both = report.replace("=   PID 4242", "=   PID 5151 RUNNING AT node7\n=   EXIT CODE: 9\n=   PID 4242")
    assert "rank 0 (pid 5151)" in launch.explain_failure(both, {4242: 3, 5151: 0})



class _Placed(Module):
    distributed_table = True

    def __init__(self, table):
        super().__init__()
        self.shard = table


def test_placing_tables_replaces_every_hash_embedding_once():
    from ember import nn
    from ember.distributed.placement import replace_hash_embeddings
    from ember.embedding import HashEmbedding, HashEmbeddingBag
    from ember.recsys import DeepFM

    model = DeepFM(3, 2, embedding_dim=4, hidden=[8], seed=0)
    shared = HashEmbedding(4, seed=1)
    model.towers = nn.ModuleList([nn.Sequential(shared), nn.Sequential(shared)])
    assert replace_hash_embeddings(model, _Placed, "place") is model
    placed = [m for m in model.modules() if isinstance(m, _Placed)]
    assert len(placed) == 3  # the first-order weights, the field vectors, and the shared table once
    assert model.towers[0][0] is model.towers[1][0] and model.towers[0][0].shard is shared
    assert isinstance(model.embedding.table, _Placed) and isinstance(model.linear.weights.table, _Placed)
    replace_hash_embeddings(model, _Placed, "place")  # placed tables are not placed again
    assert [m for m in model.modules() if isinstance(m, _Placed)] == placed
    assert isinstance(replace_hash_embeddings(HashEmbedding(4), _Placed, "place"), _Placed)
    with pytest.raises(TypeError, match="place: HashEmbeddingBag is not supported"):
        replace_hash_embeddings(nn.Sequential(HashEmbeddingBag(4)), _Placed, "place")


def test_keeping_owned_rows_keeps_their_values_and_optimizer_slots():
    import numpy as np

    import ember
    from ember.distributed.placement import keep_owned_rows
    from ember.embedding import HashEmbedding

    table = HashEmbedding(4, seed=0)
    opt = ember.optim.Adagrad(table.parameters(), lr=0.1)
    keys = np.arange(10) * 7 + 10**12
    (table(keys) ** 2).sum().backward()
    opt.step()
    before = table.state_dict()
    keep_owned_rows(table, lambda k: k % 2 == 0)
    after = table.state_dict()
    mine = before["keys"] % 2 == 0
    assert sorted(after["keys"].tolist()) == sorted(before["keys"][mine].tolist()) and len(table) == 5
    order = np.argsort(after["keys"])
    expected = np.argsort(before["keys"][mine])
    np.testing.assert_array_equal(after["values"][order], before["values"][mine][expected])
    slots = [k for k in before if k.startswith("slot.")]
    assert slots
    for k in slots:
        np.testing.assert_array_equal(after[k][order], before[k][mine][expected])


def test_async_pull_waits_for_the_workers_own_pushes_and_the_staleness_bound():
    from types import SimpleNamespace

    from ember.distributed.ps import _ServedTable

    table = _ServedTable(SimpleNamespace(shard=None), optimizer=None, workers=2, staleness=2)
    table.pushed = {0: 3, 1: 1}  # worker 0 pushed steps 0-2, worker 1 step 0
    assert table.ready(0, 3)  # its own pushes are in, worker 1 is 2 steps behind
    assert not table.ready(0, 4)  # a prefetch of step 4 arrives before the push of step 3
    assert not table.ready(1, 2)  # worker 1's own push of step 1 is not in yet
    table.pushed[0] = 4
    assert not table.ready(0, 4)  # worker 1 would be 3 steps behind
    table.pushed[1] = 2
    assert table.ready(0, 4) and table.ready(1, 2)
    sync = _ServedTable(SimpleNamespace(shard=None), optimizer=None, workers=2, staleness=0)
    sync.pushed, sync.applied = {0: 3, 1: 2}, 2
    assert sync.ready(1, 2) and not sync.ready(0, 3)


@needs_mpiexec
def test_pytorchs_init_process_group_arguments_run_over_mpi(tmp_path):
    script = write(tmp_path, textwrap.dedent("""\
        import os, warnings
        warnings.simplefilter("error")
        rank = int(os.environ.get("PMI_RANK", -1))  # mpich's launcher sets it; -1: not given
        dist.init_process_group(dist.Backend.GLOO, init_method="env://", world_size=2, rank=rank, timeout=20)
        assert dist.get_backend() == "mpi" and dist.is_initialized() and ember.distributed.is_available()
        t = ember.ones(2) * (dist.get_rank() + 1)
        dist.all_reduce(t)
        print("sum", t.tolist())
    """))
    code, out, err, _ = run(2, script)
    assert code == 0, err
    assert out.count("sum [3.0, 3.0]") == 2


@needs_mpiexec
def test_a_world_size_other_than_the_jobs_is_refused(tmp_path):
    code, _, err, _ = run(2, write(tmp_path, "dist.init_process_group(world_size=3, timeout=10)\n"))
    assert code != 0 and "init_process_group: world_size=3, but the MPI job gives this process world_size 2" in err


def test_backend_names_are_pytorchs_lowercase_strings():
    import ember.distributed as dist

    assert (dist.Backend.GLOO, dist.Backend.NCCL, dist.Backend.MPI, dist.Backend.UCC, dist.Backend.UNDEFINED) == (
        "gloo", "nccl", "mpi", "ucc", "undefined")
    assert dist.Backend("GLOO") == "gloo" and type(dist.Backend("Mpi")) is str and dist.Backend("foo") == "foo"
    with pytest.raises(ValueError, match="must be a string"):
        dist.Backend(5)


def test_init_method_and_backend_are_checked_before_anything_starts():
    import ember.distributed as dist

    with pytest.raises(ValueError, match="init_method must be None or 'env://'"):
        dist.init_process_group("gloo", init_method="tcp://10.0.0.1:23456")
    with pytest.raises(ValueError, match="backend must be one of 'mpi', 'gloo', 'nccl'"):
        dist.init_process_group("ucc")
    with pytest.raises(ValueError, match="got 'foo'"):
        dist.init_process_group(dist.Backend("FOO"))
    assert not dist.is_initialized() and not dist.is_nccl_available()
    with pytest.raises(RuntimeError, match="call dist.init_process_group\\(\\) first"):
        dist.get_backend()
