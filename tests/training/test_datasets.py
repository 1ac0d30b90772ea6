import csv
from pathlib import Path

from training.datasets import deepsentipers, deepsentipers_balanced


def _write(path: Path, rows: list[tuple[str, int]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)


def test_balanced_rows_close_to_an_original_are_never_trained_on(tmp_path):
    folder = tmp_path / "fa_sentiment_deepsentipers"
    folder.mkdir()
    originals = [
        ("باتری این گوشی واقعا عالی است و تا دو روز شارژ نگه می‌دارد.", 2),
        ("صفحه نمایش این تبلت کیفیت پایینی دارد و زود خط می‌افتد.", -1),
        ("این دوربین دارای سنسور ۱۲ مگاپیکسلی است.", 0),
    ]
    _write(folder / "original.csv", originals)
    _write(
        folder / "balanced.csv",
        [
            # the first original, cleaned: must be skipped wherever its original was split
            ("باتری این گوشی واقعا عالی است و تا دو روز شارژ نگه میدارد", 2),
            # another sentence of the corpus, twice: kept once, as a training row
            ("پشتیبانی فروشگاه هیچ جوابی به ایمیل‌های من نداد.", -2),
            ("پشتیبانی فروشگاه هیچ جوابی به ایمیل‌های من نداد.", -2),
            ("لپ‌تاپ سبکی است و برای سفر مناسب.", 1),
        ],
    )
    kept = list(deepsentipers_balanced(tmp_path))
    assert [(ex.text, ex.sentiment, ex.split) for ex in kept] == [
        ("پشتیبانی فروشگاه هیچ جوابی به ایمیل‌های من نداد.", "negative", "train"),
        ("لپ‌تاپ سبکی است و برای سفر مناسب.", "positive", "train"),
    ]
    assert {ex.source for ex in kept} == {"deepsentipers_balanced"}
    assert [ex.sentiment for ex in deepsentipers(tmp_path)] == ["positive", "negative", "neutral"]
