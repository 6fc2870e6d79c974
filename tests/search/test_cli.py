"""`flask search reindex` rebuilds the index from the database and says what it did."""
from referralnet.search.index import clear_index, document_count


def test_reindex_command(runner, db, demo, app):
    expected = document_count()
    clear_index()
    assert document_count() == 0
    result = runner.invoke(args=["search", "reindex"])
    assert result.exit_code == 0, result.output
    assert f"Indexed {expected} documents" in result.output
    assert document_count() == expected
