#!/usr/bin/env python3
"""A tiny OrleansScheduler worker in Python 3, standard library only (docs/workers.md).

It registers, heartbeats from a thread, long-polls for one task at a time, runs it with a shell
command (the payload JSON on stdin, stdout as the result), reports it, and deregisters on SIGTERM
or Ctrl+C so its task is handed back at once.

    SCHEDULER_URL=http://127.0.0.1:8000 CAPABILITIES=processing TASK_COMMAND='wc -c' python3 tiny_worker.py
"""
import json, os, shutil, signal, socket, subprocess, sys, threading, time, urllib.error, urllib.request

SERVER = os.environ.get("SCHEDULER_URL", "http://127.0.0.1:8000").rstrip("/")
WORKER_ID = os.environ.get("WORKER_ID", f"{socket.gethostname()}-py-{os.getpid()}")
CAPABILITIES = os.environ.get("CAPABILITIES", "processing").split(",")
COMMAND = os.environ.get("TASK_COMMAND", "cat")  # default: the payload is the result
API_KEY = os.environ.get("SCHEDULER_API_KEY")
BASE = f"/api/workers/{WORKER_ID}"

current = {}            # task id -> running subprocess.Popen (at most one here)
stopped = set()         # ids the server told us to stop: not reported
lock = threading.Lock()
interval = 2.0          # from the register answer


def log(message):
    print(time.strftime("%H:%M:%S"), WORKER_ID, message, flush=True)


def post(path, body=None, timeout=10):
    """POST JSON; returns (status, parsed body). Status 0: no answer (server down, timeout)."""
    request = urllib.request.Request(SERVER + path, data=json.dumps(body or {}).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    if API_KEY:
        request.add_header("Authorization", "Bearer " + API_KEY)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except OSError as error:  # URLError, connection refused, timeouts
        return 0, str(error)


def register():
    global interval
    while True:
        status, body = post("/api/workers/register", {"worker_id": WORKER_ID, "capabilities": CAPABILITIES,
                                                      "max_concurrent_tasks": 1})
        if status == 201:
            interval = body["heartbeat_interval_ms"] / 1000
            log(f"registered: {CAPABILITIES}, heartbeat every {interval} s")
            return
        if 400 <= status < 500 and status not in (404, 409, 429):
            sys.exit(f"register refused: {status} {body}")
        log(f"register failed ({status} {body}), retrying")
        time.sleep(1)


def heartbeat():
    while True:
        time.sleep(interval)
        with lock:
            ids = list(current)
        status, body = post(BASE + "/heartbeat", {"status": "active", "current_tasks": ids,
                                                  "system_info": {"cpu_usage": cpu(), "memory_usage": memory(),
                                                                  "disk_usage": disk()}})
        if status == 404:
            register()
        elif status != 200:
            log(f"heartbeat failed: {status} {body}")
        else:
            for stop in body["stop"]:
                with lock:
                    process = current.get(stop["task_id"])
                    if process and stop["task_id"] not in stopped:
                        stopped.add(stop["task_id"])
                        kill(process)
                        log(f"task {stop['task_id']}: stopped ({stop['reason']})")


def kill(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the command's whole process group
    except ProcessLookupError:
        pass


def cpu():
    return min(100.0, os.getloadavg()[0] / os.cpu_count() * 100)


def memory():
    info = dict(line.split(":", 1) for line in open("/proc/meminfo"))
    total, available = (int(info[k].split()[0]) for k in ("MemTotal", "MemAvailable"))
    return round((total - available) / total * 100, 1)


def disk():
    usage = shutil.disk_usage(".")
    return round(usage.used / usage.total * 100, 1)


def run(task):
    environment = dict(os.environ, TASK_ID=task["id"], TASK_TYPE=task["type"], TASK_ATTEMPT=str(task["attempt"]))
    process = subprocess.Popen(COMMAND, shell=True, env=environment, text=True, start_new_session=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with lock:
        current[task["id"]] = process
    out, err = process.communicate(json.dumps(task.get("payload")))
    with lock:
        del current[task["id"]]
        if task["id"] in stopped:
            stopped.discard(task["id"])
            return
    token = task["lease_token"]
    if process.returncode == 0:
        try:
            result = json.loads(out)
        except ValueError:
            result = out.strip()
        status, body = post(f"{BASE}/tasks/{task['id']}/complete", {"lease_token": token, "result": result})
    else:
        status, body = post(f"{BASE}/tasks/{task['id']}/fail",
                            {"lease_token": token, "error": f"exit code {process.returncode}: {err[-2000:]}"})
    if status == 200:
        log(f"task {task['id']}: {body['status']}")
    elif status == 409:
        log(f"task {task['id']}: lease lost, result dropped")
    else:
        log(f"task {task['id']}: report failed: {status} {body}")


def on_signal(number, frame):
    raise KeyboardInterrupt  # interrupts the long poll in the main thread


def main():
    signal.signal(signal.SIGTERM, on_signal)
    register()
    threading.Thread(target=heartbeat, daemon=True).start()
    try:
        while True:
            status, body = post(BASE + "/lease", {"max_tasks": 1, "wait_ms": 20000}, timeout=30)
            if status == 200:
                for task in body["tasks"]:
                    log(f"leased {task['id']} ({task['type']}, attempt {task['attempt']})")
                    run(task)
            elif status == 404:
                register()
            else:
                log(f"lease failed: {status} {body}")
                time.sleep(1)
    except KeyboardInterrupt:
        with lock:
            for process in current.values():
                kill(process)
        status, body = post(BASE + "/deregister")
        log(f"deregistered: {status} {body}")


if __name__ == "__main__":
    main()
