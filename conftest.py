"""pytest ordering: the notebook-number checks run after the notebooks (nbval) that write them."""

LAST = "tests/test_notebook_numbers.py"


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=lambda item: item.nodeid.startswith(LAST))  # stable: only moves those last
