"""Guest processes for the crash-and-resume messaging test (test_guest_messaging.py).

    python3 messaging_guest.py send    ENDPOINT LINK COUNT
    python3 messaging_guest.py receive ENDPOINT LINK COUNT STATE_FILE OUTPUT_FILE

The sender attaches as rtos and sends COUNT numbered messages on LINK, spending credit and waiting for
CREDIT when it has none. The receiver attaches as linux (resuming with the token from STATE_FILE when
there is one) and handles each MSG_DELIVER exactly once, even when it is killed at any instruction:

* STATE_FILE holds the resume token, the last processed message id and the length OUTPUT_FILE had
  then; it is replaced atomically (write, fsync, rename).
* On start, OUTPUT_FILE is cut back to that length: an append that was not yet recorded is undone,
  and its messages, never acknowledged, arrive again.
* A batch of deliveries is appended and fsynced, then recorded, then acknowledged. A delivery whose
  id is not above the recorded one was already processed: it is only acknowledged.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handsethub.guest import GuestClient, GuestError  # noqa: E402

ERROR_ALREADY_ATTACHED = 4
ERROR_BAD_RESUME_TOKEN = 22


def connect(endpoint: str, partition: str, token: bytes | None, features: list[str] | None = None) -> GuestClient:
    """Attaches, retrying while the hub has not yet noticed that a killed predecessor is gone; a stale token
    (the predecessor was killed after attaching but before saving its new token) falls back to a fresh attach."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return GuestClient.connect(endpoint, partition, f"{partition}-dev-secret", resume_token=token,
                                       features=features or [])
        except GuestError as error:
            if error.code == ERROR_BAD_RESUME_TOKEN and token is not None:
                token = None
                continue
            if error.code != ERROR_ALREADY_ATTACHED or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def link_id(client: GuestClient, name: str) -> dict:
    for link in client.welcome["links"]:
        if link["name"] == name:
            return link
    raise SystemExit(f"link {name} not granted: {client.welcome['links']}")


def send(endpoint: str, link_name: str, count: int) -> None:
    client = connect(endpoint, "rtos", None)
    link = link_id(client, link_name)
    credit = link["initial_credit"]
    last_traffic = time.monotonic()

    def take_credit(timeout: float) -> None:
        nonlocal credit
        frame = client.receive(timeout=timeout)
        while frame is not None:
            if frame.type == "CREDIT" and frame.fields["link"] == link["id"]:
                credit += frame.fields["credit"]
            frame = client.receive(timeout=0)

    number = 1
    while number <= count:
        take_credit(0)
        if credit == 0:
            take_credit(0.2)
            # rtos has a heartbeat: stay audible while the receiver is away.
            if time.monotonic() - last_traffic > 0.5:
                client.heartbeat()
                last_traffic = time.monotonic()
            continue
        status, _ = client.send(link["id"], f"{number}".encode())
        last_traffic = time.monotonic()
        credit -= 1
        if status == "queued":
            number += 1
        elif status == "queue_full":
            credit = 0
        else:
            raise SystemExit(f"message {number}: {status}")
    client.detach("all sent")


RECEIVER_STATE = {"token": None, "last": 0, "length": 0, "done": False}


def load_state(path: Path, default: dict = RECEIVER_STATE) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return dict(default)


def save_state(path: Path, state: dict) -> None:
    temporary = path.with_suffix(".tmp")
    with open(temporary, "w") as handle:
        json.dump(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def receive(endpoint: str, link_name: str, count: int, state_path: Path, output_path: Path) -> None:
    state = load_state(state_path)
    with open(output_path, "ab") as output:
        output.truncate(state["length"])
    token = bytes.fromhex(state["token"]) if state["token"] else None
    client = connect(endpoint, "linux", token)
    state["token"] = client.welcome["resume_token"].hex()
    save_state(state_path, state)
    link = link_id(client, link_name)
    last_traffic = last_delivery = time.monotonic()
    with open(output_path, "ab") as output:
        while not state["done"]:
            batch = []
            frame = client.receive(timeout=0.5)
            while frame is not None:
                if frame.type == "MSG_DELIVER" and frame.fields["link"] == link["id"]:
                    batch.append(frame)
                frame = client.receive(timeout=0)
            if not batch:
                if time.monotonic() - last_delivery > 30:
                    raise SystemExit(f"no message for 30 s after id {state['last']}")
                # Stay audible while a killed sender comes back.
                if time.monotonic() - last_traffic > 0.5:
                    client.heartbeat()
                    last_traffic = time.monotonic()
                continue
            fresh = [f for f in batch if f.fields["message_id"] > state["last"]]
            if fresh:
                output.write(b"".join(f.fields["payload"] + b"\n" for f in fresh))
                output.flush()
                os.fsync(output.fileno())
                state["last"] = fresh[-1].fields["message_id"]
                state["length"] = output.tell()
                state["done"] = fresh[-1].fields["payload"] == f"{count}".encode()
                save_state(state_path, state)
            client.ack(link["id"], max(f.fields["message_id"] for f in batch))
            last_traffic = last_delivery = time.monotonic()
    client.detach("all received")
    print("receiver done", flush=True)


def main(argv: list[str]) -> None:
    mode, endpoint, link_name, count = argv[1], argv[2], argv[3], int(argv[4])
    if mode == "send":
        send(endpoint, link_name, count)
    elif mode == "receive":
        receive(endpoint, link_name, count, Path(argv[5]), Path(argv[6]))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv)
