"""The incoming-call webhook under concurrent load on loopback, beside a bare aiohttp handler.

Starts the real service (``expertline serve``, Twilio credentials set so every request's
``X-Twilio-Signature`` is checked, the demo pool seeded) and a bare aiohttp app that answers a
fixed TwiML document, each in its own process. Then posts the caller's speech to the Gather
action — signature check, triage through the skills graph, the contact committed to the
database, the Enqueue TwiML built by the twilio library — ``--requests`` times from
``--concurrency`` clients, every request a new CallSid. Prints requests/s and latency
percentiles for both, and their ratio. A third server does only Twilio's part of the work
(the signature check and the TwiML, through the twilio library, with no routing, database or
logs): ``twilio_floor_ratio`` is its requests/s over bare aiohttp's, the ceiling no routing
webhook can pass on the same machine.

    python -m bench.webhook [--requests 2000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import aiohttp

from telephony.signature import SIGNATURE_HEADER, sign

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = "https://bench.expertline.example"
ACCOUNT, TOKEN, NUMBER = "AC" + "b" * 32, "bench-auth-token", "+443000000001"
READY_S = 90


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]  # (host, port) for an AF_INET socket
        return port


def _env(data_dir: str, port: int) -> dict[str, str]:
    env = {**os.environ, "EXPERTLINE_DATA_DIR": data_dir, "EXPERTLINE_PORT": str(port),
           "EXPERTLINE_HOST": "127.0.0.1", "EXPERTLINE_PUBLIC_URL": PUBLIC,
           "EXPERTLINE_TWILIO_ACCOUNT_SID": ACCOUNT, "EXPERTLINE_TWILIO_AUTH_TOKEN": TOKEN,
           "EXPERTLINE_TWILIO_NUMBER": NUMBER,
           "EXPERTLINE_TWILIO_API_URL": f"http://127.0.0.1:{_port()}"}
    env.pop("EXPERTLINE_DATABASE_URL", None)
    return env


async def _ready(session: aiohttp.ClientSession, base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            async with session.get(base + "/healthz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            await asyncio.sleep(0.1)  # waiting for the process to listen
    raise SystemExit("server did not become ready")


def _params(sid: str, **extra: str) -> dict[str, str]:
    return {"CallSid": sid, "AccountSid": ACCOUNT, "From": "+447700900123", "To": NUMBER,
            "CallStatus": "in-progress", "Direction": "inbound", **extra}


async def _post(session: aiohttp.ClientSession, base: str, path: str,
                params: dict[str, str]) -> tuple[int, str]:
    headers = {SIGNATURE_HEADER: sign(TOKEN, PUBLIC + path, params)}
    async with session.post(base + path, data=params, headers=headers) as resp:
        return resp.status, await resp.text()


async def _gather_path(session: aiohttp.ClientSession, base: str) -> str:
    status, body = await _post(session, base, "/twilio/voice", _params("CAwarmup"))
    assert status == 200, body
    action = next(ET.fromstring(body).iter("Gather")).attrib["action"]
    return action[len(PUBLIC):] if action.startswith(PUBLIC) else action


async def _load(session: aiohttp.ClientSession, base: str, path: str, requests: int,
                concurrency: int, signed: bool) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(requests))

    async def worker() -> None:
        nonlocal errors
        for n in counter:
            params = _params(f"CA{n:032x}", SpeechResult="my mum has dementia",
                             Confidence="0.9")
            t = time.perf_counter()
            if signed:
                status, _ = await _post(session, base, path, params)
            else:
                async with session.post(base + path, data=params) as resp:
                    status = resp.status
                    await resp.read()
            latencies.append(time.perf_counter() - t)
            errors += status != 200

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"requests": requests, "errors": errors, "per_s": round(requests / elapsed, 1),
            "p50_ms": round(statistics.median(latencies) * 1000, 2),
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2)}


def measure(requests: int, concurrency: int) -> dict[str, Any]:
    """Start both servers (separate processes), load them in turn, stop them."""
    with tempfile.TemporaryDirectory() as tmp:
        port, bare_port, floor_port = _port(), _port(), _port()
        env = _env(tmp, port)
        subprocess.run([sys.executable, "-m", "expertline", "seed", "--demo"], env=env,
                       cwd=ROOT, check=True, capture_output=True)
        log = Path(tmp) / "server.log"
        with log.open("wb") as out:
            service = subprocess.Popen([sys.executable, "-m", "expertline", "serve"], env=env,
                                       cwd=ROOT, stdout=out, stderr=out)
            bare = subprocess.Popen([sys.executable, "-m", "bench.bare_server",
                                     str(bare_port)], cwd=ROOT, stdout=out, stderr=out)
            floor = subprocess.Popen([sys.executable, "-m", "bench.bare_server", str(floor_port),
                                      "--twilio", TOKEN, PUBLIC], cwd=ROOT, stdout=out,
                                     stderr=out)
        try:
            return asyncio.run(_drive((service, f"http://127.0.0.1:{port}"),
                                      (bare, f"http://127.0.0.1:{bare_port}"),
                                      (floor, f"http://127.0.0.1:{floor_port}"),
                                      requests, concurrency))
        finally:
            for proc in (service, bare, floor):
                proc.terminate()
                proc.wait(10)


async def _drive(service: tuple[subprocess.Popen[bytes], str],
                 bare: tuple[subprocess.Popen[bytes], str],
                 floor: tuple[subprocess.Popen[bytes], str],
                 requests: int, concurrency: int) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        for proc, base in (service, bare, floor):
            await _ready(session, base, proc)
        path = await _gather_path(session, service[1])
        ours = await _load(session, service[1], path, requests, concurrency, True)
        plain = await _load(session, bare[1], "/twiml", requests, concurrency, False)
        twilio = await _load(session, floor[1], "/twiml", requests, concurrency, True)
    if twilio["errors"]:
        raise SystemExit("the Twilio-part baseline refused its requests' signatures")
    return {"concurrency": concurrency, "expertline": ours, "bare_aiohttp": plain,
            "twilio_floor": twilio, "ratio_per_s": round(ours["per_s"] / plain["per_s"], 3),
            "twilio_floor_ratio": round(twilio["per_s"] / plain["per_s"], 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webhook")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    figures = measure(args.requests, args.concurrency)
    print(json.dumps({"bench": "webhook", **figures}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
