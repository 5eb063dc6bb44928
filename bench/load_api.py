"""Load test of the HTTP API: N concurrent verifications against a running server.

Usage::

    python -m bench.load_api                       # starts its own uvicorn (temp store)
    python -m bench.load_api --url http://127.0.0.1:8000 --clients 32 --requests 256

Builds the load from a labelled folder (``--data``, default the bundled
``samples/``; ``../shared/data`` for a measurement), :mod:`bench.load_plan`:
each verification sends a **new, real photo**, as a real user does: a
genuine job registers a labelled pair's reference for a user and sends its
other photo, each photo sent as a proof once in the run (the replay rule
would rightly refuse a second sending, or an edited copy); every
``--wrong-every``-th job sends a labelled different pair's photo.  The
expected verdict of each job is the tuning lab's on that pair with the
server's profile (computed, features cached, before the clock starts), so
a wrong verdict means the service under load answered differently from the
rule alone; the rule's own misses against the labels are reported apart.
Answers flagged ``"replay": true`` are counted apart (a new photo flagged
as a replay is a false replay).  Bounded in count and time: it stops after
``--requests`` (fewer when the folder's genuine photos run out) or
``--timeout-s``, whichever comes first.  Afterwards it checks in the store
(the one it started the server on, or ``--store-dir``) that every user's
latest reference is still the one registered; it does not re-send photos
for that.

Only loopback targets are accepted (``127.0.0.1``, ``::1``, ``localhost``).
Prints throughput, p50/p99 latency, the error count (transport errors,
timeouts, non-2xx) and verdicts unlike the rule's alone; exits 1 when any
is non-zero or a reference was lost.  Two accuracy counts are printed
apart and do not fail the run: the rule's own misses against the labels
(it gives them alone too: ``python -m vision evaluate`` measures them), and
new photos flagged as replays (each one a false replay, since the bench
sends no copies; ``scripts/build_replay_set.py`` measures their rate).

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

import httpx

from bench.attacks import ATTACKS, prepare
from bench.load_plan import Job, LoadPlan, build_plan
from vision.core import verdict as v
from vision.core.settings import load_settings, text
from vision.profile import load_profile

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"  # bundled labelled pairs (samples/NOTICE.md)
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


def b64file(path: Path) -> str:
    if not path.is_file():
        raise SystemExit(f"photo not found: {path}")
    return base64.b64encode(path.read_bytes()).decode()


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
    ap.add_argument("--data", default=str(SAMPLES), help="labelled folder (pairs.csv) the photos come from")
    ap.add_argument("--wrong-every", type=int, default=4, help="every k-th request sends an unrelated photo")
    ap.add_argument("--timeout-s", type=float, default=120.0, help="overall time bound")
    ap.add_argument("--request-timeout-s", type=float, default=60.0)
    ap.add_argument("--workers", type=int, help="VISION_WORKERS of the server this script starts")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    ap.add_argument("--attack", default="", help=f"comma-separated attacks beside the load: {', '.join(ATTACKS)}, all")
    ap.add_argument("--arena-max", type=int, default=2, help="MALLOC_ARENA_MAX of the server this script starts")
    ap.add_argument("--store-dir", help="the --url server's local store, to check its references in (else unchecked)")
    ap.add_argument("--seed", type=int, default=22, help="seed of the choice and order of the pairs")
    args = ap.parse_args(argv)
    if not (1 <= args.clients <= 256 and 1 <= args.requests <= 100_000):
        raise SystemExit("--clients 1..256, --requests 1..100000")

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


def make_plan(args: argparse.Namespace) -> LoadPlan:
    """The jobs, with the lab's verdicts under the profile a server started here reads (``VISION_PROFILE``)."""
    profile = load_profile(text(load_settings(), "VISION_PROFILE"))  # as vision.web.runtime reads it
    try:
        plan = build_plan(args.data, args.requests, args.wrong_every, args.seed, profile)
    except ValueError as exc:
        raise SystemExit(f"--data {args.data}: {exc}") from None
    if not plan.jobs:
        raise SystemExit(f"--data {args.data}: no usable pairs")
    return plan


def register_users(
    url: str, plan: LoadPlan, args: argparse.Namespace, run_id: str
) -> dict[str, tuple[str, str] | None]:
    """One user per reference of the plan, registered concurrently: ``{reference: (user, key)}``.

    A reference the service refuses with a contract answer (``Too Little Features``: too plain to verify
    against) maps to None.  Any other failure stops the bench.
    """

    def register(i: int, reference: str) -> tuple[str, tuple[str, str] | None]:
        name = f"load-{run_id}-{i:03d}"
        payload = json.dumps({"data": b64file(plan.root / reference), "name": name})
        with httpx.Client(base_url=url, timeout=args.request_timeout_s) as client:
            res = client.post("/auth/stdimg", content=payload, headers=HEADERS)
        body = res.json()
        if res.status_code == 400 and body.get("message") == v.TOO_LITTLE_FEATURES:
            return reference, None
        if res.status_code != 200 or body.get("message") != v.GOOD_PICTURE:
            raise SystemExit(f"registering {name} ({reference}) failed: {res.status_code} {body}")
        return reference, (name, body["key"])

    with ThreadPoolExecutor(max_workers=min(8, args.clients)) as pool:
        return dict(pool.map(lambda item: register(*item), enumerate(plan.references)))


def run(url: str, args: argparse.Namespace, store_dir: str | None, pid: int | None = None) -> int:
    plan = make_plan(args)
    run_id = os.urandom(3).hex()
    registered = register_users(url, plan, args, run_id)
    refused = {ref for ref, user in registered.items() if user is None}
    plan = plan.without(refused, f"reference refused at registration ({v.TOO_LITTLE_FEATURES})")
    users = {ref: user for ref, user in registered.items() if user is not None}
    keys = dict(users.values())
    photos = {photo: b64file(plan.root / photo) for photo in {job.photo for job in plan.jobs}}
    jobs = []
    for job in plan.jobs:
        name = users[job.reference][0]
        jobs.append((name, json.dumps({"data": photos[job.photo], "name": name}).encode(), job))

    latencies: list[float] = []
    errors: list[str] = []
    unexpected: list[str] = []
    missed: list[str] = []  # the rule's own verdict differs from the label (not the load's doing)
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

    def one(item: tuple[str, bytes, Job]) -> None:
        name, payload, job = item
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
                replays.append(f"{name} {job.reference} -> {job.photo}: {body.get('reason')}")
            elif body.get("message") != job.expected or body.get("key") != keys[name]:
                unexpected.append(
                    f"{name} {job.reference} -> {job.photo}: expected {job.expected}, "
                    f"got {body.get('message')} key {body.get('key')}"
                )
            elif (body.get("message") == v.COMPLETE) != (job.label == 1):
                missed.append(f"{job.kind}: {job.reference} -> {job.photo}")

    names = list(ATTACKS) if args.attack == "all" else [a for a in args.attack.split(",") if a]
    unknown = [a for a in names if a not in ATTACKS]
    if unknown:
        raise SystemExit(f"unknown attack(s) {unknown}; choose from {', '.join(ATTACKS)}, all")
    stop, attackers, seen = start_attacks(url, names)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.clients) as pool:
        futures = [pool.submit(one, item) for item in jobs]
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
    genuine = sum(job.label == 1 for job in plan.jobs)
    summary = {
        "url": url,
        "data": str(plan.root),
        "clients": args.clients,
        "requests": len(plan.jobs),
        "genuine": genuine,
        "different": len(plan.jobs) - genuine,
        "users": len(users),
        "left_out": plan.left_out,
        "completed": done,
        "wall_s": round(wall, 2),
        "throughput_rps": round(done / wall, 2) if wall else 0.0,
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
        "errors": len(errors),
        "unexpected_verdicts": len(unexpected),
        "rule_misses": len(missed),
        "replays_flagged": len(replays),
        "lost_references": len(lost) if store_dir is not None else None,
        "healthz_after": health,
        "peak_rss_mb": peak_rss_mb(pid),
        "attacks": attack_summary(seen),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"target {url}: {len(plan.jobs)} verifications ({genuine} genuine, {len(plan.jobs) - genuine} different) "
            f"from {plan.root}, {args.clients} concurrent clients, {len(users)} users"
        )
        for reason, count in plan.left_out.items():
            print(f"left out {count}: {reason}")
        print(f"completed {done} in {summary['wall_s']} s -> {summary['throughput_rps']} req/s")
        print(f"latency p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms, max {summary['max_ms']} ms")
        checked = len(lost) if store_dir is not None else "not checked (no --store-dir)"
        print(
            f"errors {len(errors)}, verdicts unlike the rule's alone {len(unexpected)}, false replays (new photos flagged) {len(replays)}"
        )
        print(f"the rule's own misses against the labels (as alone): {len(missed)}")
        print(f"lost references {checked}")
        print(f"server peak RSS {summary['peak_rss_mb']} MB")
        for name, a in summary["attacks"].items():
            print(
                f"attack {name}: {a['requests']} requests, statuses {a['statuses']}, p50 {a['p50_ms']} ms, max {a['max_ms']} ms"
            )
    for line in (errors + unexpected + replays + lost)[:10]:
        print("  " + line, file=sys.stderr)
    return 1 if errors or unexpected or lost else 0


if __name__ == "__main__":
    sys.exit(main())
