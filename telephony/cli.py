"""``expertline call``: play a citizen's phone call against a running (loopback-mode) server.

    expertline call --say "my mum has dementia" [--digits 9] [--url http://127.0.0.1:8080]

Exit code 0 when the call was bridged to an expert, 1 when it ended otherwise or the caller
gave up after ``--timeout`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp

from base.cli import CliContext, Subparsers
from base.errors import BadRequest
from telephony.simcall import CallScript, Outcome, SimulatedCall


def register_cli(sub: Subparsers) -> None:
    call = sub.add_parser("call", help="simulate a citizen calling the number (loopback demo)")
    call.add_argument("--say", required=True, help="what the caller says when asked")
    call.add_argument("--digits", default="", help="keys to press first (e.g. 9 for Welsh)")
    call.add_argument("--url", default=None,
                      help="the running server (default: http://HOST:PORT from the config)")
    call.add_argument("--from", dest="caller", default="+447700900123",
                      help="the caller's number")
    call.add_argument("--to", dest="called", default="+443000000000",
                      help="the number dialled (an organisation's line: [local.ID] numbers)")
    call.add_argument("--timeout", type=float, default=60.0,
                      help="seconds to hold before hanging up (default 60)")
    call.add_argument("--poll", type=float, default=2.0,
                      help="seconds between hold announcements (default 2)")
    call.set_defaults(func=_call)


def _call(args: argparse.Namespace, ctx: CliContext) -> int:
    config = ctx.config
    if args.timeout <= 0 or args.poll <= 0:
        raise BadRequest("--timeout and --poll must be positive")
    base = args.url or f"http://{config.server.host}:{config.server.port}"
    script = CallScript(say=args.say, digits=args.digits, caller=args.caller,
                        called=args.called)
    outcome = asyncio.run(_run(base, script, public_url=config.server.public_url,
                               token=config.twilio.auth_token, timeout_s=args.timeout,
                               poll_s=args.poll))
    print(f"outcome: {outcome}")
    return 0 if outcome is Outcome.BRIDGED else 1


async def _run(base: str, script: CallScript, *, public_url: str, token: str, timeout_s: float,
               poll_s: float) -> Outcome:
    client_timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(timeout=client_timeout) as session:
        call = SimulatedCall(session, base_url=base, public_url=public_url, auth_token=token,
                             script=script, timeout_s=timeout_s, poll_s=poll_s)
        try:
            return await call.run()
        except aiohttp.ClientError as exc:
            raise BadRequest(f"cannot reach {base} ({exc}); is `expertline serve` running?"
                             ) from None
        except RuntimeError as exc:
            raise BadRequest(str(exc)) from None
