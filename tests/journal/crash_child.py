"""Child process of the crash test: writes linked rows forever, flushing after each group and
printing the ids only once ``flush()`` has acknowledged them. The parent SIGKILLs it."""

from __future__ import annotations

import sys

from bot.journal import Journal


def main(url: str) -> None:
    journal = Journal.open(url, batch_size=16, flush_interval_ms=2, migrate=False)
    journal.start_run("paper", "crash", "test")
    i = 0
    while True:
        ids = []
        for _ in range(5):
            i += 1
            order_id = journal.record_order(client_order_id=f"crash-{i}", ts=1_700_000_000_000 + i,
                                            symbol="AUSDT", type="market", side="buy", quantity=i)
            journal.record_order_status(order_id, ts=1_700_000_000_000 + i, status="filled", filled_qty=i)
            fill_id = journal.record_fill(order_id, ts=1_700_000_000_000 + i, symbol="AUSDT", side="buy",
                                          price=1.5, quantity=i, fee=0.01, fee_asset="USDT", is_maker=False)
            ids.append(f"{order_id} {fill_id}")
        journal.flush()
        sys.stdout.write("".join(f"ACK {line}\n" for line in ids))
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1])
