"""Load test of the HTTP API: N concurrent verifications against a running server.

Usage::

    python -m bench.load_api                       # starts its own uvicorn (temp store)
    python -m bench.load_api --url http://127.0.0.1:8000 --clients 32 --requests 256

Registers ``--users`` users (alternating two reference photos), then fires
``--requests`` verifications from ``--clients`` concurrent clients.  Each
verification sends a **new photo**, as a real user does: the true pair's
other view (expected ``Complete``) or, every ``--wrong-every`` request, the
other scene (expected ``You took wrong picture``), each time through a fresh
random hand-held jitter (perspective of a few percent, light, sensor noise,
JPEG quality), made before the clock starts.  Re-sending one photo would
rightly be refused by the replay rule.  Answers flagged ``"replay": true``
are counted apart from wrong verdicts (a genuine new photo flagged as a
replay is a false replay).  Bounded in count and time: it stops after
``--requests`` or ``--timeout-s``, whichever comes first.  Afterwards it
checks in the store (the one it started the server on, or ``--store-dir``)
that every user's latest reference is still the one registered; it does not
re-send photos for that.

Only loopback targets are accepted (``127.0.0.1``, ``::1``, ``localhost``).
Prints throughput, p50/p99 latency, the error count (transport errors,
timeouts, non-2xx) and unexpected verdicts; exits 1 when any is non-zero.

``--attack png,slowbody,flood,bigtag`` (or ``all``) runs the attack mixes of
``bench/attacks.py`` beside the genuine load and reports, per attack, the
statuses the attacker got and its worst request time.  When the script starts
the server itself (``scripts/serve_api.sh``, ``MALLOC_ARENA_MAX`` from
``--arena-max``) it also reports the server's peak RSS (``VmHWM``).
"""

from __future__ import annotations

import argparse
import base64
import ipaddress
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from urllib.parse import urlparse

import cv2
import httpx
import numpy as np

from bench.attacks import ATTACKS, prepare

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "samples" / "images"  # bundled (samples/NOTICE.md)
REF_A, QUERY_A = "lightglue/DSC_0410.JPG", "lightglue/DSC_0411.JPG"  # a true pair
REF_B, QUERY_B = "vlfeat/roofs1.jpg", "vlfeat/roofs2.jpg"  # another scene's
COMPLETE, WRONG = "Complete", "You took wrong picture"
HEADERS = {"content-type": "application/json"}


def loopback_only(url: str) -> str:
    parsed = urlparse(url)
    host = parsed.hostname or ""
    if parsed.scheme not in ("http", "https"):
        raise SystemExit(f"--url must be http(s)://..., got {url!r}")
    if host != "localhost":
        try:
            if not ipaddress.ip_address(host).is_loopback:
                raise ValueError
        except ValueError:
            raise SystemExit(f"refusing non-loopback target {host!r}: this script only loads 127.0.0.1/::1") from None
    return url.rstrip("/")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    store_dir: str, workers: int | None, arena_max: int = 2, clients: int = 32
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "VISION_STORE": "local",
        "VISION_STORE_DIR": store_dir,
        # one client address sends everything here: per-client limiting off, per-user generous
        "VISION_RATE_CLIENT_PER_MIN": "0",
        "VISION_RATE_USER_PER_MIN": "240",
        "MALLOC_ARENA_MAX": str(arena_max),
        # every genuine client shares 127.0.0.1 here (the attackers come from 127.0.0.2)
        "VISION_MAX_CONNECTIONS_PER_CLIENT": str(max(64, 2 * clients)),
        "PYTHON": sys.executable,
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }
    if workers:
        env["VISION_WORKERS"] = str(workers)
    # The server's log goes to a file: an unread pipe would fill up and block it.
    log_file = open(Path(store_dir).parent / (Path(store_dir).name + ".log"), "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        ["bash", str(REPO / "scripts" / "serve_api.sh"), "--log-level", "warning", "--no-access-log"],
        cwd=REPO,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    log_file.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (Path(store_dir).parent / (Path(store_dir).name + ".log")).read_text(errors="replace")[-2000:]
            raise SystemExit(f"server exited: {tail}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start within 30 s")


def b64file(name: str) -> str:
    path = DATA / name
    if not path.is_file():
        raise SystemExit(f"photo not found: {path}")
    return base64.b64encode(path.read_bytes()).decode()


def new_photo(name: str, rng: np.random.Generator) -> str:
    """A fresh hand-held shot of the bundled photo ``name`` (base64): never the same bytes or pixels twice.

    Corners moved by up to 3 % of the size (perspective), gain 0.85-1.15 and
    offset +-12 (light), Gaussian noise of sigma 2-4 (sensor), JPEG quality 82-94.
    """
    image = cv2.imread(str(DATA / name), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"photo not found: {DATA / name}")
    h, w = image.shape[:2]
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    moved = corners + rng.uniform(-0.03, 0.03, (4, 2)).astype(np.float32) * np.float32([w, h])
    warped = cv2.warpPerspective(
        image, cv2.getPerspectiveTransform(corners, moved), (w, h), borderMode=cv2.BORDER_REFLECT
    )
    shot = warped.astype(np.float32) * rng.uniform(0.85, 1.15) + rng.uniform(-12, 12)
    shot += rng.normal(0, rng.uniform(2, 4), shot.shape)
    ok, buf = cv2.imencode(
        ".jpg", np.clip(shot, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(82, 95))]
    )
    assert ok
    return base64.b64encode(buf.tobytes()).decode()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="target server (loopback only); default: start one")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--requests", type=int, default=256)
    ap.add_argument("--users", type=int, default=16)
    ap.add_argument("--wrong-every", type=int, default=4, help="every k-th request sends an unrelated photo")
    ap.add_argument("--timeout-s", type=float, default=120.0, help="overall time bound")
    ap.add_argument("--request-timeout-s", type=float, default=60.0)
    ap.add_argument("--workers", type=int, help="VISION_WORKERS of the server this script starts")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    ap.add_argument("--attack", default="", help=f"comma-separated attacks beside the load: {', '.join(ATTACKS)}, all")
    ap.add_argument("--arena-max", type=int, default=2, help="MALLOC_ARENA_MAX of the server this script starts")
    ap.add_argument("--store-dir", help="the --url server's local store, to check its references in (else unchecked)")
    ap.add_argument("--seed", type=int, default=22, help="seed of the new photos' jitter")
    args = ap.parse_args(argv)
    if not (1 <= args.clients <= 256 and 1 <= args.requests <= 100_000 and 1 <= args.users <= 1000):
        raise SystemExit("--clients 1..256, --requests 1..100000, --users 1..1000")

    proc, tmp = None, None
    store_dir = None
    if args.url:
        url = loopback_only(args.url)
        store_dir = args.store_dir
    else:
        tmp = tempfile.TemporaryDirectory(prefix="load_api_")
        store_dir = tmp.name
        proc, url = start_server(store_dir, args.workers, args.arena_max, args.clients)
    try:
        return run(url, args, store_dir, proc.pid if proc else None)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if tmp is not None:
            tmp.cleanup()
            Path(tmp.name + ".log").unlink(missing_ok=True)


def peak_rss_mb(pid: int | None) -> float | None:
    """The server's peak resident memory (VmHWM), from /proc."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def start_attacks(url: str, names: list[str]) -> tuple[threading.Event, list[threading.Thread], dict[str, list]]:
    if {"png", "scanflood", "textbomb"} & set(names):
        prepare()
    stop = threading.Event()
    seen: dict[str, list[tuple[int, float]]] = {name: [] for name in names}
    lock = threading.Lock()

    def record(kind: str, status: int, seconds: float) -> None:
        with lock:
            seen[kind].append((status, seconds))

    threads = [threading.Thread(target=ATTACKS[n], args=(url, stop, record), daemon=True) for n in names]
    for t in threads:
        t.start()
    return stop, threads, seen


def attack_summary(seen: dict[str, list[tuple[int, float]]]) -> dict[str, dict]:
    out = {}
    for name, results in seen.items():
        statuses: dict[str, int] = {}
        for status, _ in results:
            statuses[str(status)] = statuses.get(str(status), 0) + 1
        times = [t for _, t in results]
        out[name] = {
            "requests": len(results),
            "statuses": statuses,
            "p50_ms": round(percentile(times, 0.5) * 1000, 1) if times else None,
            "max_ms": round(max(times) * 1000, 1) if times else None,
        }
    return out


def run(url: str, args: argparse.Namespace, store_dir: str | None, pid: int | None = None) -> int:
    photos = {n: b64file(n) for n in (REF_A, REF_B)}
    run_id = os.urandom(3).hex()
    users = {f"load-{run_id}-{i:03d}": (REF_A if i % 2 == 0 else REF_B) for i in range(args.users)}
    keys: dict[str, str] = {}
    with httpx.Client(base_url=url, timeout=args.request_timeout_s) as client:
        for name, ref in users.items():
            res = client.post("/auth/stdimg", content=json.dumps({"data": photos[ref], "name": name}), headers=HEADERS)
            body = res.json()
            if res.status_code != 200 or body.get("message") != "Good Picture":
                raise SystemExit(f"registering {name} failed: {res.status_code} {body}")
            keys[name] = body["key"]

    names = list(users)
    rng = np.random.default_rng(args.seed)
    jobs = []
    for i in range(args.requests):  # every photo made before the clock starts
        name = names[i % len(names)]
        wrong = args.wrong_every > 0 and i % args.wrong_every == args.wrong_every - 1
        if users[name] == REF_A:
            query, expected = (QUERY_B, WRONG) if wrong else (QUERY_A, COMPLETE)
        else:
            query, expected = (QUERY_A, WRONG) if wrong else (QUERY_B, COMPLETE)
        jobs.append((name, json.dumps({"data": new_photo(query, rng), "name": name}).encode(), expected))

    latencies: list[float] = []
    errors: list[str] = []
    unexpected: list[str] = []
    replays: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + args.timeout_s
    local = threading.local()
    clients: list[httpx.Client] = []

    def client_for_thread() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, timeout=args.request_timeout_s)
            with lock:
                clients.append(local.client)
        return local.client

    def one(job: tuple[str, bytes, str]) -> None:
        name, payload, expected = job
        if time.monotonic() > deadline:
            with lock:
                errors.append("skipped: overall time bound reached")
            return
        start = time.perf_counter()
        try:
            res = client_for_thread().post("/auth/feature", content=payload, headers=HEADERS)
            elapsed = time.perf_counter() - start
            body = res.json()
        except (httpx.HTTPError, ValueError) as exc:
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
            return
        with lock:
            latencies.append(elapsed)
            if res.status_code != 200 or body.get("status") != res.status_code:
                errors.append(f"{name}: HTTP {res.status_code} {body.get('message')} ({body.get('reason')})")
            elif body.get("replay") is True:  # a new photo taken for a replay: counted apart
                replays.append(f"{name}: {body.get('reason')}")
            elif body.get("message") != expected or body.get("key") != keys[name]:
                unexpected.append(f"{name}: expected {expected}, got {body.get('message')} key {body.get('key')}")

    names = list(ATTACKS) if args.attack == "all" else [a for a in args.attack.split(",") if a]
    unknown = [a for a in names if a not in ATTACKS]
    if unknown:
        raise SystemExit(f"unknown attack(s) {unknown}; choose from {', '.join(ATTACKS)}, all")
    stop, attackers, seen = start_attacks(url, names)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.clients) as pool:
        futures = [pool.submit(one, job) for job in jobs]
        for f in as_completed(futures):
            f.result()
    wall = time.perf_counter() - t0
    stop.set()
    for t in attackers:
        t.join(180)
    for c in clients:
        c.close()

    # no lost references: in the store (re-sending a photo would only test the replay rule)
    lost = []
    with httpx.Client(base_url=url, timeout=args.request_timeout_s) as client:
        health = client.get("/healthz").status_code
    if store_dir is not None:
        from vision.store import LocalReferenceStore

        store = LocalReferenceStore(store_dir)
        for name, key in keys.items():
            latest = store.latest(name)
            if latest is None or latest.key != key:
                lost.append(f"{name}: store latest {latest.key if latest else None} != {key}")

    done = len(latencies)
    summary = {
        "url": url,
        "clients": args.clients,
        "requests": args.requests,
        "completed": done,
        "wall_s": round(wall, 2),
        "throughput_rps": round(done / wall, 2) if wall else 0.0,
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
        "errors": len(errors),
        "unexpected_verdicts": len(unexpected),
        "replays_flagged": len(replays),
        "lost_references": len(lost) if store_dir is not None else None,
        "healthz_after": health,
        "peak_rss_mb": peak_rss_mb(pid),
        "attacks": attack_summary(seen),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"target {url}: {args.requests} verifications, {args.clients} concurrent clients, {args.users} users")
        print(f"completed {done} in {summary['wall_s']} s -> {summary['throughput_rps']} req/s")
        print(f"latency p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms, max {summary['max_ms']} ms")
        checked = len(lost) if store_dir is not None else "not checked (no --store-dir)"
        print(f"errors {len(errors)}, wrong verdicts {len(unexpected)}, new photos flagged as replays {len(replays)}")
        print(f"lost references {checked}")
        print(f"server peak RSS {summary['peak_rss_mb']} MB")
        for name, a in summary["attacks"].items():
            print(
                f"attack {name}: {a['requests']} requests, statuses {a['statuses']}, p50 {a['p50_ms']} ms, max {a['max_ms']} ms"
            )
    for line in (errors + unexpected + replays + lost)[:10]:
        print("  " + line, file=sys.stderr)
    return 1 if errors or unexpected or replays or lost else 0


if __name__ == "__main__":
    sys.exit(main())
