"""A stream of photographs through the network, with reading and writing off the critical path.

    networks = {"vessels": (CompiledForward(model), "fov_standardise")}
    stats = segment_stream(paths, networks, options, out_dir, on_record, batch_size=4)

Three threads share the work. A reading thread prepares photographs (work.prepare: decoding, FOV,
quality, normalisation, rescaling) a few ahead of the network. The calling thread runs the
compiled forward pass on batches of network inputs that share a size bucket. A finishing thread
brings the maps back to each photograph's size, writes and measures them (work.finish) and hands
each photograph's manifest record to `on_record`. NumPy, SciPy, scikit-image, PIL and the network
release the interpreter lock while they compute, so the threads overlap. The queues between them
are short, so memory does not grow with the folder.

Batches are formed in the order of `paths` alone, never by timing, so the same photographs give
the same batches and the same maps on every run.
"""

import queue
import threading
import time

import numpy as np
from threadpoolctl import threadpool_limits

from vesselseg.cohort.work import TTA_VIEWS, companions_for, failed_record, finish, prepare, undo_views, views

# Photographs prepared ahead of the network, and segmented photographs waiting to be written.
READ_AHEAD = 4
FINISH_AHEAD = 4
# How often a waiting thread looks whether the others are still alive, in seconds.
POLL_SECONDS = 0.5
END = object()


class Helper(threading.Thread):
    """A daemon thread that keeps the exception that ended it, for the calling thread to raise."""

    def __init__(self, target, name):
        super().__init__(name=name, daemon=True)
        self.work, self.error = target, None

    def run(self):
        try:
            self.work()
        except BaseException as error:  # noqa: BLE001  (raised again in the calling thread)
            self.error = error


def check(helpers):
    for helper in helpers:
        if helper.error is not None:
            raise helper.error


def put(channel, item, helpers):
    """Put `item` on `channel`, raising a helper's error instead of waiting for it forever."""
    while True:
        check(helpers)
        try:
            channel.put(item, timeout=POLL_SECONDS)
            return
        except queue.Full:
            continue


def get(channel, helpers):
    while True:
        check(helpers)
        try:
            return channel.get(timeout=POLL_SECONDS)
        except queue.Empty:
            continue


class Entry:
    """A photograph in the forward pass: the outputs of its views as they arrive."""

    def __init__(self, photograph, tta):
        self.photograph = photograph
        count = TTA_VIEWS if tta else 1
        self.outputs = [[None] * count for _ in photograph.requests]
        self.left = count * len(photograph.requests)
        self.seconds = 0.0


class Batcher:
    """Groups the views of consecutive photographs by model and size bucket into batches of up to
    `batch_size`, runs each batch when full, and hands on each photograph once all its views are
    done. A photograph waits for others of its bucket while fewer than `batch_size` photographs
    wait; beyond that the oldest one's batches run part-full, so a rare size is not held up."""

    def __init__(self, networks, batch_size, tta, emit):
        self.networks, self.batch_size, self.tta, self.emit = networks, batch_size, tta, emit
        self.pending, self.waiting = {}, []
        self.seconds, self.calls, self.views = 0.0, 0, 0

    def add(self, photograph):
        entry = Entry(photograph, self.tta)
        self.waiting.append(entry)
        for request_index, request in enumerate(photograph.requests):
            for view_index, view in enumerate(views(request.network_input, self.tta)):
                key = (request.key, view.shape[:2])
                self.pending.setdefault(key, []).append((entry, request_index, view_index, view))
                if len(self.pending[key]) >= self.batch_size:
                    self.run(key)
        while len(self.waiting) > self.batch_size:
            oldest = self.waiting[0]
            for key in sorted(self.pending):
                if any(item[0] is oldest for item in self.pending[key]):
                    self.run(key)
            self.release()
        self.release()

    def run(self, key):
        items, self.pending[key] = self.pending[key][: self.batch_size], self.pending[key][self.batch_size :]
        if not self.pending[key]:
            del self.pending[key]
        forward, _ = self.networks[key[0]]
        started = time.perf_counter()
        outputs = forward(np.stack([view for *_, view in items]))
        seconds = time.perf_counter() - started
        self.seconds, self.calls, self.views = self.seconds + seconds, self.calls + 1, self.views + len(items)
        for (entry, request_index, view_index, _), output in zip(items, outputs):
            entry.outputs[request_index][view_index] = output
            entry.left -= 1
            entry.seconds += seconds / len(items)

    def release(self):
        """Hand on the finished photographs, oldest first."""
        while self.waiting and self.waiting[0].left == 0:
            self.emit(self.waiting.pop(0))

    def flush(self):
        for key in sorted(self.pending):
            while key in self.pending:
                self.run(key)
        self.release()


def segment_stream(paths, networks, options, out_dir, on_record, batch_size, scores=None):
    """Segment, write and measure each of `paths` into `out_dir`, calling on_record(record) from the
    finishing thread as each photograph ends (done, skipped or failed). `networks`: {key:
    (CompiledForward, input normalisation)}; `scores`: a StreamingScores for annotated
    photographs, or None. Returns the forward pass's totals: seconds, calls and views."""
    with one_blas_thread():
        return stream(paths, networks, options, out_dir, on_record, batch_size, scores)


def one_blas_thread():
    """A context in which NumPy's BLAS runs in the calling thread alone. Its calls here (a dot
    product in the FOV statistics, a matrix product in the disc locator) would otherwise run on a
    thread per core, whose waiting spins on the cores that the network and the other threads need."""
    return threadpool_limits(limits=1, user_api="blas")


def stream(paths, networks, options, out_dir, on_record, batch_size, scores):
    """segment_stream's work, inside its limit on BLAS threads."""
    normalisations = {key: normalisation for key, (_, normalisation) in networks.items()}
    masks, labels = companions_for(options.masks, options), companions_for(options.labels, options)
    ready, done = queue.Queue(maxsize=READ_AHEAD), queue.Queue(maxsize=FINISH_AHEAD)

    def read():
        for path in paths:
            started = time.perf_counter()
            try:
                item = prepare(path, options, normalisations, masks, labels)
            except (ValueError, OSError) as error:
                item = failed_record(path, error, time.perf_counter() - started, options.images_root)
            put(ready, item, [finisher])
        put(ready, END, [finisher])

    def finish_all():
        while (item := done.get()) is not END:
            if isinstance(item, dict):
                on_record(item)
                continue
            photograph, seconds = item.photograph, item.seconds
            try:
                shapes = [request.network_input.shape for request in photograph.requests]
                maps = [undo_views(outputs, shape, options.tta) for outputs, shape in zip(item.outputs, shapes)]
                record = finish(photograph, maps, options, out_dir, networks, scores)
                record["seconds"] = round(record["seconds"] + seconds, 3)
            except (ValueError, OSError) as error:
                record = failed_record(photograph.path, error, photograph.seconds + seconds, options.images_root)
            on_record(record)

    finisher = Helper(finish_all, "finish")
    reader = Helper(read, "read")
    helpers = [reader, finisher]
    batcher = Batcher(networks, batch_size, options.tta, lambda entry: put(done, entry, helpers))
    finisher.start()
    reader.start()
    while (item := get(ready, helpers)) is not END:
        if isinstance(item, dict):
            # A failed photograph's record goes straight to the finishing thread; a skipped one has
            # no network inputs and leaves the batcher as soon as those before it are done.
            put(done, item, helpers)
        else:
            batcher.add(item)
    batcher.flush()
    put(done, END, helpers)
    while finisher.is_alive():
        finisher.join(POLL_SECONDS)
        check(helpers)
    check(helpers)
    return {"seconds": batcher.seconds, "calls": batcher.calls, "views": batcher.views}
