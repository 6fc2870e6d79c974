"""`flask search reindex` rebuilds the active backend's documents from the database and says what it did;
`flask search backend` says which backend answers and whether it is ready."""
from referralnet.search.backend import current_backend


def test_reindex_command(runner, db, demo, app):
    backend = current_backend()
    expected = backend.document_count()
    assert expected > 0
    backend.clear()
    assert backend.document_count() == 0
    result = runner.invoke(args=["search", "reindex"])
    assert result.exit_code == 0, result.output
    assert f"Indexed {expected} documents" in result.output
    db.session.remove()
    assert backend.document_count() == expected


def test_backend_command_says_which_and_whether_ready(runner, db, app):
    current_backend().rebuild()  # built from this database (a Whoosh index records which state it reflects)
    result = runner.invoke(args=["search", "backend"])
    assert result.exit_code == 0, result.output
    expected = "postgres" if db.engine.dialect.name == "postgresql" else "whoosh"
    assert result.output.startswith(f"{expected}: ready")
