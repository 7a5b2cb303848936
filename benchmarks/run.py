"""Measure velo-tui against its performance targets, each case in its own child process.

    python benchmarks/run.py [--records N] [--batch-size N] [--kafka HOST:PORT] [--json PATH]

Cases, run one after another on this machine:
  baseline   the debug-mode example's three statements as one DuckDB query over the same
             generated records (decode with json_transform, the three stages, to_json)
  pipeline   `velo-tui stress` on the same pipeline, embedded broker, N records, 1% malformed
             records, at the given micro-batch size and at the default one
  views      head, tail and filter (line_total > 1000) on an N-record topic through TopicViews
  memory     peak RSS of the pipeline at 100,000 records (the N-record figure comes from pipeline)
  kafka      the pipeline against a Kafka broker, when --kafka or VELO_TEST_KAFKA gives one

Each figure is printed beside its target and, for throughput, its ratio to the baseline.
The pipeline is the debug-mode example from the Velostream examples folder (VELO_TUI_CORPUS or
--corpus, else the folder the test suite uses), read unchanged; a temporary test spec adds the
faults. Timings are wall-clock on whatever else the machine is running; the load average at
the start of each case is printed with it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]

TARGET_THROUGHPUT = 150_000  # input records/s end to end, embedded broker
TARGET_RSS_BYTES = 1.5e9  # peak RSS
TARGET_VIEW_S = 0.3  # head, tail, filter
TARGET_KAFKA_THROUGHPUT = 30_000  # input records/s end to end against Kafka

MB = 1_000_000

#: Test spec for the benchmark: the debug-mode example's input with 1% malformed records.
SPEC = """\
application: debug_mode_demo
fault_injection:
  seed: 42
  malformed_records:
    enabled: true
    rate: 0.01
queries:
  - name: validated_orders
    inputs:
      - source: raw_orders
        schema: order_record
"""

#: The three statements of the debug-mode example as one DuckDB query over `raw(value)`.
#: Timestamps are written as velo-tui writes them, so both produce the same JSON text.
BASELINE_SQL = """
WITH source AS (
    SELECT json_transform(text, '{types}') AS j
    FROM (SELECT try(decode(value)) AS text FROM raw)
    WHERE json_valid(text) AND json_type(text) = 'OBJECT'
), validated_orders AS (
    SELECT j.order_id, j.customer_id, j.product_id, j.quantity, j.unit_price,
           j.quantity * j.unit_price AS line_total, j.event_time
    FROM source
    WHERE j.quantity > 0 AND j.unit_price > 0
), enriched_orders AS (
    SELECT *,
        CASE WHEN line_total > 1000 THEN 'PREMIUM' WHEN line_total > 100 THEN 'STANDARD'
             ELSE 'BASIC' END AS order_tier,
        CASE WHEN quantity >= 100 THEN 'BULK_ORDER' WHEN quantity >= 10 THEN 'MULTI_UNIT'
             ELSE 'SINGLE_UNIT' END AS order_type
    FROM validated_orders
), final_orders AS (
    SELECT order_id, customer_id, product_id, quantity, unit_price, line_total, order_tier,
           order_type, order_tier || '_' || order_type AS routing_key, event_time
    FROM enriched_orders
)
SELECT CAST(to_json(struct_pack(
    order_id := order_id, customer_id := customer_id, product_id := product_id,
    quantity := quantity, unit_price := unit_price, line_total := line_total,
    order_tier := order_tier, order_type := order_type, routing_key := routing_key,
    event_time := strftime(event_time, '%Y-%m-%dT%H:%M:%S.%g'))) AS BLOB) AS value
FROM final_orders
"""

BASELINE_TYPES = (
    '{"order_id": "VARCHAR", "customer_id": "BIGINT", "product_id": "BIGINT", '
    '"quantity": "BIGINT", "unit_price": "DOUBLE", "event_time": "TIMESTAMP"}'
)


# --- helpers shared by the cases ------------------------------------------------------------------


def corpus_dir(option: str | None) -> Path:
    if option:
        return Path(option)
    configured = os.environ.get("VELO_TUI_CORPUS", "").strip()
    if configured:
        return Path(configured)
    sys.path.insert(0, str(REPO_ROOT))
    from tests.conftest import DEFAULT_CORPUS_DIR

    return DEFAULT_CORPUS_DIR


def pipeline_sql(corpus: Path) -> Path:
    path = corpus / "tier8_fault_tolerance" / "73_debug_mode.sql"
    if not path.is_file():
        raise SystemExit(f"benchmark: {path} was not found; pass --corpus or set VELO_TUI_CORPUS")
    return path


def write_spec(folder: Path) -> Path:
    path = folder / "benchmark.test.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def machine() -> dict[str, Any]:
    """Return the facts that a benchmark figure depends on."""
    import duckdb
    import pyarrow

    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory_kib = 0
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
                break
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "load_average_at_start": load_average(),
    }


# --- cases, each run in a child process -------------------------------------------------------------


def case_baseline(args: argparse.Namespace) -> dict[str, Any]:
    """Generate the input exactly as the pipeline does, then time the one-query version."""
    import duckdb
    import pyarrow as pa

    from velo_tui.engine.broker.embedded import EmbeddedBroker
    from velo_tui.engine.inputs import InputProducer
    from velo_tui.engine.session import Session, SessionOptions

    with tempfile.TemporaryDirectory() as folder:
        broker = EmbeddedBroker()
        session = Session(pipeline_sql(corpus_dir(args.corpus)), SessionOptions(
            spec_path=write_spec(Path(folder)), records=args.records, broker=broker, unpaced=True,
        ))
        statement = session.pipeline.statements[0]
        started = time.perf_counter()
        producer = InputProducer(broker, session.fault_plan, session.max_message_bytes(statement),
                                 lambda plan, rejected, messages: None)
        for plan in session.input_plans(statement):
            producer.produce(plan)
        generation_s = time.perf_counter() - started
        values = broker.read_all(statement.source.topic).select(["value"])

    con = duckdb.connect()
    con.register("raw", values)
    query = BASELINE_SQL.replace("{types}", BASELINE_TYPES)
    started = time.perf_counter()
    result = con.sql(query).to_arrow_table()
    query_s = time.perf_counter() - started
    assert isinstance(result, pa.Table)
    return {
        "input_records": values.num_rows,
        "output_records": result.num_rows,
        "generation_s": round(generation_s, 3),
        "query_s": round(query_s, 3),
        "records_per_second": round(values.num_rows / query_s),
    }


def run_stress(args: argparse.Namespace, records: int, batch_size: int | None,
               bootstrap: str | None = None) -> dict[str, Any]:
    """Run `velo-tui stress` in a child process and return its `stress` figures."""
    with tempfile.TemporaryDirectory() as folder:
        command = [
            sys.executable, "-m", "velo_tui", "stress", str(pipeline_sql(corpus_dir(args.corpus))),
            "--spec", str(write_spec(Path(folder))), "--records", str(records), "--output", "json",
        ]
        if batch_size:
            command += ["--batch-size", str(batch_size)]
        if bootstrap:
            command += ["--bootstrap-servers", bootstrap]
        result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO_ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"velo-tui stress exited with {result.returncode}: {result.stderr.strip()[-2000:]}")
    report = json.loads(result.stdout)
    stress = report["stress"]
    return {
        "records": records,
        "batch_size": batch_size,
        "input_records": stress["input_records"],
        "output_records": stress["output_records"],
        "total_s": stress["total_s"],
        "input_production_s": stress["input_production_s"],
        "cpu_s": stress["cpu_s"],
        "throughput_including_input": stress["throughput"]["end_to_end_including_input_production"],
        "throughput_excluding_input": stress["throughput"]["end_to_end_excluding_input_production"],
        "statements": {s["name"]: s["records_per_second"] for s in stress["statements"]},
        "latency": stress["latency"],
        "peak_rss_mb": stress["memory"]["peak_rss_mb"],
        "topic_storage_mb": stress["memory"]["topic_storage_mb"],
        "dlq": stress["dlq"],
        "accounting_ok": stress["accounting_ok"],
    }


def case_views(args: argparse.Namespace) -> dict[str, Any]:
    """Fill the validated_orders topic with N records, then time head, tail and filter."""
    from velo_tui.engine.session import Session, SessionOptions
    from velo_tui.engine.views import TopicViews

    with tempfile.TemporaryDirectory() as folder:
        session = Session(pipeline_sql(corpus_dir(args.corpus)), SessionOptions(
            spec_path=write_spec(Path(folder)), records=args.records, batch_size=args.batch_size,
            unpaced=True, evaluate_assertions=False,
        ))
        state = session.step()
        views = TopicViews(session)
        timings: dict[str, float] = {}

        def timed(label: str, call) -> Any:
            started = time.perf_counter()
            value = call()
            timings[label] = round(time.perf_counter() - started, 4)
            return value

        timed("head_first", lambda: views.head("validated_orders", 20))
        timed("head", lambda: views.head("validated_orders", 20))
        timed("tail", lambda: views.tail("validated_orders", 20))
        page = timed("filter_first", lambda: views.filter("validated_orders", "line_total > 1000"))
        timed("filter", lambda: views.filter("validated_orders", "line_total > 1000"))
        views.close()
    return {"topic_records": state.stats.records_out, "matched": page.matched, "seconds": timings}


def child(args: argparse.Namespace) -> dict[str, Any]:
    if args.case == "baseline":
        return case_baseline(args)
    if args.case == "pipeline":
        return run_stress(args, args.records, args.batch_size)
    if args.case == "pipeline_default_batch":
        return run_stress(args, args.records, None)
    if args.case == "memory_small":
        return run_stress(args, min(100_000, args.records), args.batch_size)
    if args.case == "views":
        return case_views(args)
    if args.case == "kafka":
        return run_stress(args, args.records, args.batch_size, args.kafka)
    raise SystemExit(f"benchmark: unknown case {args.case}")


# --- the parent: run the cases, print figures beside targets ---------------------------------------


def run_case(args: argparse.Namespace, case: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--case", case, "--records", str(args.records),
               "--batch-size", str(args.batch_size)]
    if args.corpus:
        command += ["--corpus", args.corpus]
    if args.kafka:
        command += ["--kafka", args.kafka]
    load = load_average()
    print(f"  running {case} (load average {load}) ...", file=sys.stderr, flush=True)
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO_ROOT)
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed",
                "load_average": load}
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["load_average"] = load
    return figures


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def report(results: dict[str, Any], args: argparse.Namespace) -> list[str]:
    lines = []
    baseline = results.get("baseline", {})
    base_rate = baseline.get("records_per_second")
    if base_rate:
        lines.append(
            f"baseline (one DuckDB query, {baseline['input_records']:,} records): "
            f"{base_rate:,} records/s ({baseline['query_s']} s; input generation took "
            f"{baseline['generation_s']} s and is not counted)"
        )
    for case, label in (("pipeline", f"batch {args.batch_size:,}"),
                        ("pipeline_default_batch", "default batch"),
                        ("kafka", f"Kafka, batch {args.batch_size:,}")):
        figures = results.get(case)
        if figures is None:
            continue
        if "error" in figures:
            lines.append(f"{case}: failed: {figures['error']}")
            continue
        target = TARGET_KAFKA_THROUGHPUT if case == "kafka" else TARGET_THROUGHPUT
        including = figures["throughput_including_input"]
        excluding = figures["throughput_excluding_input"]
        ratio = f"{including / base_rate:.2f}x baseline" if base_rate else "no baseline"
        lines.append(
            f"pipeline, {label}, {figures['input_records']:,} input records: "
            f"{including:,.0f} records/s end to end incl. input production "
            f"(target >= {target:,}: {verdict(including >= target)}; {ratio}); "
            f"{excluding:,.0f} records/s excl. input production"
            + (f" ({excluding / base_rate:.2f}x baseline)" if base_rate else "")
        )
        lines.append(
            f"  {figures['total_s']:.2f} s, {figures['cpu_s']:.2f} s of CPU "
            f"({figures['input_records'] / figures['cpu_s']:,.0f} input records per CPU second); "
            f"latency p50/p95/p99 {figures['latency']['p50_ms']}/{figures['latency']['p95_ms']}/"
            f"{figures['latency']['p99_ms']} ms; peak RSS {figures['peak_rss_mb']:,.0f} MB; "
            f"accounting {'holds' if figures['accounting_ok'] else 'DOES NOT HOLD'}"
        )
    for case in ("memory_small", "pipeline"):
        figures = results.get(case)
        if figures is None or "error" in figures:
            continue
        peak = figures["peak_rss_mb"] * MB
        storage = figures.get("topic_storage_mb")
        lines.append(
            f"peak RSS at {figures['records']:,} records: {peak / 1e9:.2f} GB "
            f"(target < 1.5 GB: {verdict(peak < TARGET_RSS_BYTES)})"
            + (f"; the embedded broker's topics hold {storage / 1000:.2f} GB of it" if storage else "")
        )
    views = results.get("views")
    if views is not None and "error" not in views:
        for label, seconds in views["seconds"].items():
            lines.append(
                f"views, {label} on {views['topic_records']:,} records: {seconds:.3f} s "
                f"(target < {TARGET_VIEW_S} s: {verdict(seconds < TARGET_VIEW_S)})"
            )
    elif views is not None:
        lines.append(f"views: {views['error']}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="records per run (default 1,000,000)")
    parser.add_argument("--batch-size", type=int, default=10_000,
                        help="micro-batch size of the main pipeline case (default 10,000)")
    parser.add_argument("--kafka", metavar="HOST:PORT", default=os.environ.get("VELO_TEST_KAFKA") or None,
                        help="Kafka broker for the Kafka case (default: VELO_TEST_KAFKA; skipped without one)")
    parser.add_argument("--corpus", metavar="DIR", help="folder of the Velostream examples")
    parser.add_argument("--cases", help="comma-separated cases to run (default: all)")
    parser.add_argument("--json", metavar="PATH", help="also write machine details and figures to PATH")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.case:
        print(json.dumps(child(args)))
        return 0

    cases = ["baseline", "pipeline", "pipeline_default_batch", "memory_small", "views"]
    if args.kafka:
        cases.append("kafka")
    if args.cases:
        cases = [case for case in args.cases.split(",") if case]
    facts = machine()
    print(json.dumps(facts), file=sys.stderr)
    if not (REPO_ROOT / "velo_tui" / "engine" / "views.py").is_file() and "views" in cases:
        print("  skipping views: velo_tui/engine/views.py is missing", file=sys.stderr)
        cases.remove("views")
    if not args.kafka:
        print("  skipping kafka: no broker (pass --kafka or set VELO_TEST_KAFKA)", file=sys.stderr)

    results = {case: run_case(args, case) for case in cases}
    for line in report(results, args):
        print(line)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": facts, "results": results}, indent=2) + "\n",
                                   encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
