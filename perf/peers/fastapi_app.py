"""FastAPI peer for perf/bench: the same routes as ringo's demo app.

`async def` routes run on the event loop and plain `def` routes on the threadpool,
the two execution models ringo's RINGO_ASYNC and RINGO_SYNC handlers mirror.
Run with Debian's Python (python3-fastapi, python3-uvicorn, python3-uvloop,
python3-httptools; python3-websockets for /ws/echo; python3-asyncpg and python3-psycopg2
for the TechEmpower routes of fastapi_tfb.py, which answer 503 without TFB_DSN's database):

    TFB_DSN='host=... dbname=hello_world ...' \
    /usr/bin/python3 -m uvicorn fastapi_app:app --app-dir perf/peers \
        --host 127.0.0.1 --port 8000 --loop uvloop --http httptools \
        --no-access-log --log-level warning
"""
import asyncio
import itertools
import time
from collections import OrderedDict
from typing import List, Optional

from fastapi import (Depends, FastAPI, Header, HTTPException, Request, Response, WebSocket,
                     WebSocketDisconnect)
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field

from fastapi_tfb import router as tfb_router

app = FastAPI()
# The TechEmpower test types (/db, /queries, ..., /sync/db, ...) with asyncpg and psycopg2.
app.include_router(tfb_router)


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext():
    return "Hello, World!"


@app.get("/json")
async def json():
    return {"message": "Hello, World!"}


@app.get("/sleep")
async def sleep(ms: int = 10):
    await asyncio.sleep(ms / 1000)
    return {"slept_ms": ms}


# The health route perf/bench's overload case probes: on the event loop, as a health
# check in FastAPI is usually written.
@app.get("/livez", response_class=PlainTextResponse)
async def livez():
    return "ok"


@app.get("/sync/plaintext", response_class=PlainTextResponse)
def sync_plaintext():
    return "Hello, World!"


@app.get("/sync/json")
def sync_json():
    return {"message": "Hello, World!"}


@app.get("/sync/sleep")
def sync_sleep(ms: int = 10):
    time.sleep(ms / 1000)
    return {"slept_ms": ms}


# The dependency chain of ringo's /deps/chain: settings (sync) -> db (sync, needs
# settings, teardown) -> token (async, bearer header, 401) -> user (async, needs db and
# token); the async handler needs user and db.
def settings():
    return {"db_url": "memory://demo"}


def db(s: dict = Depends(settings)):
    conn = {"settings": s, "connected": True}
    yield conn
    conn["connected"] = False


async def token(authorization: str = Header(None)):
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(401, "Not authenticated", headers={"WWW-Authenticate": "Bearer"})
    return authorization[7:]


async def user(conn: dict = Depends(db), tok: str = Depends(token)):
    return {"name": "user-" + tok}


@app.get("/deps/chain")
async def deps_chain(u: dict = Depends(user), conn: dict = Depends(db)):
    return {"user": u["name"], "ran": ["settings", "db", "token", "user", "handler"]}


# perf/streams: ringo's demo GET /events and GET /ws/echo. FastAPI 0.92 has no
# EventSourceResponse: the events are a StreamingResponse of text/event-stream, and like
# ringo's the stream sleeps between events (after sending one, before the next).
@app.get("/events")
async def events(n: int = 10, interval_ms: int = 100):
    async def gen():
        for i in range(n):
            if i:
                await asyncio.sleep(interval_ms / 1000)
            yield f"id: {i}\ndata: {i}\n\n"
    return StreamingResponse(gen(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})


@app.websocket("/ws/echo")
async def ws_echo(ws: WebSocket):
    await ws.accept()
    try:
        while True:
            m = await ws.receive()
            if m["type"] == "websocket.disconnect":
                return
            if m.get("text") is not None:
                await ws.send_text(m["text"])
            else:
                await ws.send_bytes(m["bytes"])
    except WebSocketDisconnect:
        pass


# Typed JSON: ringo's demo POST /products body model (docs/api.md), in pydantic 1.10 (the
# version Debian ships with FastAPI 0.92): 201 with the item as stored plus its id.
class Dims(BaseModel):
    w: float = Field(..., ge=0)
    h: float = Field(..., ge=0)


class Product(BaseModel):
    name: str = Field(..., min_length=1, max_length=50)
    price: float = Field(..., gt=0)
    tags: Optional[List[str]] = Field(None, max_items=10)
    in_stock: bool = True
    dims: Optional[Dims] = None


class StoredProduct(Product):
    id: int


# The in-memory store keeps the newest items only: a benchmark posts millions.
STORE_MAX = 10000
_products = OrderedDict()
_ids = itertools.count(1)


@app.post("/products", status_code=201, response_model=StoredProduct)
async def create_product(p: Product):
    item = StoredProduct(id=next(_ids), **p.dict())
    _products[item.id] = item
    if len(_products) > STORE_MAX:
        _products.popitem(last=False)
    return item


@app.get("/products/{pid}", response_model=StoredProduct)
async def get_product(pid: int):
    if pid not in _products:
        raise HTTPException(404, "Not Found")
    return _products[pid]


# ringo's POST /echo: the body back as it came, with its Content-Type.
@app.post("/echo")
async def echo(request: Request):
    return Response(await request.body(),
                    media_type=request.headers.get("content-type", "application/octet-stream"))
