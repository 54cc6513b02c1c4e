"""Fan-out benchmark: fcm-client against firebase-admin, pyfcm and a raw http.client floor.

One command runs everything side by side against one fast fake FCM on loopback
(``fastserver.py``, in its own process), over plain HTTP and TLS, with 0 and 20 ms of
injected latency per answer (standing in for the round trip to Google)::

    python3 benchmarks/run.py            # the full matrix (about 15 minutes on 2 cores)
    python3 benchmarks/run.py --quick    # N = 500 only, 2 runs: a few minutes

The first run creates ``benchmarks/.venv`` (this checkout plus ``requirements.txt``) and
``benchmarks/.venv-0.2.2`` (fcm-client 0.2.2, whose import name is also ``fcmclient``), then
re-runs itself in the former. Each client runs in its own process (``clients.py``), so its
CPU time, threads and memory are its own. Prints a table (medians over the runs), checks the
targets of issue 7, and writes ``results.json`` and a chart (``--chart``).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV = HERE / ".venv"
OLD_VENV = HERE / ".venv-0.2.2"
OLD_VERSION = "fcm-client==0.2.2"

V1_CLIENTS = [
    "physical-floor",
    "floor",
    "fcmclient-v1",
    "fcmclient-v1-threads",
    "fcmclient-v1-h1",
    "fcmclient-each",
    "fcmclient-subscribe",
    "firebase-admin-sync",
    "firebase-admin-each",
    "firebase-admin-async",
    "pyfcm-async",
]
LEGACY_CLIENTS = ["fcmclient-legacy", "fcmclient-0.2.2-legacy"]
LABELS = {
    "physical-floor": "physical floor: asyncio, 256 conns, 1 thread",
    "floor": "raw http.client (64 threads)",
    "fcmclient-v1": "fcm-client v1 fan-out (engine)",
    "fcmclient-v1-threads": "fcm-client v1, requests' path (64 thr.)",
    "fcmclient-v1-h1": "fcm-client v1 engine, HTTP/1.1 only",
    "fcmclient-each": "fcm-client send_each (N messages)",
    "fcmclient-subscribe": "fcm-client subscribe_to_topic (tokens/s)",
    "firebase-admin-each": "firebase-admin 7.7.0 send_each",
    "firebase-admin-sync": "firebase-admin 7.7.0 sync",
    "firebase-admin-async": "firebase-admin 7.7.0 async",
    "pyfcm-async": "pyfcm 2.1.1 async",
    "fcmclient-legacy": "fcm-client legacy (1,000 ids/request)",
    "fcmclient-0.2.2-legacy": "fcm-client 0.2.2 legacy (1,000 ids/request)",
}
BIG_AUDIENCE = 100_000
#: Messages of the send_each_iter memory run (``--each-stream``).
EACH_STREAM = 1_000_000
DOCS = ROOT / "docs" / "_static"


# Set-up: virtualenvs, certificates, service accounts, the server --------------------------


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _ensure_venv(venv: Path, requirements: list[str], fingerprint: str) -> None:
    stamp = venv / ".bench-stamp"
    wanted = hashlib.sha256((fingerprint + "\n".join(requirements)).encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    print(f"== setting up {venv.relative_to(ROOT)}", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(_python(venv)), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *requirements], check=True)
    stamp.write_text(wanted)


def ensure_venvs() -> None:
    """Create the two virtualenvs if missing or outdated; re-run in the main one."""
    requirements = (HERE / "requirements.txt").read_text()
    _ensure_venv(VENV, ["-r", str(HERE / "requirements.txt"), "-e", str(ROOT)], requirements)
    _ensure_venv(OLD_VENV, [OLD_VERSION], "")
    if Path(sys.prefix).resolve() != VENV.resolve():
        os.execv(str(_python(VENV)), [str(_python(VENV)), str(Path(__file__).resolve()), *sys.argv[1:]])  # noqa: S606


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1: (CA, certificate chain, key)."""
    import trustme

    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    server.private_key_pem.write_to_path(str(key_path))
    with open(cert_path, "wb") as handle:
        for blob in server.cert_chain_pems:
            handle.write(blob.bytes())
    return ca_path, cert_path, key_path


def write_service_account(directory: Path, scheme: str, port: int) -> Path:
    """A service-account file whose token_uri is the server (a fresh RSA key, never real)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "bench",
        "private_key_id": "bench-key-id",
        "private_key": pem,
        "client_email": "bench@bench.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": f"{scheme}://127.0.0.1:{port}/token",
    }
    path = directory / f"service-account-{scheme}.json"
    path.write_text(json.dumps(info))
    return path


@contextmanager
def fast_server(cert: Path, key: Path) -> Iterator[dict[str, int]]:
    """Run fastserver.py in its own process; yields its ports."""
    process = subprocess.Popen(
        [str(_python(VENV)), str(HERE / "fastserver.py"), "--cert", str(cert), "--key", str(key)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield json.loads(process.stdout.readline())
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(10)


def control(port: int, path: str) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        return dict(json.loads(conn.getresponse().read()))
    finally:
        conn.close()


# Running the clients ----------------------------------------------------------------------


class Client:
    """One client's process: started and warmed up, then told to run N messages at a time."""

    def __init__(self, name: str, scheme: str, matrix: Matrix, warmup: int) -> None:
        self.name, self.scheme = name, scheme
        port = matrix.ports["tls_port"] if scheme == "https" else matrix.ports["port"]
        base = f"{scheme}://127.0.0.1:{port}"
        venv = OLD_VENV if "0.2.2" in name else VENV
        command = [
            str(_python(venv)),
            str(HERE / "clients.py"),
            name,
            f"--v1-url={base}/v1/projects/bench/messages:send",
            f"--legacy-url={base}/fcm/send",
            f"--service-account={matrix.accounts[scheme]}",
            f"--control-port={matrix.ports['control_port']}",
            f"--warmup={warmup}",
            f"--min-seconds={matrix.min_seconds}",
        ]
        env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
        if scheme == "https":
            command.append(f"--ca={matrix.ca}")
            env["REQUESTS_CA_BUNDLE"] = env["SSL_CERT_FILE"] = str(matrix.ca)
            env.pop("CURL_CA_BUNDLE", None)
            env.pop("SSL_CERT_DIR", None)
        self._errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._errors,
            text=True,
            env=env,
            cwd=HERE,
        )
        self._expect("ready")

    def _fail(self) -> SystemExit:
        self._errors.seek(0)
        return SystemExit(f"{self.name} over {self.scheme} failed:\n{self._errors.read()[-3000:]}")

    def _expect(self, prefix: str) -> str:
        assert self.process.stdout is not None
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise self._fail()
            if line.startswith(prefix):
                return line

    def run(self, n: int) -> dict[str, Any]:
        """Send n messages once; the measurements."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{n}\n")
        self.process.stdin.flush()
        return dict(json.loads(self._expect("{")))

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(60)
        self._errors.close()


class Matrix:
    """Everything a client process needs to reach the server, per scheme."""

    def __init__(
        self, ports: dict[str, int], ca: Path, accounts: dict[str, Path], min_seconds: float
    ) -> None:
        self.ports, self.ca, self.accounts, self.min_seconds = ports, ca, accounts, min_seconds

    def interleaved(
        self, names: Sequence[str], scheme: str, sizes: Sequence[int], runs: Callable[[int], int], warmup: int
    ) -> list[dict[str, Any]]:
        """Start every client, then run them in turn (rotating who goes first): one line per (client, N)."""
        clients = [Client(name, scheme, self, warmup) for name in names]
        lines = []
        try:
            for n in sizes:
                results: dict[str, list[dict[str, Any]]] = {client.name: [] for client in clients}
                for turn in range(runs(n)):
                    for k in range(len(clients)):
                        client = clients[(turn + k) % len(clients)]
                        results[client.name].append(client.run(n))
                for client in clients:
                    done = results[client.name]
                    peak = max(run["peak_rss_mb"] for run in done)
                    lines.append({"client": client.name, "n": n, "runs": done, "peak_rss_mb": peak})
        finally:
            for client in clients:
                client.close()
        return lines


def summarize(line: dict[str, Any], scheme: str, latency: float) -> dict[str, Any]:
    runs = line["runs"]
    n = line["n"]
    rates = [run["messages"] / run["seconds"] for run in runs]
    return {
        "scheme": scheme,
        "latency_ms": round(latency * 1000),
        "n": n,
        "client": line["client"],
        "msgs_per_s": statistics.median(rates),
        "rates": rates,
        "cpu_us_per_msg": statistics.median(run["cpu"] / run["messages"] * 1e6 for run in runs),
        "threads": max(run["threads"] for run in runs),
        "new_connections": round(statistics.median(run["connections"] for run in runs)),
        "sends": sum(run["sends"] for run in runs),
        "peak_open": max(run["peak_open"] for run in runs),
        "peak_rss_mb": line["peak_rss_mb"],
        "delivered_all": all(run["delivered"] == run["messages"] for run in runs),
    }


# Reporting --------------------------------------------------------------------------------


def _floor_rate(rows: list[dict[str, Any]], row: dict[str, Any]) -> float | None:
    for other in rows:
        if other["client"] == "physical-floor" and all(
            other[k] == row[k] for k in ("scheme", "latency_ms", "n")
        ):
            return float(other["msgs_per_s"])
    return None


def format_table(rows: list[dict[str, Any]]) -> str:
    """The results as a fixed-width text table (also used in docs/benchmarks.rst)."""
    header = (
        f"{'scheme':6} {'lat':>5} {'N':>6}  {'client':44} {'msgs/s':>7} {'vs floor':>8} "
        f"{'CPU us/msg':>10} {'threads':>7} {'conns':>5} {'new':>5} {'RSS MB':>6}"
    )
    lines = [header, "-" * len(header)]
    previous = None
    for row in rows:
        group = (row["scheme"], row["latency_ms"], row["n"])
        if previous is not None and group != previous:
            lines.append("")
        previous = group
        floor_rate = _floor_rate(rows, row)
        versus = f"{floor_rate / row['msgs_per_s']:.2f}x" if floor_rate else "-"
        if row["client"] in LEGACY_CLIENTS:
            versus = "n/a"
        mark = "" if row["delivered_all"] else " (!)"
        lines.append(
            f"{row['scheme']:6} {row['latency_ms']:>3}ms {row['n']:>6}  {LABELS[row['client']] + mark:44} "
            f"{row['msgs_per_s']:>7,.0f} {versus:>8} {row['cpu_us_per_msg']:>10,.0f} {row['threads']:>7} "
            f"{row['peak_open']:>5} {row['new_connections']:>5} {row['peak_rss_mb']:>6.0f}"
        )
    return "\n".join(lines)


def _find(
    rows: list[dict[str, Any]], client: str, scheme: str, latency: int, n: int
) -> dict[str, Any] | None:
    for row in rows:
        if (row["client"], row["scheme"], row["latency_ms"], row["n"]) == (client, scheme, latency, n):
            return row
    return None


def check_targets(
    rows: list[dict[str, Any]], big: dict[str, Any] | None, legacy: list[dict[str, Any]]
) -> str:
    """One line per target of issue 7: PASS or MISS, with the measured figure."""
    out: list[str] = []

    def verdict(ok: bool, text: str) -> None:
        out.append(f"{'PASS' if ok else 'MISS'}  {text}")

    for scheme in ("http", "https"):
        for latency, within in ((20, 1.3), (0, 1.5)):
            for n in (500, 2000):
                ours = _find(rows, "fcmclient-v1", scheme, latency, n)
                floor_row = _find(rows, "floor", scheme, latency, n)  # issue 7's: http.client, 64 threads
                admin = _find(rows, "firebase-admin-sync", scheme, latency, n)
                if not (ours and floor_row and admin):
                    continue
                speedup = ours["msgs_per_s"] / admin["msgs_per_s"]
                slower = floor_row["msgs_per_s"] / ours["msgs_per_s"]
                where = f"{scheme:5} {latency:>2} ms N={n:<5}"
                verdict(speedup >= 3, f"{where} fcm-client / firebase-admin sync = {speedup:.2f}x (>= 3x)")
                verdict(slower <= within, f"{where} floor / fcm-client = {slower:.2f}x (<= {within}x)")
    ours_rows = [row for row in rows if row["client"] == "fcmclient-v1"]
    if ours_rows:
        threads = max(row["threads"] for row in ours_rows)
        verdict(threads <= 4, f"fcm-client v1 peak threads {threads} (<= 4)")
        peak = max(row["peak_open"] for row in ours_rows)
        verdict(
            peak <= 257,
            f"fcm-client v1 peak open connections {peak} (<= max_workers 256, + the token fetch's)",
        )
    if big is not None:
        verdict(
            big["peak_rss_mb"] < 120,
            f"fcm-client v1, {BIG_AUDIENCE:,} tokens: peak RSS {big['peak_rss_mb']:.0f} MB (< 120)",
        )
        verdict(
            big["peak_open"] <= 257,
            f"fcm-client v1, {BIG_AUDIENCE:,} tokens: peak open connections {big['peak_open']} (<= 256 + 1)",
        )
    for scheme in ("http", "https"):
        for latency in (0, 20):
            new = _find(legacy, "fcmclient-legacy", scheme, latency, 1000)
            old = _find(legacy, "fcmclient-0.2.2-legacy", scheme, latency, 1000)
            if new and old:
                where = f"{scheme:5} {latency:>2} ms legacy 1,000 ids"
                ratio = new["msgs_per_s"] / old["msgs_per_s"]
                verdict(ratio >= 1, f"{where}: fcm-client / 0.2.2 speed = {ratio:.2f}x (>= 1x)")
                verdict(
                    new["new_connections"] == 0,
                    f"{where}: fcm-client new connections per send {new['new_connections']} (0)",
                )
    return "\n".join(out)


def check_engine_targets(rows: list[dict[str, Any]]) -> str:
    """Issue 16: at 20 ms over plain HTTP, fcm-client >= 0.6x the physical floor's msgs/s at
    <= 3x its CPU per message; over TLS >= 3x requests' path (fcm-client before the engine)."""
    out: list[str] = []

    def verdict(ok: bool, text: str) -> None:
        out.append(f"{'PASS' if ok else 'MISS'}  {text}")

    for n in (2000, 10000):
        ours = _find(rows, "fcmclient-v1", "http", 20, n)
        floor_row = _find(rows, "physical-floor", "http", 20, n)
        if ours and floor_row:
            rate = ours["msgs_per_s"] / floor_row["msgs_per_s"]
            cpu = ours["cpu_us_per_msg"] / floor_row["cpu_us_per_msg"]
            verdict(
                rate >= 0.6,
                f"http  20 ms N={n:<5} fcm-client / physical floor msgs/s = {rate:.2f}x (>= 0.6x)",
            )
            verdict(
                cpu <= 3, f"http  20 ms N={n:<5} fcm-client / physical floor CPU per msg = {cpu:.2f}x (<= 3x)"
            )
        ours = _find(rows, "fcmclient-v1", "https", 20, n)
        before = _find(rows, "fcmclient-v1-threads", "https", 20, n)
        if ours and before:
            ratio = ours["msgs_per_s"] / before["msgs_per_s"]
            verdict(ratio >= 3, f"https 20 ms N={n:<5} engine / requests' path msgs/s = {ratio:.2f}x (>= 3x)")
    return "\n".join(out)


def check_each_targets(rows: list[dict[str, Any]], stream: dict[str, Any] | None) -> str:
    """send_each within 1.25x the time of one multicast, at least 3x firebase-admin's send_each,
    and a million messages from a generator under 150 MB."""
    out: list[str] = []
    for scheme in ("http", "https"):
        for n in (2000, 10000):
            each = _find(rows, "fcmclient-each", scheme, 20, n)
            multicast = _find(rows, "fcmclient-v1", scheme, 20, n)
            admin = _find(rows, "firebase-admin-each", scheme, 20, n)
            where = f"{scheme:5} 20 ms N={n:<5}"
            if each and multicast:
                ratio = multicast["msgs_per_s"] / each["msgs_per_s"]
                text = f"{where} send_each time / multicast time = {ratio:.2f}x (<= 1.25x)"
                out.append(("PASS  " if ratio <= 1.25 else "MISS  ") + text)
            if each and admin:
                ratio = each["msgs_per_s"] / admin["msgs_per_s"]
                text = f"{where} send_each / firebase-admin send_each = {ratio:.2f}x (>= 3x)"
                out.append(("PASS  " if ratio >= 3 else "MISS  ") + text)
    if stream is not None:
        peak = stream["peak_rss_mb"]
        text = f"send_each_iter, {stream['n']:,} messages: peak RSS {peak:.0f} MB (< 150)"
        out.append(("PASS  " if peak < 150 else "MISS  ") + text)
    return "\n".join(out)


def check_topic_figures(rows: list[dict[str, Any]]) -> str:
    """subscribe_to_topic of N tokens next to a v1 send to N tokens, in the same run: tokens per
    second each, and their ratio (one request per token both: the same fan-out)."""
    out: list[str] = []
    for row in rows:
        if row["client"] != "fcmclient-subscribe":
            continue
        send = _find(rows, "fcmclient-v1", row["scheme"], row["latency_ms"], row["n"])
        where = f"{row['scheme']:5} {row['latency_ms']:>2} ms N={row['n']:<5}"
        text = f"{where} subscribe_to_topic {row['msgs_per_s']:,.0f} tokens/s"
        if send is not None:
            ratio = row["msgs_per_s"] / send["msgs_per_s"]
            text += f", v1 send {send['msgs_per_s']:,.0f} msgs/s: {ratio:.2f}x"
        out.append(text)
    return "\n".join(out)


def draw_chart(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharex=True)
    for column, latency in enumerate((0, 20)):
        for line, scheme in enumerate(("http", "https")):
            ax = axes[line][column]
            for index, client in enumerate(V1_CLIENTS):
                points = sorted(
                    (row["n"], row["msgs_per_s"])
                    for row in rows
                    if (row["client"], row["scheme"], row["latency_ms"]) == (client, scheme, latency)
                )
                if points:
                    xs, ys = zip(*points, strict=True)
                    style = "--" if client == "floor" else "-"
                    width = 2.5 if client == "fcmclient-v1" else 1.5
                    color = plt.get_cmap("tab10")(index) if index < 10 else "0.3"  # one per client
                    ax.plot(xs, ys, style, marker="o", linewidth=width, label=LABELS[client], color=color)
            ax.set_xscale("log")
            ax.set_title(f"{'TLS' if scheme == 'https' else 'plain HTTP'}, {latency} ms latency per answer")
            ax.set_ylabel("messages/s (median)")
            ax.grid(True, alpha=0.3)
            ax.set_ylim(bottom=0)
    for ax in axes[1]:
        ax.set_xlabel("tokens per multicast (N)")
    shown: dict[str, Any] = {}  # every client of any plot, once (some run over TLS only)
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            shown.setdefault(label, handle)
    axes[0][0].legend(list(shown.values()), list(shown), fontsize=8)
    fig.suptitle("HTTP v1 multicast on 2 cores, fake FCM on loopback in its own process")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


# Main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 500 only, 2 runs (for development)")
    parser.add_argument("--sizes", default="100,500,2000,10000", help="comma-separated N")
    parser.add_argument("--latencies", default="0,20", help="comma-separated milliseconds")
    parser.add_argument("--schemes", default="http,https")
    parser.add_argument("--clients", default=",".join(V1_CLIENTS + LEGACY_CLIENTS))
    parser.add_argument("--runs", type=int, default=3, help="runs per N below 5,000 (median reported)")
    parser.add_argument("--runs-large", type=int, default=1, help="runs per N of 5,000 and more")
    parser.add_argument(
        "--legacy-runs", type=int, default=5, help="runs of sends of 1,000 ids (legacy clients)"
    )
    parser.add_argument(
        "--min-seconds", type=float, default=1.0, help="a run repeats its send until this long"
    )
    parser.add_argument("--no-big", action="store_true", help=f"skip the {BIG_AUDIENCE:,}-token memory run")
    parser.add_argument(
        "--each-stream",
        type=int,
        default=EACH_STREAM,
        metavar="N",
        help=f"messages of the send_each_iter memory run (default {EACH_STREAM:,}; 0 skips it)",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where results.json goes")
    parser.add_argument("--chart", type=Path, help="PNG path (default: OUT/fanout.png)")
    parser.add_argument(
        "--docs",
        action="store_true",
        help=f"also write the chart and the report into {DOCS.relative_to(ROOT)}",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.runs, args.legacy_runs, args.each_stream = "500", 2, 2, 20_000
    args.size_list = [int(size) for size in args.sizes.split(",")]
    args.runs_for = lambda n: args.runs if n < 5000 else args.runs_large
    args.latency_list = [int(ms) for ms in args.latencies.split(",")]
    args.scheme_list = args.schemes.split(",")
    args.client_list = args.clients.split(",")
    unknown = set(args.client_list) - set(LABELS)
    if unknown:
        parser.error(f"unknown client(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    ensure_venvs()
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    legacy: list[dict[str, Any]] = []
    big = stream = None
    with tempfile.TemporaryDirectory(prefix="fcm-bench-") as tmp:
        ca, cert, key = make_certificates(Path(tmp))
        with fast_server(cert, key) as ports:
            accounts = {
                "http": write_service_account(Path(tmp), "http", ports["port"]),
                "https": write_service_account(Path(tmp), "https", ports["tls_port"]),
            }
            matrix = Matrix(ports, ca, accounts, args.min_seconds)
            v1 = [name for name in args.client_list if name not in LEGACY_CLIENTS]
            old = [name for name in args.client_list if name in LEGACY_CLIENTS]
            for scheme in args.scheme_list:
                for latency_ms in args.latency_list:
                    control(ports["control_port"], f"/latency?s={latency_ms / 1000}")
                    print(
                        f"== {scheme}, {latency_ms} ms: {', '.join(args.client_list)}",
                        file=sys.stderr,
                        flush=True,
                    )
                    # HTTP/1.1 only differs from the default over TLS (ALPN): plain HTTP skips it.
                    here = [name for name in v1 if scheme == "https" or name != "fcmclient-v1-h1"]
                    if here:
                        lines = matrix.interleaved(here, scheme, args.size_list, args.runs_for, warmup=500)
                        rows += [summarize(line, scheme, latency_ms / 1000) for line in lines]
                    if old:
                        lines = matrix.interleaved(
                            old, scheme, [1000], lambda n: args.legacy_runs, warmup=1000
                        )
                        legacy += [summarize(line, scheme, latency_ms / 1000) for line in lines]
            if not args.no_big and "fcmclient-v1" in args.client_list:
                print(f"== http, 0 ms: fcmclient-v1, {BIG_AUDIENCE:,} tokens", file=sys.stderr, flush=True)
                control(ports["control_port"], "/latency?s=0")
                (line,) = matrix.interleaved(["fcmclient-v1"], "http", [BIG_AUDIENCE], lambda n: 1, warmup=0)
                big = summarize(line, "http", 0.0)
            if args.each_stream:
                print(
                    f"== http, 0 ms: send_each_iter, {args.each_stream:,} messages",
                    file=sys.stderr,
                    flush=True,
                )
                control(ports["control_port"], "/latency?s=0")
                (line,) = matrix.interleaved(
                    ["fcmclient-each-stream"], "http", [args.each_stream], lambda n: 1, warmup=0
                )
                stream = summarize(line, "http", 0.0)
    order = {client: index for index, client in enumerate(V1_CLIENTS)}
    rows.sort(key=lambda r: (r["scheme"] != "http", r["latency_ms"], r["n"], order.get(r["client"], 99)))
    report = format_table(rows)
    if legacy:
        report += "\n\nLegacy multicast, sends of 1,000 ids (median over the runs):\n" + format_table(legacy)
    if big is not None:
        report += (
            f"\n\nBig audience: fcm-client v1, one send() of {BIG_AUDIENCE:,} tokens (plain HTTP, 0 ms): "
            f"{big['msgs_per_s']:,.0f} msgs/s, peak RSS {big['peak_rss_mb']:.0f} MB, "
            f"{big['threads']} threads, peak open connections {big['peak_open']}"
        )
    if stream is not None:
        report += (
            f"\n\nsend_each_iter of a generator of {args.each_stream:,} messages (plain HTTP, 0 ms): "
            f"{stream['msgs_per_s']:,.0f} msgs/s, peak RSS {stream['peak_rss_mb']:.0f} MB"
        )
    report += "\n\nTargets (issue 7):\n" + check_targets(rows, big, legacy)
    report += "\n\nTargets (issue 14, send_each):\n" + check_each_targets(rows, stream)
    report += "\n\nTargets (issue 16, the fan-out engine):\n" + check_engine_targets(rows)
    topics = check_topic_figures(rows)
    if topics:
        report += "\n\nTopic subscriptions (issue 15), next to a v1 send in the same run:\n" + topics
    report += f"\n\n(took {time.monotonic() - started:.0f} s)"
    print(report)
    args.out.mkdir(parents=True, exist_ok=True)
    results = {"rows": rows, "legacy": legacy, "big": big, "each_stream": stream}
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    (args.out / "report.txt").write_text(report + "\n")
    draw_chart(rows, args.chart or args.out / "fanout.png")
    if args.docs:
        draw_chart(rows, DOCS / "benchmarks.png")
        command = "python3 benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
        (DOCS / "benchmarks-report.txt").write_text(f"$ {command.strip()}\n\n{report}\n")


if __name__ == "__main__":
    main()
