"""The Milvus dense store: an index generation's vectors in Milvus, through ``pymilvus.MilvusClient``.

One collection per encoder field (``rag_<generation>_<field>``: id = chunk row, ``doc_id``,
``lang``, ``vector``), the layout every Milvus version accepts (Milvus 2.3 allows one vector field
per collection). FLAT (exact inner product) up to ``exact_max`` vectors, HNSW above with the same
M / efConstruction / efSearch as faiss, so both stores rank alike.

Where: ``Config.milvus_uri`` empty means embedded **Milvus Lite** in a ``milvus.db`` folder inside
the generation folder (so a new generation is switched in with the rest of the index, atomically,
and a running app keeps its own generation's database open while an ingest writes the next one);
``http://host:19530`` means a Milvus server (standalone or distributed), where the collections of
replaced generations are dropped. Milvus Lite allows one process at a time per database.

The lexical channels (BM25 over words and names) stay client-side in the generation folder
(``bm25s``, memory-mapped), so retrieval ranks exactly as with faiss.
"""

from __future__ import annotations

import contextlib
import logging
import re
from pathlib import Path

import numpy as np

from rag.errors import ConfigError, IndexUnusable, require

log = logging.getLogger(__name__)

LITE_FILE = "milvus.db"  # Milvus Lite's database folder inside a generation
BATCH = 2000  # rows per insert
MAX_LIMIT = 16384  # Milvus's largest top-k


def _client(uri: str):
    pymilvus = require("pymilvus", ConfigError("the Milvus store needs pymilvus and milvus-lite: pip install -e '.[milvus]'"))
    try:
        return pymilvus.MilvusClient(uri)
    except Exception as exc:  # pymilvus raises its own types for unreachable servers and locked files
        hint = ("Milvus Lite lets one process open a database at a time: stop the other `rag` process "
                "(a running `rag serve`?) or use a Milvus server (--milvus-uri http://host:19530)"
                if not is_server(uri) else
                "start the server or give the right --milvus-uri / RAG_MILVUS_URI")
        raise IndexUnusable(f"cannot open the Milvus store at {uri} ({type(exc).__name__}: {exc}); {hint}") from exc


def collection_name(generation: str, field: str) -> str:
    return re.sub(r"[^0-9A-Za-z_]", "_", f"rag_{generation}_{field}")


def write_milvus(folder: Path, generation: str, vectors: dict[str, np.ndarray], doc_ids: list[str],
                 langs: list[str], exact_max: int, uri: str = "") -> dict:
    """Write each field's vectors into its own collection; the manifest entry. ``uri`` empty:
    a Milvus Lite database in ``folder``."""
    from pymilvus import DataType

    target = uri or str(folder / LITE_FILE)
    client = _client(target)
    written = []
    try:
        fields = {}
        for field, matrix in vectors.items():
            matrix = np.ascontiguousarray(matrix, dtype=np.float32)
            name = collection_name(generation, field)
            schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("doc_id", DataType.VARCHAR, max_length=1024)
            schema.add_field("lang", DataType.VARCHAR, max_length=32)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=int(matrix.shape[1]))
            params = client.prepare_index_params()
            exact = len(matrix) <= exact_max
            params.add_index("vector", metric_type="IP", index_type="FLAT" if exact else "HNSW",
                             params={} if exact else {"M": 32, "efConstruction": 200})
            with _lite_quiet():
                client.create_collection(name, schema=schema, index_params=params, consistency_level="Strong")
            written.append(name)
            for lo in range(0, len(matrix), BATCH):
                client.insert(name, [dict(id=i, doc_id=doc_ids[i], lang=langs[i], vector=matrix[i].tolist())
                                     for i in range(lo, min(lo + BATCH, len(matrix)))])
            fields[field] = dict(index="FLAT" if exact else "HNSW", dim=int(matrix.shape[1]), collection=name,
                                 count=len(matrix))
    except Exception:
        for name in written:  # an unfinished generation leaves nothing behind on a server
            _drop_quietly(client, name)
        raise
    finally:
        _close(client, target)
    return dict(kind="milvus", uri=uri or LITE_FILE, fields=fields)


def is_server(uri: str) -> bool:
    """Whether ``uri`` names a Milvus server (else it is a Milvus Lite database path)."""
    return uri.startswith(("http://", "https://", "tcp://"))


def _close(client, uri: str) -> None:
    """Close a client; for Milvus Lite also stop this process's embedded server of that database,
    which holds its lock (the folder is renamed or reopened next)."""
    client.close()
    if not is_server(uri):
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(uri)


@contextlib.contextmanager
def _lite_quiet():
    """Milvus Lite's in-process server logs a traceback for a call it does not implement
    (``AllocTimestamp``, made while an index is built); the client carries on, so it is not shown."""
    logger = logging.getLogger("grpc._server")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _drop_quietly(client, name: str) -> None:
    try:
        client.drop_collection(name)
    except Exception as exc:  # noqa: BLE001 - best effort clean-up of a failed write
        log.warning("could not drop Milvus collection %s: %s", name, exc)


def drop_generation(uri: str, generation: str, fields: tuple[str, ...]) -> None:
    """Drop a replaced (or half-written) generation's collections on the Milvus server at ``uri``;
    a Lite database goes with its generation folder, so there is nothing to do for one."""
    if not is_server(uri):
        return
    try:
        client = _client(uri)
    except IndexUnusable as exc:
        log.warning("old collections of %s not dropped: %s", generation, exc)
        return
    try:
        names = set(client.list_collections())
        for field in fields:
            if collection_name(generation, field) in names:
                _drop_quietly(client, collection_name(generation, field))
    finally:
        client.close()


class MilvusStore:
    """One generation's vectors in Milvus (Lite in its folder, or a server)."""

    kind = "milvus"

    def __init__(self, folder: Path, entry: dict, uri_override: str = ""):
        uri = entry["uri"]
        self.uri = (uri_override or uri) if is_server(uri) else str(Path(folder) / uri)
        self.fields = entry["fields"]
        self.client = _client(self.uri)
        try:
            present = set(self.client.list_collections())
        except Exception as exc:  # noqa: BLE001 - a server that answers the handshake but not requests
            raise IndexUnusable(f"the Milvus store at {self.uri} does not answer ({exc})") from exc
        missing = [f["collection"] for f in self.fields.values() if f["collection"] not in present]
        if missing:
            raise IndexUnusable(f"the Milvus store at {self.uri} lacks the collections {missing} of this index; "
                                "rebuild it with: rag ingest <your documents> --rebuild --store milvus")
        for spec in self.fields.values():  # a reopened collection is searchable once loaded
            self.client.load_collection(spec["collection"])

    def search(self, field: str, queries: np.ndarray, k: int) -> np.ndarray:
        k = min(k, self.count(field), MAX_LIMIT)
        if k <= 0:
            return np.full((len(queries), 0), -1, dtype=np.int64)
        spec = self.fields[field]
        params = {"metric_type": "IP", "params": {} if spec["index"] == "FLAT" else {"ef": max(256, k)}}
        hits = self.client.search(spec["collection"], data=np.asarray(queries, dtype=np.float32).tolist(),
                                  anns_field="vector", limit=k, output_fields=[], search_params=params)
        out = np.full((len(queries), k), -1, dtype=np.int64)
        for row, found in enumerate(hits):
            ids = [int(h["id"]) for h in found][:k]
            out[row, :len(ids)] = ids
        return out

    def vectors(self, field: str, ids: list[int]) -> np.ndarray:
        if not len(ids):
            return np.zeros((0, self.fields[field]["dim"]), dtype=np.float32)
        by_id = {}
        for lo in range(0, len(ids), BATCH):  # bounded replies (gRPC caps a message's size)
            rows = self.client.get(self.fields[field]["collection"], ids=[int(i) for i in ids[lo:lo + BATCH]],
                                   output_fields=["vector"])
            by_id.update((int(r["id"]), r["vector"]) for r in rows)
        return np.asarray([by_id[int(i)] for i in ids], dtype=np.float32)

    def count(self, field: str) -> int:
        return int(self.fields[field]["count"])

    def index_type(self, field: str) -> str:
        return f"Milvus {self.fields[field]['index']}"

    def close(self) -> None:
        _close(self.client, self.uri)
