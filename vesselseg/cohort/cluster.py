"""predict.py --images --cluster: the same per-photograph work, spread over a Dask cluster.

    python predict.py --images DIR --cluster local:2                # two worker processes here
    python predict.py --images DIR --cluster tcp://scheduler:8786   # a running Dask cluster

Dask distributed was chosen over Ray because it is pure Python, installs from the package index
with nothing to compile, runs the same on a laptop, under SLURM or PBS (dask-jobqueue) and on
Kubernetes, and needs no object store: each worker reads its photographs and writes its outputs
straight into the shared output folder, so only small records travel.

Each task is a chunk of photographs. Its worker loads the models once (they stay loaded for its
later chunks), runs pipeline.segment_stream on the chunk exactly as a local run does, and returns
the chunk's manifest records and pooled-score sums. The client appends the records to the
manifest as chunks come back, so the manifest, the resume and the tables are a local run's. A
worker needs this project importable (the same checkout, or on PYTHONPATH), the photographs and
the output folder at the same paths, and its own GPU when there are GPUs: start one worker
process per GPU (`dask worker --nworkers N`, each with its CUDA_VISIBLE_DEVICES).
"""

from vesselseg.cohort.pipeline import segment_stream
from vesselseg.cohort.scores import StreamingScores

# Photographs per task: enough to keep a worker's threads overlapped, few enough that a killed
# client loses little finished work (a chunk's records reach the manifest when it returns).
CHUNK = 8


# A worker process's compiled models, by the weights and settings they were loaded with.
NETWORKS = {}


def worker_networks(spec):
    """The compiled models of `spec`, loaded once per worker process."""
    from vesselseg import quiet_startup  # noqa: F401  (before TensorFlow loads)
    from vesselseg.cohort.run import load_networks

    key = (tuple(str(choice.weights) for choice in spec.choices), spec.av_weights, spec.precision, spec.clinical)
    if key not in NETWORKS:
        NETWORKS[key] = load_networks(spec)
    return NETWORKS[key]


def segment_chunk(paths, spec, options, out_dir, batch_size):
    """On a worker: segment `paths` as a local run does; returns (records, StreamingScores or None)."""
    records = []
    scores = StreamingScores(options.threshold) if options.labels else None
    segment_stream(paths, worker_networks(spec), options, out_dir, records.append, batch_size, scores)
    return records, scores


def check_address(address):
    """ValueError unless `address` is "local:N" with N at least 1, or a scheduler's address with
    its port ("tcp://scheduler:8786", "scheduler:8786"), so that a mistyped --cluster is one line
    before any work starts rather than Dask's error midway."""
    if address.startswith("local:"):
        count = address.removeprefix("local:")
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"--cluster local:N needs a number of workers N of at least 1, not {count!r}.")
        return
    port = address.rsplit(":", 1)[-1] if ":" in address.split("://", 1)[-1] else ""
    if not port.isdigit():
        raise ValueError(
            f"--cluster {address} is neither local:N (N workers on this machine) nor a scheduler's "
            "address with its port, such as tcp://scheduler:8786."
        )


def connect(address):
    """A Dask client: of a new local cluster for "local:N" (N worker processes), else of the
    scheduler at `address` (check_address's forms)."""
    from dask.distributed import Client, LocalCluster

    check_address(address)
    if address.startswith("local:"):
        cluster = LocalCluster(
            n_workers=int(address.removeprefix("local:")),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            memory_limit=0,
        )
        return Client(cluster)
    try:
        return Client(address, timeout=30)
    except (OSError, TimeoutError, ValueError) as error:
        raise ValueError(f"cannot reach the Dask scheduler at {address}: {error}") from None


def run_on_cluster(address, paths, spec, options, out_dir, batch_size, on_record, scores):
    """Segment `paths` on the cluster at `address`, calling on_record(record) for each photograph
    and adding each chunk's pooled-score sums to `scores`."""
    from dask.distributed import as_completed

    client = connect(address)
    try:
        chunks = [paths[start : start + CHUNK] for start in range(0, len(paths), CHUNK)]
        futures = [
            client.submit(segment_chunk, chunk, spec, options, out_dir, batch_size, pure=False) for chunk in chunks
        ]
        for future in as_completed(futures):
            records, chunk_scores = future.result()
            for record in records:
                on_record(record)
            if scores is not None and chunk_scores is not None:
                scores.merge(chunk_scores)
    finally:
        cluster = client.cluster
        client.close()
        if cluster is not None:
            cluster.close()
