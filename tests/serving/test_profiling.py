"""Per-request profiles (REQUEST_PROFILE_DIR): one cProfile file per request, named by its endpoint,
never its path; off unless asked for."""
from __future__ import annotations

import io
import pstats

from referralnet import create_app
from referralnet.profiling import ProfilingMiddleware, summarize


def _app(tmp_path, **config):
    return create_app({"SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", **config})


def test_each_request_is_profiled_into_a_file_named_by_its_endpoint(tmp_path):
    folder = tmp_path / "profiles"
    app = _app(tmp_path, REQUEST_PROFILE_DIR=str(folder))
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/healthz").json == {"status": "ok"}  # the body still reaches the client
    assert client.get("/no/such/SecretLinkToken123").status_code == 404
    names = sorted(path.name for path in folder.glob("*.prof"))
    assert len(names) == 3
    assert sum(name.startswith("main.healthz.") for name in names) == 2
    assert sum(name.startswith("no-endpoint.") for name in names) == 1
    assert all("SecretLinkToken123" not in name for name in names)  # a path never names a file
    stats = pstats.Stats(str(next(folder.glob("main.healthz.*.prof"))))
    assert any(func[2] == "healthz" for func in stats.stats)  # the view itself ran inside the profile

    out = io.StringIO()
    summarize(folder, "main.healthz", out=out)
    text = out.getvalue()
    assert "===== main.healthz: 2 requests" in text and "CPU per request" in text and "healthz" in text
    assert "status." not in text  # only the endpoint asked for


def test_profiling_is_off_unless_a_folder_is_given(tmp_path):
    app = _app(tmp_path)
    assert not isinstance(app.wsgi_app, ProfilingMiddleware)
    assert app.test_client().get("/healthz").status_code == 200
    assert not list(tmp_path.rglob("*.prof"))
