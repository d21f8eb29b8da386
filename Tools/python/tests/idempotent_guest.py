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

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handsethub.guest import SEND_SEQUENCE, SEND_STATUSES, GuestClient  # noqa: E402
# The receiver, attaching, the state file and the link lookup are the crash-and-resume messaging test's.
from messaging_guest import connect, link_id, load_state, receive, save_state  # noqa: E402

BATCH = 64


def send(endpoint: str, link_name: str, count: int, state_path: Path) -> None:
    state = load_state(state_path, {"token": None, "checkpoint": 0, "starts": 0})
    token = bytes.fromhex(state["token"]) if state["token"] else None
    client = connect(endpoint, "rtos", token, [SEND_SEQUENCE])
    link = link_id(client, link_name)
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
