#!/usr/bin/env python3
"""moto_server for executing the construct's state machine (test/support/sfn-emulator.ts).

Started in place of `moto_server` (MOTO_SERVER names this file; same arguments). Two patches
to moto 5.2.1, applied before the server starts, nothing else changed:

1. Lambda invocations of the Step Functions interpreter run the function's own code on Node.js.
   moto's Lambda needs Docker; instead, the `lambda` client the interpreter builds
   (moto/stepfunctions/parser/asl/utils/boto_client.py, imported by
   .../state_task/lambda_eval_utils.py, used by both the legacy function-ARN Resource and
   `arn:aws:states:::lambda:invoke`) is replaced by one whose `invoke` looks the function up in
   moto's Lambda backend (as CreateFunction stored it: code zip, Handler, Timeout, MemorySize,
   Environment), unpacks the zip once per code hash, and runs test/support/lambda-runtime.mjs
   on it in a fresh `node` process per invocation. The answer has Invoke's shape: StatusCode
   200, `FunctionError: "Unhandled"` and the runtime's error document
   `{errorType, errorMessage, trace}` when the handler throws.
   Differs from AWS: every invocation is a cold start (no container reuse), the Node.js is the
   machine's (the template asks for nodejs22.x), memory is not limited, the function runs with
   the harness's fake credentials (not its role: IAM is not checked), and there is no
   concurrency limit or Lambda throttling (Lambda.TooManyRequestsException never happens).

2. moto issue 10077 (fixed upstream in getmoto/moto pull request 10093): a second
   StartExecution on one state machine fails with "cannot pickle '_thread.RLock'" because
   start_execution deep-copies the state machine together with its running executions. As
   upstream does, the copy seeds deepcopy's memo so the clone gets an empty `executions` list.
   Upstream's fix leaves a second path to the same failure, which this one also closes: a state
   machine holds its backend (`.backend`), so the copy also walks every other state machine of
   the account and Region with their executions — the first StartExecution of machine B fails
   once machine A has run. The clone shares the backend instead of copying it.

$CV_LAMBDA_CONTROL (when set) names a JSON file the harness writes: { functionName: [seconds…] }
gives the n-th invocation of that function the n-th timeout (the last one from then on) instead
of the function's configured Timeout — a test's way to stop the first invocations of a unit
early and let a later one finish, which a fixed timeout cannot promise while resume makes no
durable progress below the shard (issue 15 item 2).

Every invocation is appended as one JSON line to $CV_LAMBDA_LOG (when set): function, handler,
Region, start and end (epoch ms), event, outcome and the function's log lines — what the tests
judge the execution by, besides Step Functions' own history.
"""

import copy
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

from moto.awslambda.models import lambda_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.stepfunctions.parser import models as sfn_parser_models
from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
    lambda_eval_utils,
)

HERE = os.path.dirname(os.path.abspath(__file__))
RUNTIME = os.path.join(HERE, "lambda-runtime.mjs")
NODE = os.environ.get("CV_LAMBDA_NODE", "node")
LOG_PATH = os.environ.get("CV_LAMBDA_LOG")
CONTROL_PATH = os.environ.get("CV_LAMBDA_CONTROL")
CODE_ROOT = tempfile.mkdtemp(prefix="cv-lambda-code-")
_log_lock = threading.Lock()
_code_lock = threading.Lock()
_count_lock = threading.Lock()
_invocation_counts: dict = {}


def _timeout_seconds(fn) -> float:
    """The function's Timeout, or the harness's schedule for its n-th invocation."""
    with _count_lock:
        n = _invocation_counts.get(fn.function_arn, 0)
        _invocation_counts[fn.function_arn] = n + 1
    if CONTROL_PATH and os.path.exists(CONTROL_PATH):
        with open(CONTROL_PATH, encoding="utf-8") as f:
            schedule = json.load(f).get(fn.function_name)
        if schedule:
            return float(schedule[min(n, len(schedule) - 1)])
    return float(fn.timeout)


# ── 2. moto issue 10077 ─────────────────────────────────────────────────────────────────────
class _CopyWithoutExecutions:
    """The `copy` module as parser/models.py sees it, with upstream's fix in deepcopy."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(x, memo=None):
        memo = {} if memo is None else memo
        executions = getattr(x, "executions", None)
        if isinstance(executions, list):
            memo[id(executions)] = []
        backend = getattr(x, "backend", None)
        if backend is not None:
            memo[id(backend)] = backend
        return copy.deepcopy(x, memo)


sfn_parser_models.copy = _CopyWithoutExecutions()


# ── 1. Lambda on Node.js ────────────────────────────────────────────────────────────────────
def _code_dir(fn) -> str:
    """The function's zip, unpacked once per code hash."""
    digest = hashlib.sha256(fn.code_bytes).hexdigest()
    target = os.path.join(CODE_ROOT, digest)
    with _code_lock:
        if not os.path.isdir(target):
            staging = target + ".tmp"
            with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as z:
                z.extractall(staging)
            os.rename(staging, target)
    return target


def _location(function_name: str, region: str):
    """(account, region, name) of a function name or ARN."""
    if function_name.startswith("arn:"):
        parts = function_name.split(":")
        return parts[4], parts[3], parts[6]
    return DEFAULT_ACCOUNT_ID, region, function_name


def _record(entry: dict) -> None:
    if not LOG_PATH:
        return
    line = json.dumps(entry, separators=(",", ":"))
    with _log_lock:
        with open(LOG_PATH, "a", encoding="utf-8") as f:
            f.write(line + "\n")


class _NodeLambdaClient:
    def __init__(self, region: str):
        self.region = region

    def invoke(self, FunctionName, Payload=None, **_ignored):
        account, region, name = _location(FunctionName, self.region)
        fn = lambda_backends[account][region].get_function(name)
        payload = lambda_eval_utils.to_payload_type(Payload)
        code = _code_dir(fn)
        timeout_s = _timeout_seconds(fn)
        timeout_ms = int(timeout_s * 1000)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            # The role's credentials on AWS; here the emulator's.
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.function_name}",
            "AWS_LAMBDA_FUNCTION_ARN": fn.function_arn,
            "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED": "true",
            **{k: str(v) for k, v in (fn.environment_vars or {}).items()},
        }
        fd, result_path = tempfile.mkstemp(prefix="cv-lambda-result-", suffix=".json")
        os.close(fd)
        start = int(time.time() * 1000)
        try:
            proc = subprocess.run(
                [NODE, RUNTIME, code, fn.handler, str(timeout_ms), result_path],
                input=payload,
                env=env,
                capture_output=True,
                # The runtime ends the invocation at the timeout itself; this is a backstop.
                timeout=timeout_ms / 1000 + 30,
            )
            with open(result_path, encoding="utf-8") as f:
                text = f.read()
            outcome = json.loads(text) if text else None
            if outcome is None:
                outcome = {
                    "ok": False,
                    "error": {
                        "errorType": "Runtime.ExitError",
                        "errorMessage": f"RequestId: - Error: Runtime exited with error: exit status {proc.returncode}",
                    },
                }
            logs = (proc.stdout + proc.stderr).decode("utf-8", "replace").splitlines()
        except subprocess.TimeoutExpired:
            outcome = {
                "ok": False,
                "error": {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"Task timed out after {timeout_s:.2f} seconds",
                },
            }
            logs = []
        finally:
            try:
                os.unlink(result_path)
            except OSError:
                pass
        end = int(time.time() * 1000)
        try:
            event = json.loads(payload)
        except ValueError:
            event = payload.decode("utf-8", "replace")
        _record(
            {
                "function": fn.function_name,
                "handler": fn.handler,
                "region": region,
                "start": start,
                "end": end,
                "timeoutMs": timeout_ms,
                "event": event,
                **(
                    {"result": outcome.get("result")}
                    if outcome["ok"]
                    else {"error": outcome["error"]}
                ),
                "logs": logs,
            }
        )
        answer = {
            "StatusCode": 200,
            "ExecutedVersion": "$LATEST",
            "ResponseMetadata": {"HTTPStatusCode": 200, "RequestId": "-"},
        }
        if outcome["ok"]:
            body = json.dumps(outcome.get("result"))
        else:
            answer["FunctionError"] = "Unhandled"
            body = json.dumps(outcome["error"])
        answer["Payload"] = io.BytesIO(body.encode("utf-8"))
        return answer


_original_boto_client_for = lambda_eval_utils.boto_client_for


def _boto_client_for(region, service, state_credentials=None):
    if service == "lambda":
        return _NodeLambdaClient(region)
    return _original_boto_client_for(
        region=region, service=service, state_credentials=state_credentials
    )


lambda_eval_utils.boto_client_for = _boto_client_for


if __name__ == "__main__":
    from moto.server import main

    # CV_MOTO_STDERR=FILE keeps the server's tracebacks (its stderr) for debugging a test.
    if os.environ.get("CV_MOTO_STDERR"):
        sys.stderr = open(os.environ["CV_MOTO_STDERR"], "a", buffering=1)

    main(sys.argv[1:])
