"""Hash embeddings: id -> row options, insert and lookup rates, and peak memory of a trained table.

    python benchmarks/hash_embedding.py index --keys 2000000     # NumPy open addressing vs pandas, numba, dict
    python benchmarks/hash_embedding.py rates --rows 2000000      # insert / lookup ids per second, beside torch
    python benchmarks/hash_embedding.py memory --rows 10000000    # peak RSS, Ember vs torch nn.Embedding
    python benchmarks/hash_embedding.py memory --rows 100000000 --only ember-adagrad   # the 100M case

Memory cases run one per fresh process (peak RSS is per process): N distinct int64 ids are inserted by
training-mode lookups, then 20 training steps (lookup, backward, optimizer step) on batches of present ids;
the first update gives every row its optimizer slots. PyTorch's fixed nn.Embedding of the same size with
its Adagrad (and a row-wise Adagrad written with index_add_) is the baseline. Bytes per row are the
process's RSS growth over the rows, extrapolated to 100M rows. The machine is shared and noisy: the rates
are medians of interleaved rounds, and ratios between runs vary by 1.3x.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import machine_line  # noqa: E402

GIB = 2**30


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def distinct_ids(start: int, n: int) -> np.ndarray:
    """n distinct int64 ids spread over the whole int64 range (a bijection of a counter)."""
    return ids_at(np.arange(start, start + n, dtype=np.uint64))


def ids_at(counters: np.ndarray) -> np.ndarray:
    """The ids ``distinct_ids`` gives at these counter values (no array of all the ids before them)."""
    from ember.embedding.hashing import mix64

    return mix64(counters.astype(np.uint64)).view(np.int64)


def median_rate(run, items: int, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return items / statistics.median(times)


# --- id -> row: the options ----------------------------------------------------------------------------

def _numba_table():
    """A linear-probing table compiled by numba (the measured alternative; not used by Ember)."""
    import numba

    @numba.njit(cache=False)
    def mix(k):
        z = np.uint64(k) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))

    @numba.njit(cache=False)
    def insert(slot_keys, slot_rows, keys, rows, mask):
        for i in range(keys.size):
            pos = np.int64(mix(keys[i]) & np.uint64(mask))
            while slot_rows[pos] >= 0:
                pos = (pos + 1) & mask
            slot_keys[pos] = keys[i]
            slot_rows[pos] = rows[i]

    @numba.njit(cache=False)
    def find(slot_keys, slot_rows, keys, out, mask):
        for i in range(keys.size):
            pos = np.int64(mix(keys[i]) & np.uint64(mask))
            out[i] = -1
            while slot_rows[pos] >= 0:
                if slot_keys[pos] == keys[i]:
                    out[i] = slot_rows[pos]
                    break
                pos = (pos + 1) & mask

    return insert, find


def bench_index(n: int, batch: int) -> dict:
    from ember.embedding.index import IdIndex

    keys = distinct_ids(0, n)
    rng = np.random.default_rng(0)
    queries = keys[rng.integers(0, n, batch)]
    results = {}

    def ember_build():
        index = IdIndex()
        for lo in range(0, n, batch):  # growing batch by batch, as training inserts
            index.add(keys[lo:lo + batch], np.arange(lo, min(lo + batch, n)))
        return index

    t0 = time.perf_counter()
    index = ember_build()
    results["numpy open addressing (ember)"] = {
        "insert_per_s": n / (time.perf_counter() - t0),
        "lookup_per_s": median_rate(lambda: index.find(queries), batch, 20)}

    try:
        import pandas as pd

        t0 = time.perf_counter()
        pandas_index = pd.Index(keys)
        pandas_index.get_indexer(queries[:1])  # builds the hash table (a rebuild per growth step in practice)
        build = time.perf_counter() - t0
        lookup = median_rate(lambda: pandas_index.get_indexer(queries), batch, 20)
        results["pandas Index.get_indexer"] = {
            "insert_per_s": n / build, "lookup_per_s": lookup,
            "note": "one bulk build; growing needs a new Index (a full rebuild)"}
    except ImportError:
        results["pandas Index.get_indexer"] = {"note": "pandas not installed"}

    try:
        t0 = time.perf_counter()
        insert, find = _numba_table()
        size = 1 << (int(n / 0.5) - 1).bit_length()
        slot_keys, slot_rows = np.zeros(size, np.int64), np.full(size, -1, np.int64)
        insert(slot_keys, slot_rows, keys[:1], np.zeros(1, np.int64), size - 1)
        out = np.empty(batch, np.int64)
        find(slot_keys, slot_rows, queries, out, size - 1)
        compile_s = time.perf_counter() - t0
        slot_keys[:], slot_rows[:] = 0, -1
        t0 = time.perf_counter()
        for lo in range(0, n, batch):
            insert(slot_keys, slot_rows, keys[lo:lo + batch], np.arange(lo, min(lo + batch, n)), size - 1)
        results["numba linear probing"] = {
            "insert_per_s": n / (time.perf_counter() - t0),
            "lookup_per_s": median_rate(lambda: find(slot_keys, slot_rows, queries, out, size - 1), batch, 20),
            "note": f"compile {compile_s:.2f} s; fixed capacity (no growth), load 0.5"}
    except ImportError:
        results["numba linear probing"] = {"note": "numba not installed"}

    t0 = time.perf_counter()
    table = dict(zip(keys.tolist(), range(n)))
    insert_s = time.perf_counter() - t0
    query_list = queries.tolist()
    results["python dict (per-id loop)"] = {
        "insert_per_s": n / insert_s,
        "lookup_per_s": median_rate(lambda: [table.get(k, -1) for k in query_list], batch, 20)}
    return results


# --- rates of the embedding ----------------------------------------------------------------------------

def bench_rates(n: int, batch: int, dim: int) -> dict:
    import torch

    import ember
    from ember.embedding import HashEmbedding

    torch.set_num_threads(2)
    emb = HashEmbedding(dim, seed=0)
    t0 = time.perf_counter()
    with ember.no_grad():
        for lo in range(0, n, batch):
            emb(distinct_ids(lo, min(batch, n - lo)))
    insert_rate = n / (time.perf_counter() - t0)
    rng = np.random.default_rng(1)
    existing = distinct_ids(0, n)[rng.integers(0, n, batch)]
    positions = torch.from_numpy(rng.integers(0, n, batch))
    table = torch.nn.Embedding(n, dim)
    emb.eval()
    rates = {"ember": [], "torch": [], "ember_index_only": []}
    for _ in range(5):  # interleaved rounds
        with ember.no_grad():
            rates["ember"].append(median_rate(lambda: emb(existing), batch, 5))
        rates["ember_index_only"].append(median_rate(lambda: emb.table.index.find(existing), batch, 5))
        with torch.no_grad():
            rates["torch"].append(median_rate(lambda: table(positions), batch, 5))
    return {"rows": n, "batch": batch, "insert_per_s": insert_rate,
            **{f"lookup_per_s_{k}": statistics.median(v) for k, v in rates.items()}}


# --- memory --------------------------------------------------------------------------------------------

def _ember_options(optimizer: str) -> dict:
    """The default metadata keeps last_step (for step-TTL eviction, run here after every update, and
    incremental checkpoints); "rowwise-meta" adds the frequency counts a capacity cap ranks rows by."""
    from ember.embedding import StepTTL

    return {"rowwise": {"eviction": StepTTL(1000)}, "rowwise-meta": {"metadata": True},
            "rowwise-nometa": {"metadata": False}}.get(optimizer, {})


def memory_case(case: str, n: int, batch: int, dim: int, steps: int = 20) -> dict:
    """One case in this process: insert ``n`` ids, then train ``steps`` batches of present ids (the first
    update gives every row its optimizer state); RSS after each phase, peak RSS, bytes per row."""
    framework, optimizer = case.split("-", 1)
    rng = np.random.default_rng(0)
    if framework == "ember":
        import ember
        from ember.embedding import HashEmbedding

        base = rss_bytes()
        emb = HashEmbedding(dim, seed=0, **_ember_options(optimizer))
        make = ember.optim.Adagrad if optimizer == "adagrad" else ember.optim.RowWiseAdagrad
        opt = make(emb.parameters(), lr=0.01)
        t0 = time.perf_counter()
        half_rss = None
        with ember.no_grad():  # training-mode lookups insert; no gradient needed to grow the table
            for lo in range(0, n, batch):
                emb(distinct_ids(lo, min(batch, n - lo)))
                if half_rss is None and lo + batch >= n // 2:
                    half_rss, half_rows = rss_bytes(), len(emb)
        insert_s = time.perf_counter() - t0
        inserted_rss, inserted_peak = rss_bytes(), peak_rss_bytes()
        index_slots = emb.table.index.capacity
        present = distinct_ids(int(rng.integers(0, n - batch)) if n > batch else 0, min(batch, n))
        emb.eval()
        with ember.no_grad():  # present ids, rows gathered, nothing inserted or counted
            lookup_rate = median_rate(lambda: emb(present), present.size)
        emb.train()
        t0 = time.perf_counter()
        for _ in range(steps):  # ids drawn from all the rows: each step touches rows all over the table
            emb(ids_at(rng.integers(0, n, batch))).sum().backward()
            opt.step()
            opt.zero_grad()
        rows = len(emb)
    else:
        import torch

        torch.set_num_threads(2)
        base = rss_bytes()
        t0 = time.perf_counter()
        table = torch.nn.Embedding(n, dim, sparse=True)  # the whole fixed table, initialized at once
        half_rss = None
        if optimizer == "adagrad":
            opt = torch.optim.Adagrad(table.parameters(), lr=0.01)  # allocates its state here
        else:  # row-wise Adagrad by hand: one float of state a row (TorchRec's is a fused kernel)
            state = torch.zeros(n)
        insert_s = time.perf_counter() - t0
        inserted_rss, inserted_peak, index_slots = rss_bytes(), peak_rss_bytes(), 0
        positions = torch.from_numpy(rng.integers(0, n, batch))
        with torch.no_grad():
            lookup_rate = median_rate(lambda: table(positions), batch)
        t0 = time.perf_counter()
        for _ in range(steps):
            table(torch.from_numpy(rng.integers(0, n, batch))).sum().backward()
            if optimizer == "adagrad":
                opt.step()
                opt.zero_grad()
            else:
                with torch.no_grad():
                    g = table.weight.grad.coalesce()
                    rows_, values = g.indices()[0], g.values()
                    state.index_add_(0, rows_, values.pow(2).mean(1))
                    table.weight.index_add_(0, rows_, -0.01 * values / (state[rows_].sqrt() + 1e-10)[:, None])
                table.weight.grad = None
        rows = n
    train_s = time.perf_counter() - t0
    final = rss_bytes()
    peak = peak_rss_bytes()
    result = {"case": case, "rows": rows, "insert_per_s": rows / insert_s, "lookup_per_s": lookup_rate,
              "step_ms": train_s / steps * 1e3,
              "inserted_rss_gib": inserted_rss / GIB, "final_rss_gib": final / GIB, "peak_rss_gib": peak / GIB,
              "insert_phase_peak_gib": inserted_peak / GIB, "index_slot_bytes_per_row": 4 * index_slots / rows,
              "bytes_per_row": (final - base) / rows,
              "extrapolated_100m_gib": (base + (final - base) / rows * 1e8) / GIB}
    if half_rss is not None:  # growth from half the rows to all of them: fixed costs cancel
        result["insert_bytes_per_row_slope"] = (inserted_rss - half_rss) / (rows - half_rows)
    return result


def run_memory(n: int, batch: int, dim: int, cases: list[str]) -> list[dict]:
    results = []
    for case in cases:
        done = subprocess.run([sys.executable, __file__, "_memory_case", case, str(n), str(batch), str(dim)],
                              capture_output=True, text=True, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
        if done.returncode != 0:
            results.append({"case": case, "error": done.stderr.strip().splitlines()[-1:]})
        else:
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(_memory_line(results[-1]), flush=True)
    return results


def _memory_line(r: dict) -> str:
    if "error" in r:
        return f"  {r['case']:<22} failed: {r['error']}"
    return (f"  {r['case']:<21} rows {r['rows']:>11,}  RSS {r['final_rss_gib']:6.2f} GiB (peak "
            f"{r['peak_rss_gib']:5.2f})  {r['bytes_per_row']:6.1f} B/row -> 100M rows "
            f"{r['extrapolated_100m_gib']:6.2f} GiB  insert {r['insert_per_s'] / 1e6:5.2f}M rows/s  "
            f"lookup {r['lookup_per_s'] / 1e6:5.2f}M ids/s  "
            f"train step {r['step_ms']:7.1f} ms"
            + (f"  (insert-phase slope {r['insert_bytes_per_row_slope']:.1f} B/row before slots; peak "
               f"{r['insert_phase_peak_gib']:.2f} GiB by the end of inserting; index slots "
               f"{r['index_slot_bytes_per_row']:.2f} B/row)" if "insert_bytes_per_row_slope" in r else ""))


BUDGET_GIB = {"ember-adagrad": 16, "ember-rowwise": 8, "ember-rowwise-meta": 8,  # peak RSS at 100M rows
              "ember-rowwise-nometa": 8}


def _print_ratios(results: list[dict]) -> None:
    """Each Ember case beside its PyTorch counterpart (peak RSS, lookup rate) and its 100M-row budget."""
    by_case = {r["case"]: r for r in results if "error" not in r}
    for case, r in by_case.items():
        if not case.startswith("ember"):
            continue
        line = f"  {case:<21} peak {r['peak_rss_gib']:5.2f} GiB"
        if case in BUDGET_GIB and r["rows"] >= 10**8:
            verdict = "within" if r["peak_rss_gib"] <= BUDGET_GIB[case] else "OVER"
            line += f" ({verdict} the {BUDGET_GIB[case]} GiB budget)"
        torch_case = "torch-adagrad" if case == "ember-adagrad" else "torch-rowwise"
        if torch_case in by_case:
            t = by_case[torch_case]
            line += (f"; vs {torch_case}: peak RSS {r['peak_rss_gib'] / t['peak_rss_gib']:.2f}x, "
                     f"lookup time {t['lookup_per_s'] / r['lookup_per_s']:.2f}x")
        print(line)


MEMORY_CASES = ["ember-adagrad", "torch-adagrad", "ember-rowwise", "ember-rowwise-meta", "ember-rowwise-nometa",
                "torch-rowwise"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["index", "rates", "memory", "_memory_case"])
    parser.add_argument("args", nargs="*")
    parser.add_argument("--keys", type=int, default=2_000_000)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--batch", type=int, default=65536)
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--only", nargs="*", default=MEMORY_CASES, choices=MEMORY_CASES)
    options = parser.parse_args()
    if options.what == "_memory_case":
        case, n, batch, dim = options.args
        print(json.dumps(memory_case(case, int(n), int(batch), int(dim))))
        return
    print(f"# {machine_line()}; shared, loaded machine: figures are noisy")
    if options.what == "index":
        print(f"id -> row, {options.keys:,} distinct int64 keys, lookups of {options.batch:,} present keys:")
        for name, r in bench_index(options.keys, options.batch).items():
            rates = (f"insert {r['insert_per_s'] / 1e6:7.2f}M/s  lookup {r['lookup_per_s'] / 1e6:7.2f}M/s"
                     if "lookup_per_s" in r else "")
            print(f"  {name:<32} {rates}  {r.get('note', '')}")
    elif options.what == "rates":
        r = bench_rates(options.rows, options.batch, options.dim)
        print(f"HashEmbedding({options.dim}), {r['rows']:,} rows, batches of {r['batch']:,}:")
        print(f"  insert (new ids, initializer included): {r['insert_per_s'] / 1e6:.2f}M ids/s")
        print(f"  lookup (present ids, rows gathered):    {r['lookup_per_s_ember'] / 1e6:.2f}M ids/s "
              f"(id -> row alone {r['lookup_per_s_ember_index_only'] / 1e6:.2f}M/s); torch nn.Embedding "
              f"{r['lookup_per_s_torch'] / 1e6:.2f}M rows/s; ember/torch time ratio "
              f"{r['lookup_per_s_torch'] / r['lookup_per_s_ember']:.2f}x")
    else:
        print(f"RSS of a {options.rows:,} x {options.dim} table after inserting it and 20 training steps "
              f"(batches of {options.batch:,}):")
        results = run_memory(options.rows, options.batch, options.dim, options.only)
        print("Side by side:")
        _print_ratios(results)


if __name__ == "__main__":
    main()
