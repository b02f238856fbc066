"""GraphiQL works with no network but the service's (issue 16): its page names nothing outside
the service, and every script and style it names is served by the service, byte for byte the
files their integrity hashes describe."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re


async def test_graphiql_loads_everything_from_the_service(http):
    page = await http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    html = page.text
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert len(assets) == 7
    # Nothing fetched from elsewhere (the SVG namespace of the favicon is no request).
    assert [u for u in re.findall(r'(?:src|href)="(https?://[^"]+)"', html)] == []
    hashes = dict(re.findall(r'(?:src|href)="(/static/[^"]+)"\s+integrity="sha384-([^"]+)"', html))
    assert set(hashes) == set(assets)
    for url in assets:
        served = await http.get(url)
        assert served.status_code == 200, url
        digest = base64.b64encode(hashlib.sha384(served.content).digest()).decode()
        assert digest == hashes[url], url
        kind = "javascript" if url.endswith(".js") else "css"
        assert kind in served.headers["content-type"]
    assert "isHeadersEditorEnabled: true" in html  # the Authorization header is typed there


async def test_static_files_are_read_only_and_confined(http):
    # Encoded, so that the client does not resolve the dots itself: the server must refuse.
    escape = await http.get("/static/graphiql/%2e%2e/%2e%2e/app.py")
    assert escape.status_code == 404
    assert b"create_app" not in escape.content
    assert (await http.get("/static/graphiql.html")).status_code == 200  # the folder's own
    assert (await http.get("/static/nothing.js")).status_code == 404
    assert (await http.post("/static/graphiql/graphiql.min.js")).status_code == 405


async def test_static_files_are_limited_per_address(http):
    answers = await asyncio.gather(
        *(http.get("/static/graphiql/js.cookie.min.js") for _ in range(140))
    )
    statuses = [a.status_code for a in answers]
    # The burst (100), less what the tests before took from this address's bucket.
    assert 429 in statuses and statuses.count(200) >= 80
    assert next(a for a in answers if a.status_code == 429).headers["retry-after"] == "1"
