"""The evaluations `make eval` runs (`training.evaluate` drives them), one module each.

Every evaluation returns a frozen result with `to_json()` (its entry of
`bench/results/quality.json`) and `table_rows()` (its rows of the printed table, under its
`columns` header); `scoring` holds what they share, `product` the code path they score through.
"""
