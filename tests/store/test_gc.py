"""Issue 22, item 7: what a writer killed with SIGKILL mid-register leaves is removed by ``python -m vision store gc``.

A child process registers for real and is killed while a blob is half
written (local: inside the temp file) or before its metadata is uploaded
(S3); the leftovers are then collected, and nothing committed is touched.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import DUMMY_KEY_ID, DUMMY_SECRET, make_s3_client, new_bucket

from vision.store import LocalReferenceStore
from vision.store.gc import collect_garbage
from vision.store.s3 import S3ReferenceStore

REPO = Path(__file__).resolve().parents[2]
PUT = (
    "store.put({user!r}, b'i' * 2_000_000, b'f' * 500_000, n_keypoints=1, width=9, height=9, content_type='image/jpeg')"
)

LOCAL_WRITER = """
import os, sys, tempfile, time
from pathlib import Path
from vision.store import LocalReferenceStore

class Dying(LocalReferenceStore):
    @staticmethod
    def _write_atomic(path, data):
        if path.suffix == ".features" and path.parent.name == "bob":  # killed halfway through this blob
            fd, _tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            os.write(fd, data[: len(data) // 2])
            print("READY", flush=True)
            time.sleep(600)
        LocalReferenceStore._write_atomic(path, data)

store = Dying(sys.argv[1])
%s
%s
"""


def kill_when_ready(code: str, *args: str) -> None:
    """Run ``code`` in a child; SIGKILL it as soon as it prints READY (as an OOM killer or an operator would)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "READY", line
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL


def gc_cli(root: Path, *options: str) -> dict:
    env = {**os.environ, "VISION_STORE": "local", "VISION_STORE_DIR": str(root), "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "vision", "store", "gc", *options], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_local_leftovers_of_a_killed_register_are_collected(tmp_path):
    root = tmp_path / "refs"
    kill_when_ready(textwrap.dedent(LOCAL_WRITER % (PUT.format(user="alice"), PUT.format(user="bob"))), str(root))
    names = sorted(p.name for p in (root / "bob").iterdir())
    assert any(n.endswith(".img") for n in names) and any(n.endswith(".tmp") for n in names)
    assert not any(n.endswith(".json") for n in names)  # never committed

    assert gc_cli(root)["orphans"] == 0  # younger than the default hour: a live writer's, maybe
    dry = gc_cli(root, "--grace-s", "0", "--dry-run")
    assert (dry["temp_files"], dry["orphans"], dry["removed"]) == (1, 1, [])
    assert sorted(p.name for p in (root / "bob").iterdir()) == names
    done = gc_cli(root, "--grace-s", "0")
    assert (done["temp_files"], done["orphans"]) == (1, 1)
    assert done["bytes"] == 2_000_000 + 250_000
    assert not any((root / "bob").iterdir())

    store = LocalReferenceStore(root)  # the committed reference is intact
    [alice] = store.list("alice")
    assert store.latest("alice") == alice and len(store.load_image(alice.key)) == 2_000_000
    assert gc_cli(root, "--grace-s", "0")["orphans"] == 0


S3_WRITER = """
import sys, time
from moto_server import s3_client
from vision.store.s3 import S3ReferenceStore

client = s3_client(sys.argv[1], %r, %r)
store = S3ReferenceStore(client, sys.argv[2])
%s
real_put = client.put_object

def dying_put(**kwargs):
    if kwargs["Key"].endswith(".json"):  # killed before the commit marker
        print("READY", flush=True)
        time.sleep(600)
    return real_put(**kwargs)

client.put_object = dying_put
%s
"""


def test_s3_orphans_of_a_killed_register_are_collected(moto_endpoint):
    client = make_s3_client(moto_endpoint)
    bucket = new_bucket(client)
    code = S3_WRITER % (DUMMY_KEY_ID, DUMMY_SECRET, PUT.format(user="alice"), PUT.format(user="bob"))
    kill_when_ready(textwrap.dedent(code), moto_endpoint, bucket)
    store = S3ReferenceStore(client, bucket)
    bob = [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=f"{store.prefix}bob/").get("Contents", [])]
    assert len(bob) == 2 and not any(k.endswith(".json") for k in bob)  # image and features, no metadata

    assert collect_garbage(store).orphans == []  # within the grace period
    report = collect_garbage(store, grace_s=0)
    assert sorted(report.orphans) == sorted(k[len(store.prefix) :] for k in bob)
    assert report.bytes == 2_500_000
    assert client.list_objects_v2(Bucket=bucket, Prefix=f"{store.prefix}bob/").get("KeyCount") == 0
    [alice] = store.list("alice")
    assert store.latest("alice") == alice and len(store.load_image(alice.key)) == 2_000_000


def test_the_api_collects_old_leftovers_at_start(tmp_path, put_ref):
    import time

    from fastapi.testclient import TestClient

    from api import create_app

    store = LocalReferenceStore(tmp_path / "refs")
    kept = put_ref(store, "carol")
    orphan = tmp_path / "refs" / "carol" / ("ab" * 16 + ".img")
    temp = tmp_path / "refs" / "carol" / ".0123.img.x1y2.tmp"
    for path in (orphan, temp):
        path.write_bytes(b"left over")
        os.utime(path, (time.time() - 7200, time.time() - 7200))  # two hours old: past the default grace
    with TestClient(create_app({}, store=store)):
        deadline = time.monotonic() + 10
        while (orphan.exists() or temp.exists()) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert not orphan.exists() and not temp.exists()
    assert store.latest("carol") == kept
