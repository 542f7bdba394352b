"""What tests share besides fixtures: helpers imported by test modules, fixtures and benches.

Test modules (`test_*.py`) and conftest files are never imported by anything else
(tests/unit/test_test_layout.py checks it): a helper two tests need lives here, or in a
fixture of the nearest conftest.py.
"""
