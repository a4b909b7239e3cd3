"""A sensor node's flash: alerts kept until the hub receipts them, and its sequence number
(MicroPython style; runs on the host).

Both survive a power cut at any moment: every file is replaced whole (written as ``.tmp``,
then renamed over the old one), so a cut leaves the old file or the new one, never half of
one; a cut between FAT's remove and rename leaves the ``.tmp``, which is read instead; and
a torn line (a filesystem without rename) is skipped, not fatal at the next boot.
"""

import json
import os

MAX_QUEUE = 200  # flash is small: keep the newest alerts if the hub is away for days


class FlashQueue:
    """``lines``: the queued alerts as JSON lines, oldest first; ``ids``: their alert ids."""

    def __init__(self, state_dir, limit=MAX_QUEUE):
        self.state_dir, self.limit = state_dir, limit
        self.lines, self.ids = [], []
        kept = []
        for line in self._load("queue.jsonl").split("\n"):
            try:
                json.loads(line)["id"]
                kept.append(line)
            except Exception:  # blank, or torn by a power cut
                pass
        self.replace(kept, persist=False)

    def _path(self, name):
        return self.state_dir + "/" + name

    def _load(self, name):
        for path in (self._path(name), self._path(name + ".tmp")):
            try:
                with open(path) as f:
                    return f.read()
            except OSError:
                pass
        return ""

    def _save(self, name, text):
        path = self._path(name)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        try:
            os.rename(path + ".tmp", path)
        except OSError:  # FAT will not rename over a file
            os.remove(path)
            os.rename(path + ".tmp", path)

    def next_seq(self):
        """The next sequence number, stored before it is used (never handed out twice)."""
        text = self._load("seq.txt").strip()
        seq = int(text) if text.isdigit() else 0
        self._save("seq.txt", str(seq + 1))
        return seq

    def replace(self, lines, persist=True):
        """Keep ``lines`` (the newest ``limit`` of them) as the queue, in flash too."""
        self.lines = lines[-self.limit :]
        self.ids = [json.loads(line)["id"] for line in self.lines]  # parsed once
        if persist:
            self._save("queue.jsonl", "".join(line + "\n" for line in self.lines))
