"""Guest processes for the sender-and-receiver kill test (test_idempotent_send.py).

    python3 idempotent_guest.py send    ENDPOINT LINK COUNT STATE_FILE
    python3 idempotent_guest.py receive ENDPOINT LINK COUNT STATE_FILE OUTPUT_FILE

Both survive SIGKILL at any instruction and are simply started again.

The sender attaches as rtos with the ``send-sequence`` feature (Protocols/guest.md §7.10-§7.11) and sends
payload N with sequence N, N = 1..COUNT, pipelined (request id 0: nothing is answered unless refused),
spending credit and waiting for CREDIT when it has none. It persists its resume token and a checkpoint (the
last sequence the hub reported accepted at an attach) in STATE_FILE, replaced atomically. On restart it
alternates between two ways of resuming:
* from SEND_SEQUENCES: continue at the hub's last accepted sequence + 1 (no repeat at all);
* from its own checkpoint + 1, which lags the hub: everything in between is sent again and the hub must
  answer it as a duplicate without queuing it (the hub's link counter ``duplicateSends`` shows it happened).
A ``sequence_gap`` or ``queue_full`` answer rewinds to the hub's last accepted sequence + 1, which it carries.

The receiver attaches as linux (resuming with the token from STATE_FILE, or fresh when the token went stale
because it was killed between attach and saving it) and processes each message id exactly once:
* STATE_FILE holds the token, the last processed message id and OUTPUT_FILE's length then; replaced
  atomically. On start OUTPUT_FILE is cut back to that length (an unrecorded append is undone; its
  messages were never acknowledged and arrive again).
* A batch is appended and fsynced, then recorded, then acknowledged; ids not above the recorded one are only
  acknowledged.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handsethub.guest import SEND_SEQUENCE, SEND_STATUSES, GuestClient, GuestError  # noqa: E402

ERROR_ALREADY_ATTACHED = 4
ERROR_BAD_RESUME_TOKEN = 22
BATCH = 64


def connect(endpoint: str, partition: str, token: bytes | None, features: list[str]) -> GuestClient:
    """Attaches, retrying while the hub has not yet noticed that a killed predecessor is gone; a stale token
    (the predecessor was killed after attaching but before saving its new token) falls back to a fresh attach."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return GuestClient.connect(endpoint, partition, f"{partition}-dev-secret", resume_token=token,
                                       features=features)
        except GuestError as error:
            if error.code == ERROR_BAD_RESUME_TOKEN and token is not None:
                token = None
                continue
            if error.code != ERROR_ALREADY_ATTACHED or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def link_info(client: GuestClient, name: str) -> dict:
    for link in client.welcome["links"]:
        if link["name"] == name:
            return link
    raise SystemExit(f"link {name} not granted: {client.welcome['links']}")


def load_state(path: Path, default: dict) -> dict:
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


def send(endpoint: str, link_name: str, count: int, state_path: Path) -> None:
    state = load_state(state_path, {"token": None, "checkpoint": 0, "starts": 0})
    token = bytes.fromhex(state["token"]) if state["token"] else None
    client = connect(endpoint, "rtos", token, [SEND_SEQUENCE])
    link = link_info(client, link_name)
    accepted = client.send_sequences[link["id"]]
    assert accepted >= state["checkpoint"], f"the hub forgot accepted sequences: {accepted} < {state}"
    # Alternate: resume where the hub says, or replay from the own (older) checkpoint.
    next_sequence = (accepted if state["starts"] % 2 == 0 else state["checkpoint"]) + 1
    state.update(token=client.welcome["resume_token"].hex(), checkpoint=accepted, starts=state["starts"] + 1)
    save_state(state_path, state)

    credit = link["initial_credit"]
    last_traffic = time.monotonic()
    while True:
        # Everything the hub sent: credit, and refusals (each refused send also gave its credit back).
        frame = client.receive(timeout=0)
        while frame is not None:
            if frame.type == "CREDIT" and frame.fields["link"] == link["id"]:
                credit += frame.fields["credit"]
            elif frame.type == "MSG_SENT" and frame.fields["link"] == link["id"]:
                status = SEND_STATUSES[frame.fields["status"]]
                if status not in ("queue_full", "sequence_gap"):
                    raise SystemExit(f"send refused: {status} {frame.fields}")
                # A refused send used no credit. The answer carries the hub's last accepted sequence (§7.10):
                # go back to the one after it (answers to later pipelined sends may repeat this; harmless).
                credit += 1
                next_sequence = min(next_sequence, frame.fields["message_id"] + 1)
            frame = client.receive(timeout=0)
        if next_sequence > count:
            break
        if credit == 0:
            frame = client.receive(timeout=0.2)
            if frame is not None:
                client.queue.insert(0, frame)
            # rtos has a heartbeat: stay audible while the receiver is away.
            if time.monotonic() - last_traffic > 0.5:
                client.heartbeat()
                last_traffic = time.monotonic()
            continue
        batch = min(credit, BATCH, count - next_sequence + 1)
        client.send_raw(b"".join(
            GuestClient.encode_send_seq(link["id"], sequence, f"{sequence}".encode())
            for sequence in range(next_sequence, next_sequence + batch)))
        next_sequence += batch
        credit -= batch
        last_traffic = time.monotonic()
    # Every sequence was sent; the hub answers a heartbeat after it has handled all of them, refusals included.
    client.heartbeat()
    client.detach("all sent")
    print("sender done", flush=True)


def receive(endpoint: str, link_name: str, count: int, state_path: Path, output_path: Path) -> None:
    state = load_state(state_path, {"token": None, "last": 0, "length": 0, "done": False})
    with open(output_path, "ab") as output:
        output.truncate(state["length"])
    token = bytes.fromhex(state["token"]) if state["token"] else None
    client = connect(endpoint, "linux", token, [])
    state["token"] = client.welcome["resume_token"].hex()
    save_state(state_path, state)
    link = link_info(client, link_name)
    last_traffic = time.monotonic()
    with open(output_path, "ab") as output:
        while not state["done"]:
            batch = []
            frame = client.receive(timeout=0.5)
            while frame is not None:
                if frame.type == "MSG_DELIVER" and frame.fields["link"] == link["id"]:
                    batch.append(frame)
                frame = client.receive(timeout=0)
            if not batch:
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
            last_traffic = time.monotonic()
    client.detach("all received")
    print("receiver done", flush=True)


def main(argv: list[str]) -> None:
    mode, endpoint, link_name, count = argv[1], argv[2], argv[3], int(argv[4])
    if mode == "send":
        send(endpoint, link_name, count, Path(argv[5]))
    elif mode == "receive":
        receive(endpoint, link_name, count, Path(argv[5]), Path(argv[6]))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv)
