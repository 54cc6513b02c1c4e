"""Where HTTP/2's cost lies: fcm-client's engine over TLS with HTTP/2 and with HTTP/1.1 only
(``FCMCLIENT_HTTP2=off``), side by side against the benchmark's fake FCM, with the client's
and the server's CPU per message.

    python3 benchmarks/http2_cost.py [N [latency seconds]]    # default 10000 0.02

Uses ``benchmarks/.venv`` (made by ``benchmarks/run.py``) and the openssl command. Prints,
for each of four alternating runs, the middle of three sends of N tokens.
"""

import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHON = str(HERE / ".venv" / "bin" / "python")
N = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
LAT = float(sys.argv[2]) if len(sys.argv) > 2 else 0.02

TMP = Path(tempfile.mkdtemp(prefix="fcm-http2-"))
cert, key = TMP / "cert.pem", TMP / "key.pem"
if True:
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
        ],
        check=True,
        capture_output=True,
    )
server = subprocess.Popen(
    [PYTHON, str(HERE / "fastserver.py"), "--cert", str(cert), "--key", str(key)],
    stdin=subprocess.PIPE,
    stdout=subprocess.PIPE,
    text=True,
)
ports = json.loads(server.stdout.readline())
urllib.request.urlopen(f"http://127.0.0.1:{ports['control_port']}/latency?s={LAT}").read()
account = {
    "type": "service_account",
    "project_id": "bench",
    "private_key_id": "k",
    "private_key": key.read_text(),
    "client_email": "b@bench.iam.gserviceaccount.com",
    "client_id": "1",
    "token_uri": f"http://127.0.0.1:{ports['port']}/token",
}
(TMP / "sa.json").write_text(json.dumps(account))

CLIENT = r"""
import os, resource, sys, time, json
from fcmclient import FCM, JSONMessage
n = int(sys.argv[1]); url = sys.argv[2]
fcm = FCM.from_service_account(sys.argv[3], url=url, verify=sys.argv[4])
fcm.send(JSONMessage([f"w{i}" for i in range(500)], {"a": "b"}))
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
def scpu():
    f = open(f"/proc/{sys.argv[5]}/stat").read().split()
    return (int(f[13]) + int(f[14])) / os.sysconf("SC_CLK_TCK")
out = []
for run in range(3):
    c0, s0, t0 = cpu(), scpu(), time.monotonic()
    targets = [f"t{run}-{i}" for i in range(n)]
    r = fcm.send(JSONMessage(targets, {"a": "b"}, message_title="Hi", message_body="There"))
    dt = time.monotonic() - t0
    assert len(r.success) == n, (len(r.success), list(r.outcomes.values())[:3])
    out.append((n / dt, (cpu() - c0) / n * 1e6, (scpu() - s0) / n * 1e6))
fcm.close()
print(json.dumps(out))
"""
try:
    for mode in ("h2", "h1", "h2", "h1"):
        env = dict(os.environ, FCMCLIENT_HTTP2="on" if mode == "h2" else "off")
        cmd = [
            PYTHON,
            "-c",
            CLIENT,
            str(N),
            f"https://127.0.0.1:{ports['tls_port']}/v1/projects/bench/messages:send",
            str(TMP / "sa.json"),
            str(cert),
            str(server.pid),
        ]
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=str(TMP))
        if res.returncode:
            print(res.stderr[-3000:])
            break
        runs = json.loads(res.stdout.strip().splitlines()[-1])
        best = sorted(runs)[1]
        shown = [(round(a), round(b), round(c)) for a, b, c in runs]
        print(
            f"{mode}: N={N} {LAT * 1000:.0f} ms  msgs/s {best[0]:8,.0f}  client CPU us/msg {best[1]:6.0f}"
            f"  server CPU us/msg {best[2]:6.0f}  runs={shown}"
        )
finally:
    server.stdin.close()
    server.wait(10)
