"""procrastinate's app for the peers table: PostgreSQL through psycopg 3."""

import os

from procrastinate import App, PsycopgConnector

from benchmarks.peers import probe

app = App(connector=PsycopgConnector(conninfo=os.environ["PEER_PG_URL"]))


@app.task(name="noop")
async def noop(payload: dict[str, object]) -> None:
    probe.record(payload)
